-- The person SQL API as the service role would call it.
BEGIN;
SELECT plan(10);
SELECT tests.act_as('service_role');

SELECT has_function('shared', 'upsert_people', ARRAY['jsonb']);

SELECT results_eq(
    $$SELECT count(DISTINCT person_id) FROM shared.upsert_people(
        '[{"email":" Ana@Example.com "},{"email":"ana@example.com\t"},{"email":"ANA@EXAMPLE.COM"}]')$$,
    ARRAY[1::bigint], 'case and whitespace variants are one person');

SELECT lives_ok($$SELECT shared.upsert_people('[{"email":"ana@example.com","utm_source":"meta"}]')$$);
SELECT lives_ok($$SELECT shared.upsert_people('[{"email":"ana@example.com","utm_source":"google","first_name":"Ana"}]')$$);
SELECT results_eq(
    $$SELECT utm_source, first_name FROM shared.person WHERE email = 'ana@example.com'$$,
    $$VALUES ('meta'::text, 'Ana'::text)$$, 'first touch kept, blank filled');

SELECT throws_ok($$SELECT shared.upsert_people('[{"email":"nope"}]')$$, 'GD400',
    'email: is not a valid email address (entry 1)', 'malformed email refused');
SELECT throws_ok($$SELECT shared.upsert_people('[{"email":"a@b.co","lifecycle_stage":"vip"}]')$$, 'GD400',
    'lifecycle_stage: must be one of lead, activated, customer, churned (entry 1)',
    'unknown lifecycle stage refused');

SELECT lives_ok($$SELECT shared.upsert_people('[{"email":"owner@example.com","identities":[{"provider":"stripe","external_id":"cus_1"}]}]')$$);
SELECT throws_ok($$SELECT shared.upsert_people('[{"email":"other@example.com","identities":[{"provider":"stripe","external_id":"cus_1"}]}]')$$,
    'GD409', NULL, 'identity of another person refused');
SELECT is((SELECT count(*) FROM shared.person WHERE email = 'other@example.com'), 0::bigint,
    'nothing written by the refused call');

SELECT * FROM finish();
ROLLBACK;
