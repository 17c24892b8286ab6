-- name: ingest_events
-- Store events from the HTTP endpoints (people upserted, events idempotent per product/event_id).
SELECT ordinal, event_ref, event_id, person_id, outcome
FROM shared.ingest_events(%(product_id)s, %(events)s::jsonb, %(source)s);

-- name: capi_event_status
SELECT event_id, product_id, received_at, meta_event_name, status, attempt, pixel_id,
       events_received, fbtrace_id, error_code, error_subcode, error_message, test_event_code,
       updated_at
FROM shared.capi_event_status(%(product_id)s, %(event_id)s);

-- name: capi_read_messages
-- Lease up to qty messages for vt seconds; a crash lets them reappear after vt.
SELECT msg_id, read_ct, enqueued_at, message
FROM pgmq.read('meta_capi', %(vt)s, %(qty)s);

-- name: capi_load_events
-- Everything needed to build Meta events for a batch, in one query. Raw PII is read here into
-- the worker's memory to be normalized and hashed; it never leaves in a message or a log.
WITH refs AS (
    SELECT DISTINCT unnest(%(event_refs)s::bigint[]) AS id
), events AS (
    SELECT e.* FROM refs JOIN shared.event AS e ON e.id = refs.id
), products AS (
    SELECT p.product_id,
           shared.setting_value('META_PIXEL_ID', p.product_id) #>> '{}' AS pixel_id,
           shared.setting_value('META_TEST_EVENT_CODE', p.product_id) #>> '{}' AS test_event_code
    FROM (SELECT DISTINCT ev.product_id FROM events AS ev) AS p
)
SELECT e.id AS event_ref, e.product_id, e.event_id, e.event_name, e.meta_event_name,
       e.person_id, e.occurred_at, e.received_at, e.source, e.properties, e.action_source,
       e.event_source_url, host(e.client_ip_address) AS client_ip_address, e.client_user_agent,
       e.fbp, e.fbc, e.meta_user_data,
       p.email, p.phone, p.first_name, p.last_name, p.city, p.state, p.zip, p.country,
       p.date_of_birth, p.gender, p.meta_fbp, p.meta_fbc,
       p.consent_status::text AS consent_status,
       pr.pixel_id, pr.test_event_code,
       r.value_property, r.currency_property, r.default_currency,
       -- A person who came through a Lead Ads form: their conversions carry the lead id, so
       -- Meta ties them to the lead (Conversion Leads; lead_id is sent unhashed).
       (SELECT l.external_id FROM shared.identity_link AS l
        WHERE l.person_id = e.person_id AND l.provider = 'meta_lead'
        ORDER BY l.created_at LIMIT 1) AS lead_id
FROM events AS e
JOIN products AS pr ON pr.product_id = e.product_id
LEFT JOIN shared.person AS p ON p.id = e.person_id
-- The rule that applies to the event (value and currency properties).
LEFT JOIN shared.applicable_conversion_rule AS r
       ON r.product_id = e.product_id AND r.event_name = e.event_name;

-- name: capi_worker_config
SELECT shared.setting_value('META_CAPI_MAX_EVENTS_PER_SECOND') #>> '{}' AS max_events_per_second,
       shared.setting_value('META_LDU_US_STATES') AS ldu_us_states,
       shared.setting_value('META_CAPI_PARTNER_AGENT') #>> '{}' AS partner_agent;

-- name: capi_claim_request
-- In the transaction that sends one request and settles it: lock its messages, people and
-- events (see shared.capi_claim_request) and say which of its messages may still go.
SELECT msg_id, event_ref, verdict
FROM shared.capi_claim_request(%(msg_ids)s::bigint[], %(read_cts)s::integer[],
                               %(lock_timeout_ms)s);

-- name: capi_extend_leases
SELECT shared.capi_extend_leases(%(msg_ids)s::bigint[], %(read_cts)s::integer[], %(vt)s)
    AS extended;

-- name: capi_record_outcomes
SELECT shared.record_capi_outcomes(%(outcomes)s::jsonb, %(archive_msg_ids)s::bigint[]) AS recorded;

-- name: capi_delay_messages
-- Put messages back with a delay (retry later, growing with read_ct).
SELECT pgmq.set_vt('meta_capi', m.msg_id, m.delay_s)
FROM unnest(%(msg_ids)s::bigint[], %(delays)s::integer[]) AS m(msg_id, delay_s);

-- name: capi_pixel_states
SELECT pixel_id, breaker, opened_at, last_probe_at, last_error_code, last_error_message
FROM shared.capi_pixel_state;

-- name: capi_set_breaker
SELECT pixel_id, breaker FROM shared.capi_set_breaker(
    %(pixel_id)s, %(breaker)s, %(error_code)s, %(error_message)s);

-- name: capi_queue_metrics
SELECT queue_length, oldest_msg_age_sec, newest_msg_age_sec, total_messages
FROM pgmq.metrics('meta_capi');

-- name: dlq_list
SELECT d.id, d.product_id, d.event_id, d.meta_event_name, d.pixel_id, d.reason, d.error_code,
       d.error_subcode, d.error_message, d.attempts, d.dead_lettered_at, d.replayed_at
FROM shared.capi_dead_letter AS d
WHERE (%(include_replayed)s OR d.replayed_at IS NULL)
ORDER BY d.id
LIMIT %(limit)s;

-- name: dlq_replay
SELECT shared.replay_dead_letters(%(ids)s::bigint[], %(actor)s) AS replayed;

-- name: capi_delivery_summary
-- For the demo and /metrics: outcomes by status and dead letters by reason.
SELECT 'status' AS kind, status AS key, count(*) AS n FROM shared.attribution_events GROUP BY status
UNION ALL
SELECT 'dead_letter', reason, count(*) FROM shared.capi_dead_letter
WHERE replayed_at IS NULL GROUP BY reason;
