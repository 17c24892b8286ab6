/**
 * pgTAP helpers (test databases only, never shipped): act as a Supabase role the way PostgREST
 * does, inside the test's transaction: SET LOCAL ROLE plus request.jwt.claims.
 */
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE SCHEMA IF NOT EXISTS tests;
GRANT USAGE ON SCHEMA tests TO anon, authenticated, service_role;

CREATE OR REPLACE FUNCTION tests.act_as(p_role text, p_sub uuid DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM set_config('request.jwt.claims',
        CASE WHEN p_role = 'anon' THEN NULL
             ELSE json_build_object('role', p_role,
                                    'sub', coalesce(p_sub, gen_random_uuid()))::text END, true);
    EXECUTE format('SET LOCAL ROLE %I', p_role);
END
$$;

CREATE OR REPLACE FUNCTION tests.clear_role()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RESET ROLE;
    PERFORM set_config('request.jwt.claims', NULL, true);
END
$$;
-- Every role a test acts as (GDP's own roles too) must be able to switch back: PUBLIC, since
-- functions outside public are not executable by PUBLIC by default here (db/README.md).
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO PUBLIC;
