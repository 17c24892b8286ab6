-- The deployment gate, as the service role.
BEGIN;
SELECT plan(7);
SELECT tests.act_as('service_role');

SELECT is((SELECT count(*) FROM shared.feature_flag WHERE enabled), 0::bigint,
    'all flags are off after install');
SELECT throws_like($$SELECT shared.enable_flag('META_CAPI_INGEST_ENABLED', 'alice')$$,
    '%prerequisites off: SHARED_PERSON_TABLE_ENABLED (GAP-003)%',
    'enabling out of order names the missing prerequisite');
SELECT throws_ok($$SELECT shared.enable_flag('SHARED_PERSON_TABLE_ENABLED', 'alice')$$, 'GD423',
    NULL, 'unacknowledged checklist refuses even the first flag');

SELECT lives_ok($$SELECT shared.acknowledge_checklist_item(item_key, 'bob') FROM shared.deploy_checklist_item$$);
SELECT lives_ok($$SELECT shared.enable_flag('SHARED_PERSON_TABLE_ENABLED', 'alice')$$);
SELECT results_eq(
    $$SELECT actor, from_value, to_value FROM shared.gate_audit
      WHERE subject_kind = 'flag' AND subject_key = 'SHARED_PERSON_TABLE_ENABLED'$$,
    $$VALUES ('alice'::text, 'false'::jsonb, 'true'::jsonb)$$, 'the change is audited');
SELECT throws_like($$SELECT shared.enable_flag('META_CAPI_INGEST_ENABLED', 'alice')$$,
    '%settings absent: META_PIXEL_ID; secrets not configured in the environment: META_CAPI_ACCESS_TOKEN',
    'with the prerequisite on, the missing setting and secret are named');

SELECT * FROM finish();
ROLLBACK;
