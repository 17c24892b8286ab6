/**
 * The deployment gate: feature flags, settings and the pre-deploy checklist.
 *
 * A flag is enabled only when its prerequisites (the PRD's enable order) are on, its required
 * settings are present, the secrets it needs are configured, and its checklist items are
 * acknowledged. A refusal names everything that is missing, in one message. Every change is
 * written to shared.gate_audit (who, when, from -> to).
 *
 * The changing functions are SECURITY DEFINER: flags, checklist and settings change only through
 * them (with the audit row); no role but the owner may write those tables directly
 * (db/policies/15_identity.sql).
 */

-- Resolve a setting for a scope: a product's own value, else the global one, else NULL.
CREATE OR REPLACE FUNCTION shared.setting_value(p_setting_key text, p_scope text DEFAULT 'global')
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT s.value
    FROM shared.setting AS s
    WHERE s.setting_key = p_setting_key AND s.scope IN (coalesce(p_scope, 'global'), 'global')
    ORDER BY (s.scope = 'global')
    LIMIT 1
$$;
COMMENT ON FUNCTION shared.setting_value(text, text) IS
    'A setting''s value for a scope: the product''s own (p_scope = its product id), else the global one, else NULL.';

CREATE OR REPLACE FUNCTION shared.is_enabled(p_flag_key text)
RETURNS boolean
LANGUAGE sql STABLE
AS $$ SELECT coalesce((SELECT enabled FROM shared.feature_flag WHERE flag_key = p_flag_key), false) $$;
COMMENT ON FUNCTION shared.is_enabled(text) IS
    'Whether a feature flag (a PRD gap) is on; false for an unknown flag.';

-- A value that is empty ('', {}, []) counts as absent: an empty audience map is not configured.
CREATE OR REPLACE FUNCTION shared._setting_present(p_value jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $$
    SELECT p_value IS NOT NULL
       AND p_value NOT IN ('null'::jsonb, '""'::jsonb, '{}'::jsonb, '[]'::jsonb)
$$;

/*
 * What stands between a flag and "enabled", as readable reasons; empty when nothing does.
 * p_present_secrets: names of the secrets the caller's environment has (values never cross).
 */
CREATE OR REPLACE FUNCTION shared.flag_blockers(p_flag_key text, p_present_secrets text[] DEFAULT '{}')
RETURNS text[]
LANGUAGE sql STABLE
AS $$
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
$$;
COMMENT ON FUNCTION shared.flag_blockers(text, text[]) IS
    'What stands between a flag and enabled, as readable reasons (prerequisites off, settings missing, secrets absent from p_present_secrets, checklist items not acknowledged); empty when nothing does.';

-- Every flag with its state and what would block enabling it now (for `gdp flags list`).
CREATE OR REPLACE FUNCTION shared.gate_report(p_present_secrets text[] DEFAULT '{}')
RETURNS TABLE (flag_key text, gap text, enable_order smallint, enabled boolean,
               changed_at timestamptz, changed_by text, blockers text[])
LANGUAGE sql STABLE
AS $$
    SELECT f.flag_key, f.gap, f.enable_order, f.enabled, f.changed_at, f.changed_by,
           CASE WHEN f.enabled THEN '{}'::text[]
                ELSE shared.flag_blockers(f.flag_key, p_present_secrets) END
    FROM shared.feature_flag AS f
    ORDER BY f.enable_order, f.flag_key
$$;
COMMENT ON FUNCTION shared.gate_report(text[]) IS
    'Every feature flag in the PRD''s enable order with its state, who changed it last, and what would block enabling it now (gdp flags list).';

CREATE OR REPLACE FUNCTION shared._require_actor(p_actor text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF nullif(shared._trim(p_actor), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'actor', 'is required (who is making the change)');
    END IF;
    RETURN shared._trim(p_actor);
END
$$;

CREATE OR REPLACE FUNCTION shared._lock_flag(p_flag_key text)
RETURNS shared.feature_flag
LANGUAGE plpgsql
AS $$
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
$$;

CREATE OR REPLACE FUNCTION shared.enable_flag(
    p_flag_key text,
    p_actor text,
    p_present_secrets text[] DEFAULT '{}',
    p_note text DEFAULT NULL
)
RETURNS shared.feature_flag
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.enable_flag(text, text, text[], text) IS
    'Enable a feature flag through the deployment gate: refused (GD423) naming everything missing; audited with the actor and note.';

/*
 * Disabling is refused while a flag that depends on it is on, naming the dependents; with
 * p_cascade the dependents are switched off first (each audited), so the kill switch always works.
 */
CREATE OR REPLACE FUNCTION shared.disable_flag(
    p_flag_key text,
    p_actor text,
    p_cascade boolean DEFAULT false,
    p_note text DEFAULT NULL
)
RETURNS shared.feature_flag
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.disable_flag(text, text, boolean, text) IS
    'Disable a feature flag; refused while flags that depend on it are on, unless p_cascade switches them off first (each audited).';

CREATE OR REPLACE FUNCTION shared.acknowledge_checklist_item(
    p_item_key text,
    p_actor text,
    p_note text DEFAULT NULL
)
RETURNS shared.deploy_checklist_item
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.acknowledge_checklist_item(text, text, text) IS
    'Acknowledge a pre-deploy checklist item as a named admin (audited); flags that require it can then be enabled.';

-- Withdraw an acknowledgement (e.g. the privacy policy changed); flags already on stay on.
CREATE OR REPLACE FUNCTION shared.withdraw_checklist_acknowledgement(
    p_item_key text,
    p_actor text,
    p_note text DEFAULT NULL
)
RETURNS shared.deploy_checklist_item
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.withdraw_checklist_acknowledgement(text, text, text) IS
    'Withdraw a checklist acknowledgement (audited); flags already on stay on.';

-- Set a non-secret setting, checked against its definition; audited.
CREATE OR REPLACE FUNCTION shared.set_setting(
    p_setting_key text,
    p_value jsonb,
    p_actor text,
    p_scope text DEFAULT 'global'
)
RETURNS shared.setting
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.set_setting(text, jsonb, text, text) IS
    'Set a non-secret setting, globally or for one product, checked against its definition (value type and pattern, known product scope); audited.';

CREATE OR REPLACE FUNCTION shared.unset_setting(
    p_setting_key text,
    p_actor text,
    p_scope text DEFAULT 'global'
)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.unset_setting(text, text, text) IS
    'Remove a setting for a scope (audited); false when it was not set.';
