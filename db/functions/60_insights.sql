/**
 * Ads Insights into Postgres (GAP-004): the functions the insights worker writes through, and the
 * views the insights API and the dashboard read.
 *
 * The worker only speaks HTTP: it hands Meta's rows to shared.insights_write_rows as Meta sent
 * them (numbers as strings, actions as lists) and this file turns them into typed rows, counts
 * conversions by shared.insights_conversion_action, records restatements and keeps the
 * per-campaign rollup in step, in the caller's transaction.
 */

/** Section - Campaigns and projects */

/*
 * The naming convention: the product whose id (or display name without spaces) appears as a
 * word in the campaign name, the earliest one if several do ("snapmix | Prospecting | Signup",
 * "[SoftwareHub] Spring sale"). NULL when none does: the campaign stays unassigned until an
 * admin maps it (shared.assign_campaign_project).
 */
CREATE OR REPLACE FUNCTION shared._project_for_campaign_name(p_campaign_name text)
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT p.product_id
    FROM shared.product AS p
    CROSS JOIN LATERAL (
        SELECT min(pos) AS pos
        FROM unnest(ARRAY[p.product_id, lower(replace(p.display_name, ' ', ''))]) AS name(token)
        CROSS JOIN LATERAL (
            SELECT m.pos
            FROM (SELECT position(name.token IN lower(coalesce(p_campaign_name, ''))) AS pos) AS m
            WHERE m.pos > 0
              AND lower(p_campaign_name) ~ ('(^|[^a-z0-9])' || name.token || '([^a-z0-9]|$)')
        ) AS hit
    ) AS found
    WHERE found.pos IS NOT NULL
    ORDER BY found.pos, p.product_id
    LIMIT 1
$$;

/*
 * An admin's mapping of a campaign to a project (gdp insights assign): kept from then on,
 * whatever the campaign is renamed to. No row when the campaign is unknown (pull first).
 * SECURITY DEFINER: the admin CLI changes these three columns only through here.
 */
CREATE OR REPLACE FUNCTION shared.assign_campaign_project(
    p_campaign_id text,
    p_project_id text,
    p_actor text
)
RETURNS TABLE (campaign_id text, campaign_name text, project_id text, assigned_by text)
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    UPDATE shared.campaign_project AS c
    SET project_id = p_project_id, assigned_by = p_actor, updated_at = now()
    WHERE c.campaign_id = p_campaign_id
    RETURNING c.campaign_id, c.campaign_name, c.project_id, c.assigned_by;
$$;
COMMENT ON FUNCTION shared.assign_campaign_project(text, text, text) IS
    'Map a campaign to a project by hand (gdp insights assign); pulls never change it afterwards. No row when the campaign is unknown.';

/** Section - Conversions from Meta's actions */

-- Conversions in {action_type: count}: per enabled family, its best-ranked action type present.
CREATE OR REPLACE FUNCTION shared.meta_conversions(p_actions jsonb, p_values_only boolean DEFAULT false)
RETURNS numeric
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(sum(best.value), 0)
    FROM (
        SELECT DISTINCT ON (a.family) (p_actions ->> a.action_type)::numeric AS value
        FROM shared.insights_conversion_action AS a
        JOIN shared.conversion_family AS f ON f.family = a.family
        WHERE f.enabled AND (NOT p_values_only OR f.counts_value) AND p_actions ? a.action_type
        ORDER BY a.family, a.rank
    ) AS best
$$;
COMMENT ON FUNCTION shared.meta_conversions(jsonb, boolean) IS
    'Conversions (or with p_values_only, revenue) in Meta''s {action_type: number}: per family of shared.conversion_family its best-ranked action type present, so omni_purchase, purchase and the pixel purchase are one purchase, not three.';

-- Meta's list<AdsActionStats> ([{action_type, value: "12"}, ...]) as {action_type: number}.
CREATE OR REPLACE FUNCTION shared._meta_action_map(p_list jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(jsonb_object_agg(s.action_type, s.value), '{}'::jsonb)
    FROM (
        SELECT e ->> 'action_type' AS action_type, sum((e ->> 'value')::numeric) AS value
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_list) = 'array'
                                       THEN p_list ELSE '[]'::jsonb END) AS e
        WHERE e ->> 'action_type' IS NOT NULL AND (e ->> 'value') ~ '^-?[0-9]+(\.[0-9]+)?$'
        GROUP BY 1
    ) AS s
$$;

/** Section - Pulls */

-- Settings and state the insights worker runs by, in one call (it reads no table directly).
CREATE OR REPLACE FUNCTION shared.insights_worker_config()
RETURNS TABLE (enabled boolean, ad_account_id text, repull_days integer, async_min_days integer,
               pull_interval_s integer, attribution_windows text[], last_succeeded_at timestamptz)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT shared.is_enabled('ACD_META_INSIGHTS_ENABLED'),
           shared.setting_value('META_AD_ACCOUNT_ID') #>> '{}',
           coalesce((shared.setting_value('META_INSIGHTS_REPULL_DAYS') #>> '{}')::integer, 28),
           coalesce((shared.setting_value('META_INSIGHTS_ASYNC_MIN_DAYS') #>> '{}')::integer, 8),
           coalesce((shared.setting_value('META_INSIGHTS_PULL_INTERVAL_SEC') #>> '{}')::integer, 900),
           coalesce(ARRAY(SELECT jsonb_array_elements_text(
                              shared.setting_value('META_INSIGHTS_ATTRIBUTION_WINDOWS'))),
                    '{}'::text[]),
           (SELECT max(p.finished_at) FROM shared.insights_pull AS p WHERE p.status = 'succeeded')
$$;
COMMENT ON FUNCTION shared.insights_worker_config() IS
    'What the insights worker runs by: the ACD_META_INSIGHTS_ENABLED flag, the ad account, the re-pull window, when to use async report runs, the pull interval, the attribution windows and when the last pull succeeded.';

CREATE OR REPLACE FUNCTION shared.insights_begin_pull(
    p_account_id text, p_date_from date, p_date_to date, p_mode text
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_id bigint;
BEGIN
    IF coalesce(p_account_id, '') !~ '^act_[0-9]{1,30}$' THEN
        PERFORM shared._raise('GD400', 'account_id', 'must look like act_<digits>');
    END IF;
    IF p_date_from IS NULL OR p_date_to IS NULL OR p_date_from > p_date_to THEN
        PERFORM shared._raise('GD400', 'date_from', 'must be a date on or before date_to');
    END IF;
    IF p_mode IS NULL OR p_mode NOT IN ('sync', 'async') THEN
        PERFORM shared._raise('GD400', 'mode', 'must be sync or async');
    END IF;
    -- A worker that died mid-pull leaves its row running; an hour on, it is not coming back.
    UPDATE shared.insights_pull
    SET status = 'failed', finished_at = now(), error_message = 'abandoned (worker stopped)'
    WHERE status = 'running' AND started_at < now() - interval '1 hour';
    INSERT INTO shared.insights_pull (account_id, date_from, date_to, mode)
    VALUES (p_account_id, p_date_from, p_date_to, p_mode)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION shared.insights_begin_pull(text, date, date, text) IS
    'Start a pull of act_<id> over [date_from, date_to] (sync or async); returns the pull id the rows are written under.';

/*
 * Write a page of Meta's insights rows (level=ad, time_increment=1) under a pull. Upserts by
 * (ad, day); a day whose spend, conversions or value changed is a restatement (counted on the
 * row and logged); campaigns seen for the first time get their project by naming convention;
 * the per-campaign rollup of the days touched is recomputed. Returns rows written and restated.
 */
CREATE OR REPLACE FUNCTION shared.insights_write_rows(p_pull_id bigint, p_rows jsonb)
RETURNS TABLE (rows_written integer, rows_restated integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_pull shared.insights_pull;
    v_windows text[];
    v_written integer;
    v_restated integer;
BEGIN
    -- Writers take turns: the rollup of a (day, campaign) is recomputed from the ad rows, and
    -- two writers touching the same campaign-day at once would each miss the other's rows.
    -- Taken before any read, so this call's statements see what the previous writer committed.
    PERFORM pg_advisory_xact_lock(hashtext('shared.insights_write_rows'));
    SELECT * INTO v_pull FROM shared.insights_pull WHERE id = p_pull_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'pull_id', format('no insights pull %s', p_pull_id));
    END IF;
    IF v_pull.status <> 'running' THEN
        PERFORM shared._raise('GD409', 'pull_id', format('pull %s is %s', p_pull_id, v_pull.status));
    END IF;
    IF p_rows IS NULL OR jsonb_typeof(p_rows) <> 'array' THEN
        PERFORM shared._raise('GD400', 'rows', 'must be a JSON array of insights rows');
    END IF;
    IF EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_rows) AS r
        WHERE jsonb_typeof(r) <> 'object'
           OR coalesce(r ->> 'ad_id', '') !~ '^[0-9]{1,30}$'
           OR coalesce(r ->> 'campaign_id', '') !~ '^[0-9]{1,30}$'
           OR shared._try_iso_date(r ->> 'date_start') IS NULL
           OR (r ->> 'date_start') IS DISTINCT FROM (r ->> 'date_stop')
    ) THEN
        PERFORM shared._raise('GD400', 'rows',
            'each row needs ad_id, campaign_id and one day (date_start = date_stop): level=ad, time_increment=1');
    END IF;
    v_windows := coalesce(ARRAY(SELECT jsonb_array_elements_text(
                     shared.setting_value('META_INSIGHTS_ATTRIBUTION_WINDOWS'))), '{}'::text[]);

    -- One statement: every CTE sees the table as it was before it, so "old" holds the figures
    -- this page replaces.
    WITH page AS (
        SELECT DISTINCT ON (r.ad_id, r.date_start::date)
               r.ad_id, r.date_start::date AS date, r.campaign_id, r.campaign_name, r.adset_id,
               r.adset_name, r.ad_name, r.account_currency AS currency,
               coalesce(r.spend, '0')::numeric AS spend,
               coalesce(r.impressions, '0')::bigint AS impressions,
               coalesce(r.clicks, '0')::bigint AS clicks, r.reach::bigint AS reach,
               x.actions, x.action_values,
               shared.meta_conversions(x.actions) AS conversions,
               shared.meta_conversions(x.action_values, true) AS conversion_value
        FROM jsonb_to_recordset(p_rows) AS r(
            ad_id text, date_start text, campaign_id text, campaign_name text, adset_id text,
            adset_name text, ad_name text, account_currency text, spend text, impressions text,
            clicks text, reach text, actions jsonb, action_values jsonb)
        CROSS JOIN LATERAL (
            SELECT shared._meta_action_map(r.actions) AS actions,
                   shared._meta_action_map(r.action_values) AS action_values
        ) AS x
        ORDER BY r.ad_id, r.date_start::date
    ), old AS (
        SELECT o.ad_id, o.date, o.spend, o.conversions, o.conversion_value
        FROM shared.performance_daily AS o
        JOIN page AS n ON n.ad_id = o.ad_id AND n.date = o.date
    ), upserted AS (
        INSERT INTO shared.performance_daily AS d (
            ad_id, date, account_id, campaign_id, campaign_name, adset_id, adset_name, ad_name,
            currency, spend, impressions, clicks, reach, actions, action_values, conversions,
            conversion_value, attribution_windows, pull_id)
        SELECT n.ad_id, n.date, v_pull.account_id, n.campaign_id, n.campaign_name, n.adset_id,
               n.adset_name, n.ad_name, n.currency, n.spend, n.impressions, n.clicks, n.reach,
               n.actions, n.action_values, n.conversions, n.conversion_value, v_windows, p_pull_id
        FROM page AS n
        ON CONFLICT (ad_id, date) DO UPDATE SET
            account_id = excluded.account_id,
            campaign_id = excluded.campaign_id,
            campaign_name = excluded.campaign_name,
            adset_id = excluded.adset_id,
            adset_name = excluded.adset_name,
            ad_name = excluded.ad_name,
            currency = excluded.currency,
            spend = excluded.spend,
            impressions = excluded.impressions,
            clicks = excluded.clicks,
            reach = excluded.reach,
            actions = excluded.actions,
            action_values = excluded.action_values,
            conversions = excluded.conversions,
            conversion_value = excluded.conversion_value,
            attribution_windows = excluded.attribution_windows,
            pulled_at = now(),
            pull_id = excluded.pull_id,
            restatements = d.restatements
                + ((d.spend, d.conversions, d.conversion_value)
                   IS DISTINCT FROM (excluded.spend, excluded.conversions,
                                     excluded.conversion_value))::integer
        RETURNING 1
    ), restated AS (
        INSERT INTO shared.performance_restatement (
            ad_id, date, pull_id, spend_before, spend_after, conversions_before,
            conversions_after, value_before, value_after)
        SELECT o.ad_id, o.date, p_pull_id, o.spend, n.spend, o.conversions, n.conversions,
               o.conversion_value, n.conversion_value
        FROM page AS n
        JOIN old AS o ON o.ad_id = n.ad_id AND o.date = n.date
        WHERE (o.spend, o.conversions, o.conversion_value)
              IS DISTINCT FROM (n.spend, n.conversions, n.conversion_value)
        RETURNING 1
    ), campaigns AS (
        INSERT INTO shared.campaign_project AS c (campaign_id, campaign_name, project_id)
        SELECT DISTINCT ON (n.campaign_id) n.campaign_id, n.campaign_name,
               shared._project_for_campaign_name(n.campaign_name)
        FROM page AS n
        ORDER BY n.campaign_id
        ON CONFLICT (campaign_id) DO UPDATE SET
            campaign_name = excluded.campaign_name,
            -- A renamed campaign follows the convention again unless an admin assigned it.
            project_id = CASE WHEN c.assigned_by = 'naming_convention'
                              THEN excluded.project_id ELSE c.project_id END,
            updated_at = now()
        WHERE c.campaign_name IS DISTINCT FROM excluded.campaign_name
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM restated)
    INTO v_written, v_restated
    FROM (SELECT count(*) FROM campaigns) AS settled;

    -- The rollup of every (day, campaign) this page touched, recomputed from the ad rows (a
    -- separate statement, so it sees the rows just written).
    INSERT INTO shared.performance_campaign_daily AS r (
        date, campaign_id, spend, impressions, clicks, conversions, conversion_value, ads)
    SELECT d.date, d.campaign_id, sum(d.spend), sum(d.impressions), sum(d.clicks),
           sum(d.conversions), sum(d.conversion_value), count(*)
    FROM (SELECT DISTINCT (e ->> 'date_start')::date AS date, e ->> 'campaign_id' AS campaign_id
          FROM jsonb_array_elements(p_rows) AS e) AS t
    JOIN shared.performance_daily AS d ON d.campaign_id = t.campaign_id AND d.date = t.date
    GROUP BY d.date, d.campaign_id
    ON CONFLICT (date, campaign_id) DO UPDATE SET
        spend = excluded.spend, impressions = excluded.impressions, clicks = excluded.clicks,
        conversions = excluded.conversions, conversion_value = excluded.conversion_value,
        ads = excluded.ads;

    UPDATE shared.insights_pull
    SET rows_written = insights_pull.rows_written + v_written,
        rows_restated = insights_pull.rows_restated + v_restated
    WHERE id = p_pull_id;
    RETURN QUERY SELECT v_written, v_restated;
END
$$;
COMMENT ON FUNCTION shared.insights_write_rows(bigint, jsonb) IS
    'Write a page of Meta insights rows (level=ad, time_increment=1, as Meta sends them) under a running pull: upsert by (ad, day), log restated days, map new campaigns to projects by naming convention, keep the per-campaign rollup in step.';

/*
 * Close a pull. p_stats: {requests, retries, report_runs, splits, throttle_wait_ms,
 * max_usage_pct, error_code, error_subcode, error_message}. A succeeded pull tells the API
 * processes to drop their cached answers (NOTIFY gdp_insights, delivered on commit).
 */
CREATE OR REPLACE FUNCTION shared.insights_finish_pull(p_pull_id bigint, p_status text, p_stats jsonb)
RETURNS shared.insights_pull
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_row shared.insights_pull;
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('succeeded', 'failed') THEN
        PERFORM shared._raise('GD400', 'status', 'must be succeeded or failed');
    END IF;
    UPDATE shared.insights_pull AS p SET
        status = p_status,
        finished_at = now(),
        requests = coalesce((p_stats ->> 'requests')::integer, p.requests),
        retries = coalesce((p_stats ->> 'retries')::integer, p.retries),
        report_runs = coalesce((p_stats ->> 'report_runs')::integer, p.report_runs),
        splits = coalesce((p_stats ->> 'splits')::integer, p.splits),
        throttle_wait_ms = coalesce((p_stats ->> 'throttle_wait_ms')::bigint, p.throttle_wait_ms),
        max_usage_pct = (p_stats ->> 'max_usage_pct')::integer,
        error_code = (p_stats ->> 'error_code')::integer,
        error_subcode = (p_stats ->> 'error_subcode')::integer,
        error_message = left(p_stats ->> 'error_message', 1000)
    WHERE p.id = p_pull_id AND p.status = 'running'
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'pull_id', format('no running insights pull %s', p_pull_id));
    END IF;
    IF p_status = 'succeeded' THEN
        PERFORM pg_notify('gdp_insights', p_pull_id::text);
    END IF;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION shared.insights_finish_pull(bigint, text, jsonb) IS
    'Close a running pull as succeeded or failed with its counters (requests, retries, report runs, splits, throttle waits, error); a success tells API caches to refresh.';

/*
 * What the API's cache is keyed by, in one round trip: the TTL setting and the newest succeeded
 * pull. A cached answer is used while both are unchanged and the TTL has not run out.
 */
CREATE OR REPLACE FUNCTION shared.insights_cache_state()
RETURNS TABLE (ttl_s integer, last_pull_id bigint, enabled boolean)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT coalesce((shared.setting_value('META_INSIGHTS_CACHE_TTL_SEC') #>> '{}')::integer, 900),
           (SELECT p.id FROM shared.insights_pull AS p
            WHERE p.status = 'succeeded' ORDER BY p.finished_at DESC LIMIT 1),
           shared.is_enabled('ACD_META_INSIGHTS_ENABLED')
$$;
COMMENT ON FUNCTION shared.insights_cache_state() IS
    'The insights API cache key: META_INSIGHTS_CACHE_TTL_SEC, the newest succeeded pull, and whether ACD_META_INSIGHTS_ENABLED is on.';

/** Section - Views (read by the insights API and the dashboard, as gdp_dashboard) */

-- Ratios that are NULL rather than an error or a misleading 0 when the divisor is 0.
CREATE OR REPLACE FUNCTION shared._ratio(p_numerator numeric, p_denominator numeric, p_scale integer DEFAULT 2)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN p_denominator > 0 THEN round(p_numerator / p_denominator, p_scale) END $$;

-- Conversions GDP itself delivered to Meta (Conversions API, status sent), per product and day
-- of delivery (UTC; an event reaches Meta within minutes, at most its 7-day window), with their
-- value: the first-party side of ROAS and CPA. Grouped by day first, so a date range reads
-- only its days (attribution_events_sent_day_idx); a delivery recorded twice counts once.
CREATE OR REPLACE VIEW shared.gdp_conversions_daily AS
SELECT a.date,
       a.project,
       count(*) AS conversions,
       coalesce(sum(v.value) FILTER (WHERE f.counts_value), 0)::numeric(14, 2) AS conversion_value
FROM (SELECT (x.created_at AT TIME ZONE 'UTC')::date AS date, x.product_id AS project,
             x.event_ref, min(x.meta_event_name) AS meta_event_name
      FROM shared.attribution_events AS x
      WHERE x.status = 'sent' AND x.event_ref IS NOT NULL
      GROUP BY 1, 2, 3) AS a
JOIN shared.conversion_family AS f ON f.meta_event_name = a.meta_event_name AND f.enabled
JOIN shared.event AS e ON e.id = a.event_ref
-- The value property the applying rule names (the same rule the CAPI worker sent it by).
LEFT JOIN shared.applicable_conversion_rule AS r
       ON r.product_id = e.product_id AND r.event_name = e.event_name
LEFT JOIN LATERAL (
    SELECT CASE WHEN val ~ '^-?[0-9]+(\.[0-9]+)?$' THEN val::numeric END AS value
    FROM (SELECT coalesce(e.properties ->> r.value_property, e.properties ->> 'value') AS val)
         AS raw
) AS v ON true
GROUP BY a.date, a.project;
COMMENT ON VIEW shared.gdp_conversions_daily IS
    'Conversions GDP delivered to Meta through the Conversions API, per product and day, with their value (first-party ROAS/CPA).';

-- Meta's numbers per project per day (from the campaign rollup), next to GDP's own.
CREATE OR REPLACE VIEW shared.insights_project_daily AS
SELECT s.date, s.project,
       sum(s.spend)::numeric(14, 2) AS spend,
       sum(s.impressions)::bigint AS impressions,
       sum(s.clicks)::bigint AS clicks,
       sum(s.meta_conversions)::numeric(14, 2) AS meta_conversions,
       sum(s.meta_value)::numeric(14, 2) AS meta_conversion_value,
       sum(s.gdp_conversions)::bigint AS gdp_conversions,
       sum(s.gdp_value)::numeric(14, 2) AS gdp_conversion_value
FROM (
    SELECT r.date, coalesce(c.project_id, 'unassigned') AS project, r.spend, r.impressions,
           r.clicks, r.conversions AS meta_conversions, r.conversion_value AS meta_value,
           0 AS gdp_conversions, 0 AS gdp_value
    FROM shared.performance_campaign_daily AS r
    LEFT JOIN shared.campaign_project AS c ON c.campaign_id = r.campaign_id
    UNION ALL
    SELECT g.date, g.project, 0, 0, 0, 0, 0, g.conversions, g.conversion_value
    FROM shared.gdp_conversions_daily AS g
) AS s
GROUP BY s.date, s.project;
COMMENT ON VIEW shared.insights_project_daily IS
    'Spend, impressions, clicks and conversions per project per day: Meta''s (Ads Insights) and GDP''s own (delivered through CAPI), side by side.';

CREATE OR REPLACE VIEW shared.insights_daily AS
SELECT d.date,
       sum(d.spend)::numeric(14, 2) AS spend,
       sum(d.impressions)::bigint AS impressions,
       sum(d.clicks)::bigint AS clicks,
       sum(d.meta_conversions)::numeric(14, 2) AS meta_conversions,
       sum(d.meta_conversion_value)::numeric(14, 2) AS meta_conversion_value,
       sum(d.gdp_conversions)::bigint AS gdp_conversions,
       sum(d.gdp_conversion_value)::numeric(14, 2) AS gdp_conversion_value,
       shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS meta_cost_per_conversion,
       shared._ratio(sum(d.spend), sum(d.gdp_conversions)) AS gdp_cost_per_conversion,
       shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS meta_roas,
       shared._ratio(sum(d.gdp_conversion_value), sum(d.spend)) AS gdp_roas
FROM shared.insights_project_daily AS d
GROUP BY d.date;
COMMENT ON VIEW shared.insights_daily IS
    'All projects per day, with CPA and ROAS from Meta''s action values and from GDP''s delivered conversions.';

-- The last 30 days (to yesterday included, in UTC, the sandbox account's time zone) per project.
CREATE OR REPLACE VIEW shared.insights_by_project AS
SELECT d.project,
       sum(d.spend)::numeric(14, 2) AS spend,
       sum(d.impressions)::bigint AS impressions,
       sum(d.clicks)::bigint AS clicks,
       sum(d.meta_conversions)::numeric(14, 2) AS meta_conversions,
       sum(d.meta_conversion_value)::numeric(14, 2) AS meta_conversion_value,
       sum(d.gdp_conversions)::bigint AS gdp_conversions,
       sum(d.gdp_conversion_value)::numeric(14, 2) AS gdp_conversion_value,
       shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS meta_cost_per_conversion,
       shared._ratio(sum(d.spend), sum(d.gdp_conversions)) AS gdp_cost_per_conversion,
       shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS meta_roas,
       shared._ratio(sum(d.gdp_conversion_value), sum(d.spend)) AS gdp_roas
FROM shared.insights_project_daily AS d
WHERE d.date BETWEEN (now() AT TIME ZONE 'UTC')::date - 29 AND (now() AT TIME ZONE 'UTC')::date
GROUP BY d.project;
COMMENT ON VIEW shared.insights_by_project IS
    'Per project over the last 30 days: spend, clicks, conversions, CPA and ROAS, Meta''s and GDP''s side by side.';

CREATE OR REPLACE VIEW shared.insights_summary AS
SELECT sum(b.spend)::numeric(14, 2) AS spend,
       sum(b.impressions)::bigint AS impressions,
       sum(b.clicks)::bigint AS clicks,
       shared._ratio(100 * sum(b.clicks), sum(b.impressions)) AS ctr,
       shared._ratio(sum(b.spend), sum(b.clicks)) AS cpc,
       sum(b.meta_conversions)::numeric(14, 2) AS meta_conversions,
       sum(b.gdp_conversions)::bigint AS gdp_conversions,
       shared._ratio(sum(b.spend), sum(b.meta_conversions)) AS meta_cost_per_conversion,
       shared._ratio(sum(b.spend), sum(b.gdp_conversions)) AS gdp_cost_per_conversion,
       shared._ratio(sum(b.meta_conversion_value), sum(b.spend)) AS meta_roas,
       shared._ratio(sum(b.gdp_conversion_value), sum(b.spend)) AS gdp_roas
FROM shared.insights_by_project AS b;
COMMENT ON VIEW shared.insights_summary IS
    'All projects over the last 30 days: spend, CTR, CPC, conversions, CPA and ROAS (Meta''s and GDP''s).';

CREATE OR REPLACE VIEW shared.insights_ad_daily AS
SELECT d.date, coalesce(c.project_id, 'unassigned') AS project, d.campaign_id, d.campaign_name,
       d.adset_id, d.adset_name, d.ad_id, d.ad_name, d.spend, d.impressions, d.clicks, d.reach,
       d.conversions AS meta_conversions, d.conversion_value AS meta_conversion_value,
       shared._ratio(d.spend, d.conversions) AS meta_cost_per_conversion,
       shared._ratio(d.conversion_value, d.spend) AS meta_roas,
       d.restatements, d.pulled_at
FROM shared.performance_daily AS d
LEFT JOIN shared.campaign_project AS c ON c.campaign_id = d.campaign_id;
COMMENT ON VIEW shared.insights_ad_daily IS
    'Per ad per day with its project: Meta''s spend, conversions, CPA and ROAS, and how often the day was restated.';

CREATE OR REPLACE VIEW shared.insights_pulls AS
SELECT p.id, p.account_id, p.date_from, p.date_to, p.mode, p.status, p.started_at,
       p.finished_at, p.rows_written, p.rows_restated, p.requests, p.retries, p.report_runs,
       p.splits, p.throttle_wait_ms, p.max_usage_pct,
       (extract(epoch FROM p.finished_at - p.started_at) * 1000)::bigint AS duration_ms,
       p.error_code, p.error_subcode, p.error_message
FROM shared.insights_pull AS p;
COMMENT ON VIEW shared.insights_pulls IS
    'Every insights pull with its range, rows, requests, retries and duration: how fresh the numbers are.';
