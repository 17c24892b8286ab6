-- migrate:up
-- gdp:release sources=sha256:8ec9f1915489e49c9d13b6d8627d7eea5e566cab1e09265fa691800183456a3a

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._event_enqueue_for_meta()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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

    WITH decided AS (
        SELECT n.id,
               coalesce(n.meta_event_name, r.meta_event_name) AS meta_name,
               n.meta_event_name IS NULL AND coalesce(r.first_time_per_person, false)
                   AS first_time_only,
               n.person_id, n.event_name
        FROM new_events AS n
        LEFT JOIN shared.applicable_conversion_rule AS r
               ON v_rules_on AND n.meta_event_name IS NULL
              AND r.product_id = n.product_id AND r.event_name = n.event_name
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
$function$;

-- migrate:down
