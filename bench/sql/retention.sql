-- Queries of bench/bench_retention.py.

-- name: run
-- What `gdp worker maintenance` calls, with the simulated clock.
CALL shared.run_retention(p_as_of => %(as_of)s::timestamptz, p_max_seconds => 30);

-- name: round
SELECT target, deleted FROM shared.apply_retention();

-- name: traffic_hour
-- One simulated hour: events spread over it, each with a delivery record a second later and
-- its archived queue message; one in 1,000 dead-lettered (expired), never replayed.
WITH ev AS (
    INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name, occurred_at,
                              received_at)
    SELECT 'snapmix', 'h' || %(hour)s || '-' || g, 'Purchase', 'Purchase', t.at, t.at
    FROM generate_series(1, %(n)s) AS g
    CROSS JOIN LATERAL (SELECT %(at)s::timestamptz
                               + make_interval(secs => (g - 1) * 3600.0 / %(n)s) AS at) AS t
    RETURNING id, product_id, event_id, received_at
), delivered AS (
    INSERT INTO shared.attribution_events (event_ref, product_id, event_id, meta_event_name,
                                           status, created_at)
    SELECT id, product_id, event_id, 'Purchase', 'sent', received_at + interval '1 second'
    FROM ev
), archived AS (
    INSERT INTO pgmq.a_meta_capi (msg_id, read_ct, enqueued_at, archived_at, vt, message)
    SELECT id, 1, received_at, received_at + interval '1 second', received_at,
           jsonb_build_object('event', id, 'meta_event_name', 'Purchase')
    FROM ev
), dead AS (
    INSERT INTO shared.capi_dead_letter (event_ref, product_id, event_id, meta_event_name,
                                         reason, dead_lettered_at)
    SELECT id, product_id, event_id, 'Purchase', 'expired', received_at + interval '7 days'
    FROM ev WHERE id %% 1000 = 0
)
SELECT count(*) FROM ev;

-- name: backlog
-- %(n)s rows in each of events, delivery records and the archive, all long past their windows.
WITH ev AS (
    INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name, occurred_at,
                              received_at)
    SELECT 'snapmix', 'backlog-' || g, 'Purchase', 'Purchase', now() - interval '1000 days',
           now() - interval '1000 days'
    FROM generate_series(1, %(n)s) AS g
    RETURNING id, product_id, event_id, received_at
), delivered AS (
    INSERT INTO shared.attribution_events (event_ref, product_id, event_id, meta_event_name,
                                           status, created_at)
    SELECT id, product_id, event_id, 'Purchase', 'sent', received_at FROM ev
)
INSERT INTO pgmq.a_meta_capi (msg_id, read_ct, enqueued_at, archived_at, vt, message)
SELECT id, 1, received_at, received_at, received_at, jsonb_build_object('event', id) FROM ev;

-- name: naive_events
DELETE FROM shared.event
WHERE received_at < now() - make_interval(
    days => (shared.setting_value('RETENTION_EVENT_DAYS'))::text::integer);

-- name: naive_attribution
DELETE FROM shared.attribution_events
WHERE created_at < now() - make_interval(
    days => (shared.setting_value('RETENTION_ATTRIBUTION_DAYS'))::text::integer);

-- name: naive_archive
DELETE FROM pgmq.a_meta_capi
WHERE archived_at < now() - make_interval(
    days => (shared.setting_value('RETENTION_QUEUE_ARCHIVE_DAYS'))::text::integer);

-- name: size
-- Exact rows and total bytes (heap, indexes, TOAST) of one of the tables retention bounds.
SELECT CASE %(table)s
           WHEN 'shared.event' THEN (SELECT count(*) FROM shared.event)
           WHEN 'shared.attribution_events' THEN (SELECT count(*) FROM shared.attribution_events)
           WHEN 'pgmq.a_meta_capi' THEN (SELECT count(*) FROM pgmq.a_meta_capi)
           WHEN 'shared.capi_dead_letter' THEN (SELECT count(*) FROM shared.capi_dead_letter)
       END AS rows,
       pg_total_relation_size(%(table)s::regclass) AS bytes;

-- name: vacuum
VACUUM shared.event, shared.attribution_events, pgmq.a_meta_capi, shared.capi_dead_letter;
