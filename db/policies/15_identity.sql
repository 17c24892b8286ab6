/**
 * Products as themselves, and the gate's tables written only through their functions.
 * Idempotent; re-applied on every deploy, after 00_grants.sql and 10_rls.sql.
 *
 *   gdp_product   a product's JWT (gdp keys create PRODUCT --jwt): inserts its own events, upserts
 *                 people through shared.upsert_people / upsert_person, reads its own events and
 *                 delivery records; nothing else (no person row, no flag, no key, no queue).
 *   service_role  keeps reading everything, but flags, checklist, settings, the audit and keys
 *                 change only through the admin functions, which write the audit row.
 *   gdp_admin     the admin CLI: the gate's and the keys' functions, and reading what they list;
 *                 gdp dlq / people / insights: their functions (SECURITY DEFINER: no table
 *                 write) and reading what they list.
 */

/** Section - gdp_product */

REVOKE ALL ON ALL TABLES IN SCHEMA shared FROM gdp_product;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA shared FROM gdp_product;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA shared FROM gdp_product;
GRANT USAGE ON SCHEMA shared TO gdp_product;

-- Every column a product may send; not id (generated) nor received_at (set by the database).
GRANT INSERT (product_id, event_id, event_name, person_id, occurred_at, source, properties,
              action_source, event_source_url, client_ip_address, client_user_agent, fbp, fbc,
              meta_event_name, meta_user_data)
    ON shared.event TO gdp_product;
GRANT SELECT ON shared.event, shared.attribution_events TO gdp_product;

GRANT EXECUTE ON FUNCTION
    shared.product_claim(),
    shared._refuse_foreign_product(text),
    shared.upsert_people(jsonb),
    shared.upsert_person(text, text, text, text, text, text, text, text, text, text, text, text,
                         text, text, jsonb, jsonb)
TO gdp_product;

DROP POLICY IF EXISTS "Products insert only their own events" ON shared.event;
CREATE POLICY "Products insert only their own events"
    ON shared.event FOR INSERT TO gdp_product
    WITH CHECK (product_id = (SELECT shared.product_claim())
                OR shared._refuse_foreign_product(product_id));

DROP POLICY IF EXISTS "Products read only their own events" ON shared.event;
CREATE POLICY "Products read only their own events"
    ON shared.event FOR SELECT TO gdp_product
    USING (product_id = (SELECT shared.product_claim()));

DROP POLICY IF EXISTS "Products read only their own delivery records" ON shared.attribution_events;
CREATE POLICY "Products read only their own delivery records"
    ON shared.attribution_events FOR SELECT TO gdp_product
    USING (product_id = (SELECT shared.product_claim()));

/** Section - Product credentials */

REVOKE ALL ON shared.product_credential FROM PUBLIC, anon, authenticated;
GRANT SELECT ON shared.product_credential TO service_role;
ALTER TABLE shared.product_credential ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS "Only the service role can read product credentials"
    ON shared.product_credential;
CREATE POLICY "Only the service role can read product credentials"
    ON shared.product_credential FOR SELECT TO service_role USING (true);

/** Section - The gate and the keys change only through their functions */

REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON
    shared.feature_flag,
    shared.feature_flag_prerequisite,
    shared.feature_flag_checklist,
    shared.deploy_checklist_item,
    shared.setting_definition,
    shared.setting,
    shared.gate_audit,
    shared.service_key,
    shared.product_credential
FROM PUBLIC, anon, authenticated, service_role;

/** Section - gdp_admin (the admin CLI) */

GRANT USAGE ON SCHEMA shared TO gdp_admin;
GRANT SELECT ON
    shared.product,
    shared.feature_flag,
    shared.feature_flag_prerequisite,
    shared.feature_flag_checklist,
    shared.deploy_checklist_item,
    shared.setting_definition,
    shared.setting,
    shared.gate_audit
TO gdp_admin;

DO $$
DECLARE
    v_table text;
    v_policy text;
BEGIN
    FOR v_table, v_policy IN VALUES
        ('product',                   'The admin role reads products'),
        ('feature_flag',              'The admin role reads feature flags'),
        ('feature_flag_prerequisite', 'The admin role reads flag prerequisites'),
        ('feature_flag_checklist',    'The admin role reads flag checklists'),
        ('deploy_checklist_item',     'The admin role reads the checklist'),
        ('setting_definition',        'The admin role reads setting definitions'),
        ('setting',                   'The admin role reads settings'),
        ('gate_audit',                'The admin role reads the gate audit'),
        ('dashboard_key',             'The admin role reads dashboard keys')
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I', v_policy, v_table);
        EXECUTE format('CREATE POLICY %I ON shared.%I FOR SELECT TO gdp_admin USING (true)',
                       v_policy, v_table);
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
    shared.create_service_key(text, text, text),
    shared.revoke_service_key(uuid, text),
    shared.create_product_credential(text, text, text, timestamptz),
    shared.revoke_key(uuid, text),
    shared.list_keys(),
    shared.enable_flag(text, text, text[], text),
    shared.disable_flag(text, text, boolean, text),
    shared.acknowledge_checklist_item(text, text, text),
    shared.withdraw_checklist_acknowledgement(text, text, text),
    shared.set_setting(text, jsonb, text, text),
    shared.unset_setting(text, text, text),
    shared.setting_value(text, text),
    shared.is_enabled(text),
    shared.flag_blockers(text, text[]),
    shared.gate_report(text[]),
    shared._setting_present(jsonb)
TO gdp_admin;

/** Section - gdp_admin: gdp dlq, gdp people, gdp insights */

-- What their queries read (workers/db/queries/capi.sql, people.sql, insights.sql): the people
-- list's columns only (it shows PII to admins), the links' names, dead letters, pulls (a view
-- that reads as its owner), campaigns.
GRANT SELECT ON shared.capi_dead_letter, shared.insights_pulls, shared.campaign_project
TO gdp_admin;
GRANT SELECT (id, email, phone, first_name, last_name, source_product, utm_source, utm_campaign,
              lifecycle_stage, consent_status, created_at)
    ON shared.person TO gdp_admin;
GRANT SELECT (id, person_id, provider, external_id) ON shared.identity_link TO gdp_admin;

DO $$
DECLARE
    v_table text;
    v_policy text;
BEGIN
    FOR v_table, v_policy IN VALUES
        ('capi_dead_letter', 'The admin CLI reads dead letters'),
        ('person',           'The admin CLI lists people'),
        ('identity_link',    'The admin CLI lists identity links'),
        ('campaign_project', 'The admin CLI reads campaign projects')
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I', v_policy, v_table);
        EXECUTE format('CREATE POLICY %I ON shared.%I FOR SELECT TO gdp_admin USING (true)',
                       v_policy, v_table);
    END LOOP;
END
$$;

-- Every write goes through a SECURITY DEFINER function (search_path pinned, EXECUTE granted
-- to the service role and the admin CLI only).
GRANT EXECUTE ON FUNCTION
    shared.replay_dead_letters(bigint[], text),
    shared.upsert_people(jsonb),
    shared.record_consent(uuid, text, text, timestamptz),
    shared.erase_person_by_email(text, text, text),
    shared.assign_campaign_project(text, text, text)
TO gdp_admin;

-- Functions a product or process reaches only through the ones above.
REVOKE EXECUTE ON FUNCTION
    shared._people_for_caller(jsonb),
    shared.create_product_credential(text, text, text, timestamptz),
    shared.revoke_key(uuid, text),
    shared.list_keys()
FROM PUBLIC;

-- Role administration is the deployer's (the owner's), never an API role's.
REVOKE EXECUTE ON FUNCTION
    shared.process_roles(),
    shared.make_process_login(text, text[], text)
FROM PUBLIC;
