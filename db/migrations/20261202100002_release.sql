-- migrate:up
-- gdp:release sources=sha256:96252bcd363041a8fa85a03410e4822ea910c216cb6e2f57a51399032d39309a

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._event_check_references()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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

CREATE OR REPLACE FUNCTION shared._event_enqueue_for_meta()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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

CREATE OR REPLACE FUNCTION shared._people_for_caller(p_people jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
DECLARE
    v_claim text;
    v_bad record;
BEGIN
    IF current_setting('role', true) IS DISTINCT FROM 'gdp_product'
       AND current_user <> 'gdp_product' THEN
        RETURN p_people;
    END IF;
    v_claim := shared.product_claim();
    IF v_claim IS NULL THEN
        PERFORM shared._raise('GD403', 'product_id',
            'this request carries no valid product credential (a gdp_product JWT from '
            '`gdp keys create PRODUCT --jwt` that is not revoked)');
    END IF;
    IF p_people IS NULL OR jsonb_typeof(p_people) <> 'array' THEN
        RETURN p_people;
    END IF;
    SELECT e.ord, e.v ->> 'source_product' AS product INTO v_bad
    FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    WHERE jsonb_typeof(e.v) = 'object'
      AND e.v ? 'source_product' AND jsonb_typeof(e.v -> 'source_product') <> 'null'
      AND e.v ->> 'source_product' IS DISTINCT FROM v_claim
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD403', 'source_product',
            format('a credential of %s upserts people only for %s, not %s (entry %s)',
                   v_claim, v_claim, v_bad.product, v_bad.ord));
    END IF;
    RETURN (
        SELECT jsonb_agg(CASE WHEN jsonb_typeof(e.v) = 'object'
                              THEN e.v || jsonb_build_object('source_product', v_claim)
                              ELSE e.v END
                         ORDER BY e.ord)
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    );
END
$function$;

CREATE OR REPLACE FUNCTION shared._refuse_foreign_product(p_product_id text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_claim text := shared.product_claim();
BEGIN
    IF v_claim IS NULL THEN
        PERFORM shared._raise('GD403', 'product_id',
            'this request carries no valid product credential (a gdp_product JWT from '
            '`gdp keys create PRODUCT --jwt` that is not revoked)');
    END IF;
    PERFORM shared._raise('GD403', 'product_id',
        format('a credential of %s writes only rows of %s, not %s',
               v_claim, v_claim, coalesce(p_product_id, 'NULL')));
    RETURN false;
END
$function$;

CREATE OR REPLACE FUNCTION shared.acknowledge_checklist_item(p_item_key text, p_actor text, p_note text DEFAULT NULL::text)
 RETURNS shared.deploy_checklist_item
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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
 SECURITY DEFINER
 SET search_path TO ''
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

CREATE OR REPLACE FUNCTION shared.create_product_credential(p_product_id text, p_actor text, p_label text DEFAULT NULL::text, p_expires_at timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS shared.product_credential
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.product_credential;
BEGIN
    PERFORM 1 FROM shared.product WHERE product_id = p_product_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD400', 'product', format('%s is not a known product', p_product_id));
    END IF;
    IF p_expires_at IS NOT NULL AND p_expires_at <= now() THEN
        PERFORM shared._raise('GD400', 'expires_at', 'must be in the future');
    END IF;
    INSERT INTO shared.product_credential (product_id, label, created_by, expires_at)
    VALUES (p_product_id, p_label, v_actor, p_expires_at)
    RETURNING * INTO v_row;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('product_credential', v_row.id::text, v_actor, NULL, to_jsonb('created'::text),
            format('product %s', p_product_id));
    RETURN v_row;
END
$function$;

CREATE OR REPLACE FUNCTION shared.create_service_key(p_product_id text, p_actor text, p_label text DEFAULT NULL::text)
 RETURNS TABLE(key_id uuid, service_key text, key_prefix text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('service_key', v_id::text, v_actor, NULL, to_jsonb('created'::text),
            format('product %s', p_product_id));
    RETURN QUERY SELECT v_id, v_key, left(v_key, length(p_product_id) + 16);
END
$function$;

CREATE OR REPLACE FUNCTION shared.disable_flag(p_flag_key text, p_actor text, p_cascade boolean DEFAULT false, p_note text DEFAULT NULL::text)
 RETURNS shared.feature_flag
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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
 SECURITY DEFINER
 SET search_path TO ''
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

CREATE OR REPLACE FUNCTION shared.list_keys()
 RETURNS TABLE(id uuid, product_id text, kind text, key_prefix text, label text, created_at timestamp with time zone, created_by text, expires_at timestamp with time zone, revoked_at timestamp with time zone, last_used_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT k.id, k.product_id, 'service_key', k.key_prefix, k.label, k.created_at, k.created_by,
           NULL::timestamptz, k.revoked_at, k.last_used_at
    FROM shared.service_key AS k
    UNION ALL
    SELECT c.id, c.product_id, 'product_jwt', 'jwt', c.label, c.created_at, c.created_by,
           c.expires_at, c.revoked_at, NULL::timestamptz
    FROM shared.product_credential AS c
    ORDER BY 2, 6
$function$;

CREATE OR REPLACE FUNCTION shared.product_claim()
 RETURNS text
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT c.product_id
    FROM (SELECT auth.jwt() AS claims) AS j
    JOIN shared.product_credential AS c
      ON c.id = CASE WHEN (j.claims ->> 'jti') ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                     THEN (j.claims ->> 'jti')::uuid END
     AND c.product_id = j.claims ->> 'product_id'
    WHERE (current_user = 'gdp_product'
           OR current_setting('role', true) = 'gdp_product')
      AND c.revoked_at IS NULL
      AND (c.expires_at IS NULL OR c.expires_at > now())
$function$;

CREATE OR REPLACE FUNCTION shared.revoke_key(p_key_id uuid, p_actor text)
 RETURNS TABLE(id uuid, product_id text, kind text, revoked_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
#variable_conflict use_column
DECLARE
    v_actor text := shared._require_actor(p_actor);
BEGIN
    RETURN QUERY
    WITH done AS (
        UPDATE shared.service_key AS k
        SET revoked_at = coalesce(k.revoked_at, now()), revoked_by = coalesce(k.revoked_by, v_actor)
        WHERE k.id = p_key_id
        RETURNING k.id, k.product_id, k.revoked_at)
    SELECT d.id, d.product_id, 'service_key'::text, d.revoked_at FROM done AS d;
    IF FOUND THEN
        INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
        VALUES ('service_key', p_key_id::text, v_actor, to_jsonb('created'::text),
                to_jsonb('revoked'::text));
        RETURN;
    END IF;
    RETURN QUERY
    WITH done AS (
        UPDATE shared.product_credential AS c
        SET revoked_at = coalesce(c.revoked_at, now()), revoked_by = coalesce(c.revoked_by, v_actor)
        WHERE c.id = p_key_id
        RETURNING c.id, c.product_id, c.revoked_at)
    SELECT d.id, d.product_id, 'product_jwt'::text, d.revoked_at FROM done AS d;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no service key or product credential %s', p_key_id));
    END IF;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
    VALUES ('product_credential', p_key_id::text, v_actor, to_jsonb('created'::text),
            to_jsonb('revoked'::text));
END
$function$;

CREATE OR REPLACE FUNCTION shared.revoke_service_key(p_key_id uuid, p_actor text)
 RETURNS shared.service_key
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
    VALUES ('service_key', p_key_id::text, v_actor, to_jsonb('created'::text),
            to_jsonb('revoked'::text));
    RETURN v_row;
END
$function$;

CREATE OR REPLACE FUNCTION shared.set_setting(p_setting_key text, p_value jsonb, p_actor text, p_scope text DEFAULT 'global'::text)
 RETURNS shared.setting
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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

CREATE OR REPLACE FUNCTION shared.unset_setting(p_setting_key text, p_actor text, p_scope text DEFAULT 'global'::text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
#variable_conflict use_column
DECLARE
    v_problem record;
    v_conflict record;
BEGIN
    -- A product (role gdp_product) upserts only as itself (db/functions/15_identity.sql).
    p_people := shared._people_for_caller(p_people);
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

CREATE OR REPLACE FUNCTION shared.withdraw_checklist_acknowledgement(p_item_key text, p_actor text, p_note text DEFAULT NULL::text)
 RETURNS shared.deploy_checklist_item
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
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

REVOKE ALL (action_source) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (action_source) ON TABLE shared.event TO gdp_product;

REVOKE ALL (client_ip_address) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (client_ip_address) ON TABLE shared.event TO gdp_product;

REVOKE ALL (client_user_agent) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (client_user_agent) ON TABLE shared.event TO gdp_product;

REVOKE ALL (event_id) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (event_id) ON TABLE shared.event TO gdp_product;

REVOKE ALL (event_name) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (event_name) ON TABLE shared.event TO gdp_product;

REVOKE ALL (event_source_url) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (event_source_url) ON TABLE shared.event TO gdp_product;

REVOKE ALL (fbc) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (fbc) ON TABLE shared.event TO gdp_product;

REVOKE ALL (fbp) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (fbp) ON TABLE shared.event TO gdp_product;

REVOKE ALL (meta_event_name) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (meta_event_name) ON TABLE shared.event TO gdp_product;

REVOKE ALL (meta_user_data) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (meta_user_data) ON TABLE shared.event TO gdp_product;

REVOKE ALL (occurred_at) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (occurred_at) ON TABLE shared.event TO gdp_product;

REVOKE ALL (person_id) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (person_id) ON TABLE shared.event TO gdp_product;

REVOKE ALL (product_id) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (product_id) ON TABLE shared.event TO gdp_product;

REVOKE ALL (properties) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (properties) ON TABLE shared.event TO gdp_product;

REVOKE ALL (source) ON TABLE shared.event FROM PUBLIC, anon, authenticated, service_role;

GRANT INSERT (source) ON TABLE shared.event TO gdp_product;

REVOKE ALL ON FUNCTION shared._people_for_caller(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._people_for_caller(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._refuse_foreign_product(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._refuse_foreign_product(text) TO gdp_product;

GRANT EXECUTE ON FUNCTION shared._refuse_foreign_product(text) TO service_role;

GRANT EXECUTE ON FUNCTION shared._setting_present(jsonb) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.acknowledge_checklist_item(text, text, text) TO gdp_admin;

REVOKE ALL ON FUNCTION shared.create_product_credential(text, text, text, timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.create_product_credential(text, text, text, timestamp with time zone) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.create_product_credential(text, text, text, timestamp with time zone) TO service_role;

GRANT EXECUTE ON FUNCTION shared.create_service_key(text, text, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.disable_flag(text, text, boolean, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.enable_flag(text, text, text[], text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.flag_blockers(text, text[]) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.gate_report(text[]) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.is_enabled(text) TO gdp_admin;

REVOKE ALL ON FUNCTION shared.list_keys() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.list_keys() TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.list_keys() TO service_role;

REVOKE ALL ON FUNCTION shared.product_claim() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.product_claim() TO gdp_product;

GRANT EXECUTE ON FUNCTION shared.product_claim() TO service_role;

REVOKE ALL ON FUNCTION shared.revoke_key(uuid, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.revoke_key(uuid, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.revoke_key(uuid, text) TO service_role;

GRANT EXECUTE ON FUNCTION shared.revoke_service_key(uuid, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.set_setting(text, jsonb, text, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.setting_value(text, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.unset_setting(text, text, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.upsert_people(jsonb) TO gdp_product;

GRANT EXECUTE ON FUNCTION shared.upsert_person(text, text, text, text, text, text, text, text, text, text, text, text, text, text, jsonb, jsonb) TO gdp_product;

GRANT EXECUTE ON FUNCTION shared.withdraw_checklist_acknowledgement(text, text, text) TO gdp_admin;

GRANT USAGE ON SCHEMA shared TO gdp_product;

GRANT SELECT ON TABLE shared.attribution_events TO gdp_product;

REVOKE DELETE ON TABLE shared.deploy_checklist_item FROM service_role;

REVOKE INSERT ON TABLE shared.deploy_checklist_item FROM service_role;

REVOKE UPDATE ON TABLE shared.deploy_checklist_item FROM service_role;

GRANT SELECT ON TABLE shared.deploy_checklist_item TO gdp_admin;

GRANT SELECT ON TABLE shared.event TO gdp_product;

REVOKE DELETE ON TABLE shared.feature_flag FROM service_role;

REVOKE INSERT ON TABLE shared.feature_flag FROM service_role;

REVOKE UPDATE ON TABLE shared.feature_flag FROM service_role;

GRANT SELECT ON TABLE shared.feature_flag TO gdp_admin;

REVOKE DELETE ON TABLE shared.feature_flag_checklist FROM service_role;

REVOKE INSERT ON TABLE shared.feature_flag_checklist FROM service_role;

REVOKE UPDATE ON TABLE shared.feature_flag_checklist FROM service_role;

GRANT SELECT ON TABLE shared.feature_flag_checklist TO gdp_admin;

REVOKE DELETE ON TABLE shared.feature_flag_prerequisite FROM service_role;

REVOKE INSERT ON TABLE shared.feature_flag_prerequisite FROM service_role;

REVOKE UPDATE ON TABLE shared.feature_flag_prerequisite FROM service_role;

GRANT SELECT ON TABLE shared.feature_flag_prerequisite TO gdp_admin;

REVOKE DELETE ON TABLE shared.gate_audit FROM service_role;

REVOKE INSERT ON TABLE shared.gate_audit FROM service_role;

REVOKE UPDATE ON TABLE shared.gate_audit FROM service_role;

GRANT SELECT ON TABLE shared.gate_audit TO gdp_admin;

GRANT SELECT ON TABLE shared.product TO gdp_admin;

GRANT SELECT ON TABLE shared.product_credential TO service_role;

REVOKE DELETE ON TABLE shared.service_key FROM service_role;

REVOKE INSERT ON TABLE shared.service_key FROM service_role;

REVOKE UPDATE ON TABLE shared.service_key FROM service_role;

REVOKE DELETE ON TABLE shared.setting FROM service_role;

REVOKE INSERT ON TABLE shared.setting FROM service_role;

REVOKE UPDATE ON TABLE shared.setting FROM service_role;

GRANT SELECT ON TABLE shared.setting TO gdp_admin;

REVOKE DELETE ON TABLE shared.setting_definition FROM service_role;

REVOKE INSERT ON TABLE shared.setting_definition FROM service_role;

REVOKE UPDATE ON TABLE shared.setting_definition FROM service_role;

GRANT SELECT ON TABLE shared.setting_definition TO gdp_admin;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.attribution_events'::regclass AND p.polname = 'Only the service role can read or write delivery records'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.attribution_events'::regclass AND p.polname = 'Only the service role can read or write delivery records') THEN
            ALTER POLICY "Only the service role can read or write delivery records" ON shared.attribution_events
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write delivery records" ON shared.attribution_events
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.attribution_events'::regclass AND p.polname = 'Products read only their own delivery records'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(product_id = ( SELECT shared.product_claim() AS product_claim))'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_product']::text[]) THEN
        DROP POLICY IF EXISTS "Products read only their own delivery records" ON shared.attribution_events;
        CREATE POLICY "Products read only their own delivery records" ON shared.attribution_events
            AS PERMISSIVE FOR SELECT
            TO gdp_product
            USING ((product_id = ( SELECT shared.product_claim() AS product_claim)));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_dead_letter'::regclass AND p.polname = 'Only the service role can read or write dead letters'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_dead_letter'::regclass AND p.polname = 'Only the service role can read or write dead letters') THEN
            ALTER POLICY "Only the service role can read or write dead letters" ON shared.capi_dead_letter
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write dead letters" ON shared.capi_dead_letter
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_pixel_state'::regclass AND p.polname = 'Only the service role can read or write pixel states'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_pixel_state'::regclass AND p.polname = 'Only the service role can read or write pixel states') THEN
            ALTER POLICY "Only the service role can read or write pixel states" ON shared.capi_pixel_state
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write pixel states" ON shared.capi_pixel_state
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.consent_log'::regclass AND p.polname = 'Only the service role can read or write consent records'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.consent_log'::regclass AND p.polname = 'Only the service role can read or write consent records') THEN
            ALTER POLICY "Only the service role can read or write consent records" ON shared.consent_log
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write consent records" ON shared.consent_log
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.conversion_rule'::regclass AND p.polname = 'Only the service role can read or change conversion rules'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.conversion_rule'::regclass AND p.polname = 'Only the service role can read or change conversion rules') THEN
            ALTER POLICY "Only the service role can read or change conversion rules" ON shared.conversion_rule
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or change conversion rules" ON shared.conversion_rule
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.deploy_checklist_item'::regclass AND p.polname = 'Only the service role can read or acknowledge the checklist'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.deploy_checklist_item'::regclass AND p.polname = 'Only the service role can read or acknowledge the checklist') THEN
            ALTER POLICY "Only the service role can read or acknowledge the checklist" ON shared.deploy_checklist_item
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or acknowledge the checklist" ON shared.deploy_checklist_item
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.deploy_checklist_item'::regclass AND p.polname = 'The admin role reads the checklist'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads the checklist" ON shared.deploy_checklist_item;
        CREATE POLICY "The admin role reads the checklist" ON shared.deploy_checklist_item
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.erasure'::regclass AND p.polname = 'Only the service role can read or write erasure records'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.erasure'::regclass AND p.polname = 'Only the service role can read or write erasure records') THEN
            ALTER POLICY "Only the service role can read or write erasure records" ON shared.erasure
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write erasure records" ON shared.erasure
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.event'::regclass AND p.polname = 'Only the service role can read or write events'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.event'::regclass AND p.polname = 'Only the service role can read or write events') THEN
            ALTER POLICY "Only the service role can read or write events" ON shared.event
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write events" ON shared.event
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.event'::regclass AND p.polname = 'Products insert only their own events'
                AND p.polcmd = 'a'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM NULL
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM '((product_id = ( SELECT shared.product_claim() AS product_claim)) OR shared._refuse_foreign_product(product_id))'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_product']::text[]) THEN
        DROP POLICY IF EXISTS "Products insert only their own events" ON shared.event;
        CREATE POLICY "Products insert only their own events" ON shared.event
            AS PERMISSIVE FOR INSERT
            TO gdp_product
            WITH CHECK (((product_id = ( SELECT shared.product_claim() AS product_claim)) OR shared._refuse_foreign_product(product_id)));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.event'::regclass AND p.polname = 'Products read only their own events'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM '(product_id = ( SELECT shared.product_claim() AS product_claim))'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_product']::text[]) THEN
        DROP POLICY IF EXISTS "Products read only their own events" ON shared.event;
        CREATE POLICY "Products read only their own events" ON shared.event
            AS PERMISSIVE FOR SELECT
            TO gdp_product
            USING ((product_id = ( SELECT shared.product_claim() AS product_claim)));
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag'::regclass AND p.polname = 'Only the service role can read or change feature flags'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag'::regclass AND p.polname = 'Only the service role can read or change feature flags') THEN
            ALTER POLICY "Only the service role can read or change feature flags" ON shared.feature_flag
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or change feature flags" ON shared.feature_flag
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag'::regclass AND p.polname = 'The admin role reads feature flags'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads feature flags" ON shared.feature_flag;
        CREATE POLICY "The admin role reads feature flags" ON shared.feature_flag
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag_checklist'::regclass AND p.polname = 'Only the service role can read or change flag checklists'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag_checklist'::regclass AND p.polname = 'Only the service role can read or change flag checklists') THEN
            ALTER POLICY "Only the service role can read or change flag checklists" ON shared.feature_flag_checklist
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or change flag checklists" ON shared.feature_flag_checklist
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag_checklist'::regclass AND p.polname = 'The admin role reads flag checklists'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads flag checklists" ON shared.feature_flag_checklist;
        CREATE POLICY "The admin role reads flag checklists" ON shared.feature_flag_checklist
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag_prerequisite'::regclass AND p.polname = 'Only the service role can read or change flag prerequisites'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag_prerequisite'::regclass AND p.polname = 'Only the service role can read or change flag prerequisites') THEN
            ALTER POLICY "Only the service role can read or change flag prerequisites" ON shared.feature_flag_prerequisite
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or change flag prerequisites" ON shared.feature_flag_prerequisite
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag_prerequisite'::regclass AND p.polname = 'The admin role reads flag prerequisites'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads flag prerequisites" ON shared.feature_flag_prerequisite;
        CREATE POLICY "The admin role reads flag prerequisites" ON shared.feature_flag_prerequisite
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.gate_audit'::regclass AND p.polname = 'Only the service role can read or write the gate audit'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.gate_audit'::regclass AND p.polname = 'Only the service role can read or write the gate audit') THEN
            ALTER POLICY "Only the service role can read or write the gate audit" ON shared.gate_audit
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write the gate audit" ON shared.gate_audit
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.gate_audit'::regclass AND p.polname = 'The admin role reads the gate audit'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads the gate audit" ON shared.gate_audit;
        CREATE POLICY "The admin role reads the gate audit" ON shared.gate_audit
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.identity_link'::regclass AND p.polname = 'Only the service role can read or write identity links'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.identity_link'::regclass AND p.polname = 'Only the service role can read or write identity links') THEN
            ALTER POLICY "Only the service role can read or write identity links" ON shared.identity_link
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write identity links" ON shared.identity_link
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.person'::regclass AND p.polname = 'Only the service role can read or write people'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.person'::regclass AND p.polname = 'Only the service role can read or write people') THEN
            ALTER POLICY "Only the service role can read or write people" ON shared.person
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write people" ON shared.person
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product'::regclass AND p.polname = 'Only the service role can read or write products'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product'::regclass AND p.polname = 'Only the service role can read or write products') THEN
            ALTER POLICY "Only the service role can read or write products" ON shared.product
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write products" ON shared.product
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product'::regclass AND p.polname = 'The admin role reads products'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads products" ON shared.product;
        CREATE POLICY "The admin role reads products" ON shared.product
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product_credential'::regclass AND p.polname = 'Only the service role can read product credentials'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "Only the service role can read product credentials" ON shared.product_credential;
        CREATE POLICY "Only the service role can read product credentials" ON shared.product_credential
            AS PERMISSIVE FOR SELECT
            TO service_role
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product_event'::regclass AND p.polname = 'Only the service role can read or change product events'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.product_event'::regclass AND p.polname = 'Only the service role can read or change product events') THEN
            ALTER POLICY "Only the service role can read or change product events" ON shared.product_event
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or change product events" ON shared.product_event
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.service_key'::regclass AND p.polname = 'Only the service role can read or write service keys'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.service_key'::regclass AND p.polname = 'Only the service role can read or write service keys') THEN
            ALTER POLICY "Only the service role can read or write service keys" ON shared.service_key
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or write service keys" ON shared.service_key
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting'::regclass AND p.polname = 'Only the service role can read or change settings'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting'::regclass AND p.polname = 'Only the service role can read or change settings') THEN
            ALTER POLICY "Only the service role can read or change settings" ON shared.setting
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or change settings" ON shared.setting
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting'::regclass AND p.polname = 'The admin role reads settings'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads settings" ON shared.setting;
        CREATE POLICY "The admin role reads settings" ON shared.setting
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting_definition'::regclass AND p.polname = 'Only the service role can read or change setting definitions'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting_definition'::regclass AND p.polname = 'Only the service role can read or change setting definitions') THEN
            ALTER POLICY "Only the service role can read or change setting definitions" ON shared.setting_definition
            TO service_role
            USING (true)
            WITH CHECK (true);
        ELSE
            CREATE POLICY "Only the service role can read or change setting definitions" ON shared.setting_definition
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
        END IF;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting_definition'::regclass AND p.polname = 'The admin role reads setting definitions'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin role reads setting definitions" ON shared.setting_definition;
        CREATE POLICY "The admin role reads setting definitions" ON shared.setting_definition
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

COMMENT ON FUNCTION shared.create_product_credential(text, text, text, timestamp with time zone) IS 'Register a product JWT (gdp keys create PRODUCT --jwt): returns the row whose id is the token''s jti. Audited.';

COMMENT ON FUNCTION shared.list_keys() IS 'Service keys and product JWTs by product, with their state; never a secret (gdp keys list).';

COMMENT ON FUNCTION shared.product_claim() IS 'The product_id of the current request''s verified product credential (role gdp_product, a known, unrevoked jti), else NULL. Used by RLS and the API functions products call.';

COMMENT ON FUNCTION shared.revoke_key(uuid, text) IS 'Revoke an HTTP service key or a product JWT by its id (gdp keys revoke). A revoked JWT is refused from the next statement on.';

-- migrate:down
