-- name: gate_report
-- Every flag, its state and what would block enabling it now.
SELECT flag_key, gap, enable_order, enabled, changed_at, changed_by, blockers
FROM shared.gate_report(%(present_secrets)s::text[]);

-- name: enable_flag
SELECT flag_key, enabled FROM shared.enable_flag(
    %(flag_key)s, %(actor)s, %(present_secrets)s::text[], %(note)s);

-- name: disable_flag
SELECT flag_key, enabled FROM shared.disable_flag(%(flag_key)s, %(actor)s, %(cascade)s, %(note)s);

-- name: checklist_list
SELECT item_key, position, title, acknowledged_by, acknowledged_at
FROM shared.deploy_checklist_item
ORDER BY position;

-- name: acknowledge_checklist_item
SELECT item_key, acknowledged_by, acknowledged_at
FROM shared.acknowledge_checklist_item(%(item_key)s, %(actor)s, %(note)s);

-- name: withdraw_checklist_acknowledgement
SELECT item_key FROM shared.withdraw_checklist_acknowledgement(%(item_key)s, %(actor)s, %(note)s);

-- name: settings_list
SELECT d.setting_key, s.scope, s.value, s.updated_by, s.updated_at, d.description
FROM shared.setting_definition AS d
LEFT JOIN shared.setting AS s USING (setting_key)
ORDER BY d.setting_key, s.scope NULLS FIRST;

-- name: set_setting
SELECT setting_key, scope, value FROM shared.set_setting(
    %(setting_key)s, %(value)s::jsonb, %(actor)s, %(scope)s);

-- name: unset_setting
SELECT shared.unset_setting(%(setting_key)s, %(actor)s, %(scope)s) AS removed;
