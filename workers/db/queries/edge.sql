-- name: edge_flags
-- The flags the HTTP service obeys, read in one call (cached by the service for about a second).
SELECT f.flag_key, shared.is_enabled(f.flag_key) AS enabled
FROM unnest(%(flags)s::text[]) AS f(flag_key);

-- name: edge_event_statuses
-- Delivery status of several events of one product (for ?wait=N and the batch form).
SELECT s.event_id, s.product_id, s.received_at, s.meta_event_name, s.status, s.attempt,
       s.pixel_id, s.events_received, s.fbtrace_id, s.error_code, s.error_subcode,
       s.error_message, s.test_event_code, s.updated_at
FROM unnest(%(event_ids)s::text[]) AS wanted(id)
CROSS JOIN LATERAL shared.capi_event_status(%(product_id)s, wanted.id) AS s;

-- name: edge_ping
SELECT 1 AS ok;

-- name: edge_metrics
-- Gauges read at scrape time, one row per sample: (metric, label, value). Cheap: the queue
-- metrics, one row per pixel, pending dead letters (partial index) and the last day's outcomes
-- counted per status through the (status, created_at) index.
SELECT 'queue_length' AS metric, 'meta_capi' AS label, m.queue_length::double precision AS value
FROM pgmq.metrics('meta_capi') AS m
UNION ALL
SELECT 'queue_oldest_age_seconds', 'meta_capi', coalesce(m.oldest_msg_age_sec, 0)::double precision
FROM pgmq.metrics('meta_capi') AS m
UNION ALL
SELECT 'breaker_open', s.pixel_id, CASE WHEN s.breaker = 'open' THEN 1 ELSE 0 END
FROM shared.capi_pixel_state AS s
UNION ALL
SELECT 'dead_letters', d.reason, count(*)
FROM shared.capi_dead_letter AS d
WHERE d.replayed_at IS NULL
GROUP BY d.reason
UNION ALL
SELECT 'outcomes_24h', st.status,
       (SELECT count(*) FROM shared.attribution_events AS a
        WHERE a.status = st.status AND a.created_at > now() - interval '24 hours')
FROM unnest(%(statuses)s::text[]) AS st(status);  -- workers.statuses.ATTRIBUTION_STATUSES
