/**
 * Grants: the service role may use the shared schema; anon and authenticated may not touch it.
 *
 * Re-applied on every deploy, so a grant added by hand (or by Supabase's default privileges) is
 * taken back. RLS (10_rls.sql) is the second wall behind these.
 */

REVOKE ALL ON SCHEMA shared FROM PUBLIC, anon, authenticated;
GRANT USAGE ON SCHEMA shared TO service_role;

REVOKE ALL ON ALL TABLES IN SCHEMA shared FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA shared FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shared TO service_role;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA shared TO service_role;

-- Functions: nothing is callable by PUBLIC; the service role calls the API (public names) and
-- the helpers those run as the caller.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA shared FROM PUBLIC, anon, authenticated;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA shared TO service_role;

-- The pgmq queues carry ids only, but they are still internal plumbing.
DO $$
BEGIN
    IF to_regnamespace('pgmq') IS NOT NULL THEN
        REVOKE ALL ON SCHEMA pgmq FROM anon, authenticated;
        GRANT USAGE ON SCHEMA pgmq TO service_role;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pgmq TO service_role;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA pgmq TO service_role;
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgmq TO service_role;
    END IF;
END
$$;
