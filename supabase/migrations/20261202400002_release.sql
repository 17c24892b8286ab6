-- migrate:up
-- gdp:release sources=sha256:789efcbc5cf9dea08a236c02e2980ce6cd12a6bcabf6d8729aa5e5160d1cecf9

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._audience_count_response(p_run_id bigint, p_response jsonb)
 RETURNS void
 LANGUAGE sql
 SET search_path TO ''
AS $function$
    UPDATE shared.audience_sync_run AS r
    SET requests = r.requests + 1,
        num_received = r.num_received + coalesce((p_response ->> 'num_received_delta')::bigint, 0),
        num_invalid_entries = r.num_invalid_entries
                              + coalesce((p_response ->> 'num_invalid_entries')::bigint, 0),
        invalid_entry_samples = CASE
            WHEN (SELECT count(*) FROM jsonb_object_keys(r.invalid_entry_samples)) >= 100
                THEN r.invalid_entry_samples
            ELSE (SELECT coalesce(jsonb_object_agg(s.key, s.value), '{}'::jsonb)
                  FROM (SELECT e.key, e.value
                        FROM jsonb_each(r.invalid_entry_samples
                                        || coalesce(p_response -> 'invalid_entry_samples',
                                                    '{}'::jsonb)) AS e
                        ORDER BY e.key LIMIT 100) AS s)
            END
    WHERE r.id = p_run_id
$function$;

CREATE OR REPLACE FUNCTION shared._audience_members(p_segment_id text)
 RETURNS TABLE(person_id uuid)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    SELECT m.person_id
    FROM shared.segment_member AS m
    JOIN shared.person AS p ON p.id = m.person_id
    WHERE m.segment_id = p_segment_id AND p.consent_status <> 'withdrawn'
$function$;

CREATE OR REPLACE FUNCTION shared.audience_allow_removals(p_segment_id text, p_max_removals integer, p_actor text, p_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_id bigint;
BEGIN
    PERFORM 1 FROM shared.meta_audience WHERE segment_id = p_segment_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment', format('%s is not mapped to an audience',
                                                        p_segment_id));
    END IF;
    IF p_max_removals IS NULL OR p_max_removals < 1 THEN
        PERFORM shared._raise('GD400', 'max_removals', 'must be a whole number of at least 1');
    END IF;
    INSERT INTO shared.audience_removal_allowance (segment_id, max_removals, acknowledged_by, reason)
    VALUES (p_segment_id, p_max_removals, shared._require_actor(p_actor), p_reason)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_begin_run(p_segment_id text, p_kind text, p_forced boolean, p_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_id bigint;
    v_audience text;
BEGIN
    SELECT a.audience_id INTO v_audience FROM shared.meta_audience AS a
    WHERE a.segment_id = p_segment_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment_id', format('%s is not mapped to an audience',
                                                           p_segment_id));
    END IF;
    -- The caller holds the segment's lock: a run still marked running was cut off.
    UPDATE shared.audience_sync_run
    SET status = 'interrupted', finished_at = now(),
        error_message = coalesce(error_message, 'the worker stopped mid-run')
    WHERE segment_id = p_segment_id AND status = 'running';
    IF p_kind = 'replace' THEN
        -- A new session: rows staged by an earlier one that failed are not what Meta will hold.
        DELETE FROM shared.audience_replace_row WHERE segment_id = p_segment_id;
    END IF;
    INSERT INTO shared.audience_sync_run (segment_id, audience_id, kind, forced, reason, members)
    VALUES (p_segment_id, v_audience, p_kind, coalesce(p_forced, false), p_reason,
            (SELECT count(*) FROM shared._audience_members(p_segment_id)))
    RETURNING id INTO v_id;
    RETURN v_id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_change_counts(p_segment_id text)
 RETURNS TABLE(removes bigint, candidates bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT (SELECT count(*) FROM shared.audience_ack AS k
            WHERE k.segment_id = p_segment_id
              AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                              JOIN shared.person AS p ON p.id = m.person_id
                              WHERE m.segment_id = p_segment_id AND m.person_id = k.person_id
                                AND p.consent_status <> 'withdrawn')),
           (SELECT count(*) FROM shared.segment_member AS m
            JOIN shared.person AS p ON p.id = m.person_id
            LEFT JOIN shared.audience_ack AS k
                   ON k.segment_id = p_segment_id AND k.person_id = m.person_id
            WHERE m.segment_id = p_segment_id AND p.consent_status <> 'withdrawn'
              AND (k.person_id IS NULL OR p.updated_at > k.person_updated_at))
$function$;

CREATE OR REPLACE FUNCTION shared.audience_changes(p_segment_id text)
 RETURNS TABLE(person_id uuid, op text, old_cells text[], email text, phone text, first_name text, last_name text, city text, state text, zip text, country text, date_of_birth date, gender text, person_updated_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT k.person_id, 'remove', k.row_cells, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL::date, NULL, k.person_updated_at
    FROM shared.audience_ack AS k
    WHERE k.segment_id = p_segment_id
      AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                      JOIN shared.person AS p ON p.id = m.person_id
                      WHERE m.segment_id = p_segment_id AND m.person_id = k.person_id
                        AND p.consent_status <> 'withdrawn')
    UNION ALL
    SELECT p.id, 'add', k.row_cells, p.email, p.phone, p.first_name, p.last_name, p.city,
           p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
    FROM shared.segment_member AS m
    JOIN shared.person AS p ON p.id = m.person_id
    LEFT JOIN shared.audience_ack AS k
           ON k.segment_id = p_segment_id AND k.person_id = m.person_id
    WHERE m.segment_id = p_segment_id AND p.consent_status <> 'withdrawn'
      AND (k.person_id IS NULL OR p.updated_at > k.person_updated_at)
$function$;

CREATE OR REPLACE FUNCTION shared.audience_finish_run(p_run_id bigint, p_status text, p_message text DEFAULT NULL::text)
 RETURNS shared.audience_sync_run
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_row shared.audience_sync_run;
BEGIN
    IF p_status NOT IN ('succeeded', 'failed', 'refused', 'waiting') THEN
        PERFORM shared._raise('GD400', 'status', 'must be succeeded, failed, refused or waiting');
    END IF;
    UPDATE shared.audience_sync_run
    SET status = p_status, finished_at = now(), error_message = left(p_message, 1000)
    WHERE id = p_run_id
    RETURNING * INTO v_row;
    RETURN v_row;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_members_page(p_segment_id text, p_after uuid, p_limit integer)
 RETURNS TABLE(person_id uuid, email text, phone text, first_name text, last_name text, city text, state text, zip text, country text, date_of_birth date, gender text, person_updated_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT p.id, p.email, p.phone, p.first_name, p.last_name, p.city, p.state, p.zip, p.country,
           p.date_of_birth, p.gender, p.updated_at
    FROM shared.segment_member AS m
    JOIN shared.person AS p ON p.id = m.person_id
    WHERE m.segment_id = p_segment_id AND p.consent_status <> 'withdrawn'
      AND (p_after IS NULL OR m.person_id > p_after)
    ORDER BY m.person_id
    LIMIT greatest(1, least(coalesce(p_limit, 10000), 10000))
$function$;

CREATE OR REPLACE FUNCTION shared.audience_plan_run(p_run_id bigint, p_adds integer, p_removes integer, p_session_id bigint, p_estimated_num_total bigint)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    UPDATE shared.audience_sync_run
    SET planned_adds = coalesce(p_adds, 0), planned_removes = coalesce(p_removes, 0),
        session_id = coalesce(p_session_id, session_id),
        estimated_num_total = coalesce(p_estimated_num_total, estimated_num_total)
    WHERE id = p_run_id
$function$;

CREATE OR REPLACE FUNCTION shared.audience_record_batch(p_run_id bigint, p_op text, p_rows jsonb, p_response jsonb DEFAULT '{}'::jsonb)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_segment text;
    v_count integer;
BEGIN
    SELECT r.segment_id INTO v_segment FROM shared.audience_sync_run AS r
    WHERE r.id = p_run_id AND r.status = 'running';
    IF NOT FOUND THEN
        PERFORM shared._raise('GD409', 'run_id', format('run %s is not running', p_run_id));
    END IF;
    IF p_op = 'add' THEN
        INSERT INTO shared.audience_ack AS k
            (segment_id, person_id, row_cells, person_updated_at, via, run_id)
        SELECT v_segment, (x ->> 'p')::uuid, ARRAY(SELECT jsonb_array_elements_text(x -> 'c')),
               (x ->> 'u')::timestamptz, 'users', p_run_id
        FROM jsonb_array_elements(p_rows) AS x
        ON CONFLICT ON CONSTRAINT audience_ack_pkey DO UPDATE
            SET row_cells = excluded.row_cells, person_updated_at = excluded.person_updated_at,
                via = 'users', run_id = p_run_id, acknowledged_at = now();
        GET DIAGNOSTICS v_count = ROW_COUNT;
        UPDATE shared.audience_sync_run SET rows_added = rows_added + v_count WHERE id = p_run_id;
        UPDATE shared.meta_audience SET first_upload_at = coalesce(first_upload_at, now())
        WHERE segment_id = v_segment AND first_upload_at IS NULL;
    ELSIF p_op = 'remove' THEN
        DELETE FROM shared.audience_ack AS k
        USING jsonb_array_elements(p_rows) AS x
        WHERE k.segment_id = v_segment AND k.person_id = (x ->> 'p')::uuid
          AND k.row_cells = ARRAY(SELECT jsonb_array_elements_text(x -> 'c'));
        v_count := jsonb_array_length(p_rows);
        UPDATE shared.audience_sync_run SET rows_removed = rows_removed + v_count
        WHERE id = p_run_id;
    ELSIF p_op = 'touch' THEN
        UPDATE shared.audience_ack AS k SET person_updated_at = (x ->> 'u')::timestamptz
        FROM jsonb_array_elements(p_rows) AS x
        WHERE k.segment_id = v_segment AND k.person_id = (x ->> 'p')::uuid;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        RETURN v_count;
    ELSE
        PERFORM shared._raise('GD400', 'op', 'must be add, remove or touch');
    END IF;
    PERFORM shared._audience_count_response(p_run_id, p_response);
    RETURN v_count;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_record_count(p_segment_id text, p_lower bigint, p_upper bigint, p_drift_note text)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    UPDATE shared.meta_audience
    SET approximate_lower = p_lower, approximate_upper = p_upper, counted_at = now(),
        drift_note = coalesce(p_drift_note, drift_note),
        drift_detected_at = CASE WHEN p_drift_note IS NOT NULL
                                 THEN coalesce(drift_detected_at, now())
                                 ELSE drift_detected_at END
    WHERE segment_id = p_segment_id
$function$;

CREATE OR REPLACE FUNCTION shared.audience_record_error(p_run_id bigint, p_code integer, p_subcode integer, p_retried boolean)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    UPDATE shared.audience_sync_run AS r
    SET errors = r.errors || jsonb_build_object(
            k.key, coalesce((r.errors ->> k.key)::integer, 0) + 1),
        retries = r.retries + CASE WHEN p_retried THEN 1 ELSE 0 END
    FROM (SELECT coalesce(p_code::text, 'transport')
                 || coalesce('/' || p_subcode::text, '') AS key) AS k
    WHERE r.id = p_run_id
$function$;

CREATE OR REPLACE FUNCTION shared.audience_replace_complete(p_run_id bigint)
 RETURNS TABLE(rows_added bigint, rows_removed bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_segment text;
    v_removed bigint;
    v_added bigint;
BEGIN
    SELECT r.segment_id INTO v_segment FROM shared.audience_sync_run AS r WHERE r.id = p_run_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'run_id', format('no run %s', p_run_id));
    END IF;
    SELECT count(*) INTO v_removed FROM shared.audience_ack AS k
    WHERE k.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.audience_replace_row AS x
                      WHERE x.segment_id = v_segment AND x.person_id = k.person_id);
    DELETE FROM shared.audience_ack WHERE segment_id = v_segment;
    INSERT INTO shared.audience_ack (segment_id, person_id, row_cells, person_updated_at, via, run_id)
    SELECT x.segment_id, x.person_id, x.row_cells, x.person_updated_at, 'replace', p_run_id
    FROM shared.audience_replace_row AS x WHERE x.segment_id = v_segment;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    DELETE FROM shared.audience_replace_row WHERE segment_id = v_segment;
    UPDATE shared.audience_sync_run
    SET rows_added = v_added, rows_removed = v_removed, status = 'succeeded',
        finished_at = now()
    WHERE id = p_run_id;
    UPDATE shared.meta_audience
    SET drift_detected_at = NULL, drift_note = NULL,
        first_upload_at = coalesce(first_upload_at, now()), updated_at = now()
    WHERE segment_id = v_segment;
    RETURN QUERY SELECT v_added, v_removed;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_replace_stage(p_run_id bigint, p_batch_seq integer, p_rows jsonb, p_response jsonb DEFAULT '{}'::jsonb)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_segment text;
    v_count integer;
BEGIN
    SELECT r.segment_id INTO v_segment FROM shared.audience_sync_run AS r
    WHERE r.id = p_run_id AND r.status = 'running' AND r.kind = 'replace';
    IF NOT FOUND THEN
        PERFORM shared._raise('GD409', 'run_id', format('replace run %s is not running', p_run_id));
    END IF;
    INSERT INTO shared.audience_replace_row AS x
        (segment_id, person_id, row_cells, person_updated_at, run_id)
    SELECT v_segment, (e ->> 'p')::uuid, ARRAY(SELECT jsonb_array_elements_text(e -> 'c')),
           (e ->> 'u')::timestamptz, p_run_id
    FROM jsonb_array_elements(p_rows) AS e
    ON CONFLICT ON CONSTRAINT audience_replace_row_pkey DO UPDATE
        SET row_cells = excluded.row_cells, person_updated_at = excluded.person_updated_at,
            run_id = p_run_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    UPDATE shared.audience_sync_run SET batch_seq = p_batch_seq WHERE id = p_run_id;
    PERFORM shared._audience_count_response(p_run_id, p_response);
    RETURN v_count;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_replace_state(p_segment_id text)
 RETURNS TABLE(run_id bigint, session_id bigint, batch_seq integer, last_person_id uuid, staged bigint, started_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT r.id, r.session_id, r.batch_seq,
           (SELECT x.person_id FROM shared.audience_replace_row AS x
            WHERE x.segment_id = p_segment_id ORDER BY x.person_id DESC LIMIT 1),
           (SELECT count(*) FROM shared.audience_replace_row AS x
            WHERE x.segment_id = p_segment_id),
           r.started_at
    FROM shared.audience_sync_run AS r
    WHERE r.id = (SELECT max(l.id) FROM shared.audience_sync_run AS l
                  WHERE l.segment_id = p_segment_id AND l.kind = 'replace')
      AND r.session_id IS NOT NULL AND r.status IN ('running', 'interrupted')
$function$;

CREATE OR REPLACE FUNCTION shared.audience_resume_run(p_run_id bigint)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    UPDATE shared.audience_sync_run
    SET status = 'running', finished_at = NULL,
        error_message = 'resumed after the worker stopped mid-session'
    WHERE id = p_run_id
$function$;

CREATE OR REPLACE FUNCTION shared.audience_schema()
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
    SELECT ARRAY['EMAIL', 'PHONE', 'FN', 'LN', 'CT', 'ST', 'ZIP', 'COUNTRY', 'DOBY', 'DOBM',
                 'DOBD', 'GEN', 'EXTERN_ID']
$function$;

CREATE OR REPLACE FUNCTION shared.audience_store_id(p_segment_id text, p_audience_id text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_map jsonb := coalesce(shared.setting_value('META_CUSTOM_AUDIENCE_IDS'), '{}'::jsonb);
BEGIN
    IF coalesce(p_audience_id, '') !~ '^[0-9]{1,30}$' THEN
        PERFORM shared._raise('GD400', 'audience_id', 'must be digits');
    END IF;
    UPDATE shared.meta_audience SET audience_id = p_audience_id, updated_at = now()
    WHERE segment_id = p_segment_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment_id', format('no audience for %s', p_segment_id));
    END IF;
    PERFORM shared.set_setting('META_CUSTOM_AUDIENCE_IDS',
                               v_map || jsonb_build_object(p_segment_id, p_audience_id),
                               'gdp audience worker');
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_take_allowance(p_run_id bigint, p_needed integer)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_id bigint;
BEGIN
    SELECT a.id INTO v_id
    FROM shared.audience_removal_allowance AS a
    JOIN shared.audience_sync_run AS r ON r.segment_id = a.segment_id AND r.id = p_run_id
    WHERE a.used_by_run IS NULL AND a.max_removals >= p_needed
    ORDER BY a.id
    LIMIT 1
    FOR UPDATE OF a SKIP LOCKED;
    IF v_id IS NULL THEN
        RETURN false;
    END IF;
    UPDATE shared.audience_removal_allowance SET used_by_run = p_run_id WHERE id = v_id;
    RETURN true;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_targets(p_segment_id text DEFAULT NULL::text)
 RETURNS TABLE(segment_id text, audience_name text, audience_id text, create_marker text, min_size_first_upload integer, max_removed_share numeric, first_upload_at timestamp with time zone, drift_detected_at timestamp with time zone, members bigint, acknowledged bigint, replace_staged bigint, last_change_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_map jsonb := coalesce(shared.setting_value('META_CUSTOM_AUDIENCE_IDS'), '{}'::jsonb);
    v_key text;
    v_value text;
    v_name text;
    v_old text;
BEGIN
    IF jsonb_typeof(v_map) <> 'object' THEN
        v_map := '{}'::jsonb;
    END IF;
    FOR v_key, v_value IN SELECT e.key, nullif(e.value #>> '{}', '') FROM jsonb_each(v_map) AS e
    LOOP
        SELECT coalesce(s.audience_name, initcap(replace(s.segment_id, '_', ' ')))
        INTO v_name FROM shared.segment AS s WHERE s.segment_id = v_key;
        CONTINUE WHEN v_name IS NULL;
        IF v_value IS NOT NULL AND v_value !~ '^[0-9]{1,30}$' THEN
            PERFORM shared._raise('GD400', 'META_CUSTOM_AUDIENCE_IDS',
                format('%s: audience id must be digits, not %s', v_key, v_value));
        END IF;
        SELECT a.audience_id INTO v_old FROM shared.meta_audience AS a WHERE a.segment_id = v_key;
        IF NOT FOUND THEN
            INSERT INTO shared.meta_audience (segment_id, audience_id, audience_name)
            VALUES (v_key, v_value, v_name);
        ELSIF v_value IS NOT NULL AND v_old IS DISTINCT FROM v_value THEN
            IF v_old IS NOT NULL THEN
                -- Remapped: what another audience acknowledged says nothing about this one.
                DELETE FROM shared.audience_ack AS k WHERE k.segment_id = v_key;
                DELETE FROM shared.audience_replace_row AS x WHERE x.segment_id = v_key;
            END IF;
            UPDATE shared.meta_audience AS a
            SET audience_id = v_value, first_upload_at = NULL, drift_detected_at = NULL,
                drift_note = NULL, updated_at = now()
            WHERE a.segment_id = v_key;
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT a.segment_id, a.audience_name, a.audience_id, a.create_marker,
           a.min_size_first_upload, a.max_removed_share, a.first_upload_at, a.drift_detected_at,
           (SELECT count(*) FROM shared._audience_members(a.segment_id)),
           (SELECT count(*) FROM shared.audience_ack AS k WHERE k.segment_id = a.segment_id),
           (SELECT count(*) FROM shared.audience_replace_row AS r WHERE r.segment_id = a.segment_id),
           (SELECT max(r.finished_at) FROM shared.audience_sync_run AS r
            WHERE r.segment_id = a.segment_id AND r.status = 'succeeded'
              AND (r.rows_added > 0 OR r.rows_removed > 0))
    FROM shared.meta_audience AS a
    WHERE v_map ? a.segment_id AND (p_segment_id IS NULL OR a.segment_id = p_segment_id)
    ORDER BY a.segment_id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_try_lock(p_segment_id text)
 RETURNS boolean
 LANGUAGE sql
 SET search_path TO ''
AS $function$
    SELECT pg_catalog.pg_try_advisory_lock(
        pg_catalog.hashtextextended('gdp.audience_sync.' || p_segment_id, 0))
$function$;

CREATE OR REPLACE FUNCTION shared.audience_unlock(p_segment_id text)
 RETURNS boolean
 LANGUAGE sql
 SET search_path TO ''
AS $function$
    SELECT pg_catalog.pg_advisory_unlock(
        pg_catalog.hashtextextended('gdp.audience_sync.' || p_segment_id, 0))
$function$;

CREATE OR REPLACE FUNCTION shared.audience_worker_config()
 RETURNS TABLE(enabled boolean, ad_account_id text, audience_ids jsonb, interval_s integer)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT shared.is_enabled('META_CUSTOM_AUDIENCE_SYNC_ENABLED'),
           shared.setting_value('META_AD_ACCOUNT_ID') #>> '{}',
           coalesce(shared.setting_value('META_CUSTOM_AUDIENCE_IDS'), '{}'::jsonb),
           coalesce((shared.setting_value('SEGMENT_ENGINE_CRON_INTERVAL') #>> '{}')::integer, 300)
$function$;

CREATE OR REPLACE VIEW shared.audience_status AS
 SELECT a.segment_id,
    a.audience_name,
    a.audience_id,
    ( SELECT count(*) AS count
           FROM (shared.segment_member m
             JOIN shared.person p ON ((p.id = m.person_id)))
          WHERE ((m.segment_id = a.segment_id) AND (p.consent_status <> 'withdrawn'::shared.consent_status))) AS members,
    ( SELECT count(*) AS count
           FROM shared.audience_ack k
          WHERE (k.segment_id = a.segment_id)) AS acknowledged,
    a.approximate_lower,
    a.approximate_upper,
    a.drift_detected_at,
    a.first_upload_at,
    last.status AS last_status,
    last.finished_at AS last_finished_at,
    ok.finished_at AS last_succeeded_at,
    (EXTRACT(epoch FROM (now() - ok.finished_at)))::double precision AS lag_seconds,
    ( SELECT count(*) AS count
           FROM shared.audience_sync_run r
          WHERE ((r.segment_id = a.segment_id) AND (r.status = ANY (ARRAY['failed'::text, 'interrupted'::text])) AND (r.started_at > (now() - '24:00:00'::interval)))) AS failures_24h
   FROM ((shared.meta_audience a
     LEFT JOIN LATERAL ( SELECT r.status,
            r.finished_at
           FROM shared.audience_sync_run r
          WHERE (r.segment_id = a.segment_id)
          ORDER BY r.id DESC
         LIMIT 1) last ON (true))
     LEFT JOIN LATERAL ( SELECT r.finished_at
           FROM shared.audience_sync_run r
          WHERE ((r.segment_id = a.segment_id) AND (r.status = 'succeeded'::text))
          ORDER BY r.id DESC
         LIMIT 1) ok ON (true));

REVOKE ALL ON FUNCTION shared._audience_count_response(bigint, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._audience_count_response(bigint, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._audience_members(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._audience_members(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_allow_removals(text, integer, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_allow_removals(text, integer, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_begin_run(text, text, boolean, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_begin_run(text, text, boolean, text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_begin_run(text, text, boolean, text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_change_counts(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_change_counts(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_change_counts(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_changes(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_changes(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_changes(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_finish_run(bigint, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_finish_run(bigint, text, text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_finish_run(bigint, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_members_page(text, uuid, integer) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_members_page(text, uuid, integer) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_members_page(text, uuid, integer) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_plan_run(bigint, integer, integer, bigint, bigint) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_plan_run(bigint, integer, integer, bigint, bigint) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_plan_run(bigint, integer, integer, bigint, bigint) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_record_batch(bigint, text, jsonb, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_record_batch(bigint, text, jsonb, jsonb) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_record_batch(bigint, text, jsonb, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_record_count(text, bigint, bigint, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_record_count(text, bigint, bigint, text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_record_count(text, bigint, bigint, text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_record_error(bigint, integer, integer, boolean) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_record_error(bigint, integer, integer, boolean) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_record_error(bigint, integer, integer, boolean) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_replace_complete(bigint) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_replace_complete(bigint) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_replace_complete(bigint) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_replace_stage(bigint, integer, jsonb, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_replace_stage(bigint, integer, jsonb, jsonb) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_replace_stage(bigint, integer, jsonb, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_replace_state(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_replace_state(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_replace_state(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_resume_run(bigint) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_resume_run(bigint) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_resume_run(bigint) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_schema() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_schema() TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_schema() TO service_role;

REVOKE ALL ON FUNCTION shared.audience_store_id(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_store_id(text, text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_store_id(text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_take_allowance(bigint, integer) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_take_allowance(bigint, integer) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_take_allowance(bigint, integer) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_targets(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_targets(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_targets(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_try_lock(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_try_lock(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_try_lock(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_unlock(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_unlock(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_unlock(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_worker_config() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_worker_config() TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_worker_config() TO service_role;

GRANT USAGE ON SCHEMA shared TO gdp_audience_worker;

GRANT SELECT ON SEQUENCE shared.audience_removal_allowance_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.audience_removal_allowance_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.audience_sync_run_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.audience_sync_run_id_seq TO service_role;

GRANT SELECT ON TABLE shared.audience_ack TO service_role;

GRANT DELETE ON TABLE shared.audience_removal_allowance TO service_role;

GRANT INSERT ON TABLE shared.audience_removal_allowance TO service_role;

GRANT SELECT ON TABLE shared.audience_removal_allowance TO service_role;

GRANT UPDATE ON TABLE shared.audience_removal_allowance TO service_role;

GRANT SELECT ON TABLE shared.audience_replace_row TO service_role;

REVOKE ALL ON TABLE shared.audience_status FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.audience_status TO gdp_audience_worker;

GRANT DELETE ON TABLE shared.audience_status TO service_role;

GRANT INSERT ON TABLE shared.audience_status TO service_role;

GRANT SELECT ON TABLE shared.audience_status TO service_role;

GRANT UPDATE ON TABLE shared.audience_status TO service_role;

GRANT SELECT ON TABLE shared.audience_sync_run TO service_role;

GRANT DELETE ON TABLE shared.meta_audience TO service_role;

GRANT INSERT ON TABLE shared.meta_audience TO service_role;

GRANT SELECT ON TABLE shared.meta_audience TO service_role;

GRANT UPDATE ON TABLE shared.meta_audience TO service_role;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.audience_ack'::regclass AND p.polname = 'The service role can read acknowledged audience rows'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read acknowledged audience rows" ON shared.audience_ack;
        CREATE POLICY "The service role can read acknowledged audience rows" ON shared.audience_ack
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.audience_removal_allowance'::regclass AND p.polname = 'The service role can read and add removal acknowledgements'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read and add removal acknowledgements" ON shared.audience_removal_allowance;
        CREATE POLICY "The service role can read and add removal acknowledgements" ON shared.audience_removal_allowance
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.audience_replace_row'::regclass AND p.polname = 'The service role can read staged replace rows'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read staged replace rows" ON shared.audience_replace_row;
        CREATE POLICY "The service role can read staged replace rows" ON shared.audience_replace_row
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.audience_sync_run'::regclass AND p.polname = 'The service role can read audience sync runs'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read audience sync runs" ON shared.audience_sync_run;
        CREATE POLICY "The service role can read audience sync runs" ON shared.audience_sync_run
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.meta_audience'::regclass AND p.polname = 'The service role can read and change audiences'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read and change audiences" ON shared.meta_audience;
        CREATE POLICY "The service role can read and change audiences" ON shared.meta_audience
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

COMMENT ON FUNCTION shared.audience_allow_removals(text, integer, text, text) IS 'Acknowledge that the next sync of a segment may remove up to max_removals people (over the removal cap).';

COMMENT ON FUNCTION shared.audience_begin_run(text, text, boolean, text) IS 'Start a sync run (diff or replace) of a segment; runs left running by a stopped worker become interrupted.';

COMMENT ON FUNCTION shared.audience_change_counts(text) IS 'How many acknowledged people a sync of the segment would remove, and how many members it would add or re-check.';

COMMENT ON FUNCTION shared.audience_changes(text) IS 'People whose audience row may change: add (not acknowledged, or changed since) with the old row, and remove (left, withdrew consent, erased) with the row to remove.';

COMMENT ON FUNCTION shared.audience_finish_run(bigint, text, text) IS 'Finish a sync run with its status (succeeded, failed, refused, waiting) and message.';

COMMENT ON FUNCTION shared.audience_members_page(text, uuid, integer) IS 'A page (at most 10,000) of a segment''s consenting members with their person columns, in person_id order after p_after.';

COMMENT ON FUNCTION shared.audience_plan_run(bigint, integer, integer, bigint, bigint) IS 'Record what a run is about to send: planned adds and removes, its session id and size hint.';

COMMENT ON FUNCTION shared.audience_record_batch(bigint, text, jsonb, jsonb) IS 'Record a batch Meta acknowledged (add, remove) or a re-check that changed nothing (touch), with Meta''s counts, in one transaction.';

COMMENT ON FUNCTION shared.audience_record_count(text, bigint, bigint, text) IS 'Store Meta''s approximate size of a segment''s audience; a drift note marks it for a full replace.';

COMMENT ON FUNCTION shared.audience_record_error(bigint, integer, integer, boolean) IS 'Count a Graph error of a run under its code (code/subcode; transport when Meta did not answer).';

COMMENT ON FUNCTION shared.audience_replace_complete(bigint) IS 'A usersreplace session completed: the staged rows become what Meta acknowledged, in one transaction.';

COMMENT ON FUNCTION shared.audience_replace_stage(bigint, integer, jsonb, jsonb) IS 'Record a usersreplace batch Meta acknowledged: its rows are staged until the session completes.';

COMMENT ON FUNCTION shared.audience_replace_state(text) IS 'The usersreplace session left in flight for a segment (run, session, batch_seq, last staged person), if any.';

COMMENT ON FUNCTION shared.audience_resume_run(bigint) IS 'Mark an interrupted replace run running again (its session continues).';

COMMENT ON FUNCTION shared.audience_schema() IS 'The multi-key schema of every audience row GDP sends, in the order acknowledged rows are stored.';

COMMENT ON FUNCTION shared.audience_store_id(text, text) IS 'Store the id of the audience the worker created (or found by its marker) for a segment, in meta_audience and in META_CUSTOM_AUDIENCE_IDS.';

COMMENT ON FUNCTION shared.audience_take_allowance(bigint, integer) IS 'Use an admin''s unused removal acknowledgement that covers p_needed removals for this run.';

COMMENT ON FUNCTION shared.audience_targets(text) IS 'The mapped segments and their audiences (made when missing), with member, acknowledged and staged counts and when a run last changed the audience; one segment or all.';

COMMENT ON FUNCTION shared.audience_try_lock(text) IS 'Take the session advisory lock of a segment''s sync (false: another session syncs it now).';

COMMENT ON FUNCTION shared.audience_unlock(text) IS 'Release the session advisory lock of a segment''s sync.';

COMMENT ON FUNCTION shared.audience_worker_config() IS 'What the audience worker runs by: the META_CUSTOM_AUDIENCE_SYNC_ENABLED flag, the ad account, the segment -> audience id map (META_CUSTOM_AUDIENCE_IDS) and the interval (the segment engine''s, SEGMENT_ENGINE_CRON_INTERVAL).';

COMMENT ON VIEW shared.audience_status IS 'Per mapped segment: members, acknowledged rows, Meta''s approximate size, last run, lag since the last success and failures in 24 hours.';

-- migrate:down
