-- name: demo_insert_events
-- What a product's backend writes with the Supabase client: one INSERT for many events.
INSERT INTO shared.event (product_id, event_id, event_name, person_id, properties, source)
SELECT r.product_id, r.event_id, r.event_name, r.person_id, coalesce(r.properties, '{}'), 'sql'
FROM jsonb_to_recordset(%(rows)s::jsonb)
     AS r(product_id text, event_id text, event_name text, person_id uuid, properties jsonb)
ON CONFLICT ON CONSTRAINT event_product_id_event_id_key DO NOTHING;

-- name: demo_queue_left
SELECT count(*) AS n FROM pgmq.q_meta_capi;

-- name: demo_events_per_product
SELECT e.product_id,
       count(*) AS events,
       count(*) FILTER (WHERE a.status = 'sent') AS delivered,
       count(*) FILTER (WHERE a.status = 'blocked_consent') AS blocked,
       count(*) FILTER (WHERE d.id IS NOT NULL) AS dead_lettered
FROM shared.event AS e
LEFT JOIN LATERAL (
    SELECT status FROM shared.attribution_events AS ae
    WHERE ae.product_id = e.product_id AND ae.event_id = e.event_id
    ORDER BY ae.id DESC LIMIT 1
) AS a ON true
LEFT JOIN shared.capi_dead_letter AS d
       ON d.product_id = e.product_id AND d.event_id = e.event_id AND d.replayed_at IS NULL
GROUP BY e.product_id
ORDER BY e.product_id;

-- name: demo_dead_letters_by_reason
SELECT reason, count(*) AS n, min(error_message) AS example
FROM shared.capi_dead_letter GROUP BY reason ORDER BY reason;

-- name: demo_latency
-- From the event's arrival in shared.event to Meta's acknowledgement being recorded.
SELECT count(*) AS sent,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.created_at - e.received_at)) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM a.created_at - e.received_at)) AS p95,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM a.created_at - e.received_at)) AS p99
FROM shared.attribution_events AS a
JOIN shared.event AS e ON e.id = a.event_ref
WHERE a.status = 'sent';

-- name: demo_outcomes
SELECT status, count(*) AS n FROM shared.attribution_events GROUP BY status ORDER BY status;
