/**
 * The conversion path to Meta: one trigger decides, the worker sends, outcomes are rows.
 *
 * Whether an event was inserted by a product through the Supabase client, by the edge function
 * or by the ingest endpoint, it lands once in shared.event and the statement-level trigger below
 * decides whether it goes to Meta. It enqueues ids (never PII) with one pgmq.send_batch per
 * statement, so a 1,000-row insert costs one enqueue call.
 */

/*
 * The one definition of "which conversion rule applies" to a product's event: the enabled rule
 * for that event name, the product's own before the any-product one (product_id NULL). One row
 * per (product, event name) that some rule covers; join on both. Every reader uses it: the
 * enqueue trigger below (Meta event name), the first-time rules fired from the features
 * (shared._event_features, 70_segments.sql), ingest_events (forward_as yields to a rule), the
 * CAPI worker's capi_load_events (value and currency properties) and
 * shared.gdp_conversions_daily (value).
 * A view, not a function: PostgreSQL folds it into each query (a few products times a few
 * rules, planned once per statement; bench/bench_conversion_rule.py), and it reads the rules
 * with its owner's rights, so the dashboard's role reads conversion values without reading
 * shared.conversion_rule. It replaces shared.conversion_rule_for, which nothing called.
 */
CREATE OR REPLACE VIEW shared.applicable_conversion_rule AS
SELECT DISTINCT ON (p.product_id, r.event_name)
       p.product_id, r.event_name, r.rule_id, r.product_id AS rule_product_id,
       r.meta_event_name, r.value_property, r.currency_property, r.default_currency,
       r.first_time_per_person
FROM shared.product AS p
JOIN shared.conversion_rule AS r
  ON r.enabled AND (r.product_id = p.product_id OR r.product_id IS NULL)
ORDER BY p.product_id, r.event_name, r.product_id NULLS LAST;
COMMENT ON VIEW shared.applicable_conversion_rule IS
    'The conversion rule that applies to each product''s event name: the enabled rule, the product''s own before the any-product one.';

CREATE OR REPLACE FUNCTION shared._event_enqueue_for_meta()
RETURNS trigger
LANGUAGE plpgsql
-- As the owner: a product inserting as gdp_product may not read people, rules or queues.
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_rules_on boolean;
    v_sent integer;
BEGIN
    -- GAP-001 is the door to Meta: with it off, events are stored and nothing is queued.
    IF NOT shared.is_enabled('META_CAPI_INGEST_ENABLED') THEN
        RETURN NULL;
    END IF;
    -- Events without an explicit Meta name go through the rules only when GAP-002 is on.
    v_rules_on := shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED');

    WITH decided AS (
        SELECT n.id,
               coalesce(n.meta_event_name, r.meta_event_name) AS meta_name,
               n.meta_event_name IS NULL AND coalesce(r.first_time_per_person, false)
                   AS first_time_only,
               n.person_id, n.event_name
        FROM new_events AS n
        LEFT JOIN shared.applicable_conversion_rule AS r
               ON v_rules_on AND n.meta_event_name IS NULL
              AND r.product_id = n.product_id AND r.event_name = n.event_name
    ), messages AS (
        SELECT array_agg(jsonb_build_object('event', d.id, 'meta_event_name', d.meta_name)
                         ORDER BY d.id) AS msgs
        FROM decided AS d
        -- First-time rules (first feature used) fire from the features, once per person:
        -- shared._fire_first_time_rules (db/functions/70_segments.sql).
        WHERE d.meta_name IS NOT NULL AND NOT d.first_time_only
    )
    SELECT count(*) INTO v_sent
    FROM messages AS m, LATERAL pgmq.send_batch('meta_capi', m.msgs) AS sent
    WHERE m.msgs IS NOT NULL;

    IF v_sent > 0 THEN
        -- Wakes idle workers at once (delivered on commit; one per transaction, not per row).
        PERFORM pg_notify('gdp_meta_capi', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER event_enqueue_for_meta
    AFTER INSERT ON shared.event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION shared._event_enqueue_for_meta();

/*
 * Record what happened to a batch of events and archive their queue messages, in one call and so
 * in one transaction: an outcome is never written without its message being settled, nor the
 * reverse. p_outcomes is a JSON array with one object per event (see record_capi_outcomes in
 * workers/db/queries/capi.sql); objects with a dead_letter_reason also become dead letters.
 */
CREATE OR REPLACE FUNCTION shared.record_capi_outcomes(
    p_outcomes jsonb,
    p_archive_msg_ids bigint[] DEFAULT '{}'
)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_rows integer;
BEGIN
    INSERT INTO shared.attribution_events (
        event_ref, product_id, event_id, meta_event_name, person_id, pixel_id, status, attempt,
        batch_size, match_keys, events_received, test_event_code, meta_fbtrace_id, error_code,
        error_subcode, error_message)
    SELECT o.event_ref, o.product_id, o.event_id, o.meta_event_name,
           -- The person may have been erased while the batch was in flight.
           (SELECT p.id FROM shared.person AS p WHERE p.id = o.person_id),
           o.pixel_id, o.status, coalesce(o.attempt, 1), o.batch_size,
           coalesce(o.match_keys, '{}'), o.events_received, o.test_event_code, o.fbtrace_id,
           o.error_code, o.error_subcode, left(o.error_message, 1000)
    FROM jsonb_to_recordset(p_outcomes) AS o(
        event_ref bigint, product_id text, event_id text, meta_event_name text, person_id uuid,
        pixel_id text, status text, attempt integer, batch_size integer, match_keys text[],
        events_received integer, test_event_code text, fbtrace_id text, error_code integer,
        error_subcode integer, error_message text, dead_letter_reason text);
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    INSERT INTO shared.capi_dead_letter (
        event_ref, product_id, event_id, meta_event_name, pixel_id, reason, error_code,
        error_subcode, error_message, attempts)
    SELECT o.event_ref, o.product_id, o.event_id, o.meta_event_name, o.pixel_id,
           o.dead_letter_reason, o.error_code, o.error_subcode, left(o.error_message, 1000),
           coalesce(o.attempt, 1)
    FROM jsonb_to_recordset(p_outcomes) AS o(
        event_ref bigint, product_id text, event_id text, meta_event_name text, pixel_id text,
        attempt integer, error_code integer, error_subcode integer, error_message text,
        dead_letter_reason text)
    WHERE o.dead_letter_reason IS NOT NULL;

    IF cardinality(p_archive_msg_ids) > 0 THEN
        PERFORM pgmq.archive('meta_capi', p_archive_msg_ids);
    END IF;
    RETURN v_rows;
END
$$;
COMMENT ON FUNCTION shared.record_capi_outcomes(jsonb, bigint[]) IS
    'Record the outcomes of a batch of Conversions API events (delivery records, and dead letters where a reason is given) and archive their queue messages, in one transaction.';

/*
 * The worker's check before one Conversions API request, in the transaction that sends it and
 * settles it (record_capi_outcomes): the request's messages, events and people are locked for
 * that transaction, so an erasure or a consent withdrawal either committed before this check
 * (the event is left out) or waits until the request is answered and settled (at most one
 * request: the Graph client's timeout). People first, then events: the order an erasure takes
 * them (a person, then their events), so the two never deadlock.
 *   - messages: FOR UPDATE, and only if read_ct is still the worker's (a lease that lapsed and was
 *     taken by another reader is theirs: 'lost'); pgmq.read skips locked rows, so no other
 *     worker can lease them while the request is in flight;
 *   - people: FOR KEY SHARE, which a DELETE (erasure) and a SELECT ... FOR UPDATE (record_consent,
 *     and the withdrawal trigger below) wait for; an ordinary update of a person does not;
 *   - events: FOR KEY SHARE, so an event deleted on its own (not through its person) waits too.
 * One row per message: 'send', 'gone' (the event or its person no longer exists), 'withdrawn'
 * (the person withdrew consent) or 'lost'.
 * SECURITY DEFINER: a row lock (even FOR KEY SHARE) needs UPDATE privilege on the table, which
 * the worker's role must not hold on people and events; this function is all it needs.
 */
CREATE OR REPLACE FUNCTION shared.capi_claim_request(
    p_msg_ids bigint[],
    p_read_cts integer[],
    p_lock_timeout_ms integer DEFAULT 5000
)
RETURNS TABLE (msg_id bigint, event_ref bigint, verdict text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;

COMMENT ON FUNCTION shared.capi_claim_request(bigint[], integer[], integer) IS
'Lock one Conversions API request''s messages (if still leased by the caller), people and events '
'until the transaction that sends and settles the request ends; one verdict per message: send, '
'gone (erased), withdrawn (consent) or lost (the lease passed to another reader).';

/*
 * Keep leased messages invisible a while longer (a batch waiting out a retry or a pause).
 * SKIP LOCKED: a message locked by a request in flight is already safe from other readers, and
 * the keeper never waits on it (nor deadlocks with it). Only messages still leased by the caller
 * (read_ct unchanged) are extended; returns how many were. Not pgmq.set_vt: it would wait on a
 * row locked by a request in flight (up to the Graph client's timeout) and could deadlock with it.
 * SECURITY DEFINER for the same reason as capi_claim_request (the queue table's rows are locked).
 */
CREATE OR REPLACE FUNCTION shared.capi_extend_leases(
    p_msg_ids bigint[],
    p_read_cts integer[],
    p_vt_s integer
)
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;

COMMENT ON FUNCTION shared.capi_extend_leases(bigint[], integer[], integer) IS
'Extend the visibility timeout of messages the caller still leases (read_ct unchanged) to '
'p_vt_s seconds from now, skipping those locked by a request in flight; returns how many.';

/*
 * A consent withdrawal written as a plain UPDATE waits, like record_consent (SELECT ... FOR
 * UPDATE), for a Conversions API request in flight for the person: the row lock is raised to
 * FOR UPDATE, which conflicts with the worker's FOR KEY SHARE (capi_claim_request). Without it,
 * an UPDATE takes FOR NO KEY UPDATE, which does not wait, and the request would go out after
 * the withdrawal committed.
 */
CREATE OR REPLACE FUNCTION shared._person_withdrawal_waits_for_delivery()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM shared.person AS p WHERE p.id = OLD.id FOR UPDATE;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER person_withdrawal_waits_for_delivery
    BEFORE UPDATE OF consent_status ON shared.person
    FOR EACH ROW
    WHEN (NEW.consent_status = 'withdrawn' AND OLD.consent_status <> 'withdrawn')
    EXECUTE FUNCTION shared._person_withdrawal_waits_for_delivery();

/*
 * Delivery status of one event, for GET /api/v1/meta/event/{event_id}: the latest outcome, or
 * 'queued'/'retrying' while its message waits, or 'stored' when nothing sends it to Meta
 * (no rule, or the flags were off when it arrived). No row: no such event.
 */
CREATE OR REPLACE FUNCTION shared.capi_event_status(p_product_id text, p_event_id text)
RETURNS TABLE (event_id text, product_id text, received_at timestamptz, meta_event_name text,
               status text, attempt integer, pixel_id text, events_received integer,
               fbtrace_id text, error_code integer, error_subcode integer, error_message text,
               test_event_code text, updated_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT e.event_id, e.product_id, e.received_at,
           coalesce(a.meta_event_name, q.message ->> 'meta_event_name', e.meta_event_name),
           coalesce(a.status, CASE WHEN q.msg_id IS NULL THEN 'stored'
                                   WHEN q.read_ct > 0 THEN 'retrying' ELSE 'queued' END),
           coalesce(a.attempt, q.read_ct), a.pixel_id, a.events_received, a.meta_fbtrace_id,
           a.error_code, a.error_subcode, a.error_message, a.test_event_code,
           coalesce(a.created_at, q.enqueued_at, e.received_at)
    FROM shared.event AS e
    LEFT JOIN LATERAL (
        SELECT * FROM shared.attribution_events AS ae
        WHERE ae.product_id = e.product_id AND ae.event_id = e.event_id
        ORDER BY ae.id DESC LIMIT 1
    ) AS a ON true
    LEFT JOIN LATERAL (
        SELECT qm.msg_id, qm.read_ct, qm.enqueued_at, qm.message FROM pgmq.q_meta_capi AS qm
        WHERE (qm.message ->> 'event')::bigint = e.id
        ORDER BY qm.msg_id DESC LIMIT 1
    ) AS q ON a.status IS NULL OR a.status IN ('retrying', 'held_auth')
    WHERE e.product_id = p_product_id AND e.event_id = p_event_id
$$;
COMMENT ON FUNCTION shared.capi_event_status(text, text) IS
    'Delivery status of one product event (GET /api/v1/meta/event/{event_id}): the latest outcome, queued or retrying while its message waits, or stored when nothing sends it to Meta.';

/*
 * Put dead letters back on the queue with their original event (and so their original
 * event_id, which lets Meta deduplicate). The worker re-normalizes from the current person and
 * configuration, so a fixed pixel id or token takes effect. SECURITY DEFINER: the admin CLI
 * (gdp dlq replay) replays without any write on the dead letters or the queue itself.
 */
CREATE OR REPLACE FUNCTION shared.replay_dead_letters(p_ids bigint[], p_actor text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_msgs jsonb[];
BEGIN
    WITH picked AS (
        UPDATE shared.capi_dead_letter AS d
        SET replayed_at = now(), replayed_by = v_actor
        WHERE d.replayed_at IS NULL AND (p_ids IS NULL OR d.id = ANY (p_ids))
          AND EXISTS (SELECT 1 FROM shared.event AS e WHERE e.id = d.event_ref)
        RETURNING d.event_ref, d.meta_event_name
    )
    SELECT array_agg(jsonb_build_object('event', event_ref, 'meta_event_name', meta_event_name,
                                        'replay', true) ORDER BY event_ref)
    INTO v_msgs FROM picked;
    IF v_msgs IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pgmq.send_batch('meta_capi', v_msgs);
    PERFORM pg_notify('gdp_meta_capi', '');
    RETURN cardinality(v_msgs);
END
$$;
COMMENT ON FUNCTION shared.replay_dead_letters(bigint[], text) IS
    'Put dead letters (all pending ones when p_ids is NULL) back on the meta_capi queue with their original event and event_id, so Meta deduplicates; returns how many were queued.';

CREATE OR REPLACE FUNCTION shared.capi_set_breaker(
    p_pixel_id text,
    p_breaker text,
    p_error_code integer DEFAULT NULL,
    p_error_message text DEFAULT NULL
)
RETURNS shared.capi_pixel_state
LANGUAGE sql
AS $$
    INSERT INTO shared.capi_pixel_state AS s
        (pixel_id, breaker, opened_at, last_probe_at, last_error_code, last_error_message)
    VALUES (p_pixel_id, p_breaker, CASE WHEN p_breaker = 'open' THEN now() END, now(),
            p_error_code, left(p_error_message, 500))
    ON CONFLICT (pixel_id) DO UPDATE SET
        breaker = excluded.breaker,
        opened_at = CASE WHEN excluded.breaker = 'open'
                         THEN coalesce(CASE WHEN s.breaker = 'open' THEN s.opened_at END, now()) END,
        last_probe_at = now(),
        last_error_code = coalesce(excluded.last_error_code, s.last_error_code),
        last_error_message = coalesce(excluded.last_error_message, s.last_error_message),
        updated_at = now()
    RETURNING *
$$;
COMMENT ON FUNCTION shared.capi_set_breaker(text, text, integer, text) IS
    'Record a pixel''s circuit-breaker state (open with Meta''s error, or closed) for every CAPI worker to read.';

/*
 * Store events from the HTTP endpoints in one call: upsert the people their raw PII describes
 * (the only place raw PII goes), then insert the events idempotently per (product, event_id).
 * Each element of p_events:
 *   {event_id, event_name, meta_event_name?, occurred_at, person?: {upsert_people fields},
 *    person_id?, properties?, action_source?, event_source_url?, client_ip_address?,
 *    client_user_agent?, fbp?, fbc?, meta_user_data?}
 * Returns one row per element: accepted (new), duplicate (resend of a stored event, with the
 * stored event's ref) or unknown_person (person_id names nobody; not stored).
 */
-- Whether the rules table (GAP-002, when its flag is on) decides this product event's Meta name.
CREATE OR REPLACE FUNCTION shared._conversion_rule_applies(p_product_id text, p_event_name text)
RETURNS boolean
LANGUAGE sql STABLE
AS $$
    SELECT shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') AND EXISTS (
        SELECT 1 FROM shared.applicable_conversion_rule AS r
        WHERE r.product_id = p_product_id AND r.event_name = p_event_name)
$$;

CREATE OR REPLACE FUNCTION shared.ingest_events(
    p_product_id text,
    p_events jsonb,
    p_source text DEFAULT 'server'
)
RETURNS TABLE (ordinal integer, event_ref bigint, event_id text, person_id uuid, outcome text)
LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    v_people jsonb;
    v_person_ords integer[];
    v_person_ids uuid[];
BEGIN
    PERFORM 1 FROM shared.product AS pr WHERE pr.product_id = p_product_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD400', 'product', format('%s is not a known product', p_product_id));
    END IF;
    IF p_events IS NULL OR jsonb_typeof(p_events) <> 'array' THEN
        PERFORM shared._raise('GD400', 'events', 'must be a JSON array');
    END IF;

    SELECT jsonb_agg(e.v -> 'person' ORDER BY e.ord), array_agg(e.ord::integer ORDER BY e.ord)
    INTO v_people, v_person_ords
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(v, ord)
    WHERE jsonb_typeof(e.v -> 'person') = 'object';
    IF v_people IS NOT NULL THEN
        SELECT array_agg(u.person_id ORDER BY u.ordinal) INTO v_person_ids
        FROM shared.upsert_people(v_people) AS u;
    END IF;

    -- Lock the people named by id before reading them (an erasure in flight either finishes
    -- first, and they are unknown_person, or waits for this transaction).
    PERFORM shared._lock_people(ARRAY(
        SELECT (e.v ->> 'person_id')::uuid FROM jsonb_array_elements(p_events) AS e(v)
        WHERE jsonb_typeof(e.v -> 'person') IS DISTINCT FROM 'object'
          AND e.v ->> 'person_id' IS NOT NULL));

    -- One statement, no temp table: a busy endpoint must not churn the catalog.
    RETURN QUERY
    WITH src AS (
        SELECT e.ord::integer AS ord, e.v, e.v ->> 'event_id' AS eid,
               coalesce(v_person_ids[array_position(v_person_ords, e.ord::integer)],
                        (e.v ->> 'person_id')::uuid) AS pid
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(v, ord)
    ), checked AS (
        -- Probed per row through the primary key (LATERAL … LIMIT 1 is never flattened into a
        -- join): a join or hashed subplan would read all of shared.person on every call, and
        -- the planner picks one whenever the table's statistics are older than its growth.
        SELECT s.*, (s.pid IS NULL OR found.pid IS NOT NULL) AS known,
               min(s.ord) OVER (PARTITION BY s.eid) AS first_ord
        FROM src AS s
        LEFT JOIN LATERAL (SELECT p.id AS pid FROM shared.person AS p
                           WHERE s.pid IS NOT NULL AND p.id = s.pid LIMIT 1) AS found ON true
    ), inserted AS (
        INSERT INTO shared.event (
            product_id, event_id, event_name, meta_event_name, person_id, occurred_at, source,
            properties, action_source, event_source_url, client_ip_address, client_user_agent,
            fbp, fbc, meta_user_data)
        SELECT p_product_id, c.eid, c.v ->> 'event_name',
               -- forward_as (track-conversion with forwarding on): that name unless a rule maps
               -- the event, so the rules table decides for this path too.
               coalesce(c.v ->> 'meta_event_name',
                        CASE WHEN c.v ? 'forward_as' AND NOT shared._conversion_rule_applies(
                                      p_product_id, c.v ->> 'event_name')
                             THEN c.v ->> 'forward_as' END),
               c.pid,
               coalesce((c.v ->> 'occurred_at')::timestamptz, now()), p_source,
               coalesce(c.v -> 'properties', '{}'::jsonb), c.v ->> 'action_source',
               c.v ->> 'event_source_url', (c.v ->> 'client_ip_address')::inet,
               c.v ->> 'client_user_agent', c.v ->> 'fbp', c.v ->> 'fbc',
               coalesce(c.v -> 'meta_user_data', '{}'::jsonb)
        FROM checked AS c
        WHERE c.known
        ORDER BY c.ord
        ON CONFLICT ON CONSTRAINT event_product_id_event_id_key DO NOTHING
        RETURNING id, event_id, person_id
    )
    SELECT c.ord, coalesce(ins.id, ev.id), c.eid, coalesce(ins.person_id, ev.person_id, c.pid),
           CASE WHEN NOT c.known THEN 'unknown_person'
                WHEN ins.id IS NOT NULL AND c.ord = c.first_ord THEN 'accepted'
                ELSE 'duplicate' END
    FROM checked AS c
    LEFT JOIN inserted AS ins ON ins.event_id = c.eid
    -- The snapshot predates this statement's insert: this finds only events stored before.
    -- Per row through the unique index, for resends only (a plain join hashed every event of
    -- the product on each call: cost grew with the table).
    LEFT JOIN LATERAL (SELECT ev.id, ev.person_id FROM shared.event AS ev
                       WHERE c.known AND ins.id IS NULL
                         AND ev.product_id = p_product_id AND ev.event_id = c.eid
                       LIMIT 1) AS ev ON true
    ORDER BY c.ord;
END
$$;
COMMENT ON FUNCTION shared.ingest_events(text, jsonb, text) IS
    'Store events from the HTTP endpoints in one call: upsert the people their raw PII describes, insert the events idempotently per (product, event_id); one row per element: accepted, duplicate or unknown_person.';

-- A SHA-256 hex digest: 64 characters, all hex digits (translate, not a regular expression:
-- this runs for every entry of every inserted event).
CREATE OR REPLACE FUNCTION shared._is_sha256_hex(p_text text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT length(p_text) = 64 AND translate(p_text, '0123456789abcdefABCDEF', '') = '' $$;

CREATE OR REPLACE FUNCTION shared._all_sha256_hex(p_values jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT jsonb_array_length(p_values) > 0 AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_values) AS v(item)
        WHERE jsonb_typeof(v.item) <> 'string' OR NOT shared._is_sha256_hex(v.item #>> '{}'))
$$;

-- What Meta's user_data key is: 'hashed' (sent as SHA-256), 'id' (sent as is), 'column' (a
-- browser signal with its own shared.event column), or NULL (not a user_data key). The one list
-- of keys in SQL; workers/meta/_rules.py has Meta's rules for each.
CREATE OR REPLACE FUNCTION shared._meta_user_data_key_kind(p_key text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_key IN ('em', 'ph', 'fn', 'ln', 'ge', 'db', 'ct', 'st', 'zp', 'country',
                       'external_id') THEN 'hashed'
        WHEN p_key IN ('subscription_id', 'fb_login_id', 'lead_id', 'anon_id', 'madid', 'page_id',
                       'page_scoped_user_id', 'ctwa_clid', 'ig_account_id', 'ig_sid') THEN 'id'
        WHEN p_key IN ('client_ip_address', 'client_user_agent', 'fbc', 'fbp') THEN 'column'
    END
$$;

-- Whether one meta_user_data entry is Meta-ready (one expression, so the planner inlines it).
CREATE OR REPLACE FUNCTION shared._meta_user_data_entry_ok(p_key text, p_value jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE shared._meta_user_data_key_kind(p_key)
        WHEN 'hashed' THEN
            CASE jsonb_typeof(p_value)
                WHEN 'string' THEN shared._is_sha256_hex(p_value #>> '{}')
                WHEN 'array' THEN shared._all_sha256_hex(p_value)
                ELSE false
            END
        WHEN 'id' THEN jsonb_typeof(p_value) = 'string'
        ELSE false
    END
$$;

/*
 * What is wrong with an event's meta_user_data, or NULL. It holds Meta-ready keys only: the keys
 * Meta wants hashed must already be SHA-256 hex digests (raw PII lives in shared.person alone,
 * DESIGN invariant 3), and ids Meta takes unhashed must be strings. Browser signals have their own
 * columns. The worker normalizes these values again before sending; this keeps raw PII out of
 * the table whichever way a product writes to it. Only called for a row already found wanting.
 */
CREATE OR REPLACE FUNCTION shared._meta_user_data_problem(p_user_data jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE shared._meta_user_data_key_kind(f.key)
        WHEN 'hashed' THEN format('%s must be a SHA-256 hex digest (or a list of them): raw '
                                  'values go in user_data of POST /api/v1/meta/event, which '
                                  'hashes them', f.key)
        WHEN 'id' THEN format('%s must be a string', f.key)
        WHEN 'column' THEN format('%s has its own column on shared.event', f.key)
        -- The key is named only when it looks like a key: a stray email must not be echoed.
        ELSE CASE WHEN f.key ~ '^[a-z][a-z0-9_]{0,39}$'
                  THEN format('%s is not a Meta user_data key', f.key)
                  ELSE 'a key that is not a Meta user_data key' END
    END
    FROM jsonb_each(CASE WHEN jsonb_typeof(p_user_data) = 'object' THEN p_user_data
                         ELSE '{}'::jsonb END) AS f
    WHERE NOT shared._meta_user_data_entry_ok(f.key, f.value)
    ORDER BY f.key
    LIMIT 1
$$;

/*
 * References of inserted events, checked once per statement (the foreign keys' job, set-based):
 * a product that does not exist or a person that does not exist fails the whole statement; so
 * does meta_user_data that is not Meta-ready (see _meta_user_data_problem).
 */
CREATE OR REPLACE FUNCTION shared._event_check_references()
RETURNS trigger
LANGUAGE plpgsql
-- As the owner: a product inserting as gdp_product may not read people, rules or queues.
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_bad record;
    v_people uuid[];
BEGIN
    SELECT n.product_id INTO v_bad FROM new_events AS n
    WHERE NOT EXISTS (SELECT 1 FROM shared.product AS p WHERE p.product_id = n.product_id)
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'product_id',
            format('%s is not a known product', v_bad.product_id));
    END IF;
    -- The people, locked until commit as a foreign key would (shared._lock_people).
    v_people := shared._lock_people(ARRAY(
        SELECT DISTINCT n.person_id FROM new_events AS n WHERE n.person_id IS NOT NULL));
    SELECT n.person_id, n.event_id INTO v_bad FROM new_events AS n
    WHERE n.person_id IS NOT NULL AND n.person_id <> ALL (v_people)
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'person_id',
            format('no person %s (event %s)', v_bad.person_id, v_bad.event_id));
    END IF;
    -- The limits every path shares (shared._event_row_problem, inlined: a few comparisons).
    SELECT x.problem INTO v_bad FROM new_events AS n
    CROSS JOIN LATERAL (SELECT shared._event_row_problem(n.event_id, n.occurred_at,
        n.event_source_url, n.client_user_agent, n.properties) AS problem) AS x
    WHERE x.problem IS NOT NULL
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', v_bad.problem[1], v_bad.problem[2]);
    END IF;
    -- One pass over every entry of every row (a function call per row cost ~7 us an event).
    SELECT n.event_id, n.meta_user_data INTO v_bad
    FROM new_events AS n
    CROSS JOIN LATERAL jsonb_each(n.meta_user_data) AS f
    WHERE n.meta_user_data <> '{}'::jsonb
      AND NOT shared._meta_user_data_entry_ok(f.key, f.value)
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'meta_user_data', format('%s (event %s)',
            shared._meta_user_data_problem(v_bad.meta_user_data), v_bad.event_id));
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER event_check_references
    AFTER INSERT ON shared.event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_references();

CREATE OR REPLACE FUNCTION shared._event_check_references_on_update()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_problem text;
BEGIN
    IF NEW.product_id IS DISTINCT FROM OLD.product_id
       AND NOT EXISTS (SELECT 1 FROM shared.product AS p WHERE p.product_id = NEW.product_id) THEN
        PERFORM shared._raise('GD400', 'product_id',
            format('%s is not a known product', NEW.product_id));
    END IF;
    IF NEW.person_id IS DISTINCT FROM OLD.person_id AND NEW.person_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM shared.person AS p WHERE p.id = NEW.person_id) THEN
        PERFORM shared._raise('GD400', 'person_id', format('no person %s', NEW.person_id));
    END IF;
    IF NEW.meta_user_data IS DISTINCT FROM OLD.meta_user_data THEN
        v_problem := shared._meta_user_data_problem(NEW.meta_user_data);
        IF v_problem IS NOT NULL THEN
            PERFORM shared._raise('GD400', 'meta_user_data',
                format('%s (event %s)', v_problem, NEW.event_id));
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER event_check_references_on_update
    BEFORE UPDATE OF product_id, person_id, meta_user_data ON shared.event
    FOR EACH ROW EXECUTE FUNCTION shared._event_check_references_on_update();

CREATE OR REPLACE FUNCTION shared._product_before_delete()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM shared.event AS e WHERE e.product_id = OLD.product_id) THEN
        PERFORM shared._raise('GD409', 'product_id',
            format('%s has events; it cannot be deleted', OLD.product_id));
    END IF;
    RETURN OLD;
END
$$;

CREATE OR REPLACE TRIGGER product_before_delete
    BEFORE DELETE ON shared.product
    FOR EACH ROW EXECUTE FUNCTION shared._product_before_delete();
