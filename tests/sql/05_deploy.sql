-- What a deploy leaves behind: private migration history, no function callable by PUBLIC
-- (now or later), every release's fingerprint recorded, pgmq present.
BEGIN;
SELECT plan(9);

SELECT has_table('gdp_migrations', 'schema_migrations', 'migration history lives in gdp_migrations');
SELECT hasnt_table('public', 'schema_migrations', 'not in public, where Supabase exposes tables');
SELECT is(
    (SELECT has_schema_privilege('anon', 'gdp_migrations', 'USAGE')
         OR has_schema_privilege('authenticated', 'gdp_migrations', 'USAGE')),
    false, 'anon and authenticated cannot reach the history');

SELECT is(
    (SELECT count(*) FROM pg_proc
     WHERE pronamespace = 'shared'::regnamespace
       AND has_function_privilege('public', oid, 'EXECUTE')),
    0::bigint, 'no shared function is executable by PUBLIC');

-- A function the migrating role adds to shared later (by hand, in Studio, in a migration).
CREATE FUNCTION shared.deploy_probe() RETURNS integer LANGUAGE sql AS 'SELECT 1';
SELECT is(has_function_privilege('public', 'shared.deploy_probe()', 'EXECUTE'), false,
    'a function created later in shared is not executable by PUBLIC');
CREATE FUNCTION public.deploy_probe() RETURNS integer LANGUAGE sql AS 'SELECT 1';
SELECT is(has_function_privilege('public', 'public.deploy_probe()', 'EXECUTE'), true,
    'in public, functions keep the PostgreSQL (and Supabase) default');

SELECT ok(
    (SELECT count(*) FROM gdp_migrations.schema_migrations) >= 8,
    'every migration is recorded');
SELECT ok(to_regclass('pgmq.meta') IS NOT NULL, 'pgmq is installed');
SELECT is(
    (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'shared' AND p.prosecdef
       AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=""'], false)),
    0::bigint, 'every SECURITY DEFINER function in shared pins search_path to empty');

SELECT * FROM finish();
ROLLBACK;
