-- migrate:up
-- gdp:release sources=sha256:da485f8891b3a543f406abe797715f9694f6fa88ca2f3150a969d53c1f4f9557

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared.retention_delete_queue_archives(p_batch_size integer DEFAULT NULL::integer, p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;

COMMENT ON FUNCTION shared.retention_delete_queue_archives(integer, timestamp with time zone) IS 'Deletes one batch per queue of archived pgmq messages (pgmq.a_<queue>, ids only) archived more than RETENTION_QUEUE_ARCHIVE_DAYS ago, and of segment_changes messages nobody read in that time; returns how many.';

-- migrate:down
