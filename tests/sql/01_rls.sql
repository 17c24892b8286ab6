-- RLS and grants on every table in shared, acting as anon, authenticated and service_role.
BEGIN;
SELECT plan(17);

SELECT is(
    (SELECT count(*) FROM pg_class c
     WHERE c.relnamespace = 'shared'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relrowsecurity),
    0::bigint, 'RLS is enabled on every table in shared');

SELECT is(
    (SELECT count(*) FROM pg_class c
     WHERE c.relnamespace = 'shared'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)),
    0::bigint, 'every table in shared has a policy');

SELECT policies_are('shared', 'person', ARRAY['Only the service role can read or write people',
    'The CAPI worker reads the people it sends', 'The HTTP service checks that people exist',
    'The admin CLI lists people'],
    'person carries the PRD service-role policy and its processes'' read policies, named as sentences');

SELECT is(
    (SELECT count(*) FROM information_schema.role_table_grants
     WHERE table_schema = 'shared' AND grantee IN ('anon', 'authenticated', 'PUBLIC')),
    0::bigint, 'anon and authenticated hold no grant on any shared table');

SELECT is(
    (SELECT count(*) FROM pg_proc
     WHERE pronamespace = 'shared'::regnamespace
       AND (has_function_privilege('anon', oid, 'EXECUTE')
            OR has_function_privilege('authenticated', oid, 'EXECUTE'))),
    0::bigint, 'no shared function is executable by anon or authenticated');

INSERT INTO shared.person (email, first_name) VALUES ('rls@example.com', 'Rls');

-- Permission denied: the roles have no grant at all.
SELECT tests.act_as('anon');
SELECT throws_ok('SELECT * FROM shared.person', '42501', NULL, 'anon cannot read people');
SELECT throws_ok($$INSERT INTO shared.person (email) VALUES ('x@example.com')$$, '42501', NULL,
    'anon cannot write people');
SELECT throws_ok($$SELECT shared.upsert_person('x@example.com')$$, '42501', NULL,
    'anon cannot call the person API');
SELECT tests.clear_role();

SELECT tests.act_as('authenticated');
SELECT throws_ok('SELECT * FROM shared.feature_flag', '42501', NULL,
    'authenticated cannot read flags');
SELECT throws_ok($$UPDATE shared.feature_flag SET enabled = true$$, '42501', NULL,
    'authenticated cannot flip flags');
SELECT tests.clear_role();

-- 0 rows: a grant leaks (as Supabase's default privileges can do); RLS still holds.
GRANT USAGE ON SCHEMA shared TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shared TO authenticated;
SELECT tests.act_as('authenticated');
SELECT is((SELECT count(*) FROM shared.person), 0::bigint,
    'with a leaked grant, authenticated sees 0 people');
SELECT is((SELECT count(*) FROM shared.feature_flag), 0::bigint,
    'with a leaked grant, authenticated sees 0 flags');
SELECT throws_ok($$INSERT INTO shared.product (product_id, display_name) VALUES ('leak', 'Leak')$$,
    '42501', 'new row violates row-level security policy for table "product"',
    'with a leaked grant, authenticated still cannot insert');
SELECT throws_ok($$INSERT INTO shared.person (email) VALUES ('leak@example.com')$$, '42501', NULL,
    'with a leaked grant, authenticated still cannot insert people');
UPDATE shared.feature_flag SET enabled = true;
SELECT tests.clear_role();
SELECT is((SELECT count(*) FROM shared.feature_flag WHERE enabled), 0::bigint,
    'with a leaked grant, an UPDATE by authenticated changes 0 flags');

-- The service role reads and writes.
SELECT tests.act_as('service_role');
SELECT is((SELECT count(*) FROM shared.person WHERE email = 'rls@example.com'), 1::bigint,
    'service_role reads people');
SELECT lives_ok($$SELECT shared.upsert_person('svc@example.com', p_source_product => 'snapmix')$$,
    'service_role calls the person API');
SELECT tests.clear_role();

SELECT * FROM finish();
ROLLBACK;
