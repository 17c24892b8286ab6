/**
 * Grants and policies for segments and their members. Idempotent; re-applied on every deploy,
 * after 00_grants.sql (which grants the service role every table in shared).
 *
 * Members are written only by the segment engine; no product role reads them (they join people
 * across products), so only the service role has a policy until the engine's roles are added.
 */

DO $$
DECLARE
    v_table text;
    v_policy text;
BEGIN
    FOR v_table, v_policy IN VALUES
        ('segment',        'The service role can read and change segments'),
        ('segment_member', 'The service role can read segment members')
    LOOP
        EXECUTE format('REVOKE ALL ON shared.%I FROM PUBLIC, anon, authenticated', v_table);
        EXECUTE format('ALTER TABLE shared.%I ENABLE ROW LEVEL SECURITY', v_table);
        -- The catch-all policy of 10_rls.sql, replaced by one written for its role.
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I',
                       'Only the service role can read or write ' || v_table, v_table);
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I', v_policy, v_table);
        EXECUTE format('CREATE POLICY %I ON shared.%I FOR ALL TO service_role USING (true) '
                       'WITH CHECK (true)', v_policy, v_table);
    END LOOP;
END
$$;

REVOKE ALL ON SCHEMA segments FROM PUBLIC;
GRANT USAGE ON SCHEMA segments TO service_role;
