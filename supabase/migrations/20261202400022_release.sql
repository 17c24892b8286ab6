-- migrate:up
-- gdp:release sources=sha256:be214f4b93a570fbd8587901f8155182020db064d7a2871435d63f07aefe9ba7

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._event_check_properties()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_bytes bigint;
    v_text text;
    v_bad record;
BEGIN
    -- gdp serve (gdp_api) checked these with the same rule (edge_compat/validation.py) before
    -- calling ingest_events; checking again would only cost its ingest rate.
    IF current_setting('role', true) = 'gdp_api' THEN
        RETURN NULL;
    END IF;
    -- Stored size bounds the joined text (a few times it at most for uncompressed jsonb): joined
    -- up to 8 MB, so a bulk load of millions of rows never builds a string near the 1 GB limit.
    SELECT sum(pg_column_size(n.properties)) INTO v_bytes FROM new_events AS n;
    IF v_bytes <= 8 * 1024 * 1024 THEN
        SELECT string_agg(n.properties::text, E'\n') INTO v_text
        FROM new_events AS n
        WHERE n.properties <> '{}'::jsonb;
        IF v_text IS NULL OR v_text !~* shared._pii_properties_text_pattern() THEN
            RETURN NULL;
        END IF;
    END IF;
    WITH folded AS MATERIALIZED (
        SELECT n.event_id, n.properties, translate(lower(n.properties::text), ' _-.', '') AS t
        FROM new_events AS n
        WHERE n.properties <> '{}'::jsonb
    ), suspect AS (
        SELECT f.event_id, f.properties FROM folded AS f
        WHERE strpos(f.t, '@') > 0 OR strpos(f.t, '%40') > 0 OR strpos(f.t, chr(92)) > 0
           OR strpos(f.t, 'mail') > 0 OR strpos(f.t, 'phone') > 0 OR strpos(f.t, 'name') > 0
           OR strpos(f.t, 'address') > 0 OR strpos(f.t, 'mobile') > 0
           OR strpos(f.t, 'street') > 0 OR strpos(f.t, 'birth') > 0 OR strpos(f.t, 'ssn') > 0
           OR strpos(f.t, 'social') > 0 OR strpos(f.t, '"em":') > 0 OR strpos(f.t, '"ph":') > 0
           OR strpos(f.t, '"fn":') > 0 OR strpos(f.t, '"ln":') > 0 OR strpos(f.t, '"tel":') > 0
           OR strpos(f.t, '"dob":') > 0
    )
    SELECT s.event_id, p.problem INTO v_bad
    FROM suspect AS s
    CROSS JOIN LATERAL (SELECT shared._properties_pii_problem(s.properties) AS problem) AS p
    WHERE p.problem IS NOT NULL
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'properties',
            format('%s (event %s)', v_bad.problem, v_bad.event_id));
    END IF;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared._pii_properties_text_pattern()
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT '[\\@]|%40|"[-_. ]*(' || string_agg(k.letters, '|') || ')[-_. ]*":'
    FROM (
        SELECT (SELECT string_agg(CASE c WHEN 'i' THEN '[iİ]' ELSE c END, '[-_. ]*')
                FROM regexp_split_to_table(key, '') AS c) AS letters
        FROM unnest(shared._pii_property_keys()) AS key
    ) AS k
$function$;

CREATE OR REPLACE FUNCTION shared._service_role_only(p_table text, p_policy text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    EXECUTE format('REVOKE ALL ON shared.%I FROM PUBLIC, anon, authenticated', p_table);
    EXECUTE format('ALTER TABLE shared.%I ENABLE ROW LEVEL SECURITY', p_table);
    IF p_policy <> 'Only the service role can read or write ' || p_table THEN
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I',
                       'Only the service role can read or write ' || p_table, p_table);
    END IF;
    EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I', p_policy, p_table);
    EXECUTE format('CREATE POLICY %I ON shared.%I FOR ALL TO service_role USING (true) '
                   'WITH CHECK (true)', p_policy, p_table);
END
$function$;

REVOKE ALL ON FUNCTION shared._pii_properties_text_pattern() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._pii_properties_text_pattern() TO service_role;

REVOKE ALL ON FUNCTION shared._service_role_only(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._service_role_only(text, text) TO service_role;

-- migrate:down
