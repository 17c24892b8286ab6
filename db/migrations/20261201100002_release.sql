-- migrate:up
-- gdp:release sources=sha256:504e04cb5f9eb034d638eac04aacb3edf20346e20e0a1409317ec09ab456a841

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._all_sha256_hex(p_values jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT jsonb_array_length(p_values) > 0 AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_values) AS v(item)
        WHERE jsonb_typeof(v.item) <> 'string' OR NOT shared._is_sha256_hex(v.item #>> '{}'))
$function$;

CREATE OR REPLACE FUNCTION shared._conversion_rule_applies(p_product_id text, p_event_name text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
    SELECT shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') AND EXISTS (
        SELECT 1 FROM shared.conversion_rule AS r
        WHERE r.enabled AND r.event_name = p_event_name
          AND (r.product_id = p_product_id OR r.product_id IS NULL))
$function$;

CREATE OR REPLACE FUNCTION shared._event_check_references()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_bad record;
BEGIN
    SELECT n.product_id INTO v_bad FROM new_events AS n
    WHERE NOT EXISTS (SELECT 1 FROM shared.product AS p WHERE p.product_id = n.product_id)
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'product_id',
            format('%s is not a known product', v_bad.product_id));
    END IF;
    SELECT n.person_id, n.event_id INTO v_bad FROM new_events AS n
    WHERE n.person_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM shared.person AS p WHERE p.id = n.person_id)
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD400', 'person_id',
            format('no person %s (event %s)', v_bad.person_id, v_bad.event_id));
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

CREATE OR REPLACE FUNCTION shared._event_check_references_on_update()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared._event_enqueue_for_meta()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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

    WITH rules AS (
        SELECT DISTINCT ON (coalesce(r.product_id, '*'), r.event_name)
               r.product_id, r.event_name, r.meta_event_name, r.first_time_per_person
        FROM shared.conversion_rule AS r
        WHERE v_rules_on AND r.enabled
        ORDER BY coalesce(r.product_id, '*'), r.event_name
    ), decided AS (
        SELECT n.id,
               coalesce(n.meta_event_name, own.meta_event_name, anyp.meta_event_name) AS meta_name,
               n.meta_event_name IS NULL
                   AND coalesce(own.first_time_per_person, anyp.first_time_per_person, false)
                   AS first_time_only,
               n.person_id, n.event_name
        FROM new_events AS n
        LEFT JOIN rules AS own
               ON n.meta_event_name IS NULL AND own.product_id = n.product_id
              AND own.event_name = n.event_name
        LEFT JOIN rules AS anyp
               ON n.meta_event_name IS NULL AND anyp.product_id IS NULL
              AND anyp.event_name = n.event_name
    ), messages AS (
        SELECT array_agg(jsonb_build_object('event', d.id, 'meta_event_name', d.meta_name)
                         ORDER BY d.id) AS msgs
        FROM decided AS d
        WHERE d.meta_name IS NOT NULL
          AND (NOT d.first_time_only
               OR (d.person_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM shared.event AS earlier
                                   WHERE earlier.person_id = d.person_id
                                     AND earlier.event_name = d.event_name
                                     AND earlier.id < d.id)))
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
$function$;

CREATE OR REPLACE FUNCTION shared._is_sha256_hex(p_text text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT length(p_text) = 64 AND translate(p_text, '0123456789abcdefABCDEF', '') = '' $function$;

CREATE OR REPLACE FUNCTION shared._is_valid_email(p_email text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT p_email ~ '^[^@\s]+@[^@\s]+\.[^@\s.]+$' $function$;

CREATE OR REPLACE FUNCTION shared._jsonb_fill_step(p_state jsonb, p_next jsonb)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT coalesce(p_next, '{}'::jsonb) || coalesce(p_state, '{}'::jsonb) $function$;

CREATE OR REPLACE AGGREGATE shared._jsonb_fill(jsonb) (
    SFUNC = shared._jsonb_fill_step,
    STYPE = jsonb,
    INITCOND = '{}'
);

CREATE OR REPLACE FUNCTION shared._lock_flag(p_flag_key text)
 RETURNS shared.feature_flag
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_flag shared.feature_flag;
BEGIN
    -- Serialize gate changes: two admins enabling and disabling neighbours cannot race past
    -- each other's checks.
    PERFORM pg_advisory_xact_lock(hashtext('shared.feature_flag'));
    SELECT * INTO v_flag FROM shared.feature_flag WHERE flag_key = p_flag_key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'flag', format('no flag %s (see gdp flags list)', p_flag_key));
    END IF;
    RETURN v_flag;
END
$function$;

CREATE OR REPLACE FUNCTION shared._meta_phone_digits(p_e164 text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
AS $function$ SELECT ltrim(p_e164, '+') $function$;

CREATE OR REPLACE FUNCTION shared._meta_user_data_entry_ok(p_key text, p_value jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared._meta_user_data_key_kind(p_key text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE
        WHEN p_key IN ('em', 'ph', 'fn', 'ln', 'ge', 'db', 'ct', 'st', 'zp', 'country',
                       'external_id') THEN 'hashed'
        WHEN p_key IN ('subscription_id', 'fb_login_id', 'lead_id', 'anon_id', 'madid', 'page_id',
                       'page_scoped_user_id', 'ctwa_clid', 'ig_account_id', 'ig_sid') THEN 'id'
        WHEN p_key IN ('client_ip_address', 'client_user_agent', 'fbc', 'fbp') THEN 'column'
    END
$function$;

CREATE OR REPLACE FUNCTION shared._meta_user_data_problem(p_user_data jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared._normalize_email(p_email text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT nullif(lower(shared._trim(p_email)), '') $function$;

CREATE OR REPLACE FUNCTION shared._normalize_gender(p_gender text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE lower(shared._trim(p_gender))
        WHEN 'f' THEN 'f' WHEN 'female' THEN 'f' WHEN 'woman' THEN 'f'
        WHEN 'm' THEN 'm' WHEN 'male' THEN 'm' WHEN 'man' THEN 'm'
    END
$function$;

CREATE OR REPLACE FUNCTION shared._normalize_phone(p_phone text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    -- One expression (no CTE) so that it inlines; the common case is already E.164.
    SELECT CASE
        WHEN p_phone ~ '^\+[1-9][0-9]{6,14}$' THEN p_phone
        WHEN regexp_replace(regexp_replace(p_phone, '[\s().\-/]', '', 'g'), '^00', '+')
             ~ '^\+[1-9][0-9]{6,14}$'
        THEN regexp_replace(regexp_replace(p_phone, '[\s().\-/]', '', 'g'), '^00', '+')
    END
$function$;

CREATE OR REPLACE FUNCTION shared._people_input_problem(p_people jsonb)
 RETURNS TABLE(ord bigint, field text, rule text)
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
AS $function$
BEGIN
    RETURN QUERY
    WITH entries AS (
        SELECT e.ord, e.v, jsonb_typeof(e.v) = 'object' AS is_object
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    ), shape AS (
        -- Unknown keys and non-string values, found in one pass over every key.
        SELECT en.ord, f.key AS field,
               CASE WHEN f.key <> ALL (shared._person_input_keys()) THEN 'is not a person field'
                    ELSE 'must be a string' END AS rule
        FROM entries AS en
        CROSS JOIN LATERAL jsonb_each(CASE WHEN en.is_object THEN en.v ELSE '{}'::jsonb END) AS f
        WHERE f.key <> ALL (shared._person_input_keys())
           OR (f.key NOT IN ('properties', 'identities')
               AND jsonb_typeof(f.value) NOT IN ('string', 'null'))
    ), fields AS (
        SELECT en.ord, checks.problem[1] AS field, checks.problem[2] AS rule
        FROM entries AS en
        LEFT JOIN shared.product AS pr
          ON pr.product_id = shared._trim(en.v ->> 'source_product')
        CROSS JOIN LATERAL (
            SELECT shared._normalize_email(en.v ->> 'email') AS email,
                   nullif(shared._trim(en.v ->> 'phone'), '') AS phone,
                   nullif(shared._trim(en.v ->> 'lifecycle_stage'), '') AS stage,
                   upper(nullif(shared._trim(en.v ->> 'country'), '')) AS country,
                   nullif(shared._trim(en.v ->> 'gender'), '') AS gender,
                   nullif(shared._trim(en.v ->> 'date_of_birth'), '') AS dob,
                   nullif(shared._trim(en.v ->> 'source_product'), '') AS product
        ) AS x
        CROSS JOIN LATERAL (
            SELECT CASE
                WHEN x.email IS NULL THEN ARRAY['email', 'is required']
                WHEN NOT shared._is_valid_email(x.email)
                    THEN ARRAY['email', 'is not a valid email address']
                WHEN x.phone IS NOT NULL AND shared._normalize_phone(x.phone) IS NULL
                    THEN ARRAY['phone', 'must be E.164: a + and the country code, e.g. +14155550123']
                WHEN x.stage NOT IN ('lead', 'activated', 'customer', 'churned')
                    THEN ARRAY['lifecycle_stage', 'must be one of lead, activated, customer, churned']
                WHEN x.country !~ '^[A-Z]{2}$'
                    THEN ARRAY['country', 'must be an ISO 3166-1 alpha-2 code, e.g. US']
                WHEN x.gender IS NOT NULL AND shared._normalize_gender(x.gender) IS NULL
                    THEN ARRAY['gender', 'must be f or m']
                WHEN x.dob IS NOT NULL AND shared._try_iso_date(x.dob) IS NULL
                    THEN ARRAY['date_of_birth', 'must be a date as YYYY-MM-DD']
                WHEN x.product IS NOT NULL AND pr.product_id IS NULL
                    THEN ARRAY['source_product', 'is not a known product']
                WHEN en.v ? 'properties' AND jsonb_typeof(en.v -> 'properties') NOT IN ('object', 'null')
                    THEN ARRAY['properties', 'must be a JSON object']
                WHEN en.v ? 'identities' AND jsonb_typeof(en.v -> 'identities') NOT IN ('array', 'null')
                    THEN ARRAY['identities', 'must be a JSON array of {provider, external_id}']
            END AS problem
        ) AS checks
        WHERE en.is_object AND checks.problem IS NOT NULL
    ), identities AS (
        SELECT en.ord, 'identities' AS field,
               'each needs a provider (lowercase slug) and an external_id' AS rule
        FROM entries AS en
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(en.v -> 'identities') = 'array'
                 THEN en.v -> 'identities' ELSE '[]'::jsonb END) AS i(v)
        WHERE jsonb_typeof(i.v) <> 'object'
           OR coalesce(i.v ->> 'provider', '') !~ '^[a-z][a-z0-9_]{1,39}$'
           OR length(coalesce(i.v ->> 'external_id', '')) NOT BETWEEN 1 AND 255
           OR (i.v ? 'metadata' AND jsonb_typeof(i.v -> 'metadata') <> 'object')
    )
    SELECT problem.ord, problem.field, problem.rule
    FROM (
        SELECT en.ord, 0 AS stage, 'person' AS field, 'must be a JSON object' AS rule
        FROM entries AS en WHERE NOT en.is_object
        UNION ALL SELECT s.ord, 1, s.field, s.rule FROM shape AS s
        UNION ALL SELECT f.ord, 2, f.field, f.rule FROM fields AS f
        UNION ALL SELECT i.ord, 3, i.field, i.rule FROM identities AS i
    ) AS problem
    ORDER BY problem.ord, problem.stage, problem.field
    LIMIT 1;
END
$function$;

CREATE OR REPLACE FUNCTION shared._person_after_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    DELETE FROM shared.event AS e USING old_people AS o WHERE e.person_id = o.id;
    UPDATE shared.attribution_events AS a SET person_id = NULL
    FROM old_people AS o WHERE a.person_id = o.id;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared._person_before_write()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_phone text;
BEGIN
    NEW.email := shared._normalize_email(NEW.email);
    IF NEW.email IS NULL THEN
        PERFORM shared._raise('GD400', 'email', 'is required');
    ELSIF NOT shared._is_valid_email(NEW.email) THEN
        PERFORM shared._raise('GD400', 'email', 'is not a valid email address');
    END IF;

    IF nullif(shared._trim(NEW.phone), '') IS NULL THEN
        NEW.phone := NULL;
    ELSE
        v_phone := shared._normalize_phone(NEW.phone);
        IF v_phone IS NULL THEN
            PERFORM shared._raise('GD400', 'phone',
                'must be E.164: a + and the country code, e.g. +14155550123');
        END IF;
        NEW.phone := v_phone;
    END IF;

    NEW.country := upper(nullif(shared._trim(NEW.country), ''));
    IF NEW.country IS NOT NULL AND NEW.country !~ '^[A-Z]{2}$' THEN
        PERFORM shared._raise('GD400', 'country', 'must be an ISO 3166-1 alpha-2 code, e.g. US');
    END IF;
    IF nullif(shared._trim(NEW.gender), '') IS NULL THEN
        NEW.gender := NULL;
    ELSE
        NEW.gender := shared._normalize_gender(NEW.gender);
        IF NEW.gender IS NULL THEN
            PERFORM shared._raise('GD400', 'gender', 'must be f or m');
        END IF;
    END IF;

    NEW.first_name := nullif(shared._trim(NEW.first_name), '');
    NEW.last_name := nullif(shared._trim(NEW.last_name), '');
    NEW.city := nullif(shared._trim(NEW.city), '');
    NEW.state := nullif(shared._trim(NEW.state), '');
    NEW.zip := nullif(shared._trim(NEW.zip), '');
    NEW.utm_source := nullif(shared._trim(NEW.utm_source), '');
    NEW.utm_medium := nullif(shared._trim(NEW.utm_medium), '');
    NEW.utm_campaign := nullif(shared._trim(NEW.utm_campaign), '');
    NEW.utm_content := nullif(shared._trim(NEW.utm_content), '');
    NEW.utm_term := nullif(shared._trim(NEW.utm_term), '');
    NEW.meta_fbp := nullif(shared._trim(NEW.meta_fbp), '');
    NEW.meta_fbc := nullif(shared._trim(NEW.meta_fbc), '');
    NEW.meta_lead_form_id := nullif(shared._trim(NEW.meta_lead_form_id), '');
    NEW.source_product := nullif(shared._trim(NEW.source_product), '');

    IF TG_OP = 'UPDATE' THEN
        IF coalesce(current_setting('gdp.allow_attribution_rewrite', true), '') <> 'on' THEN
            NEW.utm_source := coalesce(OLD.utm_source, NEW.utm_source);
            NEW.utm_medium := coalesce(OLD.utm_medium, NEW.utm_medium);
            NEW.utm_campaign := coalesce(OLD.utm_campaign, NEW.utm_campaign);
            NEW.utm_content := coalesce(OLD.utm_content, NEW.utm_content);
            NEW.utm_term := coalesce(OLD.utm_term, NEW.utm_term);
            NEW.meta_fbp := coalesce(OLD.meta_fbp, NEW.meta_fbp);
            NEW.meta_fbc := coalesce(OLD.meta_fbc, NEW.meta_fbc);
            NEW.meta_lead_form_id := coalesce(OLD.meta_lead_form_id, NEW.meta_lead_form_id);
            NEW.source_product := coalesce(OLD.source_product, NEW.source_product);
        END IF;
        NEW.id := OLD.id;
        NEW.created_at := OLD.created_at;
        IF NEW.consent_status IS DISTINCT FROM OLD.consent_status
           AND NEW.consent_changed_at IS NOT DISTINCT FROM OLD.consent_changed_at THEN
            NEW.consent_changed_at := now();
        END IF;
        -- Only a real change moves updated_at, so a resent lead leaves the row as it was; an
        -- explicit updated_at (a backfill) is kept.
        IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at AND NEW IS DISTINCT FROM OLD THEN
            NEW.updated_at := now();
        END IF;
    ELSIF NEW.consent_status <> 'unknown' AND NEW.consent_changed_at IS NULL THEN
        NEW.consent_changed_at := now();
    END IF;
    RETURN NEW;
END
$function$;

CREATE OR REPLACE FUNCTION shared._person_input_keys()
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT ARRAY['email', 'phone', 'first_name', 'last_name', 'city', 'state', 'zip', 'country',
                 'date_of_birth', 'gender', 'utm_source', 'utm_medium', 'utm_campaign',
                 'utm_content', 'utm_term', 'meta_fbp', 'meta_fbc', 'meta_lead_form_id',
                 'source_product', 'lifecycle_stage', 'properties', 'identities']
$function$;

CREATE OR REPLACE FUNCTION shared._product_before_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF EXISTS (SELECT 1 FROM shared.event AS e WHERE e.product_id = OLD.product_id) THEN
        PERFORM shared._raise('GD409', 'product_id',
            format('%s has events; it cannot be deleted', OLD.product_id));
    END IF;
    RETURN OLD;
END
$function$;

CREATE OR REPLACE FUNCTION shared._raise(p_sqlstate text, p_field text, p_message text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = CASE WHEN p_field IS NULL THEN p_message ELSE p_field || ': ' || p_message END,
        COLUMN = coalesce(p_field, '');
END
$function$;

CREATE OR REPLACE FUNCTION shared._require_actor(p_actor text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE
AS $function$
BEGIN
    IF nullif(shared._trim(p_actor), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'actor', 'is required (who is making the change)');
    END IF;
    RETURN shared._trim(p_actor);
END
$function$;

CREATE OR REPLACE FUNCTION shared._setting_present(p_value jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE
AS $function$
    SELECT p_value IS NOT NULL
       AND p_value NOT IN ('null'::jsonb, '""'::jsonb, '{}'::jsonb, '[]'::jsonb)
$function$;

CREATE OR REPLACE FUNCTION shared._sha256_hex(p_value text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
AS $function$ SELECT encode(pg_catalog.sha256(convert_to(p_value, 'UTF8')), 'hex') $function$;

CREATE OR REPLACE FUNCTION shared._trim(p_value text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT btrim(p_value, E' \t\n\r\f\x0B') $function$;

CREATE OR REPLACE FUNCTION shared._try_iso_date(p_value text)
 RETURNS date
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
AS $function$
BEGIN
    IF p_value !~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN NULL;
    END IF;
    RETURN p_value::date;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared.acknowledge_checklist_item(p_item_key text, p_actor text, p_note text DEFAULT NULL::text)
 RETURNS shared.deploy_checklist_item
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_item shared.deploy_checklist_item;
BEGIN
    SELECT * INTO v_item FROM shared.deploy_checklist_item WHERE item_key = p_item_key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'item',
            format('no checklist item %s (see gdp checklist list)', p_item_key));
    END IF;
    IF v_item.acknowledged_at IS NOT NULL THEN
        RETURN v_item;
    END IF;
    UPDATE shared.deploy_checklist_item
    SET acknowledged_by = v_actor, acknowledged_at = now(), note = p_note
    WHERE item_key = p_item_key
    RETURNING * INTO v_item;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('checklist', p_item_key, v_actor, 'null',
            jsonb_build_object('acknowledged_by', v_actor), p_note);
    RETURN v_item;
END
$function$;

CREATE OR REPLACE FUNCTION shared.authenticate_service_key(p_service_key text)
 RETURNS text
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_row shared.service_key;
BEGIN
    IF p_service_key IS NULL OR length(p_service_key) > 200 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_row FROM shared.service_key
    WHERE key_sha256 = shared._sha256_hex(p_service_key) AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_row.last_used_at IS NULL OR v_row.last_used_at < now() - interval '1 minute' THEN
        UPDATE shared.service_key SET last_used_at = now() WHERE id = v_row.id;
    END IF;
    RETURN v_row.product_id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.capi_event_status(p_product_id text, p_event_id text)
 RETURNS TABLE(event_id text, product_id text, received_at timestamp with time zone, meta_event_name text, status text, attempt integer, pixel_id text, events_received integer, fbtrace_id text, error_code integer, error_subcode integer, error_message text, test_event_code text, updated_at timestamp with time zone)
 LANGUAGE sql
 STABLE
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared.capi_set_breaker(p_pixel_id text, p_breaker text, p_error_code integer DEFAULT NULL::integer, p_error_message text DEFAULT NULL::text)
 RETURNS shared.capi_pixel_state
 LANGUAGE sql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared.conversion_rule_for(p_product_id text, p_event_name text)
 RETURNS shared.conversion_rule
 LANGUAGE sql
 STABLE
AS $function$
    SELECT r.* FROM shared.conversion_rule AS r
    WHERE r.enabled AND r.event_name = p_event_name
      AND (r.product_id = p_product_id OR r.product_id IS NULL)
    ORDER BY r.product_id NULLS LAST
    LIMIT 1
$function$;

CREATE OR REPLACE FUNCTION shared.create_service_key(p_product_id text, p_actor text, p_label text DEFAULT NULL::text)
 RETURNS TABLE(key_id uuid, service_key text, key_prefix text)
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_secret text;
    v_key text;
    v_id uuid;
BEGIN
    PERFORM 1 FROM shared.product WHERE product_id = p_product_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD400', 'product', format('%s is not a known product', p_product_id));
    END IF;
    v_secret := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    v_key := format('gdp_sk_%s_%s', p_product_id, v_secret);
    INSERT INTO shared.service_key (product_id, key_prefix, key_sha256, label, created_by)
    VALUES (p_product_id, left(v_key, length(p_product_id) + 16), shared._sha256_hex(v_key),
            p_label, v_actor)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, v_key, left(v_key, length(p_product_id) + 16);
END
$function$;

CREATE OR REPLACE FUNCTION shared.disable_flag(p_flag_key text, p_actor text, p_cascade boolean DEFAULT false, p_note text DEFAULT NULL::text)
 RETURNS shared.feature_flag
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_flag shared.feature_flag := shared._lock_flag(p_flag_key);
    v_dependents text[];
    v_dependent text;
BEGIN
    IF NOT v_flag.enabled THEN
        RETURN v_flag;
    END IF;
    SELECT array_agg(fp.flag_key ORDER BY f.enable_order DESC, fp.flag_key) INTO v_dependents
    FROM shared.feature_flag_prerequisite AS fp
    JOIN shared.feature_flag AS f ON f.flag_key = fp.flag_key
    WHERE fp.requires_flag_key = p_flag_key AND f.enabled;
    IF v_dependents IS NOT NULL THEN
        IF NOT p_cascade THEN
            PERFORM shared._raise('GD423', NULL,
                format('%s refused: %s depend on it and are on (disable them first, or cascade)',
                       p_flag_key, array_to_string(v_dependents, ', ')));
        END IF;
        FOREACH v_dependent IN ARRAY v_dependents LOOP
            PERFORM shared.disable_flag(v_dependent, v_actor, true,
                format('cascade from %s', p_flag_key));
        END LOOP;
    END IF;
    UPDATE shared.feature_flag
    SET enabled = false, changed_at = now(), changed_by = v_actor
    WHERE flag_key = p_flag_key
    RETURNING * INTO v_flag;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('flag', p_flag_key, v_actor, 'true', 'false', p_note);
    RETURN v_flag;
END
$function$;

CREATE OR REPLACE FUNCTION shared.enable_flag(p_flag_key text, p_actor text, p_present_secrets text[] DEFAULT '{}'::text[], p_note text DEFAULT NULL::text)
 RETURNS shared.feature_flag
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_flag shared.feature_flag := shared._lock_flag(p_flag_key);
    v_blockers text[];
BEGIN
    IF v_flag.enabled THEN
        RETURN v_flag;
    END IF;
    v_blockers := shared.flag_blockers(p_flag_key, p_present_secrets);
    IF cardinality(v_blockers) > 0 THEN
        PERFORM shared._raise('GD423', NULL,
            format('%s refused: %s', p_flag_key, array_to_string(v_blockers, '; ')));
    END IF;
    UPDATE shared.feature_flag
    SET enabled = true, changed_at = now(), changed_by = v_actor
    WHERE flag_key = p_flag_key
    RETURNING * INTO v_flag;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('flag', p_flag_key, v_actor, 'false', 'true', p_note);
    RETURN v_flag;
END
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
    RETURN v_erasure_id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.erase_person_by_email(p_email text, p_requested_by text, p_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_person_id uuid;
BEGIN
    SELECT id INTO v_person_id FROM shared.person WHERE email = shared._normalize_email(p_email);
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'email', 'no person with this email');
    END IF;
    RETURN shared.erase_person(v_person_id, p_requested_by, p_reason);
END
$function$;

CREATE OR REPLACE FUNCTION shared.flag_blockers(p_flag_key text, p_present_secrets text[] DEFAULT '{}'::text[])
 RETURNS text[]
 LANGUAGE sql
 STABLE
AS $function$
    SELECT array_remove(ARRAY[
        (SELECT 'prerequisites off: ' || string_agg(format('%s (%s)', r.flag_key, r.gap), ', '
                                                    ORDER BY r.enable_order, r.flag_key)
         FROM shared.feature_flag_prerequisite AS fp
         JOIN shared.feature_flag AS r ON r.flag_key = fp.requires_flag_key
         WHERE fp.flag_key = p_flag_key AND NOT r.enabled),
        (SELECT 'settings absent: ' || string_agg(req.key, ', ' ORDER BY req.key)
         FROM shared.feature_flag AS f
         CROSS JOIN LATERAL unnest(f.required_settings) AS req(key)
         WHERE f.flag_key = p_flag_key
           AND NOT EXISTS (SELECT 1 FROM shared.setting AS s
                           WHERE s.setting_key = req.key AND shared._setting_present(s.value))),
        (SELECT 'secrets not configured in the environment: '
                || string_agg(req.key, ', ' ORDER BY req.key)
         FROM shared.feature_flag AS f
         CROSS JOIN LATERAL unnest(f.required_secrets) AS req(key)
         WHERE f.flag_key = p_flag_key AND req.key <> ALL (coalesce(p_present_secrets, '{}'))),
        (SELECT 'checklist items not acknowledged: '
                || string_agg(c.item_key, ', ' ORDER BY c.position)
         FROM shared.feature_flag_checklist AS fc
         JOIN shared.deploy_checklist_item AS c ON c.item_key = fc.item_key
         WHERE fc.flag_key = p_flag_key AND c.acknowledged_at IS NULL)
    ], NULL)
$function$;

CREATE OR REPLACE FUNCTION shared.gate_report(p_present_secrets text[] DEFAULT '{}'::text[])
 RETURNS TABLE(flag_key text, gap text, enable_order smallint, enabled boolean, changed_at timestamp with time zone, changed_by text, blockers text[])
 LANGUAGE sql
 STABLE
AS $function$
    SELECT f.flag_key, f.gap, f.enable_order, f.enabled, f.changed_at, f.changed_by,
           CASE WHEN f.enabled THEN '{}'::text[]
                ELSE shared.flag_blockers(f.flag_key, p_present_secrets) END
    FROM shared.feature_flag AS f
    ORDER BY f.enable_order, f.flag_key
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

CREATE OR REPLACE FUNCTION shared.is_enabled(p_flag_key text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$ SELECT coalesce((SELECT enabled FROM shared.feature_flag WHERE flag_key = p_flag_key), false) $function$;

CREATE OR REPLACE FUNCTION shared.link_identity(p_person_id uuid, p_provider text, p_external_id text, p_metadata jsonb DEFAULT '{}'::jsonb)
 RETURNS uuid
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_link shared.identity_link;
BEGIN
    IF coalesce(p_provider, '') !~ '^[a-z][a-z0-9_]{1,39}$' THEN
        PERFORM shared._raise('GD400', 'provider', 'must be a lowercase slug such as stripe');
    END IF;
    IF length(coalesce(p_external_id, '')) NOT BETWEEN 1 AND 255 THEN
        PERFORM shared._raise('GD400', 'external_id', 'must be 1 to 255 characters');
    END IF;
    IF p_metadata IS NOT NULL AND jsonb_typeof(p_metadata) <> 'object' THEN
        PERFORM shared._raise('GD400', 'metadata', 'must be a JSON object');
    END IF;
    PERFORM 1 FROM shared.person WHERE id = p_person_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;

    INSERT INTO shared.identity_link (person_id, provider, external_id, metadata)
    VALUES (p_person_id, p_provider, p_external_id, coalesce(p_metadata, '{}'::jsonb))
    ON CONFLICT ON CONSTRAINT identity_link_provider_external_id_key DO NOTHING
    RETURNING * INTO v_link;
    IF FOUND THEN
        RETURN v_link.id;
    END IF;

    SELECT * INTO v_link FROM shared.identity_link
    WHERE provider = p_provider AND external_id = p_external_id;
    IF v_link.person_id <> p_person_id THEN
        PERFORM shared._raise('GD409', 'external_id',
            format('the %s identity is already linked to another person (%s)',
                   p_provider, v_link.person_id));
    END IF;
    RETURN v_link.id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.record_capi_outcomes(p_outcomes jsonb, p_archive_msg_ids bigint[] DEFAULT '{}'::bigint[])
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared.record_consent(p_person_id uuid, p_status text, p_source text, p_changed_at timestamp with time zone DEFAULT now())
 RETURNS shared.consent_status
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_status shared.consent_status;
    v_current shared.person;
BEGIN
    IF coalesce(p_status, '') <> ALL (enum_range(NULL::shared.consent_status)::text[]) THEN
        PERFORM shared._raise('GD400', 'status', 'must be one of granted, withdrawn, unknown');
    END IF;
    IF nullif(shared._trim(p_source), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'source', 'is required (where the consent was given)');
    END IF;
    v_status := p_status::shared.consent_status;

    SELECT * INTO v_current FROM shared.person WHERE id = p_person_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;

    INSERT INTO shared.consent_log (person_id, status, source, changed_at)
    VALUES (p_person_id, v_status, shared._trim(p_source), coalesce(p_changed_at, now()));

    IF v_current.consent_changed_at IS NULL
       OR coalesce(p_changed_at, now()) >= v_current.consent_changed_at THEN
        UPDATE shared.person
        SET consent_status = v_status, consent_changed_at = coalesce(p_changed_at, now())
        WHERE id = p_person_id;
        RETURN v_status;
    END IF;
    RETURN v_current.consent_status;
END
$function$;

CREATE OR REPLACE FUNCTION shared.replay_dead_letters(p_ids bigint[], p_actor text)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared.revoke_service_key(p_key_id uuid, p_actor text)
 RETURNS shared.service_key
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.service_key;
BEGIN
    UPDATE shared.service_key
    SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, v_actor)
    WHERE id = p_key_id
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no service key %s', p_key_id));
    END IF;
    RETURN v_row;
END
$function$;

CREATE OR REPLACE FUNCTION shared.set_lifecycle_stage(p_person_id uuid, p_stage text)
 RETURNS shared.lifecycle_stage
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF coalesce(p_stage, '') <> ALL (enum_range(NULL::shared.lifecycle_stage)::text[]) THEN
        PERFORM shared._raise('GD400', 'lifecycle_stage',
            'must be one of lead, activated, customer, churned');
    END IF;
    UPDATE shared.person SET lifecycle_stage = p_stage::shared.lifecycle_stage
    WHERE id = p_person_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;
    RETURN p_stage::shared.lifecycle_stage;
END
$function$;

CREATE OR REPLACE FUNCTION shared.set_setting(p_setting_key text, p_value jsonb, p_actor text, p_scope text DEFAULT 'global'::text)
 RETURNS shared.setting
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_def shared.setting_definition;
    v_scope text := coalesce(nullif(shared._trim(p_scope), ''), 'global');
    v_before jsonb;
    v_json_type text;
    v_row shared.setting;
BEGIN
    SELECT * INTO v_def FROM shared.setting_definition WHERE setting_key = p_setting_key;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'setting', format('no setting %s', p_setting_key));
    END IF;
    IF v_scope <> 'global' THEN
        IF NOT v_def.per_product THEN
            PERFORM shared._raise('GD400', 'scope',
                format('%s is global; it cannot be set per product', p_setting_key));
        END IF;
        PERFORM 1 FROM shared.product WHERE product_id = v_scope;
        IF NOT FOUND THEN
            PERFORM shared._raise('GD400', 'scope', format('%s is not a known product', v_scope));
        END IF;
    END IF;
    v_json_type := (ARRAY['string', 'number', 'boolean', 'object', 'array'])[
        array_position(ARRAY['text', 'integer', 'boolean', 'object', 'array'], v_def.value_type)];
    -- Ids such as pixel ids arrive as JSON numbers from many clients; they are text here.
    IF v_def.value_type = 'text' AND jsonb_typeof(p_value) = 'number' THEN
        p_value := to_jsonb(p_value #>> '{}');
    END IF;
    IF p_value IS NULL OR jsonb_typeof(p_value) <> v_json_type THEN
        PERFORM shared._raise('GD400', p_setting_key, 'must be ' || CASE v_def.value_type
            WHEN 'text' THEN 'a string' WHEN 'integer' THEN 'a whole number'
            WHEN 'boolean' THEN 'true or false' WHEN 'array' THEN 'a JSON array'
            ELSE 'a JSON object' END);
    END IF;
    IF v_def.value_type = 'integer' AND (
           (p_value #>> '{}')::numeric <> trunc((p_value #>> '{}')::numeric)
        OR (v_def.min_value IS NOT NULL AND (p_value #>> '{}')::numeric < v_def.min_value)
        OR (v_def.max_value IS NOT NULL AND (p_value #>> '{}')::numeric > v_def.max_value)) THEN
        PERFORM shared._raise('GD400', p_setting_key,
            format('must be a whole number from %s to %s', v_def.min_value, v_def.max_value));
    END IF;
    IF v_def.value_type = 'text' AND v_def.value_pattern IS NOT NULL
       AND (p_value #>> '{}') !~ v_def.value_pattern THEN
        PERFORM shared._raise('GD400', p_setting_key,
            format('must match %s', v_def.value_pattern));
    END IF;

    SELECT value INTO v_before FROM shared.setting
    WHERE setting_key = p_setting_key AND scope = v_scope;
    INSERT INTO shared.setting (setting_key, scope, value, updated_by)
    VALUES (p_setting_key, v_scope, p_value, v_actor)
    ON CONFLICT (setting_key, scope) DO UPDATE
        SET value = excluded.value, updated_by = excluded.updated_by, updated_at = now()
    RETURNING * INTO v_row;
    IF v_before IS DISTINCT FROM p_value THEN
        INSERT INTO shared.gate_audit (subject_kind, subject_key, scope, actor, from_value, to_value)
        VALUES ('setting', p_setting_key, v_scope, v_actor, v_before, p_value);
    END IF;
    RETURN v_row;
END
$function$;

CREATE OR REPLACE FUNCTION shared.setting_value(p_setting_key text, p_scope text DEFAULT 'global'::text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
    SELECT s.value
    FROM shared.setting AS s
    WHERE s.setting_key = p_setting_key AND s.scope IN (coalesce(p_scope, 'global'), 'global')
    ORDER BY (s.scope = 'global')
    LIMIT 1
$function$;

CREATE OR REPLACE FUNCTION shared.unset_setting(p_setting_key text, p_actor text, p_scope text DEFAULT 'global'::text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_before jsonb;
BEGIN
    DELETE FROM shared.setting
    WHERE setting_key = p_setting_key AND scope = coalesce(nullif(shared._trim(p_scope), ''), 'global')
    RETURNING value INTO v_before;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, scope, actor, from_value, to_value)
    VALUES ('setting', p_setting_key, coalesce(nullif(shared._trim(p_scope), ''), 'global'), v_actor,
            v_before, NULL);
    RETURN true;
END
$function$;

CREATE OR REPLACE FUNCTION shared.upsert_people(p_people jsonb)
 RETURNS TABLE(ordinal integer, person_id uuid, created boolean)
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
    v_problem record;
    v_conflict record;
BEGIN
    IF p_people IS NULL OR jsonb_typeof(p_people) <> 'array' THEN
        PERFORM shared._raise('GD400', 'people', 'must be a JSON array of person objects');
    END IF;

    SELECT * INTO v_problem FROM shared._people_input_problem(p_people);
    IF FOUND THEN
        PERFORM shared._raise('GD400', v_problem.field,
            format('%s (entry %s)', v_problem.rule, v_problem.ord));
    END IF;

    RETURN QUERY
    WITH input AS (
        SELECT e.ord::integer AS ord,
               shared._normalize_email(e.v ->> 'email') AS email,
               shared._normalize_phone(nullif(shared._trim(e.v ->> 'phone'), '')) AS phone,
               nullif(shared._trim(e.v ->> 'first_name'), '') AS first_name,
               nullif(shared._trim(e.v ->> 'last_name'), '') AS last_name,
               nullif(shared._trim(e.v ->> 'city'), '') AS city,
               nullif(shared._trim(e.v ->> 'state'), '') AS state,
               nullif(shared._trim(e.v ->> 'zip'), '') AS zip,
               upper(nullif(shared._trim(e.v ->> 'country'), '')) AS country,
               shared._try_iso_date(nullif(shared._trim(e.v ->> 'date_of_birth'), '')) AS date_of_birth,
               shared._normalize_gender(nullif(shared._trim(e.v ->> 'gender'), '')) AS gender,
               nullif(shared._trim(e.v ->> 'utm_source'), '') AS utm_source,
               nullif(shared._trim(e.v ->> 'utm_medium'), '') AS utm_medium,
               nullif(shared._trim(e.v ->> 'utm_campaign'), '') AS utm_campaign,
               nullif(shared._trim(e.v ->> 'utm_content'), '') AS utm_content,
               nullif(shared._trim(e.v ->> 'utm_term'), '') AS utm_term,
               nullif(shared._trim(e.v ->> 'meta_fbp'), '') AS meta_fbp,
               nullif(shared._trim(e.v ->> 'meta_fbc'), '') AS meta_fbc,
               nullif(shared._trim(e.v ->> 'meta_lead_form_id'), '') AS meta_lead_form_id,
               nullif(shared._trim(e.v ->> 'source_product'), '') AS source_product,
               nullif(shared._trim(e.v ->> 'lifecycle_stage'), '')::shared.lifecycle_stage AS lifecycle_stage,
               CASE WHEN jsonb_typeof(e.v -> 'properties') = 'object'
                    THEN e.v -> 'properties' ELSE '{}'::jsonb END AS properties
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    ), merged AS (
        -- Variants of one email in one call become one row; the first non-empty value wins.
        SELECT i.email,
               min(i.ord) AS first_ord,
               (array_agg(i.phone ORDER BY i.ord) FILTER (WHERE i.phone IS NOT NULL))[1] AS phone,
               (array_agg(i.first_name ORDER BY i.ord) FILTER (WHERE i.first_name IS NOT NULL))[1] AS first_name,
               (array_agg(i.last_name ORDER BY i.ord) FILTER (WHERE i.last_name IS NOT NULL))[1] AS last_name,
               (array_agg(i.city ORDER BY i.ord) FILTER (WHERE i.city IS NOT NULL))[1] AS city,
               (array_agg(i.state ORDER BY i.ord) FILTER (WHERE i.state IS NOT NULL))[1] AS state,
               (array_agg(i.zip ORDER BY i.ord) FILTER (WHERE i.zip IS NOT NULL))[1] AS zip,
               (array_agg(i.country ORDER BY i.ord) FILTER (WHERE i.country IS NOT NULL))[1] AS country,
               (array_agg(i.date_of_birth ORDER BY i.ord) FILTER (WHERE i.date_of_birth IS NOT NULL))[1] AS date_of_birth,
               (array_agg(i.gender ORDER BY i.ord) FILTER (WHERE i.gender IS NOT NULL))[1] AS gender,
               (array_agg(i.utm_source ORDER BY i.ord) FILTER (WHERE i.utm_source IS NOT NULL))[1] AS utm_source,
               (array_agg(i.utm_medium ORDER BY i.ord) FILTER (WHERE i.utm_medium IS NOT NULL))[1] AS utm_medium,
               (array_agg(i.utm_campaign ORDER BY i.ord) FILTER (WHERE i.utm_campaign IS NOT NULL))[1] AS utm_campaign,
               (array_agg(i.utm_content ORDER BY i.ord) FILTER (WHERE i.utm_content IS NOT NULL))[1] AS utm_content,
               (array_agg(i.utm_term ORDER BY i.ord) FILTER (WHERE i.utm_term IS NOT NULL))[1] AS utm_term,
               (array_agg(i.meta_fbp ORDER BY i.ord) FILTER (WHERE i.meta_fbp IS NOT NULL))[1] AS meta_fbp,
               (array_agg(i.meta_fbc ORDER BY i.ord) FILTER (WHERE i.meta_fbc IS NOT NULL))[1] AS meta_fbc,
               (array_agg(i.meta_lead_form_id ORDER BY i.ord) FILTER (WHERE i.meta_lead_form_id IS NOT NULL))[1] AS meta_lead_form_id,
               (array_agg(i.source_product ORDER BY i.ord) FILTER (WHERE i.source_product IS NOT NULL))[1] AS source_product,
               max(i.lifecycle_stage) AS lifecycle_stage,
               shared._jsonb_fill(i.properties ORDER BY i.ord) AS properties
        FROM input AS i
        GROUP BY i.email
    ), upserted AS (
        INSERT INTO shared.person AS p (
            email, phone, first_name, last_name, city, state, zip, country, date_of_birth,
            gender, utm_source, utm_medium, utm_campaign, utm_content, utm_term, meta_fbp,
            meta_fbc, meta_lead_form_id, source_product, lifecycle_stage, properties)
        SELECT m.email, m.phone, m.first_name, m.last_name, m.city, m.state, m.zip, m.country,
               m.date_of_birth, m.gender, m.utm_source, m.utm_medium, m.utm_campaign,
               m.utm_content, m.utm_term, m.meta_fbp, m.meta_fbc, m.meta_lead_form_id,
               m.source_product, coalesce(m.lifecycle_stage, 'lead'), m.properties
        FROM merged AS m
        ORDER BY m.first_ord
        ON CONFLICT (email) DO UPDATE SET
            phone = coalesce(p.phone, excluded.phone),
            first_name = coalesce(p.first_name, excluded.first_name),
            last_name = coalesce(p.last_name, excluded.last_name),
            city = coalesce(p.city, excluded.city),
            state = coalesce(p.state, excluded.state),
            zip = coalesce(p.zip, excluded.zip),
            country = coalesce(p.country, excluded.country),
            date_of_birth = coalesce(p.date_of_birth, excluded.date_of_birth),
            gender = coalesce(p.gender, excluded.gender),
            utm_source = coalesce(p.utm_source, excluded.utm_source),
            utm_medium = coalesce(p.utm_medium, excluded.utm_medium),
            utm_campaign = coalesce(p.utm_campaign, excluded.utm_campaign),
            utm_content = coalesce(p.utm_content, excluded.utm_content),
            utm_term = coalesce(p.utm_term, excluded.utm_term),
            meta_fbp = coalesce(p.meta_fbp, excluded.meta_fbp),
            meta_fbc = coalesce(p.meta_fbc, excluded.meta_fbc),
            meta_lead_form_id = coalesce(p.meta_lead_form_id, excluded.meta_lead_form_id),
            source_product = coalesce(p.source_product, excluded.source_product),
            lifecycle_stage = greatest(p.lifecycle_stage, excluded.lifecycle_stage),
            properties = excluded.properties || p.properties
        RETURNING p.id, p.email, (p.xmax = 0) AS was_inserted
    ), linked AS (
        INSERT INTO shared.identity_link (person_id, provider, external_id, metadata)
        SELECT u.id, idn.v ->> 'provider', idn.v ->> 'external_id',
               coalesce(idn.v -> 'metadata', '{}'::jsonb)
        FROM input AS i
        JOIN upserted AS u ON u.email = i.email
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(p_people -> (i.ord - 1) -> 'identities') = 'array'
                 THEN p_people -> (i.ord - 1) -> 'identities' ELSE '[]'::jsonb END) AS idn(v)
        ORDER BY i.ord
        ON CONFLICT ON CONSTRAINT identity_link_provider_external_id_key DO NOTHING
        RETURNING 1
    )
    -- "linked" runs to completion although nothing reads it (data-modifying CTEs always do).
    SELECT i.ord, u.id, u.was_inserted
    FROM input AS i
    JOIN upserted AS u ON u.email = i.email
    ORDER BY i.ord;

    -- An identity that already belonged to someone else (or is claimed twice in this call) is
    -- refused, never silently moved; raising here rolls the whole call back.
    SELECT e.ord, idn.v ->> 'provider' AS provider, l.person_id AS owner INTO v_conflict
    FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(e.v -> 'identities') = 'array'
             THEN e.v -> 'identities' ELSE '[]'::jsonb END) AS idn(v)
    JOIN shared.person AS p ON p.email = shared._normalize_email(e.v ->> 'email')
    JOIN shared.identity_link AS l
      ON l.provider = idn.v ->> 'provider' AND l.external_id = idn.v ->> 'external_id'
    WHERE l.person_id <> p.id
    ORDER BY e.ord
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD409', 'identities',
            format('the %s identity is already linked to another person (%s) (entry %s)',
                   v_conflict.provider, v_conflict.owner, v_conflict.ord));
    END IF;
END
$function$;

CREATE OR REPLACE FUNCTION shared.upsert_person(p_email text, p_phone text DEFAULT NULL::text, p_first_name text DEFAULT NULL::text, p_last_name text DEFAULT NULL::text, p_utm_source text DEFAULT NULL::text, p_utm_medium text DEFAULT NULL::text, p_utm_campaign text DEFAULT NULL::text, p_utm_content text DEFAULT NULL::text, p_utm_term text DEFAULT NULL::text, p_meta_fbp text DEFAULT NULL::text, p_meta_fbc text DEFAULT NULL::text, p_meta_lead_form_id text DEFAULT NULL::text, p_source_product text DEFAULT NULL::text, p_lifecycle_stage text DEFAULT NULL::text, p_properties jsonb DEFAULT NULL::jsonb, p_identities jsonb DEFAULT NULL::jsonb)
 RETURNS uuid
 LANGUAGE sql
AS $function$
    SELECT u.person_id
    FROM shared.upsert_people(jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
        'email', p_email, 'phone', p_phone, 'first_name', p_first_name,
        'last_name', p_last_name, 'utm_source', p_utm_source, 'utm_medium', p_utm_medium,
        'utm_campaign', p_utm_campaign, 'utm_content', p_utm_content, 'utm_term', p_utm_term,
        'meta_fbp', p_meta_fbp, 'meta_fbc', p_meta_fbc,
        'meta_lead_form_id', p_meta_lead_form_id, 'source_product', p_source_product,
        'lifecycle_stage', p_lifecycle_stage, 'properties', p_properties,
        'identities', p_identities)))) AS u
$function$;

CREATE OR REPLACE FUNCTION shared.withdraw_checklist_acknowledgement(p_item_key text, p_actor text, p_note text DEFAULT NULL::text)
 RETURNS shared.deploy_checklist_item
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_item shared.deploy_checklist_item;
    v_before text;
BEGIN
    SELECT * INTO v_item FROM shared.deploy_checklist_item WHERE item_key = p_item_key FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'item', format('no checklist item %s', p_item_key));
    END IF;
    v_before := v_item.acknowledged_by;
    UPDATE shared.deploy_checklist_item
    SET acknowledged_by = NULL, acknowledged_at = NULL, note = p_note
    WHERE item_key = p_item_key
    RETURNING * INTO v_item;
    IF v_before IS NOT NULL THEN
        INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
        VALUES ('checklist', p_item_key, v_actor,
                jsonb_build_object('acknowledged_by', v_before), 'null', p_note);
    END IF;
    RETURN v_item;
END
$function$;

GRANT EXECUTE ON FUNCTION pgmq."create"(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._belongs_to_pgmq(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._create_fifo_index_if_not_exists(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._ensure_pg_partman_installed() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._extension_exists(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._get_partition_col(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._get_pg_partman_major_version() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._get_pg_partman_schema() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._send_batch(text, jsonb[], jsonb[], timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq._validate_batch_params(jsonb[], jsonb[]) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.acquire_queue_lock(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.archive(text, bigint) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.archive(text, bigint[]) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.bind_topic(text, text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.convert_archive_partitioned(text, text, text, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.create_fifo_index(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.create_fifo_indexes_all() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.create_non_partitioned(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.create_partitioned(text, text, text, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.create_unlogged(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.delete(text, bigint) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.delete(text, bigint[]) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.detach_archive(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.disable_notify_insert(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.drop_queue(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.drop_queue(text, boolean) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.enable_notify_insert(text, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.format_table_name(text, text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.list_notify_insert_throttles() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.list_queues() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.list_topic_bindings() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.list_topic_bindings(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.metrics(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.metrics_all() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.notify_queue_listeners() TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.pop(text, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.purge_queue(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.read(text, integer, integer, jsonb) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.read_grouped(text, integer, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.read_grouped_head(text, integer, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.read_grouped_head_with_poll(text, integer, integer, integer, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.read_grouped_rr(text, integer, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.read_grouped_rr_with_poll(text, integer, integer, integer, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.read_grouped_with_poll(text, integer, integer, integer, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.read_with_poll(text, integer, integer, integer, integer, jsonb) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send(text, jsonb) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send(text, jsonb, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send(text, jsonb, jsonb) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send(text, jsonb, jsonb, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send(text, jsonb, jsonb, timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send(text, jsonb, timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch(text, jsonb[]) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch(text, jsonb[], integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch(text, jsonb[], jsonb[]) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch(text, jsonb[], jsonb[], integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch(text, jsonb[], jsonb[], timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch(text, jsonb[], timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch_topic(text, jsonb[]) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch_topic(text, jsonb[], integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch_topic(text, jsonb[], jsonb[]) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch_topic(text, jsonb[], jsonb[], integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch_topic(text, jsonb[], jsonb[], timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_batch_topic(text, jsonb[], timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_topic(text, jsonb) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_topic(text, jsonb, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.send_topic(text, jsonb, jsonb, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.set_vt(text, bigint, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.set_vt(text, bigint, timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.set_vt(text, bigint[], integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.set_vt(text, bigint[], timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.test_routing(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.unbind_topic(text, text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.update_notify_insert(text, integer) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.validate_queue_name(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.validate_routing_key(text) TO service_role;

GRANT EXECUTE ON FUNCTION pgmq.validate_topic_pattern(text) TO service_role;

REVOKE ALL ON FUNCTION shared._all_sha256_hex(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._all_sha256_hex(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._conversion_rule_applies(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._conversion_rule_applies(text, text) TO service_role;

REVOKE ALL ON FUNCTION shared._event_check_references() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._event_check_references() TO service_role;

REVOKE ALL ON FUNCTION shared._event_check_references_on_update() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._event_check_references_on_update() TO service_role;

REVOKE ALL ON FUNCTION shared._event_enqueue_for_meta() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._event_enqueue_for_meta() TO service_role;

REVOKE ALL ON FUNCTION shared._is_sha256_hex(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._is_sha256_hex(text) TO service_role;

REVOKE ALL ON FUNCTION shared._is_valid_email(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._is_valid_email(text) TO service_role;

REVOKE ALL ON FUNCTION shared._jsonb_fill(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._jsonb_fill(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._jsonb_fill_step(jsonb, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._jsonb_fill_step(jsonb, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._lock_flag(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._lock_flag(text) TO service_role;

REVOKE ALL ON FUNCTION shared._meta_phone_digits(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._meta_phone_digits(text) TO service_role;

REVOKE ALL ON FUNCTION shared._meta_user_data_entry_ok(text, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._meta_user_data_entry_ok(text, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._meta_user_data_key_kind(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._meta_user_data_key_kind(text) TO service_role;

REVOKE ALL ON FUNCTION shared._meta_user_data_problem(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._meta_user_data_problem(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._normalize_email(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._normalize_email(text) TO service_role;

REVOKE ALL ON FUNCTION shared._normalize_gender(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._normalize_gender(text) TO service_role;

REVOKE ALL ON FUNCTION shared._normalize_phone(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._normalize_phone(text) TO service_role;

REVOKE ALL ON FUNCTION shared._people_input_problem(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._people_input_problem(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._person_after_delete() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._person_after_delete() TO service_role;

REVOKE ALL ON FUNCTION shared._person_before_write() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._person_before_write() TO service_role;

REVOKE ALL ON FUNCTION shared._person_input_keys() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._person_input_keys() TO service_role;

REVOKE ALL ON FUNCTION shared._product_before_delete() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._product_before_delete() TO service_role;

REVOKE ALL ON FUNCTION shared._raise(text, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._raise(text, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared._require_actor(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._require_actor(text) TO service_role;

REVOKE ALL ON FUNCTION shared._setting_present(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._setting_present(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._sha256_hex(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._sha256_hex(text) TO service_role;

REVOKE ALL ON FUNCTION shared._trim(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._trim(text) TO service_role;

REVOKE ALL ON FUNCTION shared._try_iso_date(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._try_iso_date(text) TO service_role;

REVOKE ALL ON FUNCTION shared.acknowledge_checklist_item(text, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.acknowledge_checklist_item(text, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.authenticate_service_key(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.authenticate_service_key(text) TO service_role;

REVOKE ALL ON FUNCTION shared.capi_event_status(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.capi_event_status(text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.capi_set_breaker(text, text, integer, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.capi_set_breaker(text, text, integer, text) TO service_role;

REVOKE ALL ON FUNCTION shared.conversion_rule_for(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.conversion_rule_for(text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.create_service_key(text, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.create_service_key(text, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.disable_flag(text, text, boolean, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.disable_flag(text, text, boolean, text) TO service_role;

REVOKE ALL ON FUNCTION shared.enable_flag(text, text, text[], text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.enable_flag(text, text, text[], text) TO service_role;

REVOKE ALL ON FUNCTION shared.erase_person(uuid, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.erase_person(uuid, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.erase_person_by_email(text, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.erase_person_by_email(text, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.flag_blockers(text, text[]) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.flag_blockers(text, text[]) TO service_role;

REVOKE ALL ON FUNCTION shared.gate_report(text[]) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.gate_report(text[]) TO service_role;

REVOKE ALL ON FUNCTION shared.ingest_events(text, jsonb, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.ingest_events(text, jsonb, text) TO service_role;

REVOKE ALL ON FUNCTION shared.is_enabled(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.is_enabled(text) TO service_role;

REVOKE ALL ON FUNCTION shared.link_identity(uuid, text, text, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.link_identity(uuid, text, text, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.record_capi_outcomes(jsonb, bigint[]) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.record_capi_outcomes(jsonb, bigint[]) TO service_role;

REVOKE ALL ON FUNCTION shared.record_consent(uuid, text, text, timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.record_consent(uuid, text, text, timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION shared.replay_dead_letters(bigint[], text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.replay_dead_letters(bigint[], text) TO service_role;

REVOKE ALL ON FUNCTION shared.revoke_service_key(uuid, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.revoke_service_key(uuid, text) TO service_role;

REVOKE ALL ON FUNCTION shared.set_lifecycle_stage(uuid, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.set_lifecycle_stage(uuid, text) TO service_role;

REVOKE ALL ON FUNCTION shared.set_setting(text, jsonb, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.set_setting(text, jsonb, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.setting_value(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.setting_value(text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.unset_setting(text, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.unset_setting(text, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.upsert_people(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.upsert_people(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.upsert_person(text, text, text, text, text, text, text, text, text, text, text, text, text, text, jsonb, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.upsert_person(text, text, text, text, text, text, text, text, text, text, text, text, text, text, jsonb, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.withdraw_checklist_acknowledgement(text, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.withdraw_checklist_acknowledgement(text, text, text) TO service_role;

GRANT USAGE ON SCHEMA pgmq TO service_role;

GRANT USAGE ON SCHEMA shared TO service_role;

GRANT SELECT ON SEQUENCE pgmq.q_meta_capi_msg_id_seq TO service_role;

GRANT USAGE ON SEQUENCE pgmq.q_meta_capi_msg_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.attribution_events_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.attribution_events_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.capi_dead_letter_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.capi_dead_letter_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.consent_log_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.consent_log_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.conversion_rule_rule_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.conversion_rule_rule_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.erasure_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.erasure_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.event_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.event_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.gate_audit_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.gate_audit_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.product_event_product_event_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.product_event_product_event_id_seq TO service_role;

GRANT DELETE ON TABLE pgmq.a_meta_capi TO service_role;

GRANT INSERT ON TABLE pgmq.a_meta_capi TO service_role;

GRANT SELECT ON TABLE pgmq.a_meta_capi TO service_role;

GRANT UPDATE ON TABLE pgmq.a_meta_capi TO service_role;

GRANT DELETE ON TABLE pgmq.meta TO service_role;

GRANT INSERT ON TABLE pgmq.meta TO service_role;

GRANT SELECT ON TABLE pgmq.meta TO service_role;

GRANT UPDATE ON TABLE pgmq.meta TO service_role;

GRANT DELETE ON TABLE pgmq.notify_insert_throttle TO service_role;

GRANT INSERT ON TABLE pgmq.notify_insert_throttle TO service_role;

GRANT SELECT ON TABLE pgmq.notify_insert_throttle TO service_role;

GRANT UPDATE ON TABLE pgmq.notify_insert_throttle TO service_role;

GRANT DELETE ON TABLE pgmq.q_meta_capi TO service_role;

GRANT INSERT ON TABLE pgmq.q_meta_capi TO service_role;

GRANT SELECT ON TABLE pgmq.q_meta_capi TO service_role;

GRANT UPDATE ON TABLE pgmq.q_meta_capi TO service_role;

GRANT DELETE ON TABLE pgmq.topic_bindings TO service_role;

GRANT INSERT ON TABLE pgmq.topic_bindings TO service_role;

GRANT SELECT ON TABLE pgmq.topic_bindings TO service_role;

GRANT UPDATE ON TABLE pgmq.topic_bindings TO service_role;

GRANT DELETE ON TABLE shared.attribution_events TO service_role;

GRANT INSERT ON TABLE shared.attribution_events TO service_role;

GRANT SELECT ON TABLE shared.attribution_events TO service_role;

GRANT UPDATE ON TABLE shared.attribution_events TO service_role;

GRANT DELETE ON TABLE shared.capi_dead_letter TO service_role;

GRANT INSERT ON TABLE shared.capi_dead_letter TO service_role;

GRANT SELECT ON TABLE shared.capi_dead_letter TO service_role;

GRANT UPDATE ON TABLE shared.capi_dead_letter TO service_role;

GRANT DELETE ON TABLE shared.capi_pixel_state TO service_role;

GRANT INSERT ON TABLE shared.capi_pixel_state TO service_role;

GRANT SELECT ON TABLE shared.capi_pixel_state TO service_role;

GRANT UPDATE ON TABLE shared.capi_pixel_state TO service_role;

GRANT DELETE ON TABLE shared.consent_log TO service_role;

GRANT INSERT ON TABLE shared.consent_log TO service_role;

GRANT SELECT ON TABLE shared.consent_log TO service_role;

GRANT UPDATE ON TABLE shared.consent_log TO service_role;

GRANT DELETE ON TABLE shared.conversion_rule TO service_role;

GRANT INSERT ON TABLE shared.conversion_rule TO service_role;

GRANT SELECT ON TABLE shared.conversion_rule TO service_role;

GRANT UPDATE ON TABLE shared.conversion_rule TO service_role;

GRANT DELETE ON TABLE shared.deploy_checklist_item TO service_role;

GRANT INSERT ON TABLE shared.deploy_checklist_item TO service_role;

GRANT SELECT ON TABLE shared.deploy_checklist_item TO service_role;

GRANT UPDATE ON TABLE shared.deploy_checklist_item TO service_role;

GRANT DELETE ON TABLE shared.erasure TO service_role;

GRANT INSERT ON TABLE shared.erasure TO service_role;

GRANT SELECT ON TABLE shared.erasure TO service_role;

GRANT UPDATE ON TABLE shared.erasure TO service_role;

GRANT DELETE ON TABLE shared.event TO service_role;

GRANT INSERT ON TABLE shared.event TO service_role;

GRANT SELECT ON TABLE shared.event TO service_role;

GRANT UPDATE ON TABLE shared.event TO service_role;

GRANT DELETE ON TABLE shared.feature_flag TO service_role;

GRANT INSERT ON TABLE shared.feature_flag TO service_role;

GRANT SELECT ON TABLE shared.feature_flag TO service_role;

GRANT UPDATE ON TABLE shared.feature_flag TO service_role;

GRANT DELETE ON TABLE shared.feature_flag_checklist TO service_role;

GRANT INSERT ON TABLE shared.feature_flag_checklist TO service_role;

GRANT SELECT ON TABLE shared.feature_flag_checklist TO service_role;

GRANT UPDATE ON TABLE shared.feature_flag_checklist TO service_role;

GRANT DELETE ON TABLE shared.feature_flag_prerequisite TO service_role;

GRANT INSERT ON TABLE shared.feature_flag_prerequisite TO service_role;

GRANT SELECT ON TABLE shared.feature_flag_prerequisite TO service_role;

GRANT UPDATE ON TABLE shared.feature_flag_prerequisite TO service_role;

GRANT DELETE ON TABLE shared.gate_audit TO service_role;

GRANT INSERT ON TABLE shared.gate_audit TO service_role;

GRANT SELECT ON TABLE shared.gate_audit TO service_role;

GRANT UPDATE ON TABLE shared.gate_audit TO service_role;

GRANT DELETE ON TABLE shared.identity_link TO service_role;

GRANT INSERT ON TABLE shared.identity_link TO service_role;

GRANT SELECT ON TABLE shared.identity_link TO service_role;

GRANT UPDATE ON TABLE shared.identity_link TO service_role;

GRANT DELETE ON TABLE shared.person TO service_role;

GRANT INSERT ON TABLE shared.person TO service_role;

GRANT SELECT ON TABLE shared.person TO service_role;

GRANT UPDATE ON TABLE shared.person TO service_role;

GRANT DELETE ON TABLE shared.product TO service_role;

GRANT INSERT ON TABLE shared.product TO service_role;

GRANT SELECT ON TABLE shared.product TO service_role;

GRANT UPDATE ON TABLE shared.product TO service_role;

GRANT DELETE ON TABLE shared.product_event TO service_role;

GRANT INSERT ON TABLE shared.product_event TO service_role;

GRANT SELECT ON TABLE shared.product_event TO service_role;

GRANT UPDATE ON TABLE shared.product_event TO service_role;

GRANT DELETE ON TABLE shared.service_key TO service_role;

GRANT INSERT ON TABLE shared.service_key TO service_role;

GRANT SELECT ON TABLE shared.service_key TO service_role;

GRANT UPDATE ON TABLE shared.service_key TO service_role;

GRANT DELETE ON TABLE shared.setting TO service_role;

GRANT INSERT ON TABLE shared.setting TO service_role;

GRANT SELECT ON TABLE shared.setting TO service_role;

GRANT UPDATE ON TABLE shared.setting TO service_role;

GRANT DELETE ON TABLE shared.setting_definition TO service_role;

GRANT INSERT ON TABLE shared.setting_definition TO service_role;

GRANT SELECT ON TABLE shared.setting_definition TO service_role;

GRANT UPDATE ON TABLE shared.setting_definition TO service_role;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.attribution_events'::regclass AND p.polname = 'Only the service role can read or write delivery records'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write delivery records" ON shared.attribution_events;
        CREATE POLICY "Only the service role can read or write delivery records" ON shared.attribution_events
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.attribution_events'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.attribution_events ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_dead_letter'::regclass AND p.polname = 'Only the service role can read or write dead letters'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write dead letters" ON shared.capi_dead_letter;
        CREATE POLICY "Only the service role can read or write dead letters" ON shared.capi_dead_letter
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.capi_dead_letter'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.capi_dead_letter ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_pixel_state'::regclass AND p.polname = 'Only the service role can read or write pixel states'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write pixel states" ON shared.capi_pixel_state;
        CREATE POLICY "Only the service role can read or write pixel states" ON shared.capi_pixel_state
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.capi_pixel_state'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.capi_pixel_state ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.consent_log'::regclass AND p.polname = 'Only the service role can read or write consent records'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write consent records" ON shared.consent_log;
        CREATE POLICY "Only the service role can read or write consent records" ON shared.consent_log
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.consent_log'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.consent_log ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.conversion_rule'::regclass AND p.polname = 'Only the service role can read or change conversion rules'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or change conversion rules" ON shared.conversion_rule;
        CREATE POLICY "Only the service role can read or change conversion rules" ON shared.conversion_rule
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.conversion_rule'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.conversion_rule ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.deploy_checklist_item'::regclass AND p.polname = 'Only the service role can read or acknowledge the checklist'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or acknowledge the checklist" ON shared.deploy_checklist_item;
        CREATE POLICY "Only the service role can read or acknowledge the checklist" ON shared.deploy_checklist_item
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.deploy_checklist_item'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.deploy_checklist_item ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.erasure'::regclass AND p.polname = 'Only the service role can read or write erasure records'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write erasure records" ON shared.erasure;
        CREATE POLICY "Only the service role can read or write erasure records" ON shared.erasure
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.erasure'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.erasure ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.event'::regclass AND tgname = 'event_check_references' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER event_check_references AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_references()') THEN
        CREATE OR REPLACE TRIGGER event_check_references AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_check_references();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.event'::regclass AND tgname = 'event_check_references_on_update' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER event_check_references_on_update BEFORE UPDATE OF product_id, person_id, meta_user_data ON shared.event FOR EACH ROW EXECUTE FUNCTION shared._event_check_references_on_update()') THEN
        CREATE OR REPLACE TRIGGER event_check_references_on_update BEFORE UPDATE OF product_id, person_id, meta_user_data ON shared.event FOR EACH ROW EXECUTE FUNCTION shared._event_check_references_on_update();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.event'::regclass AND tgname = 'event_enqueue_for_meta' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER event_enqueue_for_meta AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_enqueue_for_meta()') THEN
        CREATE OR REPLACE TRIGGER event_enqueue_for_meta AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_enqueue_for_meta();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.event'::regclass AND p.polname = 'Only the service role can read or write events'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write events" ON shared.event;
        CREATE POLICY "Only the service role can read or write events" ON shared.event
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.event'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.event ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag'::regclass AND p.polname = 'Only the service role can read or change feature flags'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or change feature flags" ON shared.feature_flag;
        CREATE POLICY "Only the service role can read or change feature flags" ON shared.feature_flag
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.feature_flag'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.feature_flag ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag_checklist'::regclass AND p.polname = 'Only the service role can read or change flag checklists'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or change flag checklists" ON shared.feature_flag_checklist;
        CREATE POLICY "Only the service role can read or change flag checklists" ON shared.feature_flag_checklist
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.feature_flag_checklist'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.feature_flag_checklist ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag_prerequisite'::regclass AND p.polname = 'Only the service role can read or change flag prerequisites'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or change flag prerequisites" ON shared.feature_flag_prerequisite;
        CREATE POLICY "Only the service role can read or change flag prerequisites" ON shared.feature_flag_prerequisite
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.feature_flag_prerequisite'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.feature_flag_prerequisite ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.gate_audit'::regclass AND p.polname = 'Only the service role can read or write the gate audit'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write the gate audit" ON shared.gate_audit;
        CREATE POLICY "Only the service role can read or write the gate audit" ON shared.gate_audit
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.gate_audit'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.gate_audit ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.identity_link'::regclass AND p.polname = 'Only the service role can read or write identity links'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write identity links" ON shared.identity_link;
        CREATE POLICY "Only the service role can read or write identity links" ON shared.identity_link
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.identity_link'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.identity_link ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.person'::regclass AND tgname = 'person_after_delete' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER person_after_delete AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_after_delete()') THEN
        CREATE OR REPLACE TRIGGER person_after_delete AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_after_delete();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.person'::regclass AND tgname = 'person_before_write' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER person_before_write BEFORE INSERT OR UPDATE ON shared.person FOR EACH ROW EXECUTE FUNCTION shared._person_before_write()') THEN
        CREATE OR REPLACE TRIGGER person_before_write BEFORE INSERT OR UPDATE ON shared.person FOR EACH ROW EXECUTE FUNCTION shared._person_before_write();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.person'::regclass AND p.polname = 'Only the service role can read or write people'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write people" ON shared.person;
        CREATE POLICY "Only the service role can read or write people" ON shared.person
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.person'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.person ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.product'::regclass AND tgname = 'product_before_delete' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER product_before_delete BEFORE DELETE ON shared.product FOR EACH ROW EXECUTE FUNCTION shared._product_before_delete()') THEN
        CREATE OR REPLACE TRIGGER product_before_delete BEFORE DELETE ON shared.product FOR EACH ROW EXECUTE FUNCTION shared._product_before_delete();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product'::regclass AND p.polname = 'Only the service role can read or write products'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write products" ON shared.product;
        CREATE POLICY "Only the service role can read or write products" ON shared.product
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.product'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.product ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product_event'::regclass AND p.polname = 'Only the service role can read or change product events'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or change product events" ON shared.product_event;
        CREATE POLICY "Only the service role can read or change product events" ON shared.product_event
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.product_event'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.product_event ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.service_key'::regclass AND p.polname = 'Only the service role can read or write service keys'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or write service keys" ON shared.service_key;
        CREATE POLICY "Only the service role can read or write service keys" ON shared.service_key
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.service_key'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.service_key ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting'::regclass AND p.polname = 'Only the service role can read or change settings'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or change settings" ON shared.setting;
        CREATE POLICY "Only the service role can read or change settings" ON shared.setting
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.setting'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.setting ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting_definition'::regclass AND p.polname = 'Only the service role can read or change setting definitions'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '(( SELECT auth.role() AS role) = ''service_role''::text)'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['anon', 'authenticated', 'service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read or change setting definitions" ON shared.setting_definition;
        CREATE POLICY "Only the service role can read or change setting definitions" ON shared.setting_definition
            AS PERMISSIVE FOR ALL
            TO anon, authenticated, service_role
            USING ((( SELECT auth.role() AS role) = 'service_role'::text))
            WITH CHECK ((( SELECT auth.role() AS role) = 'service_role'::text));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.setting_definition'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.setting_definition ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

-- migrate:down
