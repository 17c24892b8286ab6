-- migrate:up
-- gdp:release sources=sha256:30904fd52188e94ad9215a57b9d0178609cca9ef7abd48709a3af781166c68db

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._fold_new_events()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_rows bigint;
BEGIN
    WITH src AS MATERIALIZED (
        SELECT n.id, n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day,
               n.occurred_at, n.event_name, n.properties, coalesce(own.kind, anyp.kind) AS kind
        FROM pg_temp._segment_new_event AS ne
        JOIN shared.event AS n ON n.id = ne.id
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL
    ), candidates AS (
        -- The people of the new events are re-evaluated; read here, with the events already
        -- fetched, rather than by a second pass over them.
        INSERT INTO pg_temp._segment_candidate (person_id)
        SELECT DISTINCT k.person_id FROM src AS k
        ON CONFLICT DO NOTHING
    ), by_name AS (
        SELECT k.person_id, k.product_id, k.day, k.event_name, k.kind, count(*)::integer AS n,
               min(k.occurred_at) AS first_at, max(k.occurred_at) AS last_at
        FROM src AS k GROUP BY 1, 2, 3, 4, 5
    ), days AS (
        SELECT b.person_id, b.product_id, b.day,
               min(b.first_at) AS first_at, max(b.last_at) AS last_at,
               sum(b.n)::integer AS events,
               coalesce(sum(b.n) FILTER (WHERE b.kind IS NULL
                                           OR b.kind NOT IN ('page_view', 'pricing_view')), 0)::integer AS usage,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'pricing_view'), 0)::integer AS pricing_views,
               min(b.first_at) FILTER (WHERE b.kind = 'activation') AS first_activation_at,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'payment'), 0)::integer AS payments,
               max(b.last_at) FILTER (WHERE b.kind = 'payment') AS last_payment_at,
               max(b.last_at) FILTER (WHERE b.kind = 'cancel') AS last_cancel_at,
               jsonb_object_agg(b.event_name, b.n) AS counts
        FROM by_name AS b GROUP BY 1, 2, 3
    ), paid AS (
        SELECT DISTINCT ON (k.person_id, k.product_id, k.day) k.person_id, k.product_id, k.day,
               k.properties ->> 'plan' AS plan, shared._payment_mrr(k.properties) AS mrr
        FROM src AS k WHERE k.kind = 'payment'
        ORDER BY k.person_id, k.product_id, k.day, k.occurred_at DESC, k.id DESC
    )
    INSERT INTO shared.person_activity_daily AS a (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at, event_counts)
    SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
           d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, p.plan, p.mrr,
           d.last_cancel_at, d.counts
    FROM days AS d
    LEFT JOIN paid AS p USING (person_id, product_id, day)
    ORDER BY d.person_id, d.product_id, d.day
    ON CONFLICT (person_id, product_id, day) DO UPDATE SET
        first_at = least(a.first_at, excluded.first_at),
        last_at = greatest(a.last_at, excluded.last_at),
        events = a.events + excluded.events,
        usage = a.usage + excluded.usage,
        pricing_views = a.pricing_views + excluded.pricing_views,
        first_activation_at = least(a.first_activation_at, excluded.first_activation_at),
        payments = a.payments + excluded.payments,
        plan = CASE WHEN excluded.last_payment_at >= a.last_payment_at OR a.last_payment_at IS NULL
                    THEN coalesce(excluded.plan, a.plan) ELSE a.plan END,
        mrr = CASE WHEN excluded.last_payment_at >= a.last_payment_at OR a.last_payment_at IS NULL
                   THEN coalesce(excluded.mrr, a.mrr) ELSE a.mrr END,
        last_payment_at = greatest(a.last_payment_at, excluded.last_payment_at),
        last_cancel_at = greatest(a.last_cancel_at, excluded.last_cancel_at),
        event_counts = shared._jsonb_sum_counts(a.event_counts, excluded.event_counts);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$function$;

CREATE OR REPLACE FUNCTION shared._payment_mrr(p_properties jsonb)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT round(substring(coalesce(p_properties ->> 'mrr', p_properties ->> 'plan_price',
                                    p_properties ->> 'upgrade_price', p_properties ->> 'value')
                           FROM '^\s*([0-9]{1,12}(?:\.[0-9]+)?)\s*$')::numeric, 2)
$function$;

CREATE OR REPLACE FUNCTION shared.rebuild_person_activity()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
 SET work_mem TO '256MB'
AS $function$
DECLARE
    v_rows bigint;
BEGIN
    -- Never beside an evaluation (which folds logged events into the same rows), so nothing
    -- else writes daily rows until this transaction ends: the emptied table takes plain inserts.
    PERFORM pg_advisory_xact_lock(hashtext('gdp.evaluate_segments'));
    DELETE FROM shared.person_activity_daily;
    -- One statement, so one snapshot: the logged events it deletes are exactly those already
    -- committed, which the events it reads include; an insert committing meanwhile is in
    -- neither, and the next evaluation folds it in.
    WITH cleared AS (
        DELETE FROM shared.segment_change_log AS l
        WHERE l.event_ids IS NOT NULL OR l.event_id_first IS NOT NULL
        RETURNING 1
    ), by_name AS (
        SELECT n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day, n.event_name,
               coalesce(own.kind, anyp.kind) AS kind, count(*)::integer AS n,
               min(n.occurred_at) AS first_at, max(n.occurred_at) AS last_at
        FROM shared.event AS n
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
    ), days AS (
        SELECT b.person_id, b.product_id, b.day,
               min(b.first_at) AS first_at, max(b.last_at) AS last_at,
               sum(b.n)::integer AS events,
               coalesce(sum(b.n) FILTER (WHERE b.kind IS NULL
                                           OR b.kind NOT IN ('page_view', 'pricing_view')), 0)::integer AS usage,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'pricing_view'), 0)::integer AS pricing_views,
               min(b.first_at) FILTER (WHERE b.kind = 'activation') AS first_activation_at,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'payment'), 0)::integer AS payments,
               max(b.last_at) FILTER (WHERE b.kind = 'payment') AS last_payment_at,
               max(b.last_at) FILTER (WHERE b.kind = 'cancel') AS last_cancel_at,
               jsonb_object_agg(b.event_name, b.n) AS counts
        FROM by_name AS b GROUP BY 1, 2, 3
    ), paid AS (
        SELECT DISTINCT ON (n.person_id, n.product_id, shared._utc_day(n.occurred_at))
               n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day,
               n.properties ->> 'plan' AS plan, shared._payment_mrr(n.properties) AS mrr
        FROM shared.event AS n
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL AND coalesce(own.kind, anyp.kind) = 'payment'
        ORDER BY n.person_id, n.product_id, shared._utc_day(n.occurred_at),
                 n.occurred_at DESC, n.id DESC
    )
    INSERT INTO shared.person_activity_daily (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at, event_counts)
    SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
           d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, p.plan, p.mrr,
           d.last_cancel_at, d.counts
    FROM days AS d
    LEFT JOIN paid AS p USING (person_id, product_id, day)
    ORDER BY d.person_id, d.product_id, d.day;
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    INSERT INTO shared.segment_change_log (person_ids)
    SELECT array_agg(p.id) FROM shared.person AS p HAVING count(*) > 0;
    RETURN v_rows;
END
$function$;

REVOKE ALL ON FUNCTION shared._payment_mrr(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._payment_mrr(jsonb) TO service_role;

-- migrate:down
