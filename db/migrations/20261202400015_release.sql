-- migrate:up
-- gdp:release sources=sha256:0f0879b18c881af6b4ade0a69bc63058111a78efe5ef441bcba8aee03b0fe597

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
    -- gdp serve (gdp_api) checked these with the same rule (edge_compat/validation.py) before
    -- calling ingest_events; checking again would only cost its ingest rate.
    IF current_setting('role', true) = 'gdp_api' THEN
        RETURN NULL;
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

CREATE OR REPLACE FUNCTION shared._event_check_references()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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

CREATE OR REPLACE FUNCTION shared._event_features()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_msgs jsonb[];
BEGIN
    -- One row per statement, whatever its size: the evaluation folds these events into the
    -- daily features (shared._fold_new_events), so the insert pays for an array, not an upsert.
    INSERT INTO shared.segment_change_log (event_ids)
    SELECT array_agg(n.id) FROM new_events AS n WHERE n.person_id IS NOT NULL
    HAVING count(*) > 0;

    -- The first-time rows of the PRD's trigger table (conversion rules with
    -- first_time_per_person, e.g. "first feature used" -> CompleteRegistration), fired from the
    -- features rather than from one event: for each person and rule, the statement's first
    -- matching event is sent when the person had no such event before, and
    -- shared.feature_trigger_fired's primary key makes it once per person even when two
    -- sessions insert at the same time (the second waits for the first's row, then finds it).
    IF shared.is_enabled('META_CAPI_INGEST_ENABLED')
       AND shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') THEN
        WITH matched AS (
            -- The rule that decides each event (shared.applicable_conversion_rule, the one
            -- definition), where it is a first-time one.
            SELECT n.id, n.person_id, n.event_name, r.rule_id
            FROM new_events AS n
            JOIN shared.applicable_conversion_rule AS r
              ON r.product_id = n.product_id AND r.event_name = n.event_name
            WHERE n.meta_event_name IS NULL AND n.person_id IS NOT NULL
              AND r.first_time_per_person
        ), firsts AS (
            SELECT DISTINCT ON (m.rule_id, m.person_id) m.rule_id, m.person_id, m.id, m.event_name
            FROM matched AS m
            ORDER BY m.rule_id, m.person_id, m.id
        ), fired AS (
            INSERT INTO shared.feature_trigger_fired (rule_id, person_id, event_ref)
            SELECT f.rule_id, f.person_id, f.id FROM firsts AS f
            -- Probed per person through an index (LATERAL … LIMIT 1 is never turned into a hash
            -- join, which would read the whole ledger or event table for every statement): the
            -- ledger first; only a person not in it yet has their earlier events looked at: one
            -- whose events from before the ledger existed (or before the flag was on) include
            -- one is not new to it.
            LEFT JOIN LATERAL (SELECT 1 AS found FROM shared.feature_trigger_fired AS done
                               WHERE done.rule_id = f.rule_id AND done.person_id = f.person_id
                               LIMIT 1) AS fired_before ON true
            LEFT JOIN LATERAL (SELECT 1 AS found FROM shared.event AS earlier
                               WHERE fired_before.found IS NULL
                                 AND earlier.person_id = f.person_id
                                 AND earlier.event_name = f.event_name AND earlier.id < f.id
                               LIMIT 1) AS seen_before ON true
            WHERE fired_before.found IS NULL AND seen_before.found IS NULL
            ORDER BY f.rule_id, f.person_id
            ON CONFLICT (rule_id, person_id) DO NOTHING
            RETURNING rule_id, event_ref
        )
        SELECT array_agg(jsonb_build_object('event', fd.event_ref, 'meta_event_name', r.meta_event_name)
                         ORDER BY fd.event_ref)
        INTO v_msgs
        FROM fired AS fd JOIN shared.conversion_rule AS r ON r.rule_id = fd.rule_id;

        IF v_msgs IS NOT NULL THEN
            PERFORM pgmq.send_batch('meta_capi', v_msgs);
            PERFORM pg_notify('gdp_meta_capi', '');
        END IF;
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

CREATE OR REPLACE FUNCTION shared.make_process_login(p_login text, p_roles text[], p_password_hash text DEFAULT NULL::text)
 RETURNS TABLE(login text, created boolean, roles text[])
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_known text[] := ARRAY(SELECT r.role_name FROM shared.process_roles() AS r);
    v_created boolean := false;
    v_role text;
BEGIN
    IF p_login IS NULL OR p_login !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        PERFORM shared._raise('GD400', 'login',
            'must be a lowercase name of letters, digits and _ (at most 63)');
    END IF;
    IF p_login = ANY (v_known) OR p_login IN ('gdp_product', 'anon', 'authenticated',
                                             'service_role', 'authenticator', 'postgres') THEN
        PERFORM shared._raise('GD400', 'login',
            format('%s is a role, not a login for a process; pick another name', p_login));
    END IF;
    IF coalesce(cardinality(p_roles), 0) = 0 THEN
        PERFORM shared._raise('GD400', 'roles', 'name at least one process role');
    END IF;
    FOREACH v_role IN ARRAY p_roles LOOP
        IF NOT v_role = ANY (v_known) THEN
            PERFORM shared._raise('GD400', 'roles',
                format('%s is not a GDP process role (one of: %s)', v_role,
                       array_to_string(v_known, ', ')));
        END IF;
    END LOOP;
    IF p_password_hash IS NOT NULL AND p_password_hash !~ '^SCRAM-SHA-256\$' THEN
        PERFORM shared._raise('GD400', 'password_hash', 'must be a SCRAM-SHA-256 verifier');
    END IF;
    -- Two deployers making the same login at once: the second waits, then finds it made.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('shared.make_process_login'));

    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = p_login) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT', p_login);
        v_created := true;
    ELSIF NOT (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = p_login) THEN
        PERFORM shared._raise('GD409', 'login', format('%s exists and cannot log in', p_login));
    END IF;
    IF p_password_hash IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', p_login, p_password_hash);
    END IF;
    FOREACH v_role IN ARRAY p_roles LOOP
        IF NOT pg_catalog.pg_has_role(p_login, v_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', v_role, p_login);
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT p_login, v_created,
           ARRAY(SELECT r.role_name FROM shared.process_roles() AS r
                 WHERE p_login = ANY (r.logins) ORDER BY r.role_name);
END
$function$;

CREATE OR REPLACE FUNCTION shared.process_roles()
 RETURNS TABLE(role_name text, purpose text, present boolean, logins text[])
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    SELECT r.role_name, r.purpose, p.oid IS NOT NULL,
           coalesce((SELECT array_agg(l.rolname::text ORDER BY l.rolname)
                     FROM pg_catalog.pg_auth_members AS m
                     JOIN pg_catalog.pg_roles AS l ON l.oid = m.member
                     WHERE m.roleid = p.oid AND l.rolcanlogin), '{}')
    FROM (VALUES
        (1, 'gdp_api',             'gdp serve: the HTTP service'),
        (2, 'gdp_capi_worker',     'gdp worker capi: Conversions API delivery'),
        (3, 'gdp_insights_worker', 'gdp worker insights: Ads Insights pulls'),
        (4, 'gdp_lead_worker',     'gdp worker leads: Lead Ads sync'),
        (5, 'gdp_segment_worker',  'gdp worker segments: segment evaluation'),
        (6, 'gdp_audience_worker', 'gdp worker audiences: Custom Audience sync'),
        (7, 'gdp_maintenance',     'gdp worker maintenance: retention'),
        (8, 'gdp_dashboard',       'the dashboard and the insights API of gdp serve'),
        (9, 'gdp_admin',           'the admin CLI: gdp flags, checklist, settings, keys')
    ) AS r(ord, role_name, purpose)
    LEFT JOIN pg_catalog.pg_roles AS p ON p.rolname = r.role_name
    ORDER BY r.ord
$function$;

GRANT INSERT (action_source) ON TABLE shared.event TO gdp_api;

GRANT INSERT (client_ip_address) ON TABLE shared.event TO gdp_api;

GRANT INSERT (client_user_agent) ON TABLE shared.event TO gdp_api;

GRANT INSERT (event_id) ON TABLE shared.event TO gdp_api;

GRANT INSERT (event_name) ON TABLE shared.event TO gdp_api;

GRANT INSERT (event_source_url) ON TABLE shared.event TO gdp_api;

GRANT INSERT (fbc) ON TABLE shared.event TO gdp_api;

GRANT INSERT (fbp) ON TABLE shared.event TO gdp_api;

GRANT INSERT (meta_event_name) ON TABLE shared.event TO gdp_api;

GRANT INSERT (meta_user_data) ON TABLE shared.event TO gdp_api;

GRANT INSERT (occurred_at) ON TABLE shared.event TO gdp_api;

GRANT INSERT (person_id) ON TABLE shared.event TO gdp_api;

GRANT INSERT (product_id) ON TABLE shared.event TO gdp_api;

GRANT INSERT (properties) ON TABLE shared.event TO gdp_api;

GRANT INSERT (source) ON TABLE shared.event TO gdp_api;

REVOKE ALL (id) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (id) ON TABLE shared.person TO gdp_api;

GRANT EXECUTE ON FUNCTION pgmq.metrics(text) TO gdp_api;

GRANT EXECUTE ON FUNCTION shared._conversion_rule_applies(text, text) TO gdp_api;

REVOKE ALL ON FUNCTION shared._event_check_properties() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._event_check_properties() TO service_role;

GRANT EXECUTE ON FUNCTION shared._lock_people(uuid[]) TO gdp_api;

REVOKE ALL ON FUNCTION shared._pii_property_keys() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._pii_property_keys() TO service_role;

REVOKE ALL ON FUNCTION shared._properties_pii_problem(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._properties_pii_problem(jsonb) TO service_role;

GRANT EXECUTE ON FUNCTION shared._raise(text, text, text) TO gdp_api;

GRANT EXECUTE ON FUNCTION shared.authenticate_service_key(text) TO gdp_api;

GRANT EXECUTE ON FUNCTION shared.capi_event_status(text, text) TO gdp_api;

GRANT EXECUTE ON FUNCTION shared.ingest_events(text, jsonb, text) TO gdp_api;

GRANT EXECUTE ON FUNCTION shared.is_enabled(text) TO gdp_api;

GRANT EXECUTE ON FUNCTION shared.setting_value(text, text) TO gdp_api;

GRANT EXECUTE ON FUNCTION shared.upsert_people(jsonb) TO gdp_api;

GRANT USAGE ON SCHEMA pgmq TO gdp_api;

GRANT SELECT ON SEQUENCE pgmq.q_meta_capi_msg_id_seq TO gdp_api;

GRANT SELECT ON TABLE pgmq.meta TO gdp_api;

GRANT SELECT ON TABLE pgmq.q_meta_capi TO gdp_api;

GRANT SELECT ON TABLE shared.applicable_conversion_rule TO gdp_api;

GRANT SELECT ON TABLE shared.attribution_events TO gdp_api;

GRANT SELECT ON TABLE shared.capi_dead_letter TO gdp_api;

GRANT SELECT ON TABLE shared.capi_pixel_state TO gdp_api;

GRANT SELECT ON TABLE shared.conversion_rule TO gdp_api;

GRANT SELECT ON TABLE shared.event TO gdp_api;

GRANT SELECT ON TABLE shared.feature_flag TO gdp_api;

GRANT SELECT ON TABLE shared.product TO gdp_api;

GRANT SELECT ON TABLE shared.product_event TO gdp_api;

GRANT SELECT ON TABLE shared.setting TO gdp_api;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.attribution_events'::regclass AND p.polname = 'The HTTP service reads delivery records'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service reads delivery records" ON shared.attribution_events;
        CREATE POLICY "The HTTP service reads delivery records" ON shared.attribution_events
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_dead_letter'::regclass AND p.polname = 'The HTTP service counts dead letters'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service counts dead letters" ON shared.capi_dead_letter;
        CREATE POLICY "The HTTP service counts dead letters" ON shared.capi_dead_letter
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_pixel_state'::regclass AND p.polname = 'The HTTP service reads pixel breakers'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service reads pixel breakers" ON shared.capi_pixel_state;
        CREATE POLICY "The HTTP service reads pixel breakers" ON shared.capi_pixel_state
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.conversion_rule'::regclass AND p.polname = 'The HTTP service reads conversion rules'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service reads conversion rules" ON shared.conversion_rule;
        CREATE POLICY "The HTTP service reads conversion rules" ON shared.conversion_rule
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.dashboard_key'::regclass AND p.polname = 'The admin role reads dashboard keys'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads dashboard keys" ON shared.dashboard_key;
        CREATE POLICY "The admin role reads dashboard keys" ON shared.dashboard_key
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.event'::regclass AND tgname = 'event_check_properties' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER event_check_properties AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_properties()') THEN
        CREATE OR REPLACE TRIGGER event_check_properties AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_properties();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.event'::regclass AND p.polname = 'The HTTP service reads events'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service reads events" ON shared.event;
        CREATE POLICY "The HTTP service reads events" ON shared.event
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.event'::regclass AND p.polname = 'The HTTP service stores events of authenticated products'
                AND p.polcmd = 'a'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM NULL
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service stores events of authenticated products" ON shared.event;
        CREATE POLICY "The HTTP service stores events of authenticated products" ON shared.event
            AS PERMISSIVE FOR INSERT
            TO gdp_api
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag'::regclass AND p.polname = 'The HTTP service reads feature flags'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service reads feature flags" ON shared.feature_flag;
        CREATE POLICY "The HTTP service reads feature flags" ON shared.feature_flag
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.person'::regclass AND p.polname = 'The HTTP service checks that people exist'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service checks that people exist" ON shared.person;
        CREATE POLICY "The HTTP service checks that people exist" ON shared.person
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product'::regclass AND p.polname = 'The HTTP service reads products'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service reads products" ON shared.product;
        CREATE POLICY "The HTTP service reads products" ON shared.product
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product_event'::regclass AND p.polname = 'The HTTP service reads relay events'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service reads relay events" ON shared.product_event;
        CREATE POLICY "The HTTP service reads relay events" ON shared.product_event
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting'::regclass AND p.polname = 'The HTTP service reads settings'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_api']::text[]) THEN
        DROP POLICY IF EXISTS "The HTTP service reads settings" ON shared.setting;
        CREATE POLICY "The HTTP service reads settings" ON shared.setting
            AS PERMISSIVE FOR SELECT
            TO gdp_api
            USING (true);
    END IF;
END
$release$;

COMMENT ON FUNCTION shared._properties_pii_problem(jsonb) IS 'Why event properties hold personal data (a key naming it, an email-like value), or NULL: the HTTP path''s rule, for every insert.';

-- migrate:down
