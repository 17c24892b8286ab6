-- Retention: what goes, what stays, and who may run it.
BEGIN;
SELECT plan(13);

SELECT results_eq(
    $$SELECT setting_key, value FROM shared.setting WHERE setting_key LIKE 'RETENTION\_%'
      ORDER BY setting_key$$,
    $$VALUES ('RETENTION_ATTRIBUTION_DAYS'::text, '90'::jsonb), ('RETENTION_BATCH_SIZE', '5000'),
             ('RETENTION_DEAD_LETTER_DAYS', '30'), ('RETENTION_EVENT_DAYS', '400'),
             ('RETENTION_QUEUE_ARCHIVE_DAYS', '14')$$,
    'every window has its default');
SELECT throws_ok($$SELECT shared.set_setting('RETENTION_EVENT_DAYS', '7', 'alice')$$, 'GD400',
    NULL, 'events cannot be kept less than 8 days (Meta takes events up to 7 days old)');

-- Old and new rows of each table; an old event still queued; an old erasure record.
INSERT INTO shared.event (product_id, event_id, event_name, received_at) VALUES
    ('snapmix', 'old-1', 'Lead', now() - interval '401 days'),
    ('snapmix', 'old-2', 'Lead', now() - interval '500 days'),
    ('snapmix', 'new-1', 'Lead', now() - interval '399 days');
SELECT pgmq.send('meta_capi', jsonb_build_object('event', id)) FROM shared.event
WHERE event_id = 'old-2';
INSERT INTO shared.attribution_events (product_id, event_id, meta_event_name, status, created_at)
VALUES ('snapmix', 'old-1', 'Lead', 'sent', now() - interval '91 days'),
       ('snapmix', 'new-1', 'Lead', 'sent', now() - interval '89 days');
INSERT INTO shared.capi_dead_letter (event_ref, product_id, event_id, meta_event_name, reason,
                                     dead_lettered_at, replayed_at)
VALUES (1, 'snapmix', 'a', 'Lead', 'expired', now() - interval '40 days', now() - interval '31 days'),
       (1, 'snapmix', 'b', 'Lead', 'expired', now() - interval '40 days', now() - interval '29 days'),
       (1, 'snapmix', 'c', 'Lead', 'expired', now() - interval '31 days', NULL);
INSERT INTO shared.erasure (person_id, email_sha256, requested_by, erased_at)
VALUES (gen_random_uuid(), repeat('a', 64), 'dpo', now() - interval '3000 days');

SELECT tests.act_as('gdp_maintenance');
SELECT results_eq($$SELECT target, deleted FROM shared.apply_retention() ORDER BY target$$,
    $$VALUES ('attribution_events'::text, 1::bigint), ('capi_dead_letter', 2),
             ('event', 1), ('queue_archive', 0)$$,
    'one round deletes what is past each window');
SELECT throws_ok($$DELETE FROM shared.event$$, '42501', NULL,
    'the maintenance role deletes through the rules only, never directly');
SELECT is(shared.retention_delete_events(10, now() + interval '1000 days'), 0::bigint,
    'p_as_of cannot move the clock forward');
RESET ROLE;

SELECT results_eq($$SELECT event_id FROM shared.event ORDER BY event_id$$,
    $$VALUES ('new-1'::text), ('old-2')$$,
    'the old event still queued for Meta stays; the newer one stays');
SELECT results_eq($$SELECT event_id FROM shared.capi_dead_letter ORDER BY event_id$$,
    $$VALUES ('b'::text)$$, 'dead letters go 30 days after their replay, or after dead-lettering');
SELECT is((SELECT count(*) FROM shared.erasure), 1::bigint, 'erasure records are never deleted');

SELECT is(has_function_privilege('anon', 'shared.apply_retention(integer, timestamptz)', 'EXECUTE'),
    false, 'anon may not run retention');
SELECT is(has_function_privilege('authenticated',
    'shared.retention_delete_events(integer, timestamptz)', 'EXECUTE'), false,
    'authenticated may not run retention');
SELECT ok((SELECT p.prosecdef AND p.proconfig @> ARRAY['search_path=""']
           FROM pg_proc AS p WHERE p.oid = 'shared.apply_retention(integer, timestamptz)'::regprocedure),
    'apply_retention is SECURITY DEFINER with an empty search_path');
SELECT is((SELECT count(*) FROM pg_proc AS p
           WHERE p.pronamespace = 'shared'::regnamespace
             AND (p.proname LIKE 'retention\_%' OR p.proname IN ('apply_retention', 'run_retention'))
             AND obj_description(p.oid, 'pg_proc') IS NULL), 0::bigint,
    'every public retention function has a COMMENT');
SELECT is((SELECT count(*) FROM pg_proc AS p
           WHERE p.pronamespace = 'shared'::regnamespace
             AND (p.proname LIKE 'retention\_%' OR p.proname IN ('apply_retention', 'run_retention'))),
    6::bigint, 'the per-table functions, the round and the loop');

SELECT * FROM finish();
ROLLBACK;
