-- migrate:up
-- gdp:release sources=sha256:1b1f8dbe7b369828eb4ea13426ac42603ed68bfbd951824b5bfa50ebdb544f37

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._person_withdrawal_waits_for_delivery()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM 1 FROM shared.person AS p WHERE p.id = OLD.id FOR UPDATE;
    RETURN NEW;
END
$function$;

CREATE OR REPLACE FUNCTION shared.capi_claim_request(p_msg_ids bigint[], p_read_cts integer[], p_lock_timeout_ms integer DEFAULT 5000)
 RETURNS TABLE(msg_id bigint, event_ref bigint, verdict text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
#variable_conflict use_column
DECLARE
    v_held bigint[];
    v_held_refs bigint[];
    v_people uuid[];
    v_people_withdrawn boolean[];
    v_events bigint[];
    v_event_people uuid[];
BEGIN
    IF cardinality(p_msg_ids) IS DISTINCT FROM cardinality(p_read_cts) THEN
        PERFORM shared._raise('GD400', 'read_cts', 'must have one entry per message id');
    END IF;
    -- Waiting longer on a row another session holds (an erasure in progress) fails the check
    -- (55P03); the worker tries those events again later. For the rest of the transaction.
    PERFORM set_config('lock_timeout', format('%sms', greatest(p_lock_timeout_ms, 1)), true);
    SELECT array_agg(h.msg_id), array_agg(h.ref) INTO v_held, v_held_refs
    FROM (SELECT q.msg_id, (q.message ->> 'event')::bigint AS ref
          FROM pgmq.q_meta_capi AS q
          JOIN unnest(p_msg_ids, p_read_cts) AS m(id, read_ct)
            ON q.msg_id = m.id AND q.read_ct = m.read_ct
          ORDER BY q.msg_id
          FOR UPDATE OF q) AS h;

    -- A locked row is returned as its latest committed version (after waiting for a session
    -- that held it), so these read the state the request goes out with; a deleted row is absent.
    SELECT array_agg(p.id), array_agg(p.consent_status = 'withdrawn')
    INTO v_people, v_people_withdrawn
    FROM (SELECT p.id, p.consent_status FROM shared.person AS p
          WHERE p.id IN (SELECT e.person_id FROM shared.event AS e WHERE e.id = ANY (v_held_refs))
          ORDER BY p.id
          FOR KEY SHARE OF p) AS p;

    SELECT array_agg(e.id), array_agg(e.person_id) INTO v_events, v_event_people
    FROM (SELECT e.id, e.person_id FROM shared.event AS e
          WHERE e.id = ANY (v_held_refs)
          ORDER BY e.id
          FOR KEY SHARE OF e) AS e;

    RETURN QUERY
    SELECT m.id, h.ref,
           CASE WHEN h.msg_id IS NULL THEN 'lost'
                WHEN ev.id IS NULL OR (ev.person_id IS NOT NULL AND pe.id IS NULL) THEN 'gone'
                WHEN pe.withdrawn THEN 'withdrawn'
                ELSE 'send' END
    FROM unnest(p_msg_ids) AS m(id)
    LEFT JOIN unnest(v_held, v_held_refs) AS h(msg_id, ref) ON h.msg_id = m.id
    LEFT JOIN unnest(v_events, v_event_people) AS ev(id, person_id) ON ev.id = h.ref
    LEFT JOIN unnest(v_people, v_people_withdrawn) AS pe(id, withdrawn) ON pe.id = ev.person_id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.capi_extend_leases(p_msg_ids bigint[], p_read_cts integer[], p_vt_s integer)
 RETURNS integer
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    WITH mine AS (
        SELECT q.msg_id FROM pgmq.q_meta_capi AS q
        JOIN unnest(p_msg_ids, p_read_cts) AS m(id, read_ct)
          ON q.msg_id = m.id AND q.read_ct = m.read_ct
        FOR UPDATE OF q SKIP LOCKED
    ), extended AS (
        UPDATE pgmq.q_meta_capi AS q
        SET vt = clock_timestamp() + make_interval(secs => p_vt_s)
        FROM mine WHERE q.msg_id = mine.msg_id
        RETURNING 1
    )
    SELECT count(*)::integer FROM extended
$function$;

REVOKE ALL ON FUNCTION shared._person_withdrawal_waits_for_delivery() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._person_withdrawal_waits_for_delivery() TO service_role;

REVOKE ALL ON FUNCTION shared.capi_claim_request(bigint[], integer[], integer) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.capi_claim_request(bigint[], integer[], integer) TO service_role;

REVOKE ALL ON FUNCTION shared.capi_extend_leases(bigint[], integer[], integer) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.capi_extend_leases(bigint[], integer[], integer) TO service_role;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.person'::regclass AND tgname = 'person_withdrawal_waits_for_delivery' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER person_withdrawal_waits_for_delivery BEFORE UPDATE OF consent_status ON shared.person FOR EACH ROW WHEN (((new.consent_status = ''withdrawn''::shared.consent_status) AND (old.consent_status <> ''withdrawn''::shared.consent_status))) EXECUTE FUNCTION shared._person_withdrawal_waits_for_delivery()') THEN
        CREATE OR REPLACE TRIGGER person_withdrawal_waits_for_delivery BEFORE UPDATE OF consent_status ON shared.person FOR EACH ROW WHEN (((new.consent_status = 'withdrawn'::shared.consent_status) AND (old.consent_status <> 'withdrawn'::shared.consent_status))) EXECUTE FUNCTION shared._person_withdrawal_waits_for_delivery();
    END IF;
END
$release$;

COMMENT ON FUNCTION shared.capi_claim_request(bigint[], integer[], integer) IS 'Lock one Conversions API request''s messages (if still leased by the caller), people and events until the transaction that sends and settles the request ends; one verdict per message: send, gone (erased), withdrawn (consent) or lost (the lease passed to another reader).';

COMMENT ON FUNCTION shared.capi_extend_leases(bigint[], integer[], integer) IS 'Extend the visibility timeout of messages the caller still leases (read_ct unchanged) to p_vt_s seconds from now, skipping those locked by a request in flight; returns how many.';

-- migrate:down
