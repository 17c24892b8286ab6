/**
 * Audience sync (GAP-007): what the audience worker (workers/audiences/) reads and writes.
 *
 * The worker hashes in Python with the same code as the Conversions API (workers/meta), so SQL
 * hands it the person columns of the people whose rows may have changed, and stores what Meta
 * acknowledged: the exact cells sent, per person and audience. Everything runs as the schema
 * owner (SECURITY DEFINER) so gdp_audience_worker needs no table grant; raw PII leaves the
 * database only towards the worker's memory, never into a table other than shared.person.
 */

-- The columns of an audience row, in order (acknowledged rows are stored in this order).
CREATE OR REPLACE FUNCTION shared.audience_schema()
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = ''
AS $$
    SELECT ARRAY['EMAIL', 'PHONE', 'FN', 'LN', 'CT', 'ST', 'ZIP', 'COUNTRY', 'DOBY', 'DOBM',
                 'DOBD', 'GEN', 'EXTERN_ID']
$$;
COMMENT ON FUNCTION shared.audience_schema() IS
    'The multi-key schema of every audience row GDP sends, in the order acknowledged rows are stored.';

CREATE OR REPLACE FUNCTION shared.audience_worker_config()
RETURNS TABLE (enabled boolean, ad_account_id text, audience_ids jsonb, interval_s integer)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT shared.is_enabled('META_CUSTOM_AUDIENCE_SYNC_ENABLED'),
           shared.setting_value('META_AD_ACCOUNT_ID') #>> '{}',
           coalesce(shared.setting_value('META_CUSTOM_AUDIENCE_IDS'), '{}'::jsonb),
           coalesce((shared.setting_value('SEGMENT_ENGINE_CRON_INTERVAL') #>> '{}')::integer, 300)
$$;
COMMENT ON FUNCTION shared.audience_worker_config() IS
    'What the audience worker runs by: the META_CUSTOM_AUDIENCE_SYNC_ENABLED flag, the ad account, the segment -> audience id map (META_CUSTOM_AUDIENCE_IDS) and the interval (the segment engine''s, SEGMENT_ENGINE_CRON_INTERVAL).';

-- Members to sync: everyone in the segment but those who withdrew consent (counted through the
-- small partial index of withdrawn people, not by reading every person).
CREATE OR REPLACE FUNCTION shared._audience_member_count(p_segment_id text)
RETURNS bigint
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT (SELECT count(*) FROM shared.segment_member AS m WHERE m.segment_id = p_segment_id)
         - (SELECT count(*) FROM shared.person AS w
            JOIN shared.segment_member AS m ON m.segment_id = p_segment_id AND m.person_id = w.id
            WHERE w.consent_status = 'withdrawn')
$$;

/*
 * Acknowledged rows of people who are still members but withdrew consent: each sync removes
 * them. Read through the small partial index of withdrawn people; filtered by segment_id, the
 * filter reaches the acknowledgement and membership keys. security_invoker: it is read with the
 * reader's rights (the audience functions', which own what it reads).
 */
CREATE OR REPLACE VIEW shared._audience_withdrawn_ack WITH (security_invoker = true) AS
    SELECT k.segment_id, k.person_id, k.row_cells, k.person_updated_at
    FROM shared.person AS w
    JOIN shared.audience_ack AS k ON k.person_id = w.id
    JOIN shared.segment_member AS m ON m.segment_id = k.segment_id AND m.person_id = w.id
    WHERE w.consent_status = 'withdrawn';

/*
 * The mapped segments (the keys of META_CUSTOM_AUDIENCE_IDS that name a registered segment),
 * each with its audience row, made when missing (named as the segment's audience_name, the
 * PRD's table). An id in the map wins over a stored one: an admin who maps a segment to another
 * audience starts it afresh (nothing is acknowledged there yet).
 */
CREATE OR REPLACE FUNCTION shared.audience_targets(p_segment_id text DEFAULT NULL)
RETURNS TABLE (segment_id text, audience_name text, audience_id text, create_marker text,
               min_size_first_upload integer, max_removed_share numeric,
               first_upload_at timestamptz, drift_detected_at timestamptz, members bigint,
               acknowledged bigint, replace_staged bigint, last_change_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_targets(text) IS
    'The mapped segments and their audiences (made when missing), with member, acknowledged and staged counts and when a run last changed the audience; one segment or all.';

CREATE OR REPLACE FUNCTION shared.audience_store_id(p_segment_id text, p_audience_id text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_store_id(text, text) IS
    'Store the id of the audience the worker created (or found by its marker) for a segment, in meta_audience and in META_CUSTOM_AUDIENCE_IDS.';

-- A diff run records each request after Meta answers it, so a run cut off (killed, or a call
-- that failed after Meta took it) may have left one request applied at Meta and not recorded.
-- Those since the last successful run (which re-sent them) make Meta's count legitimately
-- higher than what is acknowledged: the drift check allows for them.
CREATE OR REPLACE FUNCTION shared.audience_unrecorded_requests(p_segment_id text)
RETURNS integer
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT count(*)::integer FROM shared.audience_sync_run AS r
    WHERE r.segment_id = p_segment_id AND r.kind = 'diff'
      AND r.status IN ('running', 'interrupted', 'failed')
      AND r.id > coalesce((SELECT max(s.id) FROM shared.audience_sync_run AS s
                           WHERE s.segment_id = p_segment_id AND s.status = 'succeeded'), 0)
$$;
COMMENT ON FUNCTION shared.audience_unrecorded_requests(text) IS
    'Diff runs of a segment cut off since its last successful run: each may have left one request applied at Meta but unrecorded (the drift check allows for them).';

-- One worker per segment at a time: a session-level advisory lock (released at disconnect,
-- so a killed worker never leaves it held).
CREATE OR REPLACE FUNCTION shared.audience_try_lock(p_segment_id text)
RETURNS boolean
LANGUAGE sql
SET search_path = ''
AS $$
    SELECT pg_catalog.pg_try_advisory_lock(
        pg_catalog.hashtextextended('gdp.audience_sync.' || p_segment_id, 0))
$$;
COMMENT ON FUNCTION shared.audience_try_lock(text) IS
    'Take the session advisory lock of a segment''s sync (false: another session syncs it now).';

CREATE OR REPLACE FUNCTION shared.audience_unlock(p_segment_id text)
RETURNS boolean
LANGUAGE sql
SET search_path = ''
AS $$
    SELECT pg_catalog.pg_advisory_unlock(
        pg_catalog.hashtextextended('gdp.audience_sync.' || p_segment_id, 0))
$$;
COMMENT ON FUNCTION shared.audience_unlock(text) IS
    'Release the session advisory lock of a segment''s sync.';

-- From when the next run looks for changed people and memberships: the start of the oldest
-- transaction open in this database now (a change it commits later carries an updated_at, or a
-- history time, from then on), less a second. Only a role that sees every session's
-- transaction start can know it; otherwise the start less 10 minutes, a margin for the
-- transactions open then.
CREATE OR REPLACE FUNCTION shared._audience_checked_from()
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT CASE
        WHEN pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
        THEN least(now(), (SELECT min(a.xact_start) FROM pg_catalog.pg_stat_activity AS a
                           WHERE a.datname = pg_catalog.current_database()
                             AND a.backend_type = 'client backend'))
             - interval '1 second'
        ELSE now() - interval '10 minutes' END
$$;

-- From when a run looks for changed people and memberships: where the last successful diff
-- run's check ended (its checked_from); NULL (every member) when no run checked everyone in the
-- last day, or a replace ran since (a session Meta timed out applied only part of it).
CREATE OR REPLACE FUNCTION shared.audience_changed_since(p_segment_id text)
RETURNS timestamptz
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT CASE WHEN a.full_checked_at IS NULL OR a.full_checked_at < now() - interval '1 day'
                THEN NULL
                ELSE (SELECT coalesce(r.checked_from, r.started_at - interval '10 minutes')
                      FROM shared.audience_sync_run AS r
                      WHERE r.segment_id = p_segment_id AND r.status = 'succeeded'
                        AND r.kind = 'diff'
                      ORDER BY r.id DESC LIMIT 1) END
    FROM shared.meta_audience AS a WHERE a.segment_id = p_segment_id
$$;
COMMENT ON FUNCTION shared.audience_changed_since(text) IS
    'From when a sync of the segment looks for changed people and memberships (NULL: it re-checks every member).';

CREATE OR REPLACE FUNCTION shared.audience_start_run(
    p_segment_id text, p_kind text, p_forced boolean, p_reason text DEFAULT NULL
)
RETURNS TABLE (run_id bigint, changed_since timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_start_run(text, text, boolean, text) IS
    'Start a sync run (diff or replace) of a segment; runs left running by a stopped worker become interrupted.';

/*
 * The people whose audience row may change, removals first: acknowledged people who left the
 * segment, were erased or withdrew consent (op remove, with the row to remove); then members
 * not acknowledged yet, and acknowledged members whose person row changed since it was hashed
 * (op add, with the row acknowledged before, if any).
 *
 * p_since NULL (a full check): every member and every acknowledged row, two anti-joins.
 * Otherwise only what changed from p_since, each part through an index: who joined or left
 * (shared.segment_history by segment and time), who was erased (shared.audience_erased), who
 * withdrew (the partial index of withdrawn people), whose person row changed (person.updated_at).
 *
 * Opened as a cursor (named p_cursor; NULL: a name of its own) that the caller fetches from in
 * the same transaction, so the first rows are sent while the rest are still being read: a set
 * returning function would compute and store all of them first. The parts are one UNION ALL,
 * which a cursor (never a parallel plan) returns in the order written: removals first.
 */
CREATE OR REPLACE FUNCTION shared.audience_changes_open(
    p_segment_id text, p_since timestamptz, p_cursor text DEFAULT 'audience_changes'
)
RETURNS refcursor
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
        FROM shared._audience_withdrawn_ack AS k
        WHERE k.segment_id = v_segment
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
        FROM shared._audience_withdrawn_ack AS k
        WHERE k.segment_id = v_segment
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
$$;
COMMENT ON FUNCTION shared.audience_changes_open(text, timestamptz, text) IS
    'Open a cursor over a sync''s changes, removals first: remove (left, withdrew consent, erased) with the row to remove; add (not acknowledged, or changed since) with the old row. Reads only memberships and people changed from p_since (NULL: every member). Fetch from it in the same transaction.';

CREATE OR REPLACE FUNCTION shared.audience_changes(p_segment_id text, p_since timestamptz)
RETURNS TABLE (person_id uuid, op text, old_cells text[], email text, phone text,
               first_name text, last_name text, city text, state text, zip text, country text,
               date_of_birth date, gender text, person_updated_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_changes(text, timestamptz) IS
    'A sync''s changes as rows (what audience_changes_open''s cursor returns), for a dry run and for tests.';

/*
 * An erased person takes their memberships and history along, so nothing else tells a run
 * that they left: their acknowledged rows are listed (ids only) for the next run to remove
 * under the hashes Meta has. Once per statement; a lookup per audience and person.
 */
CREATE OR REPLACE FUNCTION shared._audience_person_erased()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    INSERT INTO shared.audience_erased (segment_id, person_id)
    SELECT k.segment_id, k.person_id
    FROM old_people AS o
    CROSS JOIN shared.meta_audience AS a
    JOIN shared.audience_ack AS k ON k.segment_id = a.segment_id AND k.person_id = o.id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER person_audience_erased
    AFTER DELETE ON shared.person
    REFERENCING OLD TABLE AS old_people
    FOR EACH STATEMENT EXECUTE FUNCTION shared._audience_person_erased();

-- How many acknowledged people a run would remove: what the removal guard weighs.
CREATE OR REPLACE FUNCTION shared.audience_removal_count(p_segment_id text)
RETURNS bigint
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT (SELECT count(*) FROM shared.audience_ack AS k
            WHERE k.segment_id = p_segment_id
              AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                              WHERE m.segment_id = p_segment_id AND m.person_id = k.person_id))
         + (SELECT count(*) FROM shared._audience_withdrawn_ack AS k
            WHERE k.segment_id = p_segment_id)
$$;
COMMENT ON FUNCTION shared.audience_removal_count(text) IS
    'How many acknowledged people the next sync of the segment would remove (left, withdrew consent, erased).';

CREATE OR REPLACE FUNCTION shared.audience_change_counts(p_segment_id text, p_since timestamptz)
RETURNS TABLE (removes bigint, candidates bigint)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
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
        SELECT count(*) FROM shared._audience_withdrawn_ack AS k WHERE k.segment_id = v_segment);
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
$$;
COMMENT ON FUNCTION shared.audience_change_counts(text, timestamptz) IS
    'How many acknowledged people a run would remove (the removal guard), and about how many members it would add or re-check (an upper bound).';

-- Every consenting member with the person columns, in person_id order, after p_after: the rows
-- of a usersreplace session, read a page at a time (a resumed session continues after the last
-- staged person).
CREATE OR REPLACE FUNCTION shared.audience_members_page(
    p_segment_id text, p_after uuid, p_limit integer
)
RETURNS TABLE (person_id uuid, email text, phone text, first_name text, last_name text,
               city text, state text, zip text, country text, date_of_birth date, gender text,
               person_updated_at timestamptz)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT p.id, p.email, p.phone, p.first_name, p.last_name, p.city, p.state, p.zip, p.country,
           p.date_of_birth, p.gender, p.updated_at
    FROM shared.segment_member AS m
    JOIN shared.person AS p ON p.id = m.person_id
    WHERE m.segment_id = p_segment_id AND p.consent_status <> 'withdrawn'
      AND (p_after IS NULL OR m.person_id > p_after)
    ORDER BY m.person_id
    LIMIT greatest(1, least(coalesce(p_limit, 10000), 10000))
$$;
COMMENT ON FUNCTION shared.audience_members_page(text, uuid, integer) IS
    'A page (at most 10,000) of a segment''s consenting members with their person columns, in person_id order after p_after.';

CREATE OR REPLACE FUNCTION shared._audience_count_response(p_run_id bigint, p_response jsonb)
RETURNS void
LANGUAGE sql
SET search_path = ''
AS $$
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
$$;

/*
 * Record one batch Meta acknowledged, in the transaction that says so, set-based: op add upserts
 * the rows sent, op remove deletes the rows removed (only where the stored row is still the one
 * removed), op touch only moves person_updated_at (the person changed, their row did not;
 * nothing was sent). Row i is p_person_ids[i], its cells joined by commas (SHA-256 hex or "",
 * so no cell holds a comma) in p_cells[i], the person version hashed in p_updated[i].
 */
CREATE OR REPLACE FUNCTION shared.audience_record_rows(
    p_run_id bigint, p_op text, p_person_ids uuid[], p_cells text[], p_updated timestamptz[],
    p_response jsonb DEFAULT '{}'::jsonb
)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_record_rows(bigint, text, uuid[], text[], timestamptz[], jsonb) IS
    'Record a batch Meta acknowledged (add, remove) or a re-check that changed nothing (touch), with Meta''s counts, in one transaction; rows as arrays (cells joined by commas).';

-- The same with the rows as JSON ([{"p": person_id, "c": cells, "u": person_updated_at}]).
CREATE OR REPLACE FUNCTION shared.audience_record_batch(
    p_run_id bigint, p_op text, p_rows jsonb, p_response jsonb DEFAULT '{}'::jsonb
)
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_record_batch(bigint, text, jsonb, jsonb) IS
    'Record a batch Meta acknowledged (add, remove) or a re-check that changed nothing (touch), with Meta''s counts, in one transaction; rows as JSON (audience_record_rows takes arrays).';

CREATE OR REPLACE FUNCTION shared.audience_record_error(
    p_run_id bigint, p_code integer, p_subcode integer, p_retried boolean
)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    UPDATE shared.audience_sync_run AS r
    SET errors = r.errors || jsonb_build_object(
            k.key, coalesce((r.errors ->> k.key)::integer, 0) + 1),
        retries = r.retries + CASE WHEN p_retried THEN 1 ELSE 0 END
    FROM (SELECT coalesce(p_code::text, 'transport')
                 || coalesce('/' || p_subcode::text, '') AS key) AS k
    WHERE r.id = p_run_id
$$;
COMMENT ON FUNCTION shared.audience_record_error(bigint, integer, integer, boolean) IS
    'Count a Graph error of a run under its code (code/subcode; transport when Meta did not answer).';

CREATE OR REPLACE FUNCTION shared.audience_plan_run(
    p_run_id bigint, p_adds integer, p_removes integer, p_session_id bigint,
    p_estimated_num_total bigint
)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    UPDATE shared.audience_sync_run
    SET planned_adds = coalesce(p_adds, 0), planned_removes = coalesce(p_removes, 0),
        session_id = coalesce(p_session_id, session_id),
        estimated_num_total = coalesce(p_estimated_num_total, estimated_num_total)
    WHERE id = p_run_id
$$;
COMMENT ON FUNCTION shared.audience_plan_run(bigint, integer, integer, bigint, bigint) IS
    'Record what a run is about to send: planned adds and removes, its session id and size hint.';

CREATE OR REPLACE FUNCTION shared.audience_finish_run(
    p_run_id bigint, p_status text, p_message text DEFAULT NULL
)
RETURNS shared.audience_sync_run
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_finish_run(bigint, text, text) IS
    'Finish a sync run with its status (succeeded, failed, refused, waiting) and message.';

-- The replace session a stopped worker left in flight, if any: its run, session, last batch
-- and the last person staged (the session resumes after them).
CREATE OR REPLACE FUNCTION shared.audience_replace_state(p_segment_id text)
RETURNS TABLE (run_id bigint, session_id bigint, batch_seq integer, last_person_id uuid,
               staged bigint, started_at timestamptz)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_replace_state(text) IS
    'The usersreplace session left in flight for a segment (run, session, batch_seq, last staged person), if any.';

CREATE OR REPLACE FUNCTION shared.audience_resume_run(p_run_id bigint)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    UPDATE shared.audience_sync_run
    SET status = 'running', finished_at = NULL,
        error_message = 'resumed after the worker stopped mid-session'
    WHERE id = p_run_id
$$;
COMMENT ON FUNCTION shared.audience_resume_run(bigint) IS
    'Mark an interrupted replace run running again (its session continues).';

CREATE OR REPLACE FUNCTION shared.audience_replace_stage(
    p_run_id bigint, p_batch_seq integer, p_rows jsonb, p_response jsonb DEFAULT '{}'::jsonb
)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_replace_stage(bigint, integer, jsonb, jsonb) IS
    'Record a usersreplace batch Meta acknowledged: its rows are staged until the session completes.';

/*
 * The session completed (last_batch_flag acknowledged, or Meta timed it out and applied what it
 * had): what Meta holds now is exactly the staged rows. Acknowledged rows are swapped in one
 * transaction; the drift mark is cleared.
 */
CREATE OR REPLACE FUNCTION shared.audience_replace_complete(p_run_id bigint)
RETURNS TABLE (rows_added bigint, rows_removed bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_replace_complete(bigint) IS
    'A usersreplace session completed: the staged rows become what Meta acknowledged, in one transaction.';

CREATE OR REPLACE FUNCTION shared.audience_record_count(
    p_segment_id text, p_lower bigint, p_upper bigint, p_drift_note text
)
RETURNS void
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    UPDATE shared.meta_audience
    SET approximate_lower = p_lower, approximate_upper = p_upper, counted_at = now(),
        drift_note = coalesce(p_drift_note, drift_note),
        drift_detected_at = CASE WHEN p_drift_note IS NOT NULL
                                 THEN coalesce(drift_detected_at, now())
                                 ELSE drift_detected_at END
    WHERE segment_id = p_segment_id
$$;
COMMENT ON FUNCTION shared.audience_record_count(text, bigint, bigint, text) IS
    'Store Meta''s approximate size of a segment''s audience; a drift note marks it for a full replace.';

CREATE OR REPLACE FUNCTION shared.audience_allow_removals(
    p_segment_id text, p_max_removals integer, p_actor text, p_reason text DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_allow_removals(text, integer, text, text) IS
    'Acknowledge that the next sync of a segment may remove up to max_removals people (over the removal cap).';

/*
 * Set a mapped segment's guards: the fewest members before the first upload, and the largest
 * share of acknowledged people one run may remove. NULL leaves a guard as it is; returns both
 * as they are afterwards.
 */
CREATE OR REPLACE FUNCTION shared.audience_set_guards(
    p_segment_id text, p_min_size_first_upload integer DEFAULT NULL,
    p_max_removed_share numeric DEFAULT NULL
)
RETURNS TABLE (segment_id text, min_size_first_upload integer, max_removed_share numeric)
LANGUAGE plpgsql
SET search_path = ''
AS $$
#variable_conflict use_column
BEGIN
    IF p_min_size_first_upload IS NOT NULL
       AND NOT p_min_size_first_upload BETWEEN 0 AND 100000000 THEN
        PERFORM shared._raise('GD400', 'min_size_first_upload',
                              'must be a whole number from 0 to 100,000,000');
    END IF;
    IF p_max_removed_share IS NOT NULL AND NOT p_max_removed_share BETWEEN 0 AND 1 THEN
        PERFORM shared._raise('GD400', 'max_removed_share',
                              'must be a share from 0 to 1 (0.2: a fifth of the audience)');
    END IF;
    IF p_min_size_first_upload IS NULL AND p_max_removed_share IS NULL THEN
        RETURN QUERY
        SELECT a.segment_id, a.min_size_first_upload, a.max_removed_share
        FROM shared.meta_audience AS a WHERE a.segment_id = p_segment_id;
    ELSE
        RETURN QUERY
        UPDATE shared.meta_audience AS a SET
            min_size_first_upload = coalesce(p_min_size_first_upload, a.min_size_first_upload),
            max_removed_share = coalesce(round(p_max_removed_share, 3), a.max_removed_share),
            updated_at = now()
        WHERE a.segment_id = p_segment_id
        RETURNING a.segment_id, a.min_size_first_upload, a.max_removed_share;
    END IF;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment', format('%s is not mapped to an audience',
                                                        p_segment_id));
    END IF;
END
$$;
COMMENT ON FUNCTION shared.audience_set_guards(text, integer, numeric) IS
    'Set a mapped segment''s guards (minimum size before the first upload, largest share removed in one run; NULL: unchanged) and return them.';

-- An unused acknowledgement covering p_needed removals, taken by the run (false: none).
CREATE OR REPLACE FUNCTION shared.audience_take_allowance(p_run_id bigint, p_needed integer)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.audience_take_allowance(bigint, integer) IS
    'Use an admin''s unused removal acknowledgement that covers p_needed removals for this run.';

CREATE OR REPLACE VIEW shared.audience_status AS
SELECT a.segment_id, a.audience_name, a.audience_id,
       shared._audience_member_count(a.segment_id) AS members,
       a.acknowledged,
       a.approximate_lower, a.approximate_upper, a.drift_detected_at, a.first_upload_at,
       last.status AS last_status, last.finished_at AS last_finished_at,
       ok.finished_at AS last_succeeded_at,
       extract(epoch FROM now() - ok.finished_at)::double precision AS lag_seconds,
       (SELECT count(*) FROM shared.audience_sync_run AS r
        WHERE r.segment_id = a.segment_id AND r.status IN ('failed', 'interrupted')
          AND r.started_at > now() - interval '24 hours') AS failures_24h
FROM shared.meta_audience AS a
LEFT JOIN LATERAL (SELECT r.status, r.finished_at FROM shared.audience_sync_run AS r
                   WHERE r.segment_id = a.segment_id ORDER BY r.id DESC LIMIT 1) AS last ON true
LEFT JOIN LATERAL (SELECT r.finished_at FROM shared.audience_sync_run AS r
                   WHERE r.segment_id = a.segment_id AND r.status = 'succeeded'
                   ORDER BY r.id DESC LIMIT 1) AS ok ON true;
COMMENT ON VIEW shared.audience_status IS
    'Per mapped segment: members, acknowledged rows, Meta''s approximate size, last run, lag since the last success and failures in 24 hours.';
