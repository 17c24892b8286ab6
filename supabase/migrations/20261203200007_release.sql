-- migrate:up
-- gdp:release sources=sha256:1c2a478b77e0ec4ae846f5d949d7cf53c84bf48bc21f0ed3e7a95e3f059471ad

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._refresh_person_features(p_now timestamp with time zone)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_today date := shared._utc_day(p_now);
    v_rows bigint;
BEGIN
    WITH agg AS (
        SELECT c.person_id, p.lifecycle_stage, a.*
        FROM pg_temp._segment_chunk AS c
        -- The lifecycle stage is the one column taken from the person row, and every insert or
        -- update of a person is logged (person_changed): the person row is read only for those
        -- and for people new to the features; the others keep the stage they have. Their
        -- feature rows are rewritten below, so reading them here costs no extra page.
        LEFT JOIN shared.person_feature AS known
               ON known.person_id = c.person_id AND NOT c.person_changed
        -- Per candidate through the primary key (a merge join would walk the whole index).
        JOIN LATERAL (SELECT known.lifecycle_stage WHERE known.person_id IS NOT NULL
                      UNION ALL
                      SELECT pp.lifecycle_stage FROM shared.person AS pp
                      WHERE known.person_id IS NULL AND pp.id = c.person_id) AS p ON true
        LEFT JOIN LATERAL (
            SELECT array_agg(DISTINCT d.product_id ORDER BY d.product_id) AS products,
                   min(d.first_at) AS first_seen_at, max(d.last_at) AS last_seen_at,
                   max(d.last_at) FILTER (WHERE d.usage > 0) AS last_activity_at,
                   sum(d.events) AS events,
                   min(d.first_activation_at) AS activated_at,
                   min(d.last_payment_at) AS first_paid_at,
                   max(d.last_payment_at) AS last_paid_at,
                   (array_agg(d.plan ORDER BY d.last_payment_at DESC)
                        FILTER (WHERE d.last_payment_at IS NOT NULL))[1] AS plan,
                   (array_agg(d.mrr ORDER BY d.last_payment_at DESC)
                        FILTER (WHERE d.last_payment_at IS NOT NULL))[1] AS mrr,
                   max(d.last_cancel_at) AS last_cancel_at,
                   coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 7), 0) AS pv7,
                   coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 30), 0) AS pv30,
                   coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 7), 0) AS u7,
                   coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 30), 0) AS u30,
                   min(d.day) FILTER (WHERE d.day > v_today - 7
                                        AND (d.usage > 0 OR d.pricing_views > 0)) AS oldest7,
                   min(d.day) FILTER (WHERE d.day > v_today - 30
                                        AND (d.usage > 0 OR d.pricing_views > 0)) AS oldest30
            FROM shared.person_activity_daily AS d
            WHERE d.person_id = c.person_id
        ) AS a ON true
    ), derived AS (
        SELECT g.*,
               g.last_paid_at IS NOT NULL
                   AND (g.last_cancel_at IS NULL OR g.last_cancel_at < g.last_paid_at) AS is_paid,
               CASE WHEN g.last_cancel_at IS NOT NULL
                         AND (g.last_paid_at IS NULL OR g.last_cancel_at >= g.last_paid_at)
                    THEN g.last_cancel_at
                    WHEN g.last_seen_at <= p_now - interval '30 days'
                    THEN g.last_seen_at + interval '30 days' END AS churned
        FROM agg AS g
    )
    INSERT INTO shared.person_feature AS f (
        person_id, products, first_seen_at, last_seen_at, last_activity_at, events, activated_at,
        first_paid_at, last_paid_at, paid, plan, mrr, churned_at, pricing_views_7d,
        pricing_views_30d, usage_7d, usage_30d, lifecycle_stage, computed_at, next_change_at)
    SELECT d.person_id, coalesce(d.products, '{}'), d.first_seen_at, d.last_seen_at,
           d.last_activity_at, coalesce(d.events, 0), d.activated_at, d.first_paid_at,
           d.last_paid_at, d.is_paid, CASE WHEN d.is_paid THEN d.plan END,
           CASE WHEN d.is_paid THEN d.mrr END, d.churned, d.pv7, d.pv30, d.u7, d.u30,
           d.lifecycle_stage, p_now,
           -- least() skips NULLs; marks already passed are not future changes.
           (SELECT min(m) FROM unnest(ARRAY[
                shared._utc_midnight(d.oldest7 + 7),
                shared._utc_midnight(d.oldest30 + 30),
                d.first_seen_at + interval '3 days',
                d.last_seen_at + interval '30 days',
                d.churned + interval '30 days']) AS m
            WHERE m > p_now)
    FROM derived AS d
    ORDER BY d.person_id
    ON CONFLICT (person_id) DO UPDATE SET
        products = excluded.products, first_seen_at = excluded.first_seen_at,
        last_seen_at = excluded.last_seen_at, last_activity_at = excluded.last_activity_at,
        events = excluded.events, activated_at = excluded.activated_at,
        first_paid_at = excluded.first_paid_at, last_paid_at = excluded.last_paid_at,
        paid = excluded.paid, plan = excluded.plan, mrr = excluded.mrr,
        churned_at = excluded.churned_at, pricing_views_7d = excluded.pricing_views_7d,
        pricing_views_30d = excluded.pricing_views_30d, usage_7d = excluded.usage_7d,
        usage_30d = excluded.usage_30d, lifecycle_stage = excluded.lifecycle_stage,
        computed_at = excluded.computed_at, next_change_at = excluded.next_change_at;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$function$;

CREATE OR REPLACE FUNCTION shared._segment_apply(p_segment_id text, p_join uuid[], p_leave uuid[], p_now timestamp with time zone, OUT joined bigint, OUT "left" bigint)
 RETURNS record
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
#variable_conflict use_column
BEGIN
    DELETE FROM shared.segment_member AS m
    USING unnest(p_leave) AS u(person_id)
    WHERE m.segment_id = p_segment_id AND m.person_id = u.person_id;
    GET DIAGNOSTICS "left" = ROW_COUNT;
    INSERT INTO shared.segment_member (segment_id, person_id, joined_at)
    SELECT p_segment_id, u.person_id, p_now FROM unnest(p_join) AS u(person_id);
    GET DIAGNOSTICS joined = ROW_COUNT;
END
$function$;

CREATE OR REPLACE FUNCTION shared._segment_stats_add(p_stats jsonb, p_segment_id text, p_members bigint, p_joined bigint, p_left bigint, p_since timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 SET search_path TO ''
AS $function$
    SELECT jsonb_set(p_stats, ARRAY[p_segment_id], jsonb_build_object(
        'members', p_members,
        'joined', (p_stats -> p_segment_id ->> 'joined')::bigint + p_joined,
        'left', (p_stats -> p_segment_id ->> 'left')::bigint + p_left,
        'ms', round((p_stats -> p_segment_id ->> 'ms')::numeric
                    + extract(epoch FROM clock_timestamp() - p_since) * 1000, 1)))
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
    -- gdp.segment_chunk_size (a session setting) changes it, for tests and tuning.
    v_chunk_size constant integer := greatest(coalesce(
        nullif(current_setting('gdp.segment_chunk_size', true), '')::integer, 2000), 1);
    v_run bigint;
    v_now timestamptz := now();
    v_t0 timestamptz;
    v_candidates integer;
    v_features_ms numeric;
    v_segments text[];
    v_seg text;
    v_after uuid;
    v_chunk_rows integer;
    v_problem text;
    v_members bigint;
    v_join uuid[];
    v_leave uuid[];
    v_done record;
    -- Per segment: {"members", "joined", "left", "ms"} or {"error"}.
    v_stats jsonb := '{}'::jsonb;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('gdp.evaluate_segments')) THEN
        PERFORM shared._raise('GD409', 'segments', 'another evaluation is running');
    END IF;
    INSERT INTO shared.segment_run (mode) VALUES (CASE WHEN p_full THEN 'full' ELSE 'incremental' END)
    RETURNING segment_run.run_id INTO v_run;
    PERFORM set_config('gdp.segment_run', v_run::text, true);

    v_t0 := clock_timestamp();
    -- A second run in the same transaction finds the first one's tables (dropped at commit).
    FOREACH v_seg IN ARRAY ARRAY['_segment_candidate', '_segment_new_event', '_segment_chunk',
                                 '_segment_chunk_member'] LOOP
        IF to_regclass('pg_temp.' || v_seg) IS NOT NULL THEN
            EXECUTE format('DROP TABLE pg_temp.%I', v_seg);
        END IF;
    END LOOP;
    -- person_changed: the person row was inserted or updated since the last run.
    CREATE TEMP TABLE _segment_candidate (
        person_id uuid PRIMARY KEY, person_changed boolean NOT NULL DEFAULT false
    ) ON COMMIT DROP;
    CREATE TEMP TABLE _segment_new_event (id bigint PRIMARY KEY) ON COMMIT DROP;
    CREATE TEMP TABLE _segment_chunk (LIKE pg_temp._segment_candidate INCLUDING ALL) ON COMMIT DROP;
    CREATE TEMP TABLE _segment_chunk_member (segment_id text, person_id uuid) ON COMMIT DROP;
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
    INSERT INTO pg_temp._segment_candidate (person_id, person_changed)
    SELECT DISTINCT u.id, true FROM drained AS d, unnest(d.person_ids) AS u(id);
    ANALYZE pg_temp._segment_new_event;
    PERFORM shared._fold_new_events();
    INSERT INTO pg_temp._segment_candidate
    SELECT f.person_id FROM shared.person_feature AS f WHERE f.next_change_at <= v_now
    ON CONFLICT DO NOTHING;
    SELECT count(*) INTO v_candidates FROM pg_temp._segment_candidate;
    v_features_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;

    SELECT coalesce(array_agg(s.segment_id ORDER BY s.segment_id), '{}') INTO v_segments
    FROM shared.segment AS s WHERE s.enabled;
    FOREACH v_seg IN ARRAY v_segments LOOP
        v_problem := shared._segment_view_problem(v_seg, false);
        v_stats := v_stats || jsonb_build_object(v_seg, CASE
            WHEN v_problem IS NOT NULL THEN jsonb_build_object('error', v_problem)
            ELSE jsonb_build_object('members', NULL, 'joined', 0, 'left', 0, 'ms', 0) END);
    END LOOP;

    -- The candidates, chunk by chunk in person order (keyset on the primary key).
    LOOP
        v_t0 := clock_timestamp();
        -- Emptied and analyzed for each chunk: from row counts grown by dead rows the planner
        -- chose a merge join that walks the feature index from its start.
        TRUNCATE pg_temp._segment_chunk;
        INSERT INTO pg_temp._segment_chunk
        SELECT k.person_id, k.person_changed FROM pg_temp._segment_candidate AS k
        WHERE v_after IS NULL OR k.person_id > v_after
        ORDER BY k.person_id LIMIT v_chunk_size;
        GET DIAGNOSTICS v_chunk_rows = ROW_COUNT;
        EXIT WHEN v_chunk_rows = 0;
        SELECT c.person_id INTO v_after FROM pg_temp._segment_chunk AS c
        ORDER BY c.person_id DESC LIMIT 1;
        ANALYZE pg_temp._segment_chunk;
        PERFORM shared._refresh_person_features(v_now);
        IF NOT p_full THEN
            -- The chunk's memberships of every segment, read once through the person index
            -- (one probe per person rather than one per person and segment).
            TRUNCATE pg_temp._segment_chunk_member;
            INSERT INTO pg_temp._segment_chunk_member
            SELECT m.segment_id, m.person_id
            FROM pg_temp._segment_chunk AS c
            JOIN shared.segment_member AS m ON m.person_id = c.person_id;
            ANALYZE pg_temp._segment_chunk_member;
        END IF;
        v_features_ms := v_features_ms + extract(epoch FROM clock_timestamp() - v_t0) * 1000;
        CONTINUE WHEN p_full;

        FOREACH v_seg IN ARRAY v_segments LOOP
            CONTINUE WHEN v_stats -> v_seg ? 'error';
            v_t0 := clock_timestamp();
            BEGIN
                -- One pass (a full join on person_id) over the view's rows for the chunk and
                -- the chunk's members: who joins and who leaves.
                EXECUTE format($q$
                    SELECT array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL)
                    FROM (SELECT DISTINCT v.person_id FROM segments.%I AS v
                          JOIN pg_temp._segment_chunk AS c ON c.person_id = v.person_id) AS cur
                    FULL JOIN (SELECT cm.person_id FROM pg_temp._segment_chunk_member AS cm
                               WHERE cm.segment_id = $1) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg)
                INTO v_join, v_leave
                USING v_seg;
                SELECT * INTO v_done FROM shared._segment_apply(v_seg, v_join, v_leave, v_now);
                v_stats := shared._segment_stats_add(v_stats, v_seg, NULL, v_done.joined,
                                                     v_done."left", v_t0);
            EXCEPTION WHEN OTHERS THEN
                v_stats := jsonb_set(v_stats, ARRAY[v_seg], (v_stats -> v_seg)
                                     || jsonb_build_object('error', left(SQLERRM, 500)));
            END;
        END LOOP;
    END LOOP;

    IF p_full THEN
        -- Everyone, one pass per segment: who is in (counted), who joins, who leaves.
        FOREACH v_seg IN ARRAY v_segments LOOP
            CONTINUE WHEN v_stats -> v_seg ? 'error';
            v_t0 := clock_timestamp();
            BEGIN
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
                    $q$, v_seg)
                INTO v_members, v_join, v_leave
                USING v_seg;
                SELECT * INTO v_done FROM shared._segment_apply(v_seg, v_join, v_leave, v_now);
                v_stats := shared._segment_stats_add(v_stats, v_seg, v_members, v_done.joined,
                                                     v_done."left", v_t0);
            EXCEPTION WHEN OTHERS THEN
                v_stats := jsonb_set(v_stats, ARRAY[v_seg], (v_stats -> v_seg)
                                     || jsonb_build_object('error', left(SQLERRM, 500)));
            END;
        END LOOP;
    END IF;

    FOREACH v_seg IN ARRAY v_segments LOOP
        UPDATE shared.segment AS s
        SET last_evaluated_at = CASE WHEN v_stats -> v_seg ? 'error' THEN s.last_evaluated_at
                                     ELSE v_now END,
            last_error = v_stats -> v_seg ->> 'error'
        WHERE s.segment_id = v_seg;
        RETURN QUERY SELECT v_run, v_seg, (v_stats -> v_seg ->> 'members')::bigint,
                            coalesce((v_stats -> v_seg ->> 'joined')::bigint, 0),
                            coalesce((v_stats -> v_seg ->> 'left')::bigint, 0),
                            v_stats -> v_seg ->> 'error';
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

REVOKE ALL ON FUNCTION shared._segment_apply(text, uuid[], uuid[], timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._segment_apply(text, uuid[], uuid[], timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION shared._segment_stats_add(jsonb, text, bigint, bigint, bigint, timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._segment_stats_add(jsonb, text, bigint, bigint, bigint, timestamp with time zone) TO service_role;

-- migrate:down
