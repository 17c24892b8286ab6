-- migrate:up
-- gdp:release sources=sha256:eb7b4a74ae4a9f51a5aa4ce26d0a54469546857046a70e59bf64d79d28d70fbc

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._fold_new_events()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_rows bigint;
BEGIN
    WITH src AS MATERIALIZED (
        SELECT n.id, n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day,
               n.occurred_at, n.event_name, n.properties, coalesce(own.kind, anyp.kind) AS kind
        FROM pg_temp._segment_new_event AS ne
        JOIN shared.event AS n ON n.id = ne.id
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL
    ), candidates AS (
        -- The people of the new events are re-evaluated; read here, with the events already
        -- fetched, rather than by a second pass over them.
        INSERT INTO pg_temp._segment_candidate (person_id)
        SELECT DISTINCT k.person_id FROM src AS k
        ON CONFLICT DO NOTHING
    ), by_name AS (
        SELECT k.person_id, k.product_id, k.day, k.event_name, k.kind, count(*)::integer AS n,
               min(k.occurred_at) AS first_at, max(k.occurred_at) AS last_at
        FROM src AS k GROUP BY 1, 2, 3, 4, 5
    ), days AS (
        SELECT b.person_id, b.product_id, b.day,
               min(b.first_at) AS first_at, max(b.last_at) AS last_at,
               sum(b.n)::integer AS events,
               coalesce(sum(b.n) FILTER (WHERE b.kind IS NULL
                                           OR b.kind NOT IN ('page_view', 'pricing_view')), 0)::integer AS usage,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'pricing_view'), 0)::integer AS pricing_views,
               min(b.first_at) FILTER (WHERE b.kind = 'activation') AS first_activation_at,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'payment'), 0)::integer AS payments,
               max(b.last_at) FILTER (WHERE b.kind = 'payment') AS last_payment_at,
               max(b.last_at) FILTER (WHERE b.kind = 'cancel') AS last_cancel_at,
               jsonb_object_agg(b.event_name, b.n) AS counts
        FROM by_name AS b GROUP BY 1, 2, 3
    ), paid AS (
        SELECT DISTINCT ON (k.person_id, k.product_id, k.day) k.person_id, k.product_id, k.day,
               k.properties ->> 'plan' AS plan,
               coalesce(k.properties ->> 'mrr', k.properties ->> 'plan_price',
                        k.properties ->> 'upgrade_price', k.properties ->> 'value') AS amount
        FROM src AS k WHERE k.kind = 'payment'
        ORDER BY k.person_id, k.product_id, k.day, k.occurred_at DESC, k.id DESC
    )
    INSERT INTO shared.person_activity_daily AS a (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at, event_counts)
    SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
           d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, p.plan,
           -- An amount that is not a number is no MRR (the event itself is stored as sent).
           CASE WHEN p.amount ~ '^\s*[0-9]{1,12}(\.[0-9]+)?\s*$' THEN round(p.amount::numeric, 2) END,
           d.last_cancel_at, d.counts
    FROM days AS d
    LEFT JOIN paid AS p USING (person_id, product_id, day)
    ORDER BY d.person_id, d.product_id, d.day
    ON CONFLICT (person_id, product_id, day) DO UPDATE SET
        first_at = least(a.first_at, excluded.first_at),
        last_at = greatest(a.last_at, excluded.last_at),
        events = a.events + excluded.events,
        usage = a.usage + excluded.usage,
        pricing_views = a.pricing_views + excluded.pricing_views,
        first_activation_at = least(a.first_activation_at, excluded.first_activation_at),
        payments = a.payments + excluded.payments,
        plan = CASE WHEN excluded.last_payment_at >= a.last_payment_at OR a.last_payment_at IS NULL
                    THEN coalesce(excluded.plan, a.plan) ELSE a.plan END,
        mrr = CASE WHEN excluded.last_payment_at >= a.last_payment_at OR a.last_payment_at IS NULL
                   THEN coalesce(excluded.mrr, a.mrr) ELSE a.mrr END,
        last_payment_at = greatest(a.last_payment_at, excluded.last_payment_at),
        last_cancel_at = greatest(a.last_cancel_at, excluded.last_cancel_at),
        event_counts = shared._jsonb_sum_counts(a.event_counts, excluded.event_counts);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$function$;

CREATE OR REPLACE FUNCTION shared.evaluate_segments(p_full boolean DEFAULT false)
 RETURNS TABLE(run_id bigint, segment_id text, members bigint, joined bigint, "left" bigint, error text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
 SET work_mem TO '256MB'
 SET random_page_cost TO '1.1'
 SET jit TO 'off'
AS $function$
#variable_conflict use_column
DECLARE
    v_run bigint;
    v_now timestamptz := now();
    v_t0 timestamptz;
    v_candidates integer;
    v_features_ms numeric;
    v_seg record;
    v_problem text;
    v_members bigint;
    v_joined bigint;
    v_left bigint;
    v_join uuid[];
    v_leave uuid[];
    v_stats jsonb := '{}'::jsonb;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('gdp.evaluate_segments')) THEN
        PERFORM shared._raise('GD409', 'segments', 'another evaluation is running');
    END IF;
    INSERT INTO shared.segment_run (mode) VALUES (CASE WHEN p_full THEN 'full' ELSE 'incremental' END)
    RETURNING segment_run.run_id INTO v_run;
    PERFORM set_config('gdp.segment_run', v_run::text, true);

    v_t0 := clock_timestamp();
    IF to_regclass('pg_temp._segment_candidate') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate;
    END IF;
    CREATE TEMP TABLE _segment_candidate (person_id uuid PRIMARY KEY) ON COMMIT DROP;
    IF to_regclass('pg_temp._segment_new_event') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_new_event;
    END IF;
    CREATE TEMP TABLE _segment_new_event (id bigint PRIMARY KEY) ON COMMIT DROP;
    -- Only committed rows are deleted (and their events, committed with them, are seen by the
    -- statements below); a statement committing meanwhile stays in the log for the next run.
    WITH drained AS (
        DELETE FROM shared.segment_change_log
        RETURNING event_ids, event_id_first, event_id_last, person_ids
    ), new_events AS (
        INSERT INTO pg_temp._segment_new_event
        SELECT u.id FROM drained AS d, unnest(d.event_ids) AS u(id)
        UNION
        SELECT g.id FROM drained AS d, generate_series(d.event_id_first, d.event_id_last) AS g(id)
        RETURNING 1
    )
    INSERT INTO pg_temp._segment_candidate
    SELECT DISTINCT u.id FROM drained AS d, unnest(d.person_ids) AS u(id);
    ANALYZE pg_temp._segment_new_event;
    PERFORM shared._fold_new_events();
    INSERT INTO pg_temp._segment_candidate
    SELECT f.person_id FROM shared.person_feature AS f WHERE f.next_change_at <= v_now
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_candidates = ROW_COUNT;
    SELECT count(*) INTO v_candidates FROM pg_temp._segment_candidate;
    ANALYZE pg_temp._segment_candidate;
    PERFORM shared._refresh_person_features(v_now);
    v_features_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;

    FOR v_seg IN SELECT s.segment_id FROM shared.segment AS s WHERE s.enabled
                 ORDER BY s.segment_id LOOP
        v_t0 := clock_timestamp();
        v_members := NULL;
        BEGIN
            v_problem := shared._segment_view_problem(v_seg.segment_id, false);
            IF v_problem IS NOT NULL THEN
                PERFORM shared._raise('GD400', 'segment', v_problem);
            END IF;
            -- One pass over the view and the segment's members (a full join on person_id):
            -- who joins, who leaves and, in a full run, how many are in. Then two plain
            -- statements change only those rows (each fires the history and queue trigger).
            -- In an incremental run the members are probed per candidate through the primary
            -- key: inside the full join the planner otherwise reads the segment's whole member
            -- index to hash-join it with a few thousand candidates (60-95 ms per large segment
            -- at a million people, against 25 ms of probes).
            IF p_full THEN
                EXECUTE format($q$
                    SELECT count(cur.person_id),
                           array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL)
                    FROM (SELECT DISTINCT v.person_id FROM segments.%I AS v
                          WHERE v.person_id IS NOT NULL) AS cur
                    FULL JOIN (SELECT m.person_id FROM shared.segment_member AS m
                               WHERE m.segment_id = $1) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_members, v_join, v_leave
                USING v_seg.segment_id;
            ELSE
                EXECUTE format($q$
                    SELECT array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL)
                    FROM (SELECT DISTINCT v.person_id FROM segments.%I AS v
                          JOIN pg_temp._segment_candidate AS c ON c.person_id = v.person_id) AS cur
                    FULL JOIN (SELECT c.person_id FROM pg_temp._segment_candidate AS c
                               CROSS JOIN LATERAL (
                                   SELECT 1 FROM shared.segment_member AS m
                                   WHERE m.segment_id = $1 AND m.person_id = c.person_id
                                   LIMIT 1) AS is_member) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_join, v_leave
                USING v_seg.segment_id;
            END IF;
            DELETE FROM shared.segment_member AS m
            USING unnest(v_leave) AS u(person_id)
            WHERE m.segment_id = v_seg.segment_id AND m.person_id = u.person_id;
            GET DIAGNOSTICS v_left = ROW_COUNT;
            INSERT INTO shared.segment_member (segment_id, person_id, joined_at)
            SELECT v_seg.segment_id, u.person_id, v_now FROM unnest(v_join) AS u(person_id);
            GET DIAGNOSTICS v_joined = ROW_COUNT;
            UPDATE shared.segment AS s SET last_evaluated_at = v_now, last_error = NULL
            WHERE s.segment_id = v_seg.segment_id;
            v_stats := v_stats || jsonb_build_object(v_seg.segment_id, jsonb_build_object(
                'members', v_members, 'joined', v_joined, 'left', v_left,
                'ms', round((extract(epoch FROM clock_timestamp() - v_t0) * 1000)::numeric, 1)));
            RETURN QUERY SELECT v_run, v_seg.segment_id, v_members, v_joined, v_left, NULL::text;
        EXCEPTION WHEN OTHERS THEN
            UPDATE shared.segment AS s SET last_error = left(SQLERRM, 500)
            WHERE s.segment_id = v_seg.segment_id;
            v_stats := v_stats || jsonb_build_object(v_seg.segment_id,
                                                     jsonb_build_object('error', left(SQLERRM, 500)));
            RETURN QUERY SELECT v_run, v_seg.segment_id, NULL::bigint, 0::bigint, 0::bigint,
                                left(SQLERRM, 500);
        END;
    END LOOP;

    UPDATE shared.segment_run AS r SET
        finished_at = clock_timestamp(), candidates = v_candidates,
        features_ms = round(v_features_ms, 1), segments = v_stats,
        joined = coalesce((SELECT sum((e.value ->> 'joined')::bigint) FROM jsonb_each(v_stats) AS e), 0),
        "left" = coalesce((SELECT sum((e.value ->> 'left')::bigint) FROM jsonb_each(v_stats) AS e), 0)
    WHERE r.run_id = v_run;
    PERFORM set_config('gdp.segment_run', '', true);
END
$function$;

-- migrate:down
