-- migrate:up

/**
 * The deployment gate's rows: one flag per PRD enable flag (all off), the settings they need,
 * the PRD's pre-deploy checklist, and the prerequisites that encode the PRD's enable order
 * GAP-003 -> 001 -> 006 -> 005 -> 002 -> 004 -> 007.
 */

INSERT INTO shared.setting_definition
    (setting_key, description, value_type, value_pattern, min_value, max_value, per_product)
VALUES
    ('META_PIXEL_ID', 'Meta Pixel (dataset) id events are reported to; a product may override it',
     'text', '^[0-9]{5,20}$', NULL, NULL, true),
    ('META_AD_ACCOUNT_ID', 'Meta ad account for insights and custom audiences (act_<digits>)',
     'text', '^act_[0-9]{5,20}$', NULL, NULL, false),
    ('META_TEST_EVENT_CODE', 'Events Manager test event code; set only while verifying',
     'text', '^[A-Za-z0-9_]{1,64}$', NULL, NULL, true),
    ('META_CAPI_MAX_EVENTS_PER_SECOND', 'Pacing of Conversions API sends per pixel',
     'integer', NULL, 1, 100000, false),
    ('SEGMENT_ENGINE_CRON_INTERVAL', 'Seconds between segment engine runs',
     'integer', NULL, 10, 86400, false),
    ('META_INSIGHTS_CACHE_TTL_SEC', 'Seconds the insights API caches Meta''s numbers',
     'integer', NULL, 0, 86400, false),
    ('META_CUSTOM_AUDIENCE_IDS', 'JSON map: segment id -> Meta custom audience id',
     'object', NULL, NULL, NULL, false);

-- Defaults the PRD gives; everything else is absent until an admin sets it.
INSERT INTO shared.setting (setting_key, scope, value, updated_by) VALUES
    ('SEGMENT_ENGINE_CRON_INTERVAL', 'global', '300', 'install'),
    ('META_INSIGHTS_CACHE_TTL_SEC', 'global', '900', 'install'),
    ('META_CAPI_MAX_EVENTS_PER_SECOND', 'global', '1000', 'install');

INSERT INTO shared.feature_flag
    (flag_key, gap, enable_order, description, required_settings, required_secrets)
VALUES
    ('SHARED_PERSON_TABLE_ENABLED', 'GAP-003', 1,
     'Products read and write the shared person table', '{}', '{}'),
    ('META_CAPI_INGEST_ENABLED', 'GAP-001', 2,
     'POST /api/v1/meta/event accepts events and the CAPI worker sends them to Meta',
     '{META_PIXEL_ID}', '{META_CAPI_ACCESS_TOKEN}'),
    ('CONVERSION_TRACKING_ENABLED', 'GAP-006', 3,
     'POST /functions/v1/track-conversion stores conversions in shared.event', '{}', '{}'),
    ('META_CAPI_FORWARD_ENABLED', 'GAP-006', 3,
     'Tracked conversions are forwarded to Meta through the CAPI path', '{}', '{}'),
    ('META_CAPI_RELAY_ENABLED', 'GAP-005', 4,
     'The per-product relay /api/tracking/meta-event forwards browser events', '{}', '{}'),
    ('NEXT_PUBLIC_META_PIXEL_ENABLED', 'GAP-005', 4,
     'The browser snippet fires the Meta Pixel', '{META_PIXEL_ID}', '{}'),
    ('SEGMENT_ENGINE_META_CAPI_ENABLED', 'GAP-002', 5,
     'The segment engine fires CAPI events for conversion-worthy product events',
     '{SEGMENT_ENGINE_CRON_INTERVAL}', '{}'),
    ('ACD_META_INSIGHTS_ENABLED', 'GAP-004', 6,
     'Insights are pulled from Meta and served at /api/meta/insights',
     '{META_AD_ACCOUNT_ID,META_INSIGHTS_CACHE_TTL_SEC}', '{META_CAPI_ACCESS_TOKEN}'),
    ('META_CUSTOM_AUDIENCE_SYNC_ENABLED', 'GAP-007', 7,
     'Segment membership is synced to Meta Custom Audiences',
     '{META_AD_ACCOUNT_ID,META_CUSTOM_AUDIENCE_IDS}', '{META_CAPI_ACCESS_TOKEN}');

-- The enable order as edges: a gap's first flag needs every flag of the gap before it, and a
-- gap's other flags need its first. Disabling is refused while a dependent is on, so the chain
-- can only be walked one step at a time in either direction.
INSERT INTO shared.feature_flag_prerequisite (flag_key, requires_flag_key) VALUES
    ('META_CAPI_INGEST_ENABLED',          'SHARED_PERSON_TABLE_ENABLED'),
    ('CONVERSION_TRACKING_ENABLED',       'META_CAPI_INGEST_ENABLED'),
    ('META_CAPI_FORWARD_ENABLED',         'CONVERSION_TRACKING_ENABLED'),
    ('META_CAPI_RELAY_ENABLED',           'CONVERSION_TRACKING_ENABLED'),
    ('META_CAPI_RELAY_ENABLED',           'META_CAPI_FORWARD_ENABLED'),
    ('NEXT_PUBLIC_META_PIXEL_ENABLED',    'META_CAPI_RELAY_ENABLED'),
    ('SEGMENT_ENGINE_META_CAPI_ENABLED',  'META_CAPI_RELAY_ENABLED'),
    ('SEGMENT_ENGINE_META_CAPI_ENABLED',  'NEXT_PUBLIC_META_PIXEL_ENABLED'),
    ('ACD_META_INSIGHTS_ENABLED',         'SEGMENT_ENGINE_META_CAPI_ENABLED'),
    ('META_CUSTOM_AUDIENCE_SYNC_ENABLED', 'ACD_META_INSIGHTS_ENABLED');

INSERT INTO shared.deploy_checklist_item (item_key, position, title) VALUES
    ('privacy_policy_updated',          1, 'Privacy policy updated to disclose Meta data sharing'),
    ('consent_mechanism_in_place',      2, 'User consent mechanism in place (cookie banner / ToS)'),
    ('meta_app_review_approved',        3, 'Meta Business Manager app review approved'),
    ('shared_schema_migration_applied', 4, 'Supabase shared schema migration applied'),
    ('service_keys_generated',          5, 'All service API keys generated and stored securely'),
    ('rate_limiting_tested',            6, 'Rate limiting tested (max 1000 events/sec)'),
    ('pii_hashing_verified',            7, 'PII hashing verified (SHA256 before sending to Meta)'),
    ('test_events_verified',            8, 'Test events verified in Meta Events Manager'),
    ('capi_dedup_confirmed',            9, 'CAPI deduplication confirmed (event_id matching)');

-- "ALL must pass before ANY feature is enabled" (PRD, Pre-Deploy).
INSERT INTO shared.feature_flag_checklist (flag_key, item_key)
SELECT f.flag_key, c.item_key
FROM shared.feature_flag AS f CROSS JOIN shared.deploy_checklist_item AS c;

-- migrate:down
