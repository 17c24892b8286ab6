-- The segment engine: who may do what, RLS on every table, documented functions, and the
-- features and membership a few events make.
BEGIN;
SELECT plan(20);

SELECT is(
    (SELECT count(*)::integer FROM pg_catalog.pg_class AS c
     JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE n.nspname = 'shared' AND c.relkind = 'r' AND NOT c.relrowsecurity
       AND c.relname IN ('feature_event_kind', 'person_activity_settled',
                         'person_activity_recent', 'person_feature',
                         'segment_change_log', 'segment_run', 'segment_history',
                         'feature_trigger_fired', 'segment', 'segment_member')),
    0, 'row level security is on for every segment engine table');

SELECT is(
    (SELECT count(*)::integer FROM pg_catalog.pg_proc AS p
     JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
     WHERE n.nspname = 'shared' AND p.proname IN ('evaluate_segments', 'segment_define',
           'segment_preview', 'rebuild_person_activity', 'segment_worker_config')
       AND obj_description(p.oid, 'pg_proc') IS NULL),
    0, 'every public segment function has a comment');

SELECT is(
    (SELECT count(*)::integer FROM pg_catalog.pg_proc AS p
     JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
     WHERE n.nspname = 'shared' AND p.proname IN ('evaluate_segments', 'segment_define',
           'segment_preview', 'rebuild_person_activity', 'segment_worker_config')
       AND has_function_privilege('public', p.oid, 'EXECUTE')),
    0, 'no segment function is executable by PUBLIC');

INSERT INTO shared.person (id, email) VALUES
    ('00000000-0000-0000-0000-0000000000a1', 'a1@example.com'),
    ('00000000-0000-0000-0000-0000000000a2', 'a2@example.com');
INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at) VALUES
    ('snapmix', 't1', 'FeatureUsed', '00000000-0000-0000-0000-0000000000a1', now() - interval '4 days'),
    ('snapmix', 't2', 'PricingPageViewed', '00000000-0000-0000-0000-0000000000a2', now() - interval '1 day'),
    ('snapmix', 't3', 'PricingPageViewed', '00000000-0000-0000-0000-0000000000a2', now());

SELECT is((SELECT count(*)::integer FROM shared.segment_change_log WHERE person_ids IS NULL),
    1, 'one change log row for the one inserting statement');
SELECT is((SELECT count(*)::integer FROM shared.segment_change_log
            WHERE event_ids IS NULL AND event_id_last - event_id_first + 1 = 3
              AND event_id_first = (SELECT min(id) FROM shared.event WHERE event_id LIKE 't_')),
    1, 'holding its three event ids as one run, first and last');

SELECT tests.act_as('gdp_segment_worker');
SELECT results_eq(
    $$SELECT segment_id, joined FROM shared.evaluate_segments() ORDER BY segment_id$$,
    $$VALUES ('activated_not_paid_day3'::text, 1::bigint), ('all_customers', 0),
             ('all_leads', 2), ('churned_30d', 0), ('high_intent_pricing_2plus', 1),
             ('paid_high_usage_7d', 0)$$,
    'the worker role evaluates: each segment gets its members');
SELECT throws_ok($$SELECT * FROM shared.segment_member$$, '42501', NULL,
    'the worker role reads no table');
SELECT throws_ok($$SELECT * FROM shared.segment_define('x', 'SELECT id AS person_id FROM shared.person', true, 'd', 'o')$$,
    '42501', NULL, 'the worker role cannot define segments');
RESET ROLE;

SELECT is((SELECT count(*)::integer FROM shared.segment_change_log), 0,
    'the evaluation drained the change log');
SELECT is((SELECT count(*)::integer FROM shared.person_activity_daily), 3,
    'and folded the events into one daily row per person, product and day');
SELECT is((SELECT count(*)::integer FROM shared.person_activity_recent), 3,
    'kept in the recent table until their day is settled');
SELECT is(shared._settle_person_activity(shared._utc_day(now()) + 1), 3::bigint,
    'settling moves every row of the days before the one given');
INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at) VALUES
    ('snapmix', 't4', 'PricingPageViewed', '00000000-0000-0000-0000-0000000000a2', now());
SELECT is((SELECT count(*)::integer FROM shared.evaluate_segments()), 6,
    'an evaluation after a settle');
SELECT results_eq(
    $$SELECT events, pricing_views, (SELECT count(*)::integer FROM shared.person_activity_settled),
             (SELECT count(*)::integer FROM shared.person_activity_recent)
      FROM shared.person_activity_daily
      WHERE person_id = '00000000-0000-0000-0000-0000000000a2' AND day = shared._utc_day(now())$$,
    $$VALUES (2, 2, 3, 1)$$,
    'a day with a settled and a recent row reads as one row');
SELECT is(shared._segment_feature_columns('high_intent_pricing_2plus'),
    ARRAY['person_id', 'paid', 'pricing_views_7d'],
    'a PRD segment names the feature columns it reads');
SELECT is((SELECT count(*)::integer FROM pgmq.q_segment_changes), 3,
    'one queue message per segment that changed (up to 1,000 ids each)');

SELECT tests.act_as('authenticated');
SELECT throws_ok($$SELECT * FROM shared.person_feature$$, '42501', NULL,
    'a product role cannot read features');
SELECT throws_ok($$SELECT * FROM shared.evaluate_segments()$$, '42501', NULL,
    'a product role cannot evaluate');
SELECT tests.clear_role();

SELECT tests.act_as('service_role');
SELECT is((SELECT count(*)::integer FROM segments.all_leads), 2,
    'the service role reads segment views');
SELECT tests.clear_role();

SELECT throws_ok(
    $$SELECT * FROM shared.segment_define('leaky', 'SELECT person_id FROM shared.erasure', true, 'd', 'o')$$,
    'GD400', NULL, 'a view reading a table outside the allowed ones is refused');

SELECT * FROM finish();
ROLLBACK;
