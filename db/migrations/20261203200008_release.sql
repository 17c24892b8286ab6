-- migrate:up
-- gdp:release sources=sha256:b41f5f5951a86dcc46759aff0ea113071d3069391b0693fcb06255b4e48b1f62

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

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
    v_dup uuid;
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
    -- person_changed: the person row was inserted or updated since the last run.
    CREATE TEMP TABLE _segment_candidate (
        person_id uuid PRIMARY KEY, person_changed boolean NOT NULL DEFAULT false
    ) ON COMMIT DROP;
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
    INSERT INTO pg_temp._segment_candidate (person_id, person_changed)
    SELECT DISTINCT u.id, true FROM drained AS d, unnest(d.person_ids) AS u(id);
    ANALYZE pg_temp._segment_new_event;
    PERFORM shared._fold_new_events();
    INSERT INTO pg_temp._segment_candidate (person_id)
    SELECT f.person_id FROM shared.person_feature AS f WHERE f.next_change_at <= v_now
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_candidates = ROW_COUNT;
    SELECT count(*) INTO v_candidates FROM pg_temp._segment_candidate;
    ANALYZE pg_temp._segment_candidate;
    PERFORM shared._refresh_person_features(v_now);
    v_features_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
    -- An incremental run reads the candidates' memberships of every segment once, through the
    -- person index (one probe per candidate rather than one per candidate and segment). Each
    -- segment below reads only its own rows, which no earlier step of the loop changes.
    IF to_regclass('pg_temp._segment_candidate_member') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate_member;
    END IF;
    IF NOT p_full THEN
        CREATE TEMP TABLE _segment_candidate_member ON COMMIT DROP AS
            SELECT m.segment_id, m.person_id
            FROM pg_temp._segment_candidate AS c
            JOIN shared.segment_member AS m ON m.person_id = c.person_id;
        ANALYZE pg_temp._segment_candidate_member;
    END IF;

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
            -- In an incremental run the members come from the candidates' memberships read
            -- above: joined to the segment's rows inside the full join, the planner read the
            -- segment's whole member index to hash it (60-95 ms per large segment at a million
            -- people).
            IF p_full THEN
                EXECUTE format($q$
                    SELECT count(cur.person_id),
                           array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL),
                           (array_agg(cur.person_id) FILTER (WHERE cur.n > 1))[1]
                    FROM (SELECT v.person_id, count(*) AS n FROM segments.%I AS v
                          WHERE v.person_id IS NOT NULL GROUP BY v.person_id) AS cur
                    FULL JOIN (SELECT m.person_id FROM shared.segment_member AS m
                               WHERE m.segment_id = $1) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_members, v_join, v_leave, v_dup
                USING v_seg.segment_id;
            ELSE
                EXECUTE format($q$
                    SELECT array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL),
                           (array_agg(cur.person_id) FILTER (WHERE cur.n > 1))[1]
                    FROM (SELECT v.person_id, count(*) AS n FROM segments.%I AS v
                          JOIN pg_temp._segment_candidate AS c ON c.person_id = v.person_id
                          GROUP BY v.person_id) AS cur
                    FULL JOIN (SELECT cm.person_id FROM pg_temp._segment_candidate_member AS cm
                               WHERE cm.segment_id = $1) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_join, v_leave, v_dup
                USING v_seg.segment_id;
            END IF;
            -- A view made with plain SQL is refused here as segment_define refuses it: counted
            -- in the same pass (the people it returns for this run's candidates, or everyone).
            IF v_dup IS NOT NULL THEN
                PERFORM shared._raise('GD400', 'segment', format(
                    'returns person %s more than once; a segment returns each person once '
                    '(use DISTINCT or GROUP BY person_id)', v_dup));
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
