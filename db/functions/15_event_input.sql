/**
 * Event input: the id Meta sees, and the limits every event path shares (HTTP and SQL alike).
 */

/*
 * The event id sent to Meta (CAPI event_id, the Pixel's eventID): <product_id>:<event_id>.
 * shared.event keeps event_id unique per product, Meta deduplicates per pixel: namespacing keeps
 * two products' "order-1" on one pixel apart. workers/event_id.py and the browser snippet build
 * the same text (golden vectors: tests/golden/meta_event_id.json).
 */
CREATE OR REPLACE FUNCTION shared.meta_event_id(p_product_id text, p_event_id text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT p_product_id || ':' || p_event_id $$;

COMMENT ON FUNCTION shared.meta_event_id(text, text) IS
'The event id Meta receives for a product''s event: <product_id>:<event_id> (unique per pixel '
'when products share one; the browser Pixel sends the same id, so Meta deduplicates the pair).';

/*
 * Lock the people events are about to reference (FOR KEY SHARE, what a foreign key takes) and
 * return the ids that exist. The event -> person foreign key was dropped for speed; without a
 * lock, an erasure committing while an insert is in flight left an event (and its queue message)
 * for a person who no longer exists, and it was sent. With it, either the erasure waits for the
 * insert and then deletes the new event with the person, or the insert waits for the erasure and
 * finds the person gone. KEY SHARE never conflicts with another KEY SHARE (the CAPI claim takes
 * the same on people), only with a delete or a key change, so inserts do not queue behind each
 * other. Ids are locked in id order, as the CAPI claim does, so two lockers never deadlock.
 * SECURITY DEFINER: a row lock needs UPDATE privilege on shared.person, which writers of events
 * must not hold.
 */
CREATE OR REPLACE FUNCTION shared._lock_people(p_ids uuid[])
RETURNS uuid[]
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT coalesce(array_agg(l.id), '{}'::uuid[])
    FROM (SELECT p.id FROM shared.person AS p
          WHERE p.id = ANY (p_ids)
          ORDER BY p.id
          FOR KEY SHARE OF p) AS l
$$;

/*
 * The limits of an event, one definition for every path: SQL (a product's INSERT, ingest_events)
 * enforces them here, and the HTTP layer (edge_compat/models.py, validation.py) refuses the same
 * things before they reach SQL, with the same numbers (tests/test_event_limits.py compares them).
 */
CREATE OR REPLACE FUNCTION shared.event_limit(p_name text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE p_name
        WHEN 'event_id_length' THEN 200          -- characters
        WHEN 'url_length' THEN 2048              -- event_source_url, client_user_agent
        WHEN 'meta_text_length' THEN 1000        -- content_name and Meta's other custom_data text
        WHEN 'property_text_length' THEN 8192    -- any other text in properties
        WHEN 'property_depth' THEN 8             -- nested objects and arrays in properties
        WHEN 'future_seconds' THEN 60            -- occurred_at ahead of now (clock skew)
    END
$$;

COMMENT ON FUNCTION shared.event_limit(text) IS
'The limits every event path applies (SQL and HTTP alike): event_id_length, url_length, '
'meta_text_length, property_text_length, property_depth, future_seconds.';

/*
 * The first text in an event's properties longer than its limit, as (field, rule), or NULL:
 * Meta's custom_data text keys at meta_text_length, any other text at property_text_length.
 * Walks the document; only called for one big enough to hold such a text (_event_row_problem).
 */
CREATE OR REPLACE FUNCTION shared._properties_text_problem(p_properties jsonb)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
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
$$;

/*
 * The first limit an inserted event breaks, as (field, rule), or NULL. One expression, so the
 * statement trigger inlines it: the common event costs a few comparisons. Control characters in
 * event_id are refused as the HTTP path refuses them (NUL cannot reach SQL: text and jsonb refuse
 * it); a future occurred_at is refused, not clamped, as HTTP refuses a future event_time.
 */
CREATE OR REPLACE FUNCTION shared._event_row_problem(
    p_event_id text,
    p_occurred_at timestamptz,
    p_event_source_url text,
    p_client_user_agent text,
    p_properties jsonb
)
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
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
$$;
