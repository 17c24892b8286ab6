-- migrate:up
-- gdp:release sources=sha256:465c5d199d165b369218271497cfa073868fd017de44f53fc78c3094b22177f2

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
$function$;

CREATE OR REPLACE FUNCTION shared._pii_property_keys()
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT ARRAY[
        'email', 'emailaddress', 'mail', 'em', 'phone', 'phonenumber', 'telephone', 'tel',
        'mobile', 'mobilephone', 'cellphone', 'ph', 'firstname', 'lastname', 'fn', 'ln',
        'givenname', 'familyname', 'surname', 'name', 'fullname', 'address', 'streetaddress',
        'street', 'homeaddress', 'postaladdress', 'billingaddress', 'shippingaddress',
        'dateofbirth', 'dob', 'birthday', 'birthdate', 'ssn', 'socialsecuritynumber',
        'ipaddress', 'clientipaddress']
$function$;

CREATE OR REPLACE FUNCTION shared._properties_pii_problem(p_properties jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
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
$function$;

REVOKE ALL ON FUNCTION shared._event_check_properties() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._event_check_properties() TO service_role;

REVOKE ALL ON FUNCTION shared._pii_property_keys() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._pii_property_keys() TO service_role;

REVOKE ALL ON FUNCTION shared._properties_pii_problem(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._properties_pii_problem(jsonb) TO service_role;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.event'::regclass AND tgname = 'event_check_properties' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER event_check_properties AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_properties()') THEN
        CREATE OR REPLACE TRIGGER event_check_properties AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_properties();
    END IF;
END
$release$;

COMMENT ON FUNCTION shared._properties_pii_problem(jsonb) IS 'Why event properties hold personal data (a key naming it, an email-like value), or NULL: the HTTP path''s rule, for every insert.';

-- migrate:down
