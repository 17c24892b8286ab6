/**
 * Grants and policies for ad performance, Lead Ads and the dashboard. Idempotent; re-applied on
 * every deploy, after 00_grants.sql (which grants the service role every table in shared).
 *
 *   gdp_insights_worker  executes the insights pull functions; reads and writes no table directly
 *   gdp_lead_worker      executes the lead queue and sync functions; no table, no pgmq grant
 *   gdp_dashboard        reads the insight, lead, metric and gate views, and checks its keys
 *   gdp_api              (gdp serve) stores Lead Ads webhook deliveries through one function
 *
 * The writers go through SECURITY DEFINER functions (db/functions/60_insights.sql, 65_leads.sql)
 * so each role can do exactly what its function does and nothing else; the views are owned by
 * the schema owner, so reading them needs no grant on the tables beneath.
 */

-- The tables: no API role reads them; RLS is on and only the service role has a policy.
SELECT shared._service_role_only(t.name, t.policy)
FROM (VALUES
    ('campaign_project',           'The service role can read and change campaign projects'),
    ('conversion_family',          'The service role can read and change conversion families'),
    ('insights_conversion_action', 'The service role can read and change conversion action types'),
    ('insights_pull',              'The service role can read insights pulls'),
    ('performance_daily',          'The service role can read ad performance'),
    ('performance_campaign_daily', 'The service role can read campaign performance'),
    ('performance_restatement',    'The service role can read restatements'),
    ('meta_lead',                  'The service role can read Lead Ads leads'),
    ('lead_field_map',             'The service role can read and change lead field mappings'),
    ('dashboard_key',              'The service role can read dashboard keys')
) AS t(name, policy);

-- Keys and pull history are written only through their functions, even by the service role.
REVOKE INSERT, UPDATE, DELETE ON shared.dashboard_key, shared.insights_pull FROM service_role;

DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['gdp_insights_worker', 'gdp_lead_worker', 'gdp_dashboard'] LOOP
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA shared FROM %I', v_role);
        EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA shared FROM %I', v_role);
        EXECUTE format('GRANT USAGE ON SCHEMA shared TO %I', v_role);
    END LOOP;
END
$$;

/** Section - The insights worker */

GRANT EXECUTE ON FUNCTION
    shared.insights_worker_config(),
    shared.insights_begin_pull(text, date, date, text),
    shared.insights_write_rows(bigint, jsonb),
    shared.insights_finish_pull(bigint, text, jsonb)
TO gdp_insights_worker, service_role;

/** Section - The lead worker and the webhook */

GRANT EXECUTE ON FUNCTION
    shared.lead_worker_config(),
    shared.lead_queue_read(integer, integer),
    shared.sync_lead(bigint, jsonb),
    shared.sync_leads(jsonb),
    shared.lead_fetch_failed(bigint, text, boolean, integer, integer, integer, text)
TO gdp_lead_worker, service_role;

-- gdp_api: the HTTP service's role.
GRANT USAGE ON SCHEMA shared TO gdp_api;
GRANT EXECUTE ON FUNCTION shared.receive_lead_webhook(jsonb) TO gdp_api, service_role;

/** Section - The dashboard and the insights API */

GRANT EXECUTE ON FUNCTION
    shared.authenticate_dashboard_key(text),
    shared.insights_cache_state(),
    shared._ratio(numeric, numeric, integer)
TO gdp_dashboard, service_role;

GRANT SELECT ON
    shared.insights_project_daily,
    shared.insights_daily,
    shared.insights_by_project,
    shared.insights_summary,
    shared.insights_ad_daily,
    shared.insights_pulls,
    shared.gdp_conversions_daily,
    shared.lead_submissions,
    shared.lead_forms,
    shared.lead_funnel,
    shared.gate_state,
    shared.capi_health,
    shared.metric_match_key_coverage,
    shared.metric_ad_click_source,
    shared.metric_lead_to_customer,
    shared.metric_insights_freshness,
    shared.metric_roas_cpa_change,
    shared.success_metrics,
    shared.projects
TO gdp_dashboard, service_role;

-- Admins create and revoke dashboard keys (gdp dashboard keys ...).
GRANT USAGE ON SCHEMA shared TO gdp_admin;
GRANT EXECUTE ON FUNCTION
    shared.create_dashboard_key(text, text),
    shared.revoke_dashboard_key(uuid, text)
TO gdp_admin, service_role;
GRANT SELECT ON shared.dashboard_key TO gdp_admin;
