/**
 * GDP's own processes, each with only what it does. Idempotent; re-applied on every deploy,
 * after 00_grants.sql, 10_rls.sql and 15_identity.sql.
 *
 *   gdp_capi_worker  gdp worker capi: leases and settles meta_capi messages, reads the events,
 *                    people, identity links, rules and settings it turns into Meta requests,
 *                    writes delivery records, dead letters and pixel breaker states. No other
 *                    table, no write to events or people, no gate change.
 *
 * The other process roles' grants live beside their functions: gdp_insights_worker,
 * gdp_lead_worker, gdp_dashboard, gdp_api (60_insights.sql), gdp_maintenance (60_retention.sql),
 * gdp_admin and gdp_product (15_identity.sql).
 */

/** Section - gdp_capi_worker */

REVOKE ALL ON ALL TABLES IN SCHEMA shared FROM gdp_capi_worker;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA shared FROM gdp_capi_worker;
GRANT USAGE ON SCHEMA shared TO gdp_capi_worker;

GRANT SELECT ON
    shared.event,
    shared.person,
    shared.identity_link,
    shared.conversion_rule,
    shared.applicable_conversion_rule,  -- the rule that applies (capi_load_events)
    shared.setting,
    shared.feature_flag,
    shared.capi_pixel_state,
    shared.applicable_conversion_rule
TO gdp_capi_worker;
GRANT INSERT ON shared.attribution_events, shared.capi_dead_letter TO gdp_capi_worker;
GRANT INSERT, UPDATE ON shared.capi_pixel_state TO gdp_capi_worker;

DO $$
DECLARE
    v_table text;
    v_command text;
    v_policy text;
BEGIN
    FOR v_table, v_command, v_policy IN VALUES
        ('event',              'SELECT', 'The CAPI worker reads the events it sends'),
        ('person',             'SELECT', 'The CAPI worker reads the people it sends'),
        ('identity_link',      'SELECT', 'The CAPI worker reads Lead Ads identities'),
        ('conversion_rule',    'SELECT', 'The CAPI worker reads conversion rules'),
        ('setting',            'SELECT', 'The CAPI worker reads settings'),
        ('feature_flag',       'SELECT', 'The CAPI worker reads feature flags'),
        ('attribution_events', 'INSERT', 'The CAPI worker records delivery outcomes'),
        ('capi_dead_letter',   'INSERT', 'The CAPI worker records dead letters'),
        ('capi_pixel_state',   'ALL',    'The CAPI worker keeps the pixel breakers')
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I', v_policy, v_table);
        EXECUTE format('CREATE POLICY %I ON shared.%I FOR %s TO gdp_capi_worker %s',
                       v_policy, v_table, v_command,
                       CASE v_command WHEN 'INSERT' THEN 'WITH CHECK (true)'
                                      WHEN 'ALL' THEN 'USING (true) WITH CHECK (true)'
                                      ELSE 'USING (true)' END);
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
    shared.setting_value(text, text),
    shared.is_enabled(text),
    shared.capi_claim_request(bigint[], integer[], integer),
    shared.capi_extend_leases(bigint[], integer[], integer),
    shared.record_capi_outcomes(jsonb, bigint[]),
    shared.capi_set_breaker(text, text, integer, text)
TO gdp_capi_worker;

-- The meta_capi queue: read, delay, archive and measure (pgmq's functions run as the caller).
DO $$
BEGIN
    IF to_regclass('pgmq.q_meta_capi') IS NOT NULL THEN
        GRANT USAGE ON SCHEMA pgmq TO gdp_capi_worker;
        GRANT SELECT, UPDATE, DELETE ON pgmq.q_meta_capi TO gdp_capi_worker;
        GRANT SELECT, INSERT ON pgmq.a_meta_capi TO gdp_capi_worker;
        GRANT SELECT ON pgmq.meta TO gdp_capi_worker;
        GRANT SELECT ON SEQUENCE pgmq.q_meta_capi_msg_id_seq TO gdp_capi_worker;
    END IF;
END
$$;

-- By name: the signatures differ between pgmq versions (Supabase's extension, the SQL install).
DO $$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = to_regnamespace('pgmq')
          AND p.proname IN ('read', 'set_vt', 'archive', 'metrics')
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO gdp_capi_worker', v_fn);
    END LOOP;
END
$$;

/** Section - gdp_api (gdp serve: the ingest endpoint, the edge function, the relay, /metrics) */

-- The Lead Ads webhook's grant is in 60_insights.sql; what follows is the event path. Raw PII
-- reaches shared.person only through upsert_people (SECURITY DEFINER): the service reads no
-- person column but the id (ingest_events checks that a person_id names someone).
GRANT USAGE ON SCHEMA shared TO gdp_api;
GRANT SELECT ON
    shared.product,
    shared.event,
    shared.attribution_events,
    shared.conversion_rule,
    shared.setting,
    shared.feature_flag,
    shared.product_event,
    shared.capi_pixel_state,
    shared.capi_dead_letter,
    shared.applicable_conversion_rule
TO gdp_api;
GRANT SELECT (id) ON shared.person TO gdp_api;
GRANT INSERT (product_id, event_id, event_name, meta_event_name, person_id, occurred_at, source,
              properties, action_source, event_source_url, client_ip_address, client_user_agent,
              fbp, fbc, meta_user_data)
    ON shared.event TO gdp_api;

DO $$
DECLARE
    v_table text;
    v_command text;
    v_policy text;
BEGIN
    FOR v_table, v_command, v_policy IN VALUES
        ('product',            'SELECT', 'The HTTP service reads products'),
        ('person',             'SELECT', 'The HTTP service checks that people exist'),
        ('event',              'SELECT', 'The HTTP service reads events'),
        ('event',              'INSERT', 'The HTTP service stores events of authenticated products'),
        ('attribution_events', 'SELECT', 'The HTTP service reads delivery records'),
        ('conversion_rule',    'SELECT', 'The HTTP service reads conversion rules'),
        ('setting',            'SELECT', 'The HTTP service reads settings'),
        ('feature_flag',       'SELECT', 'The HTTP service reads feature flags'),
        ('product_event',      'SELECT', 'The HTTP service reads relay events'),
        ('capi_pixel_state',   'SELECT', 'The HTTP service reads pixel breakers'),
        ('capi_dead_letter',   'SELECT', 'The HTTP service counts dead letters')
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS %I ON shared.%I', v_policy, v_table);
        EXECUTE format('CREATE POLICY %I ON shared.%I FOR %s TO gdp_api %s',
                       v_policy, v_table, v_command,
                       CASE v_command WHEN 'INSERT' THEN 'WITH CHECK (true)'
                                      ELSE 'USING (true)' END);
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
    shared.authenticate_service_key(text),
    shared.ingest_events(text, jsonb, text),
    shared.upsert_people(jsonb),
    shared.capi_event_status(text, text),
    shared._conversion_rule_applies(text, text),
    shared.is_enabled(text),
    shared.setting_value(text, text),
    shared._raise(text, text, text),
    shared._lock_people(uuid[])
TO gdp_api;

DO $$
DECLARE
    v_fn regprocedure;
BEGIN
    IF to_regclass('pgmq.q_meta_capi') IS NOT NULL THEN
        GRANT USAGE ON SCHEMA pgmq TO gdp_api;
        GRANT SELECT ON pgmq.q_meta_capi, pgmq.meta TO gdp_api;
        GRANT SELECT ON SEQUENCE pgmq.q_meta_capi_msg_id_seq TO gdp_api;
    END IF;
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
        WHERE p.pronamespace = to_regnamespace('pgmq') AND p.proname = 'metrics'
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO gdp_api', v_fn);
    END LOOP;
END
$$;
