-- name: enable_capi_path
-- Benchmarks switch the path on directly (the gate is tested elsewhere).
UPDATE shared.feature_flag SET enabled = true
WHERE flag_key IN ('SHARED_PERSON_TABLE_ENABLED', 'META_CAPI_INGEST_ENABLED',
                   'SEGMENT_ENGINE_META_CAPI_ENABLED');

-- name: set_pixel
SELECT shared.set_setting('META_PIXEL_ID', '"1234567890"', 'bench');

-- name: make_people
SELECT count(*) FROM shared.upsert_people(%(people)s::jsonb);

-- name: person_ids
SELECT array_agg(id ORDER BY email) AS ids FROM shared.person;

-- name: insert_events
-- What a product's bulk insert through the Supabase client amounts to: one statement, 1000 rows.
INSERT INTO shared.event (product_id, event_id, event_name, person_id, client_ip_address,
                          client_user_agent, event_source_url)
SELECT r.product_id, r.event_id, 'Signup', r.person_id, '203.0.113.7',
       'Mozilla/5.0 (bench)', 'https://example.com/signup'
FROM unnest(%(products)s::text[], %(event_ids)s::text[], %(person_ids)s::uuid[])
     AS r(product_id, event_id, person_id);

-- name: reset_events
TRUNCATE shared.event, shared.attribution_events, shared.capi_dead_letter;
SELECT pgmq.purge_queue('meta_capi');

-- name: trigger_off
ALTER TABLE shared.event DISABLE TRIGGER event_enqueue_for_meta;

-- name: trigger_on
ALTER TABLE shared.event ENABLE TRIGGER event_enqueue_for_meta;

-- name: queue_left
SELECT count(*) AS n FROM pgmq.q_meta_capi;

-- name: queued_total
SELECT count(*) AS n FROM pgmq.q_meta_capi;

-- name: received_at_by_event
SELECT event_id, extract(epoch FROM received_at) AS received FROM shared.event;

-- name: stored_and_queued
-- One snapshot for both counts (separate statements would see commits land in between).
SELECT (SELECT count(*) FROM shared.event) AS stored,
       (SELECT count(*) FROM pgmq.q_meta_capi) AS queued;

-- name: create_service_key
SELECT service_key FROM shared.create_service_key('snapmix', 'bench');

-- name: insert_events_mixed
-- As insert_events, with a Meta event name, an action_source and properties per row (to mix in
-- events Meta refuses: app events without app_data, a currency that is not ISO 4217).
INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name, person_id,
                          client_ip_address, client_user_agent, event_source_url, action_source,
                          properties)
SELECT r.product_id, r.event_id, 'Signup', r.meta_event_name, r.person_id, '203.0.113.7',
       'Mozilla/5.0 (bench)', 'https://example.com/signup', r.action_source, r.properties
FROM unnest(%(products)s::text[], %(event_ids)s::text[], %(person_ids)s::uuid[],
            %(meta_event_names)s::text[], %(action_sources)s::text[], %(properties)s::jsonb[])
     AS r(product_id, event_id, person_id, meta_event_name, action_source, properties);

-- name: dead_letters_by_reason
SELECT reason, count(*) AS n FROM shared.capi_dead_letter GROUP BY reason ORDER BY reason;

-- name: sent_records
SELECT count(*) AS n, count(DISTINCT event_id) AS events
FROM shared.attribution_events WHERE status = 'sent';

-- name: set_product_pixel
SELECT shared.set_setting('META_PIXEL_ID', to_jsonb(%(pixel_id)s::text), 'bench', %(product_id)s);

-- name: unset_product_pixel
SELECT shared.unset_setting('META_PIXEL_ID', 'bench', %(product_id)s);
