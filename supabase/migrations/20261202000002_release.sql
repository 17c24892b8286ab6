-- migrate:up
-- gdp:release sources=sha256:7d06649321410d66ccd2c918fdc915faf0b3f114e0482574531cd7c761694e53

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

GRANT USAGE ON SCHEMA segments TO service_role;

GRANT DELETE ON TABLE shared.segment TO service_role;

GRANT INSERT ON TABLE shared.segment TO service_role;

GRANT SELECT ON TABLE shared.segment TO service_role;

GRANT UPDATE ON TABLE shared.segment TO service_role;

GRANT DELETE ON TABLE shared.segment_member TO service_role;

GRANT INSERT ON TABLE shared.segment_member TO service_role;

GRANT SELECT ON TABLE shared.segment_member TO service_role;

GRANT UPDATE ON TABLE shared.segment_member TO service_role;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.segment'::regclass AND p.polname = 'The service role can read and change segments'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read and change segments" ON shared.segment;
        CREATE POLICY "The service role can read and change segments" ON shared.segment
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.segment_member'::regclass AND p.polname = 'The service role can read segment members'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read segment members" ON shared.segment_member;
        CREATE POLICY "The service role can read segment members" ON shared.segment_member
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

-- migrate:down
