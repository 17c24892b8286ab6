-- migrate:up
-- gdp:release sources=sha256:a4e845e2d787602c45b970144d8ced53bc1bfa78a66a6aa8fad629aa62d074db

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._event_features()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_msgs jsonb[];
BEGIN
    -- One row per statement, whatever its size: the evaluation folds these events into the
    -- daily features (shared._fold_new_events), so the insert pays for an array, not an upsert.
    INSERT INTO shared.segment_change_log (event_ids)
    SELECT array_agg(n.id) FROM new_events AS n WHERE n.person_id IS NOT NULL
    HAVING count(*) > 0;

    -- The first-time rows of the PRD's trigger table (conversion rules with
    -- first_time_per_person, e.g. "first feature used" -> CompleteRegistration), fired from the
    -- features rather than from one event: for each person and rule, the statement's first
    -- matching event is sent when the person had no such event before, and
    -- shared.feature_trigger_fired's primary key makes it once per person even when two
    -- sessions insert at the same time (the second waits for the first's row, then finds it).
    IF shared.is_enabled('META_CAPI_INGEST_ENABLED')
       AND shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') THEN
        WITH matched AS (
            -- The rule that decides each event (shared.applicable_conversion_rule, the one
            -- definition), where it is a first-time one.
            SELECT n.id, n.person_id, n.event_name, r.rule_id
            FROM new_events AS n
            JOIN shared.applicable_conversion_rule AS r
              ON r.product_id = n.product_id AND r.event_name = n.event_name
            WHERE n.meta_event_name IS NULL AND n.person_id IS NOT NULL
              AND r.first_time_per_person
        ), firsts AS (
            SELECT DISTINCT ON (m.rule_id, m.person_id) m.rule_id, m.person_id, m.id, m.event_name
            FROM matched AS m
            ORDER BY m.rule_id, m.person_id, m.id
        ), fired AS (
            INSERT INTO shared.feature_trigger_fired (rule_id, person_id, event_ref, sent)
            SELECT f.rule_id, f.person_id, coalesce(seen_before.id, f.id), seen_before.id IS NULL
            FROM firsts AS f
            -- Probed per person through an index (LATERAL … LIMIT 1 is never turned into a hash
            -- join, which would read the whole ledger or event table for every statement): the
            -- ledger first; only a person not in it yet has their earlier events looked at: one
            -- whose events from before the ledger existed (or before the flag was on) include
            -- one is not new to it, and is recorded as such (not sent) so that this look
            -- happens once per person, not on every statement.
            LEFT JOIN LATERAL (SELECT 1 AS found FROM shared.feature_trigger_fired AS done
                               WHERE done.rule_id = f.rule_id AND done.person_id = f.person_id
                               LIMIT 1) AS fired_before ON true
            LEFT JOIN LATERAL (SELECT earlier.id FROM shared.event AS earlier
                               WHERE fired_before.found IS NULL
                                 AND earlier.person_id = f.person_id
                                 AND earlier.event_name = f.event_name AND earlier.id < f.id
                               LIMIT 1) AS seen_before ON true
            WHERE fired_before.found IS NULL
            ORDER BY f.rule_id, f.person_id
            ON CONFLICT (rule_id, person_id) DO NOTHING
            RETURNING rule_id, event_ref, sent
        )
        SELECT array_agg(jsonb_build_object('event', fd.event_ref, 'meta_event_name', r.meta_event_name)
                         ORDER BY fd.event_ref)
        INTO v_msgs
        FROM fired AS fd JOIN shared.conversion_rule AS r ON r.rule_id = fd.rule_id
        WHERE fd.sent;

        IF v_msgs IS NOT NULL THEN
            PERFORM pgmq.send_batch('meta_capi', v_msgs);
            PERFORM pg_notify('gdp_meta_capi', '');
        END IF;
    END IF;
    RETURN NULL;
END
$function$;

-- migrate:down
