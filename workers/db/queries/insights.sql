-- name: insights_worker_config
SELECT enabled, ad_account_id, repull_days, async_min_days, pull_interval_s, attribution_windows,
       last_succeeded_at
FROM shared.insights_worker_config();

-- name: insights_begin_pull
SELECT shared.insights_begin_pull(%(account_id)s, %(since)s, %(until)s, %(mode)s) AS pull_id;

-- name: insights_write_rows
SELECT rows_written, rows_restated FROM shared.insights_write_rows(%(pull_id)s, %(rows)s::jsonb);

-- name: insights_finish_pull
SELECT id, status FROM shared.insights_finish_pull(%(pull_id)s, %(status)s, %(stats)s::jsonb);

-- name: insights_cache_state
SELECT ttl_s, last_pull_id, enabled FROM shared.insights_cache_state();

-- name: insights_by_project_range
SELECT d.project,
       sum(d.spend)::numeric(14, 2) AS spend,
       sum(d.impressions)::bigint AS impressions,
       sum(d.clicks)::bigint AS clicks,
       sum(d.meta_conversions)::numeric(14, 2) AS conversions,
       shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS cost_per_conversion,
       sum(d.meta_conversion_value)::numeric(14, 2) AS conversion_value,
       shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS roas,
       sum(d.gdp_conversions)::bigint AS gdp_conversions,
       shared._ratio(sum(d.spend), sum(d.gdp_conversions)) AS gdp_cost_per_conversion,
       sum(d.gdp_conversion_value)::numeric(14, 2) AS gdp_conversion_value,
       shared._ratio(sum(d.gdp_conversion_value), sum(d.spend)) AS gdp_roas
FROM shared.insights_project_daily AS d
WHERE d.date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY d.project
ORDER BY sum(d.spend) DESC, d.project;

-- name: insights_breakdown_range
-- By campaign (or ad set) over the range, for ?breakdown=campaign|adset.
SELECT d.project, d.campaign_id, d.campaign_name,
       CASE WHEN %(breakdown)s = 'adset' THEN d.adset_id END AS adset_id,
       CASE WHEN %(breakdown)s = 'adset' THEN d.adset_name END AS adset_name,
       sum(d.spend)::numeric(14, 2) AS spend,
       sum(d.impressions)::bigint AS impressions,
       sum(d.clicks)::bigint AS clicks,
       sum(d.meta_conversions)::numeric(14, 2) AS conversions,
       shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS cost_per_conversion,
       shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS roas
FROM shared.insights_ad_daily AS d
WHERE d.date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY 1, 2, 3, 4, 5
ORDER BY sum(d.spend) DESC, 2, 4;

-- name: insights_project_ads_range
-- One project's ads over the range (GET /api/meta/insights/{projectId}).
SELECT d.campaign_id, d.campaign_name, d.adset_id, d.adset_name, d.ad_id, d.ad_name,
       sum(d.spend)::numeric(14, 2) AS spend,
       sum(d.impressions)::bigint AS impressions,
       sum(d.clicks)::bigint AS clicks,
       shared._ratio(100 * sum(d.clicks), sum(d.impressions)) AS ctr,
       shared._ratio(sum(d.spend), sum(d.clicks)) AS cpc,
       sum(d.meta_conversions)::numeric(14, 2) AS conversions,
       shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS cost_per_conversion,
       sum(d.meta_conversion_value)::numeric(14, 2) AS conversion_value,
       shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS roas,
       sum(d.restatements)::integer AS restatements
FROM shared.insights_ad_daily AS d
WHERE d.project = %(project)s AND d.date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY d.campaign_id, d.campaign_name, d.adset_id, d.adset_name, d.ad_id, d.ad_name
ORDER BY sum(d.spend) DESC, d.ad_id;

-- name: insights_project_daily_range
SELECT d.date, d.spend, d.impressions, d.clicks, d.meta_conversions AS conversions,
       shared._ratio(d.spend, d.meta_conversions) AS cost_per_conversion,
       d.meta_conversion_value AS conversion_value,
       shared._ratio(d.meta_conversion_value, d.spend) AS roas,
       d.gdp_conversions, d.gdp_conversion_value
FROM shared.insights_project_daily AS d
WHERE d.project = %(project)s AND d.date BETWEEN %(date_from)s AND %(date_to)s
ORDER BY d.date;

-- name: insights_freshness
SELECT last_pull_at, minutes, met FROM shared.metric_insights_freshness;

-- name: lead_submissions_list
SELECT leadgen_id, form_id, page_id, ad_id, adset_id, campaign_id, campaign_name, project,
       is_organic, created_time, received_at, deliveries, status, attempts, synced_at, person_id,
       lifecycle_stage, error_code, error_message
FROM shared.lead_submissions
WHERE (%(project)s::text IS NULL OR project = %(project)s)
  AND (%(form_id)s::text IS NULL OR form_id = %(form_id)s)
  AND (%(since)s::timestamptz IS NULL OR received_at >= %(since)s)
ORDER BY received_at DESC, leadgen_id DESC
LIMIT %(limit)s;

-- name: lead_forms_list
SELECT form_id, leads, synced, failed, pending, activated, customers, projects, first_lead_at,
       last_lead_at
FROM shared.lead_forms
ORDER BY last_lead_at DESC NULLS LAST, form_id;

-- name: authenticate_dashboard_key
SELECT shared.authenticate_dashboard_key(%(dashboard_key)s) AS label;

-- name: create_dashboard_key
SELECT key_id, dashboard_key, key_prefix FROM shared.create_dashboard_key(%(label)s, %(actor)s);

-- name: revoke_dashboard_key
SELECT id, label, revoked_at FROM shared.revoke_dashboard_key(%(key_id)s::uuid, %(actor)s);

-- name: list_dashboard_keys
SELECT id, key_prefix, label, created_at, created_by, revoked_at, last_used_at
FROM shared.dashboard_key
ORDER BY created_at;

-- name: insights_recent_pulls
SELECT id, account_id, date_from, date_to, mode, status, started_at, finished_at, rows_written,
       rows_restated, requests, retries, report_runs, splits, throttle_wait_ms, duration_ms,
       error_code, error_message
FROM shared.insights_pulls
ORDER BY id DESC
LIMIT %(limit)s;

-- name: campaign_projects_list
SELECT c.campaign_id, c.campaign_name, c.project_id, c.assigned_by, c.updated_at
FROM shared.campaign_project AS c
ORDER BY c.project_id NULLS FIRST, c.campaign_name;

-- name: assign_campaign_project
-- An admin's mapping: kept from then on, whatever the campaign is renamed to.
SELECT campaign_id, campaign_name, project_id, assigned_by
FROM shared.assign_campaign_project(%(campaign_id)s, %(project_id)s, %(actor)s);

-- name: known_projects
SELECT project, display_name FROM shared.projects;

-- name: dashboard_by_project
SELECT project, spend, impressions, clicks, meta_conversions, meta_conversion_value,
       gdp_conversions, gdp_conversion_value, meta_cost_per_conversion, gdp_cost_per_conversion,
       meta_roas, gdp_roas
FROM shared.insights_by_project
ORDER BY spend DESC NULLS LAST, project;

-- name: dashboard_daily
SELECT date, spend, impressions, clicks, meta_conversions, gdp_conversions,
       meta_cost_per_conversion, gdp_cost_per_conversion, meta_roas, gdp_roas
FROM shared.insights_daily
WHERE date BETWEEN (now() AT TIME ZONE 'UTC')::date - 29 AND (now() AT TIME ZONE 'UTC')::date
ORDER BY date;

-- name: dashboard_summary
SELECT spend, impressions, clicks, ctr, cpc, meta_conversions, gdp_conversions,
       meta_cost_per_conversion, gdp_cost_per_conversion, meta_roas, gdp_roas
FROM shared.insights_summary;

-- name: dashboard_lead_funnel
SELECT project, leads, synced, activated, customers FROM shared.lead_funnel ORDER BY leads DESC, project;

-- name: dashboard_capi_health
SELECT delivered_24h, delivered_total, dead_lettered_24h, dead_lettered_by_reason, open_breakers,
       breakers, queued, leads_queued
FROM shared.capi_health;

-- name: dashboard_match_keys
SELECT project, meta_event_name, delivered, em_share, ph_share, external_id_share,
       fbc_or_fbp_share, ip_and_ua_share, em_or_ph_share, target, met
FROM shared.metric_match_key_coverage
ORDER BY project, meta_event_name;

-- name: dashboard_success_metrics
SELECT metric, name, target, value, unit, met, measured_as FROM shared.success_metrics;

-- name: dashboard_gate
SELECT flag_key, gap, enable_order, enabled, changed_at, changed_by
FROM shared.gate_state
ORDER BY enable_order, flag_key;

-- name: dashboard_pulls
SELECT id, date_from, date_to, mode, status, finished_at, rows_written, rows_restated, requests,
       retries, duration_ms, error_message
FROM shared.insights_pulls
ORDER BY id DESC
LIMIT 5;

-- name: dashboard_audiences
-- GAP-007: each mapped segment's members, what Meta acknowledged and its approximate size, the
-- last run and the lag since the last success.
SELECT s.segment_id, s.audience_name, s.members, s.acknowledged,
       s.approximate_lower, s.approximate_upper, s.last_status,
       round(s.lag_seconds::numeric / 60, 1) AS lag_minutes, s.failures_24h
FROM shared.audience_status AS s
ORDER BY s.segment_id;

-- name: insights_range
-- The summary, each project and each day of [date_from, date_to] in one pass over the view
-- (GROUPING SETS): `level` says which a row is.
SELECT CASE WHEN GROUPING(d.project) = 0 THEN 'project'
            WHEN GROUPING(d.date) = 0 THEN 'day' ELSE 'summary' END AS level,
       d.project, d.date,
       coalesce(sum(d.spend), 0)::numeric(14, 2) AS spend,
       coalesce(sum(d.impressions), 0)::bigint AS impressions,
       coalesce(sum(d.clicks), 0)::bigint AS clicks,
       shared._ratio(100 * sum(d.clicks), sum(d.impressions)) AS ctr,
       shared._ratio(sum(d.spend), sum(d.clicks)) AS cpc,
       coalesce(sum(d.meta_conversions), 0)::numeric(14, 2) AS conversions,
       shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS cost_per_conversion,
       coalesce(sum(d.meta_conversion_value), 0)::numeric(14, 2) AS conversion_value,
       shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS roas,
       coalesce(sum(d.gdp_conversions), 0)::bigint AS gdp_conversions,
       shared._ratio(sum(d.spend), sum(d.gdp_conversions)) AS gdp_cost_per_conversion,
       coalesce(sum(d.gdp_conversion_value), 0)::numeric(14, 2) AS gdp_conversion_value,
       shared._ratio(sum(d.gdp_conversion_value), sum(d.spend)) AS gdp_roas
FROM shared.insights_project_daily AS d
WHERE d.date BETWEEN %(date_from)s AND %(date_to)s
GROUP BY GROUPING SETS ((), (d.project), (d.date))
ORDER BY level, sum(d.spend) DESC, d.project, d.date;
