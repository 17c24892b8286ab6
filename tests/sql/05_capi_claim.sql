-- The CAPI worker's per-request check (capi_claim_request) and lease keeper (capi_extend_leases).
-- Locking against other sessions is tested with two connections in tests/test_capi_erasure_race.py.
BEGIN;
SELECT plan(14);

UPDATE shared.feature_flag SET enabled = true
WHERE flag_key IN ('SHARED_PERSON_TABLE_ENABLED', 'META_CAPI_INGEST_ENABLED');
SELECT shared.upsert_people('[{"email":"kept@example.com"},{"email":"erased@example.com"},
                              {"email":"withdrawn@example.com"}]');
INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name, person_id)
SELECT 'snapmix', 'ev-' || split_part(p.email, '@', 1), 'Signup', 'Lead', p.id
FROM shared.person AS p;
INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name)
VALUES ('snapmix', 'ev-anonymous', 'Signup', 'Lead');

CREATE TEMP TABLE leased AS
SELECT r.msg_id, r.read_ct, e.event_id
FROM pgmq.read('meta_capi', 30, 10) AS r
JOIN shared.event AS e ON e.id = (r.message ->> 'event')::bigint;

SELECT is((SELECT count(*) FROM leased), 4::bigint, 'four messages leased');
SELECT has_function('shared', 'capi_claim_request', ARRAY['bigint[]', 'integer[]', 'integer']);
SELECT isnt(obj_description('shared.capi_claim_request(bigint[], integer[], integer)'::regprocedure),
            NULL, 'capi_claim_request is documented in the catalog');

SELECT results_eq(
    $$SELECT c.verdict FROM shared.capi_claim_request(
          (SELECT array_agg(msg_id ORDER BY msg_id) FROM leased),
          (SELECT array_agg(read_ct ORDER BY msg_id) FROM leased)) AS c$$,
    $$VALUES ('send'), ('send'), ('send'), ('send')$$,
    'every leased message of a live, consenting person (or none) may go');

SELECT shared.erase_person((SELECT id FROM shared.person WHERE email = 'erased@example.com'),
                           'privacy-team');
SELECT shared.record_consent((SELECT id FROM shared.person WHERE email = 'withdrawn@example.com'),
                             'withdrawn', 'settings');

SELECT results_eq(
    $$SELECT l.event_id, c.verdict
      FROM shared.capi_claim_request(
          (SELECT array_agg(msg_id ORDER BY msg_id) FROM leased),
          (SELECT array_agg(read_ct ORDER BY msg_id) FROM leased)) AS c
      JOIN leased AS l USING (msg_id) ORDER BY l.event_id$$,
    $$VALUES ('ev-anonymous', 'send'), ('ev-erased', 'gone'), ('ev-kept', 'send'),
             ('ev-withdrawn', 'withdrawn')$$,
    'erased: gone; withdrawn: withdrawn; the others may still go');

SELECT results_eq(
    $$SELECT c.verdict FROM shared.capi_claim_request(
          (SELECT array_agg(msg_id) FROM leased WHERE event_id = 'ev-kept'),
          (SELECT array_agg(read_ct + 1) FROM leased WHERE event_id = 'ev-kept')) AS c$$,
    $$VALUES ('lost')$$, 'a message read again since (another read_ct) is no longer ours');

SELECT results_eq(
    $$SELECT c.verdict FROM shared.capi_claim_request(ARRAY[-1]::bigint[], ARRAY[1]) AS c$$,
    $$VALUES ('lost')$$, 'a message that is not in the queue is lost');

SELECT throws_ok(
    $$SELECT * FROM shared.capi_claim_request(ARRAY[1, 2]::bigint[], ARRAY[1])$$,
    'GD400', 'read_cts: must have one entry per message id', 'arrays of different lengths');

SELECT results_eq(
    $$SELECT c.verdict FROM shared.capi_claim_request('{}', '{}') AS c$$,
    $$SELECT 'x'::text WHERE false$$, 'nothing asked, nothing answered');

SELECT has_function('shared', 'capi_extend_leases', ARRAY['bigint[]', 'integer[]', 'integer']);
UPDATE pgmq.q_meta_capi SET vt = clock_timestamp() + interval '2 seconds';
SELECT is(
    shared.capi_extend_leases((SELECT array_agg(msg_id) FROM leased),
                              (SELECT array_agg(read_ct) FROM leased), 600),
    4, 'four leases extended');
SELECT ok((SELECT bool_and(vt > clock_timestamp() + interval '500 seconds') FROM pgmq.q_meta_capi),
          'to 600 s from now');
SELECT is(
    shared.capi_extend_leases((SELECT array_agg(msg_id) FROM leased),
                              (SELECT array_agg(read_ct + 1) FROM leased), 600),
    0, 'leases read again by someone else are left alone');

SELECT is(
    (SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc AS p
     WHERE p.pronamespace = 'shared'::regnamespace AND p.prosecdef
       AND p.proname IN ('capi_claim_request', 'capi_extend_leases')
       AND 'search_path=""' = ANY (p.proconfig)),
    ARRAY['capi_claim_request', 'capi_extend_leases'],
    'both run as their owner, with an empty search_path');

SELECT * FROM finish();
ROLLBACK;
