/**
 * Retention: how long events, delivery records, dead letters and the queues' archives are kept.
 *
 * Each window is a row of shared.setting (RETENTION_*_DAYS, defaults and their reasons in the
 * migration that defines them). One function per table deletes one bounded batch of rows past
 * its window, picked with FOR UPDATE SKIP LOCKED, so it never waits on a row someone else holds
 * and never holds many rows for long; shared.apply_retention() runs one batch of each under an
 * advisory lock; the procedure shared.run_retention() repeats that, committing after every
 * round, until nothing is left or its time is up. `gdp worker maintenance` calls the procedure
 * every few minutes; on Supabase pg_cron can (README, "Retention").
 *
 * Never deleted: an event whose message is still in the meta_capi queue (not yet sent,
 * retried or expired: Meta's 7-day window closes before the events window can, its minimum is
 * 8 days) or that has a dead letter not yet replayed; erasure records (shared.erasure: proof
 * that a person was erased, kept for audiences and audits); people, consent and settings.
 *
 * The functions are SECURITY DEFINER: the maintenance role may run these rules, and only these,
 * without a DELETE grant on any table.
 */

-- The advisory lock key every retention run holds (any constant no other lock uses).
CREATE OR REPLACE FUNCTION shared._retention_lock_key()
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 7305218801234001::bigint $$;

-- The cut-off of one window: rows older than this go. p_as_of may look back, never ahead.
CREATE OR REPLACE FUNCTION shared._retention_cutoff(p_setting_key text, p_as_of timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT least(coalesce(p_as_of, now()), now())
           - make_interval(days => (shared.setting_value(p_setting_key))::text::integer)
$$;

CREATE OR REPLACE FUNCTION shared._retention_batch_size(p_batch_size integer)
RETURNS integer
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT greatest(1, least(100000, coalesce(
        p_batch_size, (shared.setting_value('RETENTION_BATCH_SIZE'))::text::integer, 5000)))
$$;

CREATE OR REPLACE FUNCTION shared.retention_delete_events(
    p_batch_size integer DEFAULT NULL,
    p_as_of timestamptz DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_EVENT_DAYS', p_as_of);
    v_deleted bigint;
BEGIN
    -- received_at, not occurred_at: the product chose occurred_at; received_at is ours (and the
    -- column the BRIN index and a future partitioning key are on).
    WITH doomed AS (
        SELECT e.ctid
        FROM shared.event AS e
        WHERE e.received_at < v_cutoff
          AND NOT EXISTS (SELECT 1 FROM pgmq.q_meta_capi AS q
                          WHERE (q.message ->> 'event')::bigint = e.id)
          AND NOT EXISTS (SELECT 1 FROM shared.capi_dead_letter AS d
                          WHERE d.product_id = e.product_id AND d.event_id = e.event_id
                            AND d.replayed_at IS NULL)
        LIMIT shared._retention_batch_size(p_batch_size)
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM shared.event AS e USING doomed WHERE e.ctid = doomed.ctid;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;
COMMENT ON FUNCTION shared.retention_delete_events(integer, timestamptz) IS
'Deletes one batch (RETENTION_BATCH_SIZE, default 5000) of events received more than RETENTION_EVENT_DAYS ago, skipping events still queued for Meta or with a dead letter not replayed, and rows locked by others; returns how many. p_as_of (<= now()) moves the clock back, for simulations.';

CREATE OR REPLACE FUNCTION shared.retention_delete_attribution_events(
    p_batch_size integer DEFAULT NULL,
    p_as_of timestamptz DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_ATTRIBUTION_DAYS', p_as_of);
    v_deleted bigint;
BEGIN
    WITH doomed AS (
        SELECT a.ctid FROM shared.attribution_events AS a
        WHERE a.created_at < v_cutoff
        LIMIT shared._retention_batch_size(p_batch_size)
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM shared.attribution_events AS a USING doomed WHERE a.ctid = doomed.ctid;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;
COMMENT ON FUNCTION shared.retention_delete_attribution_events(integer, timestamptz) IS
'Deletes one batch of delivery records (shared.attribution_events) written more than RETENTION_ATTRIBUTION_DAYS ago; returns how many.';

CREATE OR REPLACE FUNCTION shared.retention_delete_dead_letters(
    p_batch_size integer DEFAULT NULL,
    p_as_of timestamptz DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_DEAD_LETTER_DAYS', p_as_of);
    v_deleted bigint;
BEGIN
    -- Replayed: counted from the replay; never replayed: from when it was dead-lettered (its
    -- event can no longer be sent by then: Meta takes events up to 7 days old).
    WITH doomed AS (
        SELECT d.ctid FROM shared.capi_dead_letter AS d
        WHERE coalesce(d.replayed_at, d.dead_lettered_at) < v_cutoff
        LIMIT shared._retention_batch_size(p_batch_size)
        FOR UPDATE SKIP LOCKED
    )
    DELETE FROM shared.capi_dead_letter AS d USING doomed WHERE d.ctid = doomed.ctid;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN v_deleted;
END
$$;
COMMENT ON FUNCTION shared.retention_delete_dead_letters(integer, timestamptz) IS
'Deletes one batch of dead letters replayed, or dead-lettered, more than RETENTION_DEAD_LETTER_DAYS ago; returns how many.';

CREATE OR REPLACE FUNCTION shared.retention_delete_queue_archives(
    p_batch_size integer DEFAULT NULL,
    p_as_of timestamptz DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_QUEUE_ARCHIVE_DAYS', p_as_of);
    v_limit integer := shared._retention_batch_size(p_batch_size);
    v_queue text;
    v_count bigint;
    v_deleted bigint := 0;
BEGIN
    -- Every queue's archive, today's and those added later (pgmq.a_<queue>). Partitioned
    -- queues drop whole partitions through pg_partman's own retention instead.
    FOR v_queue IN
        SELECT m.queue_name FROM pgmq.meta AS m WHERE NOT m.is_partitioned ORDER BY m.queue_name
    LOOP
        EXECUTE format(
            'WITH doomed AS (SELECT a.msg_id FROM pgmq.%1$I AS a WHERE a.archived_at < $1'
            ' LIMIT $2 FOR UPDATE SKIP LOCKED)'
            ' DELETE FROM pgmq.%1$I AS a USING doomed WHERE a.msg_id = doomed.msg_id',
            'a_' || v_queue)
        USING v_cutoff, v_limit;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_deleted := v_deleted + v_count;
    END LOOP;
    -- segment_changes announces membership changes to whoever wants them (the PRD's email
    -- tool, a warehouse); with no reader its messages would pile up for ever. One not read
    -- within the window goes as an archived one would. The work queues (meta_capi, meta_leads)
    -- are never trimmed: their messages are owed to Meta.
    IF to_regclass('pgmq.q_segment_changes') IS NOT NULL THEN
        WITH doomed AS (
            SELECT q.msg_id FROM pgmq.q_segment_changes AS q
            WHERE q.enqueued_at < v_cutoff
            LIMIT v_limit
            FOR UPDATE SKIP LOCKED
        )
        DELETE FROM pgmq.q_segment_changes AS q USING doomed WHERE q.msg_id = doomed.msg_id;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_deleted := v_deleted + v_count;
    END IF;
    RETURN v_deleted;
END
$$;
COMMENT ON FUNCTION shared.retention_delete_queue_archives(integer, timestamptz) IS
'Deletes one batch per queue of archived pgmq messages (pgmq.a_<queue>, ids only) archived more than RETENTION_QUEUE_ARCHIVE_DAYS ago, and of segment_changes messages nobody read in that time; returns how many.';

CREATE OR REPLACE FUNCTION shared.apply_retention(
    p_batch_size integer DEFAULT NULL,
    p_as_of timestamptz DEFAULT NULL
)
RETURNS TABLE (target text, deleted bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    -- Held by a run in another session: leave the work to it (no rows answered).
    IF NOT pg_catalog.pg_try_advisory_xact_lock(shared._retention_lock_key()) THEN
        RETURN;
    END IF;
    RETURN QUERY VALUES
        ('event', shared.retention_delete_events(p_batch_size, p_as_of)),
        ('attribution_events', shared.retention_delete_attribution_events(p_batch_size, p_as_of)),
        ('capi_dead_letter', shared.retention_delete_dead_letters(p_batch_size, p_as_of)),
        ('queue_archive', shared.retention_delete_queue_archives(p_batch_size, p_as_of));
END
$$;
COMMENT ON FUNCTION shared.apply_retention(integer, timestamptz) IS
'One round of retention: one batch of each table past its RETENTION_*_DAYS window, in one transaction; one row per table with the rows deleted, or no rows when another session is running retention.';

/*
 * The loop: rounds of apply_retention, each committed on its own (short transactions: no long
 * lock, vacuum keeps up), until a round deletes nothing or p_max_seconds pass. A session
 * advisory lock keeps a second run (another worker, an overlapping pg_cron job) out. A procedure
 * that commits may not be SECURITY DEFINER or carry SET: every name in it is qualified, and the
 * rights it needs are those of apply_retention.
 */
CREATE OR REPLACE PROCEDURE shared.run_retention(
    p_batch_size integer DEFAULT NULL,
    p_max_seconds integer DEFAULT 60,
    p_as_of timestamptz DEFAULT NULL,
    INOUT events bigint DEFAULT 0,
    INOUT attribution_events bigint DEFAULT 0,
    INOUT dead_letters bigint DEFAULT 0,
    INOUT queue_archive bigint DEFAULT 0,
    INOUT rounds integer DEFAULT 0,
    INOUT ran boolean DEFAULT false
)
LANGUAGE plpgsql
AS $$
DECLARE
    v_deadline timestamptz := pg_catalog.clock_timestamp()
                              + make_interval(secs => greatest(p_max_seconds, 1));
    v_round record;
    v_total bigint;
BEGIN
    events := 0; attribution_events := 0; dead_letters := 0; queue_archive := 0; rounds := 0;
    ran := pg_catalog.pg_try_advisory_lock(shared._retention_lock_key());
    IF NOT ran THEN
        RETURN;
    END IF;
    -- No exception block (a procedure cannot commit inside one): on an error the lock is
    -- released when the session ends, which pg_cron's and the worker's sessions then do.
    LOOP
        v_total := 0;
        FOR v_round IN SELECT * FROM shared.apply_retention(p_batch_size, p_as_of) LOOP
            v_total := v_total + v_round.deleted;
            CASE v_round.target
                WHEN 'event' THEN events := events + v_round.deleted;
                WHEN 'attribution_events' THEN
                    attribution_events := attribution_events + v_round.deleted;
                WHEN 'capi_dead_letter' THEN dead_letters := dead_letters + v_round.deleted;
                ELSE queue_archive := queue_archive + v_round.deleted;
            END CASE;
        END LOOP;
        rounds := rounds + 1;
        COMMIT;
        EXIT WHEN v_total = 0 OR pg_catalog.clock_timestamp() >= v_deadline;
    END LOOP;
    PERFORM pg_catalog.pg_advisory_unlock(shared._retention_lock_key());
END
$$;
COMMENT ON PROCEDURE shared.run_retention(integer, integer, timestamptz, bigint, bigint, bigint, bigint, integer, boolean) IS
'Applies retention until nothing is left past its window or p_max_seconds pass, committing after every round of batches; answers the rows deleted per table, the rounds, and ran = false when another session was already running it. CALL it outside a transaction block (pg_cron, gdp worker maintenance).';
