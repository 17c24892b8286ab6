/**
 * Event properties carry no personal data, whichever path the event takes.
 *
 * The HTTP endpoints refuse personal data in properties (edge_compat/validation.py,
 * check_properties); this is the same rule for every INSERT into shared.event (the Supabase
 * client, SQL, the ingest function), so a product cannot put raw PII where the pipeline does not
 * expect it: raw PII lives only in shared.person, Meta's match keys in hashed meta_user_data.
 * The rule, as on the HTTP path: no key that names personal data (compared without case, spaces,
 * '-', '_' or '.'), at any depth, and no string value that looks like an email address (also
 * URL-encoded, as in a query string).
 */

-- Keys that say "personal data", folded; the list edge_compat/validation.py (_PII_KEYS) uses.
CREATE OR REPLACE FUNCTION shared._pii_property_keys()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY[
        'email', 'emailaddress', 'mail', 'em', 'phone', 'phonenumber', 'telephone', 'tel',
        'mobile', 'mobilephone', 'cellphone', 'ph', 'firstname', 'lastname', 'fn', 'ln',
        'givenname', 'familyname', 'surname', 'name', 'fullname', 'address', 'streetaddress',
        'street', 'homeaddress', 'postaladdress', 'billingaddress', 'shippingaddress',
        'dateofbirth', 'dob', 'birthday', 'birthdate', 'ssn', 'socialsecuritynumber',
        'ipaddress', 'clientipaddress']
$$;

/*
 * Why these properties break the rule (naming the key, never the value), or NULL. One pass of
 * jsonpath over keys at any depth, one over string values (both in C).
 */
CREATE OR REPLACE FUNCTION shared._properties_pii_problem(p_properties jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN p_properties IS NULL OR jsonb_typeof(p_properties) <> 'object'
             OR p_properties = '{}'::jsonb THEN NULL
        ELSE coalesce(
            (SELECT format('key %s names personal data: it belongs in the person '
                           '(upsert_people) or, hashed, in meta_user_data', k.key #>> '{}')
             FROM jsonb_path_query(p_properties,
                                   'strict $.** ? (@.type() == "object").keyvalue().key') AS k(key)
             WHERE translate(lower(k.key #>> '{}'), E' \t\n\r\f\v_-.', '')
                   = ANY (shared._pii_property_keys())
             LIMIT 1),
            CASE WHEN p_properties @? ('strict $.** ? (@.type() == "string" && @ like_regex '
                                       '"[^\\s@<>()\\[\\],;:\"]+(@|%40)[^\\s@<>()\\[\\],;:\"]+\\.[a-zA-Z]{2,}")')::jsonpath
                 THEN 'a value looks like an email address: personal data belongs in the person '
                      '(upsert_people) or, hashed, in meta_user_data' END)
    END
$$;

COMMENT ON FUNCTION shared._properties_pii_problem(jsonb) IS
    'Why event properties hold personal data (a key naming it, an email-like value), or NULL: the HTTP path''s rule, for every insert.';

/*
 * A regular expression that every properties text holding a key the rule refuses matches: such a
 * key, whole ('"', the key, '":' as jsonb prints it), compared without ASCII case, with any of
 * ' _-.' between its letters, as the rule folds it; plus '@', '%40' (every email-like value has
 * one) and a backslash (jsonb prints an escaped character, such as a tab the rule folds away, as
 * one). lower() also maps U+0130 (dotted capital I) to 'i', so 'i' stands for both; U+212A
 * (Kelvin) folds to 'k', which no key has; no other character lowers to an ASCII letter
 * (tests/test_event_properties_sql.py checks that). Built from _pii_property_keys() so the list
 * stays in one place; IMMUTABLE, so plpgsql folds it into the trigger's cached plan once.
 */
CREATE OR REPLACE FUNCTION shared._pii_properties_text_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT '[\\@]|%40|"[-_. ]*(' || string_agg(k.letters, '|') || ')[-_. ]*":'
    FROM (
        SELECT (SELECT string_agg(CASE c WHEN 'i' THEN '[iİ]' ELSE c END, '[-_. ]*')
                FROM regexp_split_to_table(key, '') AS c) AS letters
        FROM unnest(shared._pii_property_keys()) AS key
    ) AS k
$$;

/*
 * Once per statement over the inserted rows. The exact rule (above) costs about 12 us a row, a
 * regular expression per row as much (most of it is setting the matcher up), so the common
 * case, no row that might break the rule, is decided by one match of the pattern (above) over
 * the text of all the statement's properties joined: about 1 us of backend CPU per event with
 * typical properties (bench/bench_identity.py), most of it printing the jsonb. When that text
 * matches (or the statement's properties are too large to join in memory), each row gets a
 * cheap test on its own text (lower-cased, separators removed: the same keys, '@', '%40' or a
 * backslash), and only the rows it flags get the exact rule, so the result is the rule's
 * (tests/test_event_properties_sql.py checks both against the HTTP rule).
 */
CREATE OR REPLACE FUNCTION shared._event_check_properties()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;

CREATE OR REPLACE TRIGGER event_check_properties
    AFTER INSERT ON shared.event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_properties();
