/**
 * The dashboard: its users' keys, and the views it reads (as gdp_dashboard) for the PRD's
 * success metrics, CAPI health and the deployment gate. Each success-metric view states the
 * PRD's target and whether it is met.
 */

/** Section - Dashboard keys */

CREATE OR REPLACE FUNCTION shared.create_dashboard_key(p_label text, p_actor text)
RETURNS TABLE (key_id uuid, dashboard_key text, key_prefix text)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_key text;
    v_id uuid;
BEGIN
    IF length(shared._trim(coalesce(p_label, ''))) NOT BETWEEN 1 AND 200 THEN
        PERFORM shared._raise('GD400', 'label', 'must name who or what the key is for (1-200 characters)');
    END IF;
    v_key := 'gdp_dk_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    INSERT INTO shared.dashboard_key (key_prefix, key_sha256, label, created_by)
    VALUES (left(v_key, 15), shared._sha256_hex(v_key), shared._trim(p_label), v_actor)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, v_key, left(v_key, 15);
END
$$;
COMMENT ON FUNCTION shared.create_dashboard_key(text, text) IS
    'Create a dashboard user''s key (gdp_dk_...): returned once, stored only as SHA-256.';

CREATE OR REPLACE FUNCTION shared.revoke_dashboard_key(p_key_id uuid, p_actor text)
RETURNS shared.dashboard_key
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.dashboard_key;
BEGIN
    UPDATE shared.dashboard_key
    SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, v_actor)
    WHERE id = p_key_id
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no dashboard key %s', p_key_id));
    END IF;
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION shared.revoke_dashboard_key(uuid, text) IS
    'Revoke a dashboard key by id; it stops working at once (the API caches successes for a second).';

-- The key's label for a live key, NULL otherwise; last_used_at refreshed at most once a minute.
CREATE OR REPLACE FUNCTION shared.authenticate_dashboard_key(p_dashboard_key text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_row shared.dashboard_key;
BEGIN
    IF p_dashboard_key IS NULL OR length(p_dashboard_key) > 200 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_row FROM shared.dashboard_key
    WHERE key_sha256 = shared._sha256_hex(p_dashboard_key) AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_row.last_used_at IS NULL OR v_row.last_used_at < now() - interval '1 minute' THEN
        UPDATE shared.dashboard_key SET last_used_at = now() WHERE id = v_row.id;
    END IF;
    RETURN v_row.label;
END
$$;
COMMENT ON FUNCTION shared.authenticate_dashboard_key(text) IS
    'The label of a live dashboard key, or NULL for an unknown or revoked one.';

/** Section - Operational views */

CREATE OR REPLACE VIEW shared.gate_state AS
SELECT f.flag_key, f.gap, f.enable_order, f.enabled, f.changed_at, f.changed_by, f.description
FROM shared.feature_flag AS f;
COMMENT ON VIEW shared.gate_state IS 'The deployment gate: every flag, its gap, order and state.';

CREATE OR REPLACE VIEW shared.capi_health AS
SELECT (SELECT count(*) FROM shared.attribution_events AS a
        WHERE a.status = 'sent' AND a.created_at > now() - interval '24 hours') AS delivered_24h,
       (SELECT count(*) FROM shared.attribution_events AS a
        WHERE a.status = 'sent') AS delivered_total,
       (SELECT count(*) FROM shared.capi_dead_letter AS d
        WHERE d.replayed_at IS NULL AND d.dead_lettered_at > now() - interval '24 hours')
           AS dead_lettered_24h,
       (SELECT coalesce(jsonb_object_agg(r.reason, r.n), '{}'::jsonb)
        FROM (SELECT d.reason, count(*) AS n FROM shared.capi_dead_letter AS d
              WHERE d.replayed_at IS NULL GROUP BY d.reason) AS r) AS dead_lettered_by_reason,
       (SELECT count(*) FROM shared.capi_pixel_state AS s WHERE s.breaker = 'open')
           AS open_breakers,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'pixel_id', s.pixel_id, 'breaker', s.breaker, 'opened_at', s.opened_at,
                   'last_error_code', s.last_error_code) ORDER BY s.pixel_id), '[]'::jsonb)
        FROM shared.capi_pixel_state AS s) AS breakers,
       (SELECT count(*) FROM pgmq.q_meta_capi) AS queued,
       (SELECT count(*) FROM pgmq.q_meta_leads) AS leads_queued;
COMMENT ON VIEW shared.capi_health IS
    'Conversions API health: delivered, dead-lettered by reason, circuit breakers, queue lengths.';

/** Section - The PRD's success metrics */

-- Delivered events per product and Meta event over the last 7 days, with the share carrying
-- each match key (the stand-in for Meta's Event Match Quality, which GDP cannot read locally).
CREATE OR REPLACE VIEW shared.metric_match_key_coverage AS
SELECT a.product_id AS project, a.meta_event_name,
       count(*) AS delivered,
       round(avg(('em' = ANY (a.match_keys))::integer), 4) AS em_share,
       round(avg(('ph' = ANY (a.match_keys))::integer), 4) AS ph_share,
       round(avg(('external_id' = ANY (a.match_keys))::integer), 4) AS external_id_share,
       round(avg((a.match_keys && ARRAY['fbc', 'fbp'])::integer), 4) AS fbc_or_fbp_share,
       round(avg((a.match_keys @> ARRAY['client_ip_address', 'client_user_agent'])::integer), 4)
           AS ip_and_ua_share,
       round(avg((a.match_keys && ARRAY['em', 'ph'])::integer), 4) AS em_or_ph_share,
       0.70 AS target,
       avg((a.match_keys && ARRAY['em', 'ph'])::integer) > 0.70 AS met
FROM (SELECT DISTINCT ON (x.event_ref) x.product_id, x.meta_event_name, x.match_keys
      FROM shared.attribution_events AS x
      WHERE x.status = 'sent' AND x.created_at > now() - interval '7 days'
      ORDER BY x.event_ref, x.id) AS a
GROUP BY a.product_id, a.meta_event_name;
COMMENT ON VIEW shared.metric_match_key_coverage IS
    'PRD metric "CAPI event match rate > 70%": per product and event, the share of delivered events (7 days) carrying em, ph, external_id, fbc/fbp, IP+UA; met when em or ph is on more than 70%.';

-- Conversions GDP delivered (30 days) and how many came from an ad click: an fbc on the event
-- or the person, a Meta UTM source, or a Lead Ads lead.
CREATE OR REPLACE VIEW shared.metric_ad_click_source AS
SELECT count(*) AS conversions,
       count(*) FILTER (WHERE c.from_ad) AS with_ad_click_source,
       shared._ratio(count(*) FILTER (WHERE c.from_ad), count(*), 4) AS share,
       0.50 AS target,
       coalesce(shared._ratio(count(*) FILTER (WHERE c.from_ad), count(*), 4) > 0.50, false) AS met
FROM (
    SELECT e.fbc IS NOT NULL
           OR p.meta_fbc IS NOT NULL
           OR lower(p.utm_source) IN ('meta', 'facebook', 'fb', 'instagram', 'ig', 'messenger',
                                      'audience_network', 'threads', 'whatsapp')
           OR EXISTS (SELECT 1 FROM shared.identity_link AS l
                      WHERE l.person_id = e.person_id AND l.provider = 'meta_lead') AS from_ad
    FROM (SELECT DISTINCT ON (x.event_ref) x.event_ref, x.meta_event_name
          FROM shared.attribution_events AS x
          WHERE x.status = 'sent' AND x.created_at > now() - interval '30 days'
          ORDER BY x.event_ref) AS a
    JOIN shared.conversion_family AS f ON f.meta_event_name = a.meta_event_name AND f.enabled
    JOIN shared.event AS e ON e.id = a.event_ref
    LEFT JOIN shared.person AS p ON p.id = e.person_id
) AS c;
COMMENT ON VIEW shared.metric_ad_click_source IS
    'PRD metric "> 50% of conversions have an ad click source": delivered conversions (30 days) with an fbc, a Meta UTM source or a Lead Ads lead behind them.';

CREATE OR REPLACE VIEW shared.metric_lead_to_customer AS
SELECT count(*) AS customers,
       count(*) FILTER (WHERE p.traced) AS traced_to_source,
       count(*) FILTER (WHERE p.from_lead_ad) AS from_lead_ads,
       shared._ratio(count(*) FILTER (WHERE p.traced), count(*), 4) AS share,
       0.80 AS target,
       coalesce(shared._ratio(count(*) FILTER (WHERE p.traced), count(*), 4) > 0.80, false) AS met
FROM (
    SELECT (x.source_product IS NOT NULL
            AND (x.utm_source IS NOT NULL OR x.meta_fbc IS NOT NULL
                 OR x.meta_lead_form_id IS NOT NULL)) AS traced,
           x.meta_lead_form_id IS NOT NULL AS from_lead_ad
    FROM shared.person AS x
    WHERE x.lifecycle_stage = 'customer'
) AS p;
COMMENT ON VIEW shared.metric_lead_to_customer IS
    'PRD metric "> 80% of customers traced to source": customers whose first touch (product and UTM source, click id or lead form) is known.';

CREATE OR REPLACE VIEW shared.metric_insights_freshness AS
SELECT max(p.finished_at) AS last_pull_at,
       round((extract(epoch FROM now() - max(p.finished_at)) / 60)::numeric, 1) AS minutes,
       15 AS target_minutes,
       coalesce(extract(epoch FROM now() - max(p.finished_at)) / 60 < 15, false) AS met,
       (SELECT count(*) FROM shared.insights_pull AS f
        WHERE f.status = 'failed' AND f.started_at > now() - interval '24 hours') AS failed_pulls_24h
FROM shared.insights_pull AS p
WHERE p.status = 'succeeded';
COMMENT ON VIEW shared.metric_insights_freshness IS
    'PRD metric "dashboard insights latency < 15 min from Meta": minutes since the newest successful pull (API caches are dropped when a pull lands).';

/*
 * ROAS and CPA (Meta's numbers) in the 30 days before the Conversions API went live
 * (META_CAPI_INGEST_ENABLED's changed_at) against the 30 days since.
 */
CREATE OR REPLACE VIEW shared.metric_roas_cpa_change AS
WITH live AS (
    SELECT (f.changed_at AT TIME ZONE 'UTC')::date AS day
    FROM shared.feature_flag AS f
    WHERE f.flag_key = 'META_CAPI_INGEST_ENABLED' AND f.enabled
), windows AS (
    SELECT sum(r.spend) FILTER (WHERE r.date >= l.day - 30 AND r.date < l.day) AS spend_before,
           sum(r.conversion_value) FILTER (WHERE r.date >= l.day - 30 AND r.date < l.day) AS value_before,
           sum(r.conversions) FILTER (WHERE r.date >= l.day - 30 AND r.date < l.day) AS conv_before,
           sum(r.spend) FILTER (WHERE r.date >= l.day AND r.date < l.day + 30) AS spend_after,
           sum(r.conversion_value) FILTER (WHERE r.date >= l.day AND r.date < l.day + 30) AS value_after,
           sum(r.conversions) FILTER (WHERE r.date >= l.day AND r.date < l.day + 30) AS conv_after,
           min(l.day) AS live_since
    FROM live AS l
    JOIN shared.performance_campaign_daily AS r ON r.date >= l.day - 30 AND r.date < l.day + 30
)
SELECT w.live_since,
       shared._ratio(w.value_before, w.spend_before) AS roas_before,
       shared._ratio(w.value_after, w.spend_after) AS roas_after,
       shared._ratio(shared._ratio(w.value_after, w.spend_after, 6)
                     - shared._ratio(w.value_before, w.spend_before, 6),
                     shared._ratio(w.value_before, w.spend_before, 6), 4) AS roas_change,
       0.20 AS roas_target,
       coalesce(shared._ratio(w.value_after, w.spend_after, 6)
                >= 1.2 * shared._ratio(w.value_before, w.spend_before, 6), false) AS roas_met,
       shared._ratio(w.spend_before, w.conv_before) AS cpa_before,
       shared._ratio(w.spend_after, w.conv_after) AS cpa_after,
       shared._ratio(shared._ratio(w.spend_after, w.conv_after, 6)
                     - shared._ratio(w.spend_before, w.conv_before, 6),
                     shared._ratio(w.spend_before, w.conv_before, 6), 4) AS cpa_change,
       -0.15 AS cpa_target,
       coalesce(shared._ratio(w.spend_after, w.conv_after, 6)
                <= 0.85 * shared._ratio(w.spend_before, w.conv_before, 6), false) AS cpa_met
FROM windows AS w;
COMMENT ON VIEW shared.metric_roas_cpa_change IS
    'PRD metrics "ROAS +20% within 30 days of CAPI" and "CPA -15% from baseline": Meta''s ROAS and CPA in the 30 days before META_CAPI_INGEST_ENABLED went on against the 30 days since.';

-- The PRD's success metrics table, one row each: target, value and whether it is met.
CREATE OR REPLACE VIEW shared.success_metrics AS
SELECT 'capi_match_rate' AS metric, 'CAPI event match rate' AS name, '> 70%' AS target,
       (SELECT round(sum(m.em_or_ph_share * m.delivered) / nullif(sum(m.delivered), 0), 4)
        FROM shared.metric_match_key_coverage AS m) AS value,
       'share' AS unit,
       coalesce((SELECT sum(m.em_or_ph_share * m.delivered) / nullif(sum(m.delivered), 0) > 0.70
                 FROM shared.metric_match_key_coverage AS m), false) AS met,
       'delivered events (7 days) carrying em or ph; Meta''s own EMQ is in Events Manager' AS measured_as
UNION ALL
SELECT 'ad_click_source', 'Cross-product conversions with an ad click source', '> 50%',
       m.share, 'share', m.met, 'delivered conversions (30 days) with fbc, a Meta UTM or a Lead Ads lead'
FROM shared.metric_ad_click_source AS m
UNION ALL
SELECT 'roas_change', 'Ad ROAS improvement', '+20% within 30 days of CAPI',
       m.roas_change, 'change', coalesce(m.roas_met, false),
       'Meta ROAS, 30 days after META_CAPI_INGEST_ENABLED vs the 30 days before'
FROM (SELECT 1) AS one LEFT JOIN shared.metric_roas_cpa_change AS m ON true
UNION ALL
SELECT 'cpa_change', 'Cost per acquisition reduction', '-15% from baseline',
       m.cpa_change, 'change', coalesce(m.cpa_met, false),
       'Meta CPA, 30 days after META_CAPI_INGEST_ENABLED vs the 30 days before'
FROM (SELECT 1) AS one LEFT JOIN shared.metric_roas_cpa_change AS m ON true
UNION ALL
SELECT 'lead_to_customer', 'Lead to customer attribution', '> 80% of customers traced',
       m.share, 'share', m.met, 'customers whose first touch (product + UTM, click id or lead form) is known'
FROM shared.metric_lead_to_customer AS m
UNION ALL
SELECT 'insights_latency', 'Dashboard insights latency', '< 15 min from Meta',
       m.minutes, 'minutes', m.met, 'minutes since the newest successful insights pull'
FROM shared.metric_insights_freshness AS m;
COMMENT ON VIEW shared.success_metrics IS
    'The PRD''s success metrics, one row each: target, current value, unit and whether it is met.';

CREATE OR REPLACE VIEW shared.projects AS
SELECT p.product_id AS project, p.display_name FROM shared.product AS p
UNION ALL
SELECT 'unassigned', 'Campaigns mapped to no project';
COMMENT ON VIEW shared.projects IS
    'The projects insights are reported by: every product, and "unassigned" for unmapped campaigns.';
