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

-- Once per statement over the inserted rows; rows with empty properties cost nothing.
CREATE OR REPLACE FUNCTION shared._event_check_properties()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_bad record;
BEGIN
    SELECT n.event_id, p.problem INTO v_bad
    FROM new_events AS n
    CROSS JOIN LATERAL (SELECT shared._properties_pii_problem(n.properties) AS problem) AS p
    WHERE n.properties <> '{}'::jsonb AND p.problem IS NOT NULL
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
