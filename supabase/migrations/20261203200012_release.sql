-- migrate:up
-- gdp:release sources=sha256:0005e134e3a647d0ac671b91eea4b297f4645f94fb55bf05725e8d379afe89a6

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE VIEW shared.person_product_feature AS
 SELECT g.person_id,
    g.product_id,
    g.first_seen_at,
    g.last_seen_at,
    g.events,
    g.activated_at,
    g.last_paid_at,
    g.plan,
    g.mrr,
    g.last_cancel_at,
    g.pricing_views_7d,
    g.usage_7d,
    g.usage_30d,
    g.pricing_views_30d,
    g.last_activity_at,
    g.first_paid_at,
    ((g.last_paid_at IS NOT NULL) AND ((g.last_cancel_at IS NULL) OR (g.last_cancel_at < g.last_paid_at))) AS paid,
        CASE
            WHEN ((g.last_cancel_at IS NOT NULL) AND ((g.last_paid_at IS NULL) OR (g.last_cancel_at >= g.last_paid_at))) THEN g.last_cancel_at
            WHEN (g.last_seen_at <= (now() - '30 days'::interval)) THEN (g.last_seen_at + '30 days'::interval)
            ELSE NULL::timestamp with time zone
        END AS churned_at
   FROM ( SELECT d.person_id,
            d.product_id,
            min(d.first_at) AS first_seen_at,
            max(d.last_at) AS last_seen_at,
            sum(d.events) AS events,
            min(d.first_activation_at) AS activated_at,
            max(d.last_payment_at) AS last_paid_at,
            (array_agg(d.plan ORDER BY d.last_payment_at DESC NULLS LAST))[1] AS plan,
            (array_agg(d.mrr ORDER BY d.last_payment_at DESC NULLS LAST))[1] AS mrr,
            max(d.last_cancel_at) AS last_cancel_at,
            COALESCE(sum(d.pricing_views) FILTER (WHERE (d.day > (shared._utc_day(now()) - 7))), (0)::bigint) AS pricing_views_7d,
            COALESCE(sum(d.usage) FILTER (WHERE (d.day > (shared._utc_day(now()) - 7))), (0)::bigint) AS usage_7d,
            COALESCE(sum(d.usage) FILTER (WHERE (d.day > (shared._utc_day(now()) - 30))), (0)::bigint) AS usage_30d,
            COALESCE(sum(d.pricing_views) FILTER (WHERE (d.day > (shared._utc_day(now()) - 30))), (0)::bigint) AS pricing_views_30d,
            max(d.last_at) FILTER (WHERE (d.usage > 0)) AS last_activity_at,
            min(d.last_payment_at) AS first_paid_at
           FROM shared.person_activity_daily d
          GROUP BY d.person_id, d.product_id) g;

-- migrate:down
