-- migrate:up
-- gdp:release sources=sha256:df01001f03f4b060f4351777dbd5faeb4a9d08dc1573f3f120bedb45a5c05228

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._erase_by_meta_hash(p_email_sha256 text, p_phone_sha256 text)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_events bigint;
BEGIN
    DELETE FROM shared.event AS e
    WHERE e.meta_user_data <> '{}'::jsonb
      AND (e.meta_user_data -> 'em' @> to_jsonb(p_email_sha256)
           OR (p_phone_sha256 IS NOT NULL AND e.meta_user_data -> 'ph' @> to_jsonb(p_phone_sha256)));
    GET DIAGNOSTICS v_events = ROW_COUNT;
    RETURN v_events;
END
$function$;

CREATE OR REPLACE FUNCTION shared._event_check_references()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared._event_row_problem(p_event_id text, p_occurred_at timestamp with time zone, p_event_source_url text, p_client_user_agent text, p_properties jsonb)
 RETURNS text[]
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT CASE
        WHEN p_event_id ~ '[\x01-\x1f\x7f]'
            THEN ARRAY['event_id', format('must be 1 to %s characters, without control characters',
                                          shared.event_limit('event_id_length'))]
        WHEN p_occurred_at > statement_timestamp()
                             + make_interval(secs => shared.event_limit('future_seconds'))
            THEN ARRAY['occurred_at', format('must not be more than %s s in the future',
                                             shared.event_limit('future_seconds'))]
        WHEN length(p_event_source_url) > shared.event_limit('url_length')
             OR p_event_source_url !~ '^https?://\S+$'
            THEN ARRAY['event_source_url', format(
                'must be an http(s) URL without spaces, at most %s characters',
                shared.event_limit('url_length'))]
        WHEN length(p_client_user_agent) > shared.event_limit('url_length')
             OR p_client_user_agent ~ '[\x01-\x1f\x7f]'
            THEN ARRAY['client_user_agent', format(
                'must be at most %s characters, without control characters',
                shared.event_limit('url_length'))]
        -- A container nested deeper than the limit (the root object is level 1; {8} is
        -- property_depth: a path expression takes no parameter there).
        WHEN jsonb_path_exists(p_properties,
                               '$.**{8} ? (@.type() == "object" || @.type() == "array")')
            THEN ARRAY['properties', format('nested deeper than %s levels',
                                            shared.event_limit('property_depth'))]
        -- Only a document big enough to hold a too-long text is walked (a compressed one may be
        -- small on disk and long as text).
        WHEN pg_column_size(p_properties) > shared.event_limit('meta_text_length')
             OR pg_column_compression(p_properties) IS NOT NULL
            THEN shared._properties_text_problem(p_properties)
    END
$function$;

CREATE OR REPLACE FUNCTION shared._lock_people(p_ids uuid[])
 RETURNS uuid[]
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT coalesce(array_agg(l.id), '{}'::uuid[])
    FROM (SELECT p.id FROM shared.person AS p
          WHERE p.id = ANY (p_ids)
          ORDER BY p.id
          FOR KEY SHARE OF p) AS l
$function$;

CREATE OR REPLACE FUNCTION shared._meta_strip(p_value text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT btrim(btrim(btrim(p_value,
        U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000'),
        U&'\200B\200C\200D\200E\200F\2060\FEFF'),
        U&'\0009\000A\000B\000C\000D\001C\001D\001E\001F\0020\0085\00A0\1680\2000\2001\2002\2003\2004\2005\2006\2007\2008\2009\200A\2028\2029\202F\205F\3000')
$function$;

CREATE OR REPLACE FUNCTION shared._normalize_email(p_email text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    -- ASCII (as many bytes as characters), the common case: Python's strip() and lower() of
    -- ASCII text are these, and "C" lower-cases A-Z only whatever the database's locale.
    SELECT nullif(CASE
        WHEN octet_length(p_email) = length(p_email)
            THEN lower(btrim(p_email, E'\t\n\x0B\f\r\x1C\x1D\x1E\x1F ') COLLATE "C")
                 COLLATE "default"
        ELSE lower(normalize(shared._meta_strip(p_email), NFC) COLLATE "und-x-icu")
             COLLATE "default"
    END, '')
$function$;

CREATE OR REPLACE FUNCTION shared._properties_text_problem(p_properties jsonb)
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    WITH RECURSIVE walk(path, value, top) AS (
        SELECT 'properties.' || e.key, e.value, true
        FROM jsonb_each(CASE WHEN jsonb_typeof(p_properties) = 'object' THEN p_properties END) AS e
        UNION ALL
        SELECT w.path || CASE WHEN c.key IS NOT NULL THEN '.' || c.key
                              ELSE '[' || (c.ord - 1) || ']' END,
               c.value, false
        FROM walk AS w
        CROSS JOIN LATERAL (
            SELECT o.key, o.value, 0::bigint AS ord
            FROM jsonb_each(CASE WHEN jsonb_typeof(w.value) = 'object' THEN w.value END) AS o
            UNION ALL
            SELECT NULL, a.value, a.ord
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.value) = 'array' THEN w.value END)
                 WITH ORDINALITY AS a(value, ord)
        ) AS c
    ), limited AS (
        SELECT w.path, length(w.value #>> '{}') AS chars,
               CASE WHEN w.top AND w.path IN ('properties.content_name',
                         'properties.content_category', 'properties.order_id',
                         'properties.search_string', 'properties.status')
                    THEN shared.event_limit('meta_text_length')
                    ELSE shared.event_limit('property_text_length') END AS max_chars
        FROM walk AS w
        WHERE jsonb_typeof(w.value) = 'string'
    )
    SELECT ARRAY[l.path, format('must be at most %s characters', l.max_chars)]
    FROM limited AS l
    WHERE l.chars > l.max_chars
    ORDER BY l.path
    LIMIT 1
$function$;

CREATE OR REPLACE FUNCTION shared.erase_person(p_person_id uuid, p_requested_by text, p_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_person shared.person;
    v_erasure_id bigint;
BEGIN
    IF nullif(shared._trim(p_requested_by), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'requested_by', 'is required (who asked for the erasure)');
    END IF;
    DELETE FROM shared.person WHERE id = p_person_id RETURNING * INTO v_person;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;
    INSERT INTO shared.erasure (person_id, email_sha256, phone_sha256, requested_by, reason)
    VALUES (v_person.id,
            shared._sha256_hex(v_person.email),
            shared._sha256_hex(shared._meta_phone_digits(v_person.phone)),
            shared._trim(p_requested_by), p_reason)
    RETURNING id INTO v_erasure_id;
    PERFORM shared._erase_by_meta_hash(shared._sha256_hex(v_person.email),
                                       shared._sha256_hex(shared._meta_phone_digits(v_person.phone)));
    RETURN v_erasure_id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.event_limit(p_name text)
 RETURNS integer
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE p_name
        WHEN 'event_id_length' THEN 200          -- characters
        WHEN 'url_length' THEN 2048              -- event_source_url, client_user_agent
        WHEN 'meta_text_length' THEN 1000        -- content_name and Meta's other custom_data text
        WHEN 'property_text_length' THEN 8192    -- any other text in properties
        WHEN 'property_depth' THEN 8             -- nested objects and arrays in properties
        WHEN 'future_seconds' THEN 60            -- occurred_at ahead of now (clock skew)
    END
$function$;

CREATE OR REPLACE FUNCTION shared.ingest_events(p_product_id text, p_events jsonb, p_source text DEFAULT 'server'::text)
 RETURNS TABLE(ordinal integer, event_ref bigint, event_id text, person_id uuid, outcome text)
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared.meta_event_id(p_product_id text, p_event_id text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
AS $function$ SELECT p_product_id || ':' || p_event_id $function$;

REVOKE ALL ON FUNCTION shared._erase_by_meta_hash(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._erase_by_meta_hash(text, text) TO service_role;

REVOKE ALL ON FUNCTION shared._event_row_problem(text, timestamp with time zone, text, text, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._event_row_problem(text, timestamp with time zone, text, text, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._lock_people(uuid[]) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._lock_people(uuid[]) TO service_role;

REVOKE ALL ON FUNCTION shared._meta_strip(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._meta_strip(text) TO service_role;

REVOKE ALL ON FUNCTION shared._properties_text_problem(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._properties_text_problem(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.event_limit(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.event_limit(text) TO service_role;

REVOKE ALL ON FUNCTION shared.meta_event_id(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.meta_event_id(text, text) TO service_role;

COMMENT ON FUNCTION shared.event_limit(text) IS 'The limits every event path applies (SQL and HTTP alike): event_id_length, url_length, meta_text_length, property_text_length, property_depth, future_seconds.';

COMMENT ON FUNCTION shared.meta_event_id(text, text) IS 'The event id Meta receives for a product''s event: <product_id>:<event_id> (unique per pixel when products share one; the browser Pixel sends the same id, so Meta deduplicates the pair).';

-- migrate:down
