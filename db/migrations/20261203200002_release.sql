-- migrate:up
-- gdp:release sources=sha256:04bb817845d0e86ef00f3ea58bb65f24dc2ddda797ec2045c24ddf03dfcdf0bc

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._audience_checked_from()
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    SELECT CASE
        WHEN pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
        THEN least(now(), (SELECT min(a.xact_start) FROM pg_catalog.pg_stat_activity AS a
                           WHERE a.datname = pg_catalog.current_database()
                             AND a.backend_type = 'client backend'))
             - interval '1 second'
        ELSE now() - interval '10 minutes' END
$function$;

CREATE OR REPLACE FUNCTION shared._audience_person_erased()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
BEGIN
    INSERT INTO shared.audience_erased (segment_id, person_id)
    SELECT k.segment_id, k.person_id
    FROM old_people AS o
    CROSS JOIN shared.meta_audience AS a
    JOIN shared.audience_ack AS k ON k.segment_id = a.segment_id AND k.person_id = o.id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
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
                ELSE (SELECT coalesce(r.checked_from, r.started_at - interval '10 minutes')
                      FROM shared.audience_sync_run AS r
                      WHERE r.segment_id = p_segment_id AND r.status = 'succeeded'
                        AND r.kind = 'diff'
                      ORDER BY r.id DESC LIMIT 1) END
    FROM shared.meta_audience AS a WHERE a.segment_id = p_segment_id
$function$;

CREATE OR REPLACE FUNCTION shared.audience_changes(p_segment_id text, p_since timestamp with time zone)
 RETURNS TABLE(person_id uuid, op text, old_cells text[], email text, phone text, first_name text, last_name text, city text, state text, zip text, country text, date_of_birth date, gender text, person_updated_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_cursor refcursor := shared.audience_changes_open(p_segment_id, p_since, NULL);
BEGIN
    LOOP
        FETCH v_cursor INTO person_id, op, old_cells, email, phone, first_name, last_name, city,
                            state, zip, country, date_of_birth, gender, person_updated_at;
        EXIT WHEN NOT FOUND;
        RETURN NEXT;
    END LOOP;
    CLOSE v_cursor;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_changes_open(p_segment_id text, p_since timestamp with time zone, p_cursor text DEFAULT 'audience_changes'::text)
 RETURNS refcursor
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_cursor refcursor := p_cursor;
    v_segment text := p_segment_id;
    v_since timestamptz := p_since;
BEGIN
    IF v_since IS NULL THEN
        OPEN v_cursor NO SCROLL FOR
        SELECT k.person_id, 'remove'::text AS op, k.row_cells AS old_cells, NULL::text AS email,
               NULL::text AS phone, NULL::text AS first_name, NULL::text AS last_name,
               NULL::text AS city, NULL::text AS state, NULL::text AS zip, NULL::text AS country,
               NULL::date AS date_of_birth, NULL::text AS gender, k.person_updated_at
        FROM shared.audience_ack AS k
        WHERE k.segment_id = v_segment
          AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                          WHERE m.segment_id = v_segment AND m.person_id = k.person_id)
        UNION ALL
        SELECT k.person_id, 'remove', k.row_cells, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, k.person_updated_at
        FROM shared.person AS w
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = w.id
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = w.id
        WHERE w.consent_status = 'withdrawn'
        UNION ALL
        SELECT p.id, 'add', NULL, p.email, p.phone, p.first_name, p.last_name, p.city, p.state,
               p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM shared.segment_member AS m
        JOIN shared.person AS p ON p.id = m.person_id
        WHERE m.segment_id = v_segment AND p.consent_status <> 'withdrawn'
          AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                          WHERE k.segment_id = v_segment AND k.person_id = m.person_id)
        UNION ALL
        SELECT p.id, 'add', k.row_cells, p.email, p.phone, p.first_name, p.last_name, p.city,
               p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM shared.audience_ack AS k
        JOIN shared.person AS p ON p.id = k.person_id
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = p.id
        WHERE k.segment_id = v_segment AND p.consent_status <> 'withdrawn'
          AND p.updated_at > k.person_updated_at;
    ELSE
        OPEN v_cursor NO SCROLL FOR
        SELECT k.person_id, 'remove'::text AS op, k.row_cells AS old_cells, NULL::text AS email,
               NULL::text AS phone, NULL::text AS first_name, NULL::text AS last_name,
               NULL::text AS city, NULL::text AS state, NULL::text AS zip, NULL::text AS country,
               NULL::date AS date_of_birth, NULL::text AS gender, k.person_updated_at
        FROM (SELECT h.person_id FROM shared.segment_history AS h
              WHERE h.segment_id = v_segment AND h.at >= v_since
              UNION
              SELECT e.person_id FROM shared.audience_erased AS e
              WHERE e.segment_id = v_segment) AS c
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = c.person_id
        WHERE NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                          WHERE m.segment_id = v_segment AND m.person_id = k.person_id)
        UNION ALL
        SELECT k.person_id, 'remove', k.row_cells, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, k.person_updated_at
        FROM shared.person AS w
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = w.id
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = w.id
        WHERE w.consent_status = 'withdrawn'
        UNION ALL
        -- Who joined, and whose person row changed (a change of email, a consent given again).
        SELECT p.id, 'add', k.row_cells, p.email, p.phone, p.first_name, p.last_name, p.city,
               p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM (SELECT h.person_id FROM shared.segment_history AS h
              WHERE h.segment_id = v_segment AND h.at >= v_since
              UNION
              SELECT q.id FROM shared.person AS q WHERE q.updated_at > v_since) AS c
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = c.person_id
        JOIN shared.person AS p ON p.id = c.person_id
        LEFT JOIN shared.audience_ack AS k
            ON k.segment_id = v_segment AND k.person_id = c.person_id
        WHERE p.consent_status <> 'withdrawn'
          AND (k.person_id IS NULL OR p.updated_at > k.person_updated_at);
    END IF;
    RETURN v_cursor;
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
    -- A replace is followed by a full check (audience_replace_complete): a session Meta timed
    -- out applied only what it had, and no history says who is missing.
    IF p_status = 'succeeded' AND v_row.changed_since IS NULL AND v_row.kind = 'diff' THEN
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
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT shared.audience_record_rows(
        p_run_id, p_op,
        ARRAY(SELECT (x ->> 'p')::uuid FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e (x, n)
              ORDER BY n),
        ARRAY(SELECT pg_catalog.array_to_string(
                         ARRAY(SELECT jsonb_array_elements_text(x -> 'c')), ',')
              FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e (x, n) ORDER BY n),
        ARRAY(SELECT (x ->> 'u')::timestamptz
              FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e (x, n) ORDER BY n),
        p_response)
$function$;

CREATE OR REPLACE FUNCTION shared.audience_record_rows(p_run_id bigint, p_op text, p_person_ids uuid[], p_cells text[], p_updated timestamp with time zone[], p_response jsonb DEFAULT '{}'::jsonb)
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
            SELECT v_segment, x.p, pg_catalog.string_to_array(x.c, ','), x.u, 'users', p_run_id
            FROM unnest(p_person_ids, p_cells, p_updated) AS x (p, c, u)
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
        USING unnest(p_person_ids, p_cells) AS x (p, c)
        WHERE k.segment_id = v_segment AND k.person_id = x.p
          AND k.row_cells = pg_catalog.string_to_array(x.c, ',');
        GET DIAGNOSTICS v_new = ROW_COUNT;
        UPDATE shared.meta_audience SET acknowledged = acknowledged - v_new
        WHERE segment_id = v_segment;
        -- An erased person whose row Meta removed is done with.
        DELETE FROM shared.audience_erased AS e
        WHERE e.segment_id = v_segment AND e.person_id = ANY (p_person_ids)
          AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                          WHERE k.segment_id = v_segment AND k.person_id = e.person_id);
        v_count := coalesce(cardinality(p_person_ids), 0);
        UPDATE shared.audience_sync_run SET rows_removed = rows_removed + v_count
        WHERE id = p_run_id;
    ELSIF p_op = 'touch' THEN
        UPDATE shared.audience_ack AS k SET person_updated_at = x.u
        FROM unnest(p_person_ids, p_updated) AS x (p, u)
        WHERE k.segment_id = v_segment AND k.person_id = x.p;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        RETURN v_count;
    ELSE
        PERFORM shared._raise('GD400', 'op', 'must be add, remove or touch');
    END IF;
    PERFORM shared._audience_count_response(p_run_id, p_response);
    RETURN v_count;
END
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
        first_upload_at = coalesce(first_upload_at, now()), updated_at = now(),
        full_checked_at = NULL
    WHERE segment_id = v_segment;
    DELETE FROM shared.audience_erased AS e
    WHERE e.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                      WHERE k.segment_id = v_segment AND k.person_id = e.person_id);
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
        (segment_id, audience_id, kind, forced, reason, members, changed_since, checked_from)
    VALUES (p_segment_id, v_audience, p_kind, coalesce(p_forced, false), p_reason,
            shared._audience_member_count(p_segment_id), v_since,
            shared._audience_checked_from())
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
                DELETE FROM shared.audience_erased AS e WHERE e.segment_id = v_key;
                UPDATE shared.meta_audience AS a SET acknowledged = 0 WHERE a.segment_id = v_key;
            END IF;
            UPDATE shared.meta_audience AS a
            SET audience_id = v_value, first_upload_at = NULL, drift_detected_at = NULL,
                drift_note = NULL, full_checked_at = NULL, updated_at = now()
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

REVOKE ALL ON FUNCTION shared._audience_checked_from() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._audience_checked_from() TO service_role;

REVOKE ALL ON FUNCTION shared._audience_person_erased() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._audience_person_erased() TO service_role;

REVOKE ALL ON FUNCTION shared.audience_changes_open(text, timestamp with time zone, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_changes_open(text, timestamp with time zone, text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_changes_open(text, timestamp with time zone, text) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_record_rows(bigint, text, uuid[], text[], timestamp with time zone[], jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_record_rows(bigint, text, uuid[], text[], timestamp with time zone[], jsonb) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_record_rows(bigint, text, uuid[], text[], timestamp with time zone[], jsonb) TO service_role;

GRANT SELECT ON TABLE shared.audience_erased TO service_role;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.audience_erased'::regclass AND p.polname = 'The service role can read erased people awaiting removal'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read erased people awaiting removal" ON shared.audience_erased;
        CREATE POLICY "The service role can read erased people awaiting removal" ON shared.audience_erased
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.person'::regclass AND tgname = 'person_audience_erased' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER person_audience_erased AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._audience_person_erased()') THEN
        CREATE OR REPLACE TRIGGER person_audience_erased AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._audience_person_erased();
    END IF;
END
$release$;

COMMENT ON FUNCTION shared.audience_changed_since(text) IS 'From when a sync of the segment looks for changed people and memberships (NULL: it re-checks every member).';

COMMENT ON FUNCTION shared.audience_changes(text, timestamp with time zone) IS 'A sync''s changes as rows (what audience_changes_open''s cursor returns), for a dry run and for tests.';

COMMENT ON FUNCTION shared.audience_changes_open(text, timestamp with time zone, text) IS 'Open a cursor over a sync''s changes, removals first: remove (left, withdrew consent, erased) with the row to remove; add (not acknowledged, or changed since) with the old row. Reads only memberships and people changed from p_since (NULL: every member). Fetch from it in the same transaction.';

COMMENT ON FUNCTION shared.audience_record_batch(bigint, text, jsonb, jsonb) IS 'Record a batch Meta acknowledged (add, remove) or a re-check that changed nothing (touch), with Meta''s counts, in one transaction; rows as JSON (audience_record_rows takes arrays).';

COMMENT ON FUNCTION shared.audience_record_rows(bigint, text, uuid[], text[], timestamp with time zone[], jsonb) IS 'Record a batch Meta acknowledged (add, remove) or a re-check that changed nothing (touch), with Meta''s counts, in one transaction; rows as arrays (cells joined by commas).';

-- migrate:down
