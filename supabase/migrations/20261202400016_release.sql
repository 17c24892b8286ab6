-- migrate:up
-- gdp:release sources=sha256:909a0790fa446297b418406cb166791d834a063163c89299d9ba5657d7f62b95

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._event_row_problem(p_event_id text, p_occurred_at timestamp with time zone, p_event_source_url text, p_client_user_agent text, p_properties jsonb)
 RETURNS text[]
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT CASE
        -- One scan for control characters in the three texts (rarely true; then which one).
        WHEN concat(p_event_id, p_event_source_url, p_client_user_agent) ~ '[\x01-\x1f\x7f]'
            THEN CASE
                WHEN p_event_id ~ '[\x01-\x1f\x7f]'
                    THEN ARRAY['event_id', format(
                        'must be 1 to %s characters, without control characters',
                        shared.event_limit('event_id_length'))]
                WHEN p_event_source_url ~ '[\x01-\x1f\x7f]'
                    THEN ARRAY['event_source_url', format(
                        'must be an http(s) URL without spaces, at most %s characters',
                        shared.event_limit('url_length'))]
                ELSE ARRAY['client_user_agent', format(
                        'must be at most %s characters, without control characters',
                        shared.event_limit('url_length'))]
            END
        WHEN p_occurred_at > statement_timestamp()
                             + make_interval(secs => shared.event_limit('future_seconds'))
            THEN ARRAY['occurred_at', format('must not be more than %s s in the future',
                                             shared.event_limit('future_seconds'))]
        -- ^https?://\S+$ as the HTTP path has it, without a regular expression (the hot path):
        -- control characters are refused above, so only the space is left to look for.
        WHEN length(p_event_source_url) > shared.event_limit('url_length')
             OR NOT (p_event_source_url LIKE 'https://_%' OR p_event_source_url LIKE 'http://_%')
             OR strpos(p_event_source_url, ' ') > 0
            THEN ARRAY['event_source_url', format(
                'must be an http(s) URL without spaces, at most %s characters',
                shared.event_limit('url_length'))]
        WHEN length(p_client_user_agent) > shared.event_limit('url_length')
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

GRANT EXECUTE ON FUNCTION shared._lock_people(uuid[]) TO gdp_api;

-- migrate:down
