-- migrate:up
-- gdp:release sources=sha256:0259d3cb9abf7010da801d32c52fcc4ba299334f3dcb11294f17f3d132744bad

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._audience_member_count(p_segment_id text)
 RETURNS bigint
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT (SELECT count(*) FROM shared.segment_member AS m WHERE m.segment_id = p_segment_id)
         - (SELECT count(*) FROM shared.person AS w
            JOIN shared.segment_member AS m ON m.segment_id = p_segment_id AND m.person_id = w.id
            WHERE w.consent_status = 'withdrawn')
$function$;

CREATE OR REPLACE FUNCTION shared.audience_change_counts(p_segment_id text, p_since timestamp with time zone)
 RETURNS TABLE(removes bigint, candidates bigint)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_segment text := p_segment_id;
    v_since timestamptz := p_since;
    v_removes bigint;
    v_new bigint;
    v_changed bigint;
BEGIN
    SELECT count(*) INTO v_removes FROM shared.audience_ack AS k
    WHERE k.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                      WHERE m.segment_id = v_segment AND m.person_id = k.person_id);
    v_removes := v_removes + (
        SELECT count(*) FROM shared.person AS w
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = w.id
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = w.id
        WHERE w.consent_status = 'withdrawn');
    SELECT count(*) INTO v_new FROM shared.segment_member AS m
    WHERE m.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                      WHERE k.segment_id = v_segment AND k.person_id = m.person_id);
    IF v_since IS NULL THEN
        SELECT count(*) INTO v_changed FROM shared.audience_ack AS k
        JOIN shared.person AS p ON p.id = k.person_id
        WHERE k.segment_id = v_segment AND p.updated_at > k.person_updated_at;
    ELSE
        SELECT count(*) INTO v_changed FROM shared.person AS p
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = p.id
        WHERE p.updated_at > v_since AND p.updated_at > k.person_updated_at;
    END IF;
    RETURN QUERY SELECT v_removes, v_new + v_changed;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_changed_since(p_segment_id text)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT CASE WHEN a.full_checked_at IS NULL OR a.full_checked_at < now() - interval '1 day'
                THEN NULL
                ELSE (SELECT max(r.started_at) FROM shared.audience_sync_run AS r
                      WHERE r.segment_id = p_segment_id AND r.status = 'succeeded')
                     - interval '10 minutes' END
    FROM shared.meta_audience AS a WHERE a.segment_id = p_segment_id
$function$;

CREATE OR REPLACE FUNCTION shared.audience_changes(p_segment_id text, p_since timestamp with time zone)
 RETURNS TABLE(person_id uuid, op text, old_cells text[], email text, phone text, first_name text, last_name text, city text, state text, zip text, country text, date_of_birth date, gender text, person_updated_at timestamp with time zone)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_segment text := p_segment_id;
    v_since timestamptz := p_since;
BEGIN
    RETURN QUERY
    SELECT k.person_id, 'remove'::text, k.row_cells, NULL::text, NULL::text, NULL::text,
           NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::date, NULL::text,
           k.person_updated_at
    FROM shared.audience_ack AS k
    WHERE k.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                      WHERE m.segment_id = v_segment AND m.person_id = k.person_id);
    RETURN QUERY
    SELECT k.person_id, 'remove'::text, k.row_cells, NULL::text, NULL::text, NULL::text,
           NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::date, NULL::text,
           k.person_updated_at
    FROM shared.person AS w
    JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = w.id
    JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = w.id
    WHERE w.consent_status = 'withdrawn';
    RETURN QUERY
    SELECT p.id, 'add'::text, NULL::text[], p.email, p.phone, p.first_name, p.last_name,
           p.city, p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
    FROM shared.segment_member AS m
    JOIN shared.person AS p ON p.id = m.person_id
    WHERE m.segment_id = v_segment AND p.consent_status <> 'withdrawn'
      AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                      WHERE k.segment_id = v_segment AND k.person_id = m.person_id);
    IF v_since IS NULL THEN
        RETURN QUERY
        SELECT p.id, 'add'::text, k.row_cells, p.email, p.phone, p.first_name, p.last_name,
               p.city, p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM shared.audience_ack AS k
        JOIN shared.person AS p ON p.id = k.person_id
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = p.id
        WHERE k.segment_id = v_segment AND p.consent_status <> 'withdrawn'
          AND p.updated_at > k.person_updated_at;
    ELSE
        RETURN QUERY
        SELECT p.id, 'add'::text, k.row_cells, p.email, p.phone, p.first_name, p.last_name,
               p.city, p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM shared.person AS p
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = p.id
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = p.id
        WHERE p.updated_at > v_since AND p.consent_status <> 'withdrawn'
          AND p.updated_at > k.person_updated_at;
    END IF;
END
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
    IF p_status = 'succeeded' AND (v_row.changed_since IS NULL OR v_row.kind = 'replace') THEN
        UPDATE shared.meta_audience SET full_checked_at = v_row.started_at
        WHERE segment_id = v_row.segment_id;
    END IF;
    -- After a large change (a first upload, a replace), fresh statistics keep the next run's
    -- anti-joins on the right plan rather than waiting for autovacuum to notice.
    IF v_row.rows_added + v_row.rows_removed > greatest(10000, coalesce(v_row.members, 0) / 10) THEN
        ANALYZE shared.audience_ack;
    END IF;
    RETURN v_row;
END
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
    v_new integer;
BEGIN
    SELECT r.segment_id INTO v_segment FROM shared.audience_sync_run AS r
    WHERE r.id = p_run_id AND r.status = 'running';
    IF NOT FOUND THEN
        PERFORM shared._raise('GD409', 'run_id', format('run %s is not running', p_run_id));
    END IF;
    IF p_op = 'add' THEN
        WITH upserted AS (
            INSERT INTO shared.audience_ack AS k
                (segment_id, person_id, row_cells, person_updated_at, via, run_id)
            SELECT v_segment, (x ->> 'p')::uuid,
                   ARRAY(SELECT jsonb_array_elements_text(x -> 'c')),
                   (x ->> 'u')::timestamptz, 'users', p_run_id
            FROM jsonb_array_elements(p_rows) AS x
            ON CONFLICT ON CONSTRAINT audience_ack_pkey DO UPDATE
                SET row_cells = excluded.row_cells,
                    person_updated_at = excluded.person_updated_at,
                    via = 'users', run_id = p_run_id, acknowledged_at = now()
            RETURNING (k.xmax = 0) AS inserted
        )
        SELECT count(*), count(*) FILTER (WHERE inserted) INTO v_count, v_new FROM upserted;
        UPDATE shared.audience_sync_run SET rows_added = rows_added + v_count WHERE id = p_run_id;
        UPDATE shared.meta_audience
        SET first_upload_at = coalesce(first_upload_at, now()), acknowledged = acknowledged + v_new
        WHERE segment_id = v_segment;
    ELSIF p_op = 'remove' THEN
        DELETE FROM shared.audience_ack AS k
        USING jsonb_array_elements(p_rows) AS x
        WHERE k.segment_id = v_segment AND k.person_id = (x ->> 'p')::uuid
          AND k.row_cells = ARRAY(SELECT jsonb_array_elements_text(x -> 'c'));
        GET DIAGNOSTICS v_new = ROW_COUNT;
        UPDATE shared.meta_audience SET acknowledged = acknowledged - v_new
        WHERE segment_id = v_segment;
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

CREATE OR REPLACE FUNCTION shared.audience_removal_count(p_segment_id text)
 RETURNS bigint
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT (SELECT count(*) FROM shared.audience_ack AS k
            WHERE k.segment_id = p_segment_id
              AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                              WHERE m.segment_id = p_segment_id AND m.person_id = k.person_id))
         + (SELECT count(*) FROM shared.person AS w
            JOIN shared.audience_ack AS k ON k.segment_id = p_segment_id AND k.person_id = w.id
            JOIN shared.segment_member AS m ON m.segment_id = p_segment_id AND m.person_id = w.id
            WHERE w.consent_status = 'withdrawn')
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
    SET drift_detected_at = NULL, drift_note = NULL, acknowledged = v_added,
        first_upload_at = coalesce(first_upload_at, now()), updated_at = now()
    WHERE segment_id = v_segment;
    RETURN QUERY SELECT v_added, v_removed;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_start_run(p_segment_id text, p_kind text, p_forced boolean, p_reason text DEFAULT NULL::text)
 RETURNS TABLE(run_id bigint, changed_since timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_id bigint;
    v_audience text;
    v_since timestamptz;
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
    v_since := shared.audience_changed_since(p_segment_id);
    INSERT INTO shared.audience_sync_run
        (segment_id, audience_id, kind, forced, reason, members, changed_since)
    VALUES (p_segment_id, v_audience, p_kind, coalesce(p_forced, false), p_reason,
            shared._audience_member_count(p_segment_id), v_since)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, v_since;
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
                UPDATE shared.meta_audience AS a SET acknowledged = 0 WHERE a.segment_id = v_key;
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
           -- Members matter only to the size guard, before the first upload.
           CASE WHEN a.first_upload_at IS NULL
                THEN shared._audience_member_count(a.segment_id) END,
           a.acknowledged,
           (SELECT count(*) FROM shared.audience_replace_row AS r WHERE r.segment_id = a.segment_id),
           (SELECT max(r.finished_at) FROM shared.audience_sync_run AS r
            WHERE r.segment_id = a.segment_id AND r.status = 'succeeded'
              AND (r.rows_added > 0 OR r.rows_removed > 0))
    FROM shared.meta_audience AS a
    WHERE v_map ? a.segment_id AND (p_segment_id IS NULL OR a.segment_id = p_segment_id)
    ORDER BY a.segment_id;
END
$function$;

CREATE OR REPLACE VIEW shared.audience_status AS
 SELECT a.segment_id,
    a.audience_name,
    a.audience_id,
    shared._audience_member_count(a.segment_id) AS members,
    a.acknowledged,
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

REVOKE ALL ON FUNCTION shared._audience_member_count(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._audience_member_count(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared._audience_member_count(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_change_counts(text, timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_change_counts(text, timestamp with time zone) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_change_counts(text, timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_changed_since(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_changed_since(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_changed_since(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_changes(text, timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_changes(text, timestamp with time zone) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_changes(text, timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_removal_count(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_removal_count(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_removal_count(text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_start_run(text, text, boolean, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_start_run(text, text, boolean, text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_start_run(text, text, boolean, text) TO service_role;

DROP FUNCTION IF EXISTS shared.audience_changes(text);

DROP FUNCTION IF EXISTS shared.audience_change_counts(text);

DROP FUNCTION IF EXISTS shared.audience_begin_run(text, text, boolean, text);

DROP FUNCTION IF EXISTS shared._audience_members(text);

COMMENT ON FUNCTION shared.audience_change_counts(text, timestamp with time zone) IS 'How many acknowledged people a run would remove (the removal guard), and about how many members it would add or re-check (an upper bound).';

COMMENT ON FUNCTION shared.audience_changed_since(text) IS 'From when a sync of the segment looks for changed people (NULL: it re-checks every member).';

COMMENT ON FUNCTION shared.audience_changes(text, timestamp with time zone) IS 'A sync''s changes, removals first: remove (left, withdrew consent, erased) with the row to remove; add (not acknowledged, or changed since) with the old row. Reads only people changed after p_since (NULL: every member).';

COMMENT ON FUNCTION shared.audience_removal_count(text) IS 'How many acknowledged people the next sync of the segment would remove (left, withdrew consent, erased).';

COMMENT ON FUNCTION shared.audience_start_run(text, text, boolean, text) IS 'Start a sync run (diff or replace) of a segment; runs left running by a stopped worker become interrupted.';

-- migrate:down
