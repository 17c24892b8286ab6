-- Queries of bench/bench_conversion_rule.py: the enqueue trigger as it was before
-- shared.applicable_conversion_rule (its own copy of "which rule applies"), to run beside
-- today's trigger in the same run.

-- name: create_old_trigger_function
CREATE SCHEMA IF NOT EXISTS bench;
CREATE OR REPLACE FUNCTION bench.old_event_enqueue_for_meta()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_rules_on boolean;
    v_sent integer;
BEGIN
    -- GAP-001 is the door to Meta: with it off, events are stored and nothing is queued.
    IF NOT shared.is_enabled('META_CAPI_INGEST_ENABLED') THEN
        RETURN NULL;
    END IF;
    -- Events without an explicit Meta name go through the rules only when GAP-002 is on.
    v_rules_on := shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED');

    WITH rules AS (
        SELECT DISTINCT ON (coalesce(r.product_id, '*'), r.event_name)
               r.product_id, r.event_name, r.meta_event_name, r.first_time_per_person
        FROM shared.conversion_rule AS r
        WHERE v_rules_on AND r.enabled
        ORDER BY coalesce(r.product_id, '*'), r.event_name
    ), decided AS (
        SELECT n.id,
               coalesce(n.meta_event_name, own.meta_event_name, anyp.meta_event_name) AS meta_name,
               n.meta_event_name IS NULL
                   AND coalesce(own.first_time_per_person, anyp.first_time_per_person, false)
                   AS first_time_only,
               n.person_id, n.event_name
        FROM new_events AS n
        LEFT JOIN rules AS own
               ON n.meta_event_name IS NULL AND own.product_id = n.product_id
              AND own.event_name = n.event_name
        LEFT JOIN rules AS anyp
               ON n.meta_event_name IS NULL AND anyp.product_id IS NULL
              AND anyp.event_name = n.event_name
    ), messages AS (
        SELECT array_agg(jsonb_build_object('event', d.id, 'meta_event_name', d.meta_name)
                         ORDER BY d.id) AS msgs
        FROM decided AS d
        WHERE d.meta_name IS NOT NULL
          AND (NOT d.first_time_only
               OR (d.person_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM shared.event AS earlier
                                   WHERE earlier.person_id = d.person_id
                                     AND earlier.event_name = d.event_name
                                     AND earlier.id < d.id)))
    )
    SELECT count(*) INTO v_sent
    FROM messages AS m, LATERAL pgmq.send_batch('meta_capi', m.msgs) AS sent
    WHERE m.msgs IS NOT NULL;

    IF v_sent > 0 THEN
        -- Wakes idle workers at once (delivered on commit; one per transaction, not per row).
        PERFORM pg_notify('gdp_meta_capi', '');
    END IF;
    RETURN NULL;
END
$$;

-- name: use_old_trigger
CREATE OR REPLACE TRIGGER event_enqueue_for_meta
    AFTER INSERT ON shared.event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION bench.old_event_enqueue_for_meta();

-- name: use_new_trigger
CREATE OR REPLACE TRIGGER event_enqueue_for_meta
    AFTER INSERT ON shared.event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION shared._event_enqueue_for_meta();

-- name: enable_rules
UPDATE shared.feature_flag SET enabled = true
WHERE flag_key IN ('SHARED_PERSON_TABLE_ENABLED', 'META_CAPI_INGEST_ENABLED',
                   'SEGMENT_ENGINE_META_CAPI_ENABLED');

-- name: insert_events
INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name)
SELECT e ->> 'product_id', e ->> 'event_id', e ->> 'event_name', e ->> 'meta_event_name'
FROM jsonb_array_elements(%(events)s::jsonb) AS e;

-- name: queued
SELECT e.event_id, q.message ->> 'meta_event_name' AS meta_event_name
FROM pgmq.q_meta_capi AS q JOIN shared.event AS e ON e.id = (q.message ->> 'event')::bigint
ORDER BY e.event_id;

-- name: backend_pid
SELECT pg_backend_pid();
