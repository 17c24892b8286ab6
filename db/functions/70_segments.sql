/**
 * The segment engine (GAP-002 segments): person features kept by the event write path, the
 * first-time conversion rules fired from them, segment views and their evaluation.
 *
 *   shared.event ──statement trigger──► segment_change_log (one row per statement: event ids)
 *                                  └──► feature_trigger_fired ─► pgmq meta_capi (first time only)
 *   shared.person ─statement triggers──► segment_change_log (person ids)
 *   evaluate_segments(): drain the log ─► person_activity_recent (per person, product, UTC day;
 *                        settled into person_activity_settled once the day is over)
 *                        ─► person_feature (changed people + time windows crossed)
 *                        ─► segments.<view> ─► segment_member (+ history, + pgmq segment_changes)
 *
 * The insert pays for one array per statement; the aggregation into daily rows happens once per
 * evaluation for all the statements since the last one (bench/bench_segments.py measures both).
 */

/** Section - Helpers */

-- {name: n} + {name: m}: the counts summed key by key.
CREATE OR REPLACE FUNCTION shared._jsonb_sum_counts(p_a jsonb, p_b jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
    FROM (SELECT e.key AS k, sum(e.value::bigint) AS n
          FROM (SELECT * FROM jsonb_each_text(p_a) UNION ALL SELECT * FROM jsonb_each_text(p_b)) AS e
          GROUP BY e.key) AS s
$$;

-- The UTC day of a time: windows are whole UTC days whatever the session's time zone.
CREATE OR REPLACE FUNCTION shared._utc_day(p_at timestamptz)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (p_at AT TIME ZONE 'UTC')::date $$;

-- The instant a UTC day starts.
CREATE OR REPLACE FUNCTION shared._utc_midnight(p_day date)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_day::timestamp AT TIME ZONE 'UTC' $$;

-- A payment event's monthly amount: the first of mrr, plan_price, upgrade_price and value it
-- has; one that is not a plain number is no MRR (the event itself is stored as sent). One
-- expression, so it is inlined into the statements that call it (the daily fold and rebuild).
CREATE OR REPLACE FUNCTION shared._payment_mrr(p_properties jsonb)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT round(substring(coalesce(p_properties ->> 'mrr', p_properties ->> 'plan_price',
                                    p_properties ->> 'upgrade_price', p_properties ->> 'value')
                           FROM '^\s*([0-9]{1,12}(?:\.[0-9]+)?)\s*$')::numeric, 2)
$$;

-- Usage: an event that is not a page or pricing-page view (an event of no known kind counts).
CREATE OR REPLACE FUNCTION shared._counts_as_usage(p_kind text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_kind IS NULL OR p_kind NOT IN ('page_view', 'pricing_view') $$;

-- Of two payments' plans (or amounts), the later payment's, even when it names none; b wins a
-- tie. For merging two daily rows and for merging new events into stored features alike.
CREATE OR REPLACE FUNCTION shared._latest_payment_value(p_a_at timestamptz, p_a anyelement,
                                                        p_b_at timestamptz, p_b anyelement)
RETURNS anyelement
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN p_b_at >= p_a_at OR p_a_at IS NULL THEN p_b ELSE p_a END $$;

-- A daily row's first payment and last usage event. A row written before those columns existed
-- has neither: its last payment, and its last event if it had usage, stand in for them (what
-- first_paid_at and last_activity_at were taken from then).
CREATE OR REPLACE FUNCTION shared._day_first_payment_at(p_first_payment_at timestamptz,
                                                        p_last_payment_at timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(p_first_payment_at, p_last_payment_at) $$;

CREATE OR REPLACE FUNCTION shared._day_last_usage_at(p_last_usage_at timestamptz,
                                                     p_usage integer, p_last_at timestamptz)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(p_last_usage_at, CASE WHEN p_usage > 0 THEN p_last_at END) $$;

-- Paid: a payment not followed by a cancellation. For person_feature and
-- person_product_feature alike (inlined).
CREATE OR REPLACE FUNCTION shared._feature_paid(p_last_paid_at timestamptz,
                                                p_last_cancel_at timestamptz)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT p_last_paid_at IS NOT NULL
           AND (p_last_cancel_at IS NULL OR p_last_cancel_at < p_last_paid_at)
$$;

-- Churned: at a cancellation after the last payment, or 30 days after the last event once
-- that is past (as of p_now). Stable, not immutable: timestamp arithmetic with an interval
-- depends on the time zone, and an immutable function holding it would not be inlined.
CREATE OR REPLACE FUNCTION shared._feature_churned_at(
    p_last_paid_at timestamptz, p_last_cancel_at timestamptz, p_last_seen_at timestamptz,
    p_now timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_last_cancel_at IS NOT NULL
                     AND (p_last_paid_at IS NULL OR p_last_cancel_at >= p_last_paid_at)
                THEN p_last_cancel_at
                WHEN p_last_seen_at <= p_now - interval '30 days'
                THEN p_last_seen_at + interval '30 days' END
$$;

-- The refusal of a segment view that returns a person twice, at definition and at evaluation.
CREATE OR REPLACE FUNCTION shared._segment_duplicate_problem(p_person_id uuid)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT format('returns person %s more than once; a segment returns each person once '
                  '(use DISTINCT or GROUP BY person_id)', p_person_id)
$$;

/** Section - Features from the event write path */

/*
 * One statement's events: their ids into the change log (one row per statement), and the
 * first-time conversion rules, which fire at once.
 */
CREATE OR REPLACE FUNCTION shared._event_features()
RETURNS trigger
LANGUAGE plpgsql
-- Whoever inserts (a product's role included) keeps the features: the tables are not theirs.
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_msgs jsonb[];
    v_products text[];
    v_names text[];
    v_rules bigint[];
BEGIN
    -- One row per statement, whatever its size: the evaluation folds these events into the
    -- daily features (shared._fold_new_events), so the insert pays for one small row, not an
    -- upsert. A statement's ids are usually one unbroken run of the identity; then the first
    -- and last id name exactly its events (ids are unique), else the array of those with a
    -- person does (the fold skips events without one either way).
    INSERT INTO shared.segment_change_log (event_ids, event_id_first, event_id_last)
    SELECT CASE WHEN NOT s.run THEN s.ids END, CASE WHEN s.run THEN s.lo END,
           CASE WHEN s.run THEN s.hi END
    FROM (SELECT min(n.id) AS lo, max(n.id) AS hi, max(n.id) - min(n.id) + 1 = count(*) AS run,
                 array_agg(n.id) FILTER (WHERE n.person_id IS NOT NULL) AS ids
          FROM new_events AS n) AS s
    WHERE s.ids IS NOT NULL;

    -- The first-time rows of the PRD's trigger table (conversion rules with
    -- first_time_per_person, e.g. "first feature used" -> CompleteRegistration), fired from the
    -- features rather than from one event: for each person and rule, the statement's first
    -- matching event is sent when the person had no such event before, and
    -- shared.feature_trigger_fired's primary key makes it once per person even when two
    -- sessions insert at the same time (the second waits for the first's row, then finds it).
    IF shared.is_enabled('META_CAPI_INGEST_ENABLED')
       AND shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') THEN
        -- The rule that decides each (product, event name) (shared.applicable_conversion_rule,
        -- the one definition), where it is a first-time one: a handful, read once, so that the
        -- statement's rows are matched against a short list rather than sorted against the view.
        SELECT array_agg(r.product_id), array_agg(r.event_name), array_agg(r.rule_id)
        INTO v_products, v_names, v_rules
        FROM shared.applicable_conversion_rule AS r
        WHERE r.first_time_per_person;
        IF v_rules IS NULL THEN
            RETURN NULL;
        END IF;
        WITH matched AS (
            SELECT n.id, n.person_id, n.event_name, r.rule_id
            FROM new_events AS n
            JOIN unnest(v_products, v_names, v_rules) AS r(product_id, event_name, rule_id)
              ON r.product_id = n.product_id AND r.event_name = n.event_name
            WHERE n.meta_event_name IS NULL AND n.person_id IS NOT NULL
        ), firsts AS (
            SELECT DISTINCT ON (m.rule_id, m.person_id) m.rule_id, m.person_id, m.id, m.event_name
            FROM matched AS m
            ORDER BY m.rule_id, m.person_id, m.id
        ), fired AS (
            INSERT INTO shared.feature_trigger_fired (rule_id, person_id, event_ref, sent)
            SELECT f.rule_id, f.person_id, coalesce(seen_before.id, f.id), seen_before.id IS NULL
            FROM firsts AS f
            -- Probed per person through an index (LATERAL … LIMIT 1 is never turned into a hash
            -- join, which would read the whole ledger or event table for every statement): the
            -- ledger first; only a person not in it yet has their earlier events looked at: one
            -- whose events from before the ledger existed (or before the flag was on) include
            -- one is not new to it, and is recorded as such (not sent) so that this look
            -- happens once per person, not on every statement.
            LEFT JOIN LATERAL (SELECT 1 AS found FROM shared.feature_trigger_fired AS done
                               WHERE done.rule_id = f.rule_id AND done.person_id = f.person_id
                               LIMIT 1) AS fired_before ON true
            LEFT JOIN LATERAL (SELECT earlier.id FROM shared.event AS earlier
                               WHERE fired_before.found IS NULL
                                 AND earlier.person_id = f.person_id
                                 AND earlier.event_name = f.event_name AND earlier.id < f.id
                               LIMIT 1) AS seen_before ON true
            WHERE fired_before.found IS NULL
            ORDER BY f.rule_id, f.person_id
            ON CONFLICT (rule_id, person_id) DO NOTHING
            RETURNING rule_id, event_ref, sent
        )
        SELECT array_agg(jsonb_build_object('event', fd.event_ref, 'meta_event_name', r.meta_event_name)
                         ORDER BY fd.event_ref)
        INTO v_msgs
        FROM fired AS fd JOIN shared.conversion_rule AS r ON r.rule_id = fd.rule_id
        WHERE fd.sent;

        IF v_msgs IS NOT NULL THEN
            PERFORM pgmq.send_batch('meta_capi', v_msgs);
            PERFORM pg_notify('gdp_meta_capi', '');
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER event_features
    AFTER INSERT ON shared.event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION shared._event_features();

-- A new or changed person (lifecycle stage, or just arrived without events) is re-evaluated.
CREATE OR REPLACE FUNCTION shared._person_features_changed()
RETURNS trigger
LANGUAGE plpgsql
-- Whoever inserts (a product's role included) keeps the features: the tables are not theirs.
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    INSERT INTO shared.segment_change_log (person_ids)
    SELECT array_agg(p.id) FROM changed_people AS p HAVING count(*) > 0;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER person_features_inserted
    AFTER INSERT ON shared.person
    REFERENCING NEW TABLE AS changed_people
    FOR EACH STATEMENT EXECUTE FUNCTION shared._person_features_changed();

CREATE OR REPLACE TRIGGER person_features_updated
    AFTER UPDATE ON shared.person
    REFERENCING NEW TABLE AS changed_people
    FOR EACH STATEMENT EXECUTE FUNCTION shared._person_features_changed();

/*
 * Two daily rows of one person, product and day as one (the day's earlier row a, the rows
 * folded since b): for the fold into shared.person_activity_recent and for settling into
 * shared.person_activity_settled.
 */
CREATE OR REPLACE FUNCTION shared._activity_day_merged(a shared.person_activity_settled,
                                                       b shared.person_activity_settled)
RETURNS shared.person_activity_settled
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT a.person_id, a.product_id, a.day, least(a.first_at, b.first_at),
           greatest(a.last_at, b.last_at), a.events + b.events, a.usage + b.usage,
           a.pricing_views + b.pricing_views, least(a.first_activation_at, b.first_activation_at),
           a.payments + b.payments, greatest(a.last_payment_at, b.last_payment_at),
           shared._latest_payment_value(a.last_payment_at, a.plan, b.last_payment_at, b.plan),
           shared._latest_payment_value(a.last_payment_at, a.mrr, b.last_payment_at, b.mrr),
           greatest(a.last_cancel_at, b.last_cancel_at),
           shared._jsonb_sum_counts(a.event_counts, b.event_counts),
           least(shared._day_first_payment_at(a.first_payment_at, a.last_payment_at),
                 b.first_payment_at),
           greatest(shared._day_last_usage_at(a.last_usage_at, a.usage, a.last_at),
                    b.last_usage_at)
$$;

/*
 * Fold the events whose ids are in pg_temp._segment_new_event into
 * shared.person_activity_recent (one upsert, grouped per person, product and UTC day) and make
 * their people candidates, each with what its events add to its features as of p_now (the
 * added_* columns of pg_temp._segment_candidate, which shared._refresh_person_features merges
 * into the stored row instead of reading every daily row again). Only the evaluation calls it,
 * under its lock, so no two sessions fold at once. Returns how many people it made candidates.
 *
 * Grouped in two steps with plain aggregates: per person, product, day and event name (whose
 * kind is fixed), then per day; the day's latest payment (plan and amount) is picked from the
 * payments alone. An ordered aggregate would start a sort for every group.
 * shared.rebuild_person_activity() computes the same rows from every event.
 */
CREATE OR REPLACE FUNCTION shared._fold_new_events(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_today date := shared._utc_day(p_now);
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
    ), by_name AS (
        SELECT k.person_id, k.product_id, k.day, k.event_name, k.kind, count(*)::integer AS n,
               min(k.occurred_at) AS first_at, max(k.occurred_at) AS last_at
        FROM src AS k GROUP BY 1, 2, 3, 4, 5
    ), days AS (
        SELECT b.person_id, b.product_id, b.day,
               min(b.first_at) AS first_at, max(b.last_at) AS last_at,
               sum(b.n)::integer AS events,
               coalesce(sum(b.n) FILTER (WHERE shared._counts_as_usage(b.kind)), 0)::integer
                   AS usage,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'pricing_view'), 0)::integer
                   AS pricing_views,
               min(b.first_at) FILTER (WHERE b.kind = 'activation') AS first_activation_at,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'payment'), 0)::integer AS payments,
               max(b.last_at) FILTER (WHERE b.kind = 'payment') AS last_payment_at,
               max(b.last_at) FILTER (WHERE b.kind = 'cancel') AS last_cancel_at,
               jsonb_object_agg(b.event_name, b.n) AS counts,
               min(b.first_at) FILTER (WHERE b.kind = 'payment') AS first_payment_at,
               max(b.last_at) FILTER (WHERE shared._counts_as_usage(b.kind)) AS last_usage_at
        FROM by_name AS b GROUP BY 1, 2, 3
    ), paid AS (
        SELECT DISTINCT ON (k.person_id, k.product_id, k.day) k.person_id, k.product_id, k.day,
               k.properties ->> 'plan' AS plan, shared._payment_mrr(k.properties) AS mrr
        FROM src AS k WHERE k.kind = 'payment'
        ORDER BY k.person_id, k.product_id, k.day, k.occurred_at DESC, k.id DESC
    ), folded AS (
        INSERT INTO shared.person_activity_recent AS a (
            person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
            first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at,
            event_counts, first_payment_at, last_usage_at)
        SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
               d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, p.plan,
               p.mrr, d.last_cancel_at, d.counts, d.first_payment_at, d.last_usage_at
        FROM days AS d
        LEFT JOIN paid AS p USING (person_id, product_id, day)
        ORDER BY d.person_id, d.product_id, d.day
        -- The day's rows folded by an earlier evaluation today.
        ON CONFLICT (person_id, product_id, day) DO UPDATE SET (
            first_at, last_at, events, usage, pricing_views, first_activation_at, payments,
            last_payment_at, plan, mrr, last_cancel_at, event_counts, first_payment_at,
            last_usage_at
        ) = (SELECT m.first_at, m.last_at, m.events, m.usage, m.pricing_views,
                    m.first_activation_at, m.payments, m.last_payment_at, m.plan, m.mrr,
                    m.last_cancel_at, m.event_counts, m.first_payment_at, m.last_usage_at
             FROM shared._activity_day_merged(ROW(a.*)::shared.person_activity_settled,
                                              ROW(excluded.*)::shared.person_activity_settled)
                  AS m)
    ), latest_payment AS (
        -- The person's latest payment: the day picks above, by their day's last payment; of two
        -- at the same instant, the greater product's (as the recompute picks them).
        SELECT DISTINCT ON (p.person_id) p.person_id, p.plan, p.mrr
        FROM paid AS p JOIN days AS d USING (person_id, product_id, day)
        ORDER BY p.person_id, d.last_payment_at DESC, p.product_id DESC
    )
    -- Per person, what the new events add: each of these only grows (lasts, counts) or shrinks
    -- (firsts) as events come, so it merges into the stored features.
    INSERT INTO pg_temp._segment_candidate (
        person_id, added_products, added_first_at, added_last_at, added_last_activity_at,
        added_events, added_activated_at, added_first_paid_at, added_last_paid_at, added_plan,
        added_mrr, added_last_cancel_at, added_pricing_views_7d, added_pricing_views_30d,
        added_usage_7d, added_usage_30d, added_oldest_7d, added_oldest_30d)
    SELECT d.person_id, array_agg(d.product_id), min(d.first_at), max(d.last_at),
           max(d.last_usage_at), sum(d.events), min(d.first_activation_at),
           min(d.first_payment_at), max(d.last_payment_at), min(lp.plan), min(lp.mrr),
           max(d.last_cancel_at),
           coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 7), 0),
           coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 30), 0),
           coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 7), 0),
           coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 30), 0),
           min(d.day) FILTER (WHERE d.day > v_today - 7 AND (d.usage > 0 OR d.pricing_views > 0)),
           min(d.day) FILTER (WHERE d.day > v_today - 30 AND (d.usage > 0 OR d.pricing_views > 0))
    FROM days AS d
    LEFT JOIN latest_payment AS lp USING (person_id)
    GROUP BY d.person_id
    -- A person already logged as changed is recomputed from every day anyway.
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;

/*
 * Move the daily rows of the days before p_before from shared.person_activity_recent into
 * shared.person_activity_settled (merged into a row of the same day folded before, which a late
 * event makes). The first evaluation of a UTC day moves the day before; later ones only the
 * late events' days. Returns the rows moved.
 */
CREATE OR REPLACE FUNCTION shared._settle_person_activity(p_before date)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_rows bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM shared.person_activity_recent AS r WHERE r.day < p_before) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM shared.person_activity_recent AS r WHERE r.day < p_before RETURNING r.*
    )
    INSERT INTO shared.person_activity_settled AS a (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at,
        event_counts, first_payment_at, last_usage_at)
    SELECT m.person_id, m.product_id, m.day, m.first_at, m.last_at, m.events, m.usage,
           m.pricing_views, m.first_activation_at, m.payments, m.last_payment_at, m.plan, m.mrr,
           m.last_cancel_at, m.event_counts, m.first_payment_at, m.last_usage_at
    FROM moved AS m
    ORDER BY m.person_id, m.product_id, m.day
    ON CONFLICT (person_id, product_id, day) DO UPDATE SET (
        first_at, last_at, events, usage, pricing_views, first_activation_at, payments,
        last_payment_at, plan, mrr, last_cancel_at, event_counts, first_payment_at, last_usage_at
    ) = (SELECT m.first_at, m.last_at, m.events, m.usage, m.pricing_views, m.first_activation_at,
                m.payments, m.last_payment_at, m.plan, m.mrr, m.last_cancel_at, m.event_counts,
                m.first_payment_at, m.last_usage_at
         FROM shared._activity_day_merged(ROW(a.*)::shared.person_activity_settled,
                                          ROW(excluded.*)::shared.person_activity_settled) AS m);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;

/*
 * Every daily row, settled and recent (a day can have one of each): for aggregates over a
 * person's days, which come out the same over these rows as over the merged days (a settled
 * row from before first_payment_at and last_usage_at with what stands in for them).
 */
CREATE OR REPLACE VIEW shared._person_activity_row WITH (security_invoker = true) AS
    SELECT s.person_id, s.product_id, s.day, s.first_at, s.last_at, s.events, s.usage,
           s.pricing_views, s.first_activation_at, s.payments, s.last_payment_at, s.plan, s.mrr,
           s.last_cancel_at, s.event_counts,
           shared._day_first_payment_at(s.first_payment_at, s.last_payment_at)
               AS first_payment_at,
           shared._day_last_usage_at(s.last_usage_at, s.usage, s.last_at) AS last_usage_at
    FROM shared.person_activity_settled AS s
    UNION ALL
    -- The recent table's columns are the settled table's, in order.
    SELECT r.* FROM shared.person_activity_recent AS r;

-- Per person, product and UTC day, over every day: what the table of this name held before
-- today's rows got a table of their own. A day in one of the two tables reads as it is there
-- (a settled row from before first_payment_at and last_usage_at, with what
-- _person_activity_row reads in their place); a day in both, merged as the settle will merge
-- it. The keys come from the tables, so a filter on them reaches their indexes. For questions
-- and custom segments; columns only ever added at the end.
CREATE OR REPLACE VIEW shared.person_activity_daily WITH (security_invoker = true) AS
    -- Settled days with no recent row (a recent row always finds itself, so none of those).
    SELECT a.* FROM shared._person_activity_row AS a
    WHERE NOT EXISTS (SELECT FROM shared.person_activity_recent AS r
                      WHERE r.person_id = a.person_id AND r.product_id = a.product_id
                        AND r.day = a.day)
    UNION ALL
    SELECT r.* FROM shared.person_activity_recent AS r
    WHERE NOT EXISTS (SELECT FROM shared.person_activity_settled AS s
                      WHERE s.person_id = r.person_id AND s.product_id = r.product_id
                        AND s.day = r.day)
    UNION ALL
    SELECT s.person_id, s.product_id, s.day, m.first_at, m.last_at, m.events, m.usage,
           m.pricing_views, m.first_activation_at, m.payments, m.last_payment_at, m.plan, m.mrr,
           m.last_cancel_at, m.event_counts, m.first_payment_at, m.last_usage_at
    FROM shared.person_activity_settled AS s
    JOIN shared.person_activity_recent AS r
      ON r.person_id = s.person_id AND r.product_id = s.product_id AND r.day = s.day
    CROSS JOIN LATERAL shared._activity_day_merged(
        s, ROW(r.*)::shared.person_activity_settled) AS m;

/*
 * Per person and product, over all days: first/last seen, counts, activation, payment, plan and
 * MRR, cancellation, paid and churned as person_feature defines them, last activity, and the
 * 7- and 30-day windows as of now. For questions and custom segments; evaluate_segments keeps
 * the cross-product person_feature that the PRD's segments read. Columns only ever added at the
 * end (segment views may read them).
 */
CREATE OR REPLACE VIEW shared.person_product_feature AS
    SELECT g.person_id, g.product_id, g.first_seen_at, g.last_seen_at, g.events, g.activated_at,
           g.last_paid_at, g.plan, g.mrr, g.last_cancel_at, g.pricing_views_7d, g.usage_7d,
           g.usage_30d, g.pricing_views_30d, g.last_activity_at, g.first_paid_at,
           shared._feature_paid(g.last_paid_at, g.last_cancel_at) AS paid,
           shared._feature_churned_at(g.last_paid_at, g.last_cancel_at, g.last_seen_at, now())
               AS churned_at
    FROM (
        SELECT d.person_id, d.product_id,
               min(d.first_at) AS first_seen_at, max(d.last_at) AS last_seen_at,
               sum(d.events) AS events,
               min(d.first_activation_at) AS activated_at,
               max(d.last_payment_at) AS last_paid_at,
               (array_agg(d.plan ORDER BY d.last_payment_at DESC NULLS LAST))[1] AS plan,
               (array_agg(d.mrr ORDER BY d.last_payment_at DESC NULLS LAST))[1] AS mrr,
               max(d.last_cancel_at) AS last_cancel_at,
               coalesce(sum(d.pricing_views) FILTER (
                   WHERE d.day > shared._utc_day(now()) - 7), 0) AS pricing_views_7d,
               coalesce(sum(d.usage) FILTER (
                   WHERE d.day > shared._utc_day(now()) - 7), 0) AS usage_7d,
               coalesce(sum(d.usage) FILTER (
                   WHERE d.day > shared._utc_day(now()) - 30), 0) AS usage_30d,
               coalesce(sum(d.pricing_views) FILTER (
                   WHERE d.day > shared._utc_day(now()) - 30), 0) AS pricing_views_30d,
               max(d.last_usage_at) AS last_activity_at,
               min(d.first_payment_at) AS first_paid_at
        FROM shared._person_activity_row AS d
        GROUP BY d.person_id, d.product_id
    ) AS g;

-- Every event name a person has, with its count, per product (summed from the daily rows).
CREATE OR REPLACE VIEW shared.person_event_count AS
    SELECT d.person_id, d.product_id, c.key AS event_name, sum(c.value::bigint) AS events
    FROM shared._person_activity_row AS d
    CROSS JOIN LATERAL jsonb_each_text(d.event_counts) AS c
    GROUP BY d.person_id, d.product_id, c.key;

/*
 * Rebuild the daily features from shared.event (after installing on a database with events, or
 * after changing shared.feature_event_kind), and queue every person for re-evaluation.
 * The same rows as shared._fold_new_events, from every event: two sorted passes (all events
 * grouped by person, product, day and name, then by day; the payments alone for the day's
 * latest plan and amount), one plain INSERT into the emptied table in key order.
 */
CREATE OR REPLACE FUNCTION shared.rebuild_person_activity()
RETURNS bigint
LANGUAGE plpgsql
SET search_path = ''
-- One pass over every event: sort in large runs, not in 4 MB ones.
SET work_mem = '256MB'
AS $$
DECLARE
    v_rows bigint;
BEGIN
    -- Never beside an evaluation (which folds logged events into the same rows), so nothing
    -- else writes daily rows until this transaction ends: the emptied table takes plain inserts.
    PERFORM pg_advisory_xact_lock(hashtext('gdp.evaluate_segments'));
    DELETE FROM shared.person_activity_recent;
    DELETE FROM shared.person_activity_settled;
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
               coalesce(sum(b.n) FILTER (WHERE shared._counts_as_usage(b.kind)), 0)::integer
                   AS usage,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'pricing_view'), 0)::integer
                   AS pricing_views,
               min(b.first_at) FILTER (WHERE b.kind = 'activation') AS first_activation_at,
               coalesce(sum(b.n) FILTER (WHERE b.kind = 'payment'), 0)::integer AS payments,
               max(b.last_at) FILTER (WHERE b.kind = 'payment') AS last_payment_at,
               max(b.last_at) FILTER (WHERE b.kind = 'cancel') AS last_cancel_at,
               jsonb_object_agg(b.event_name, b.n) AS counts,
               min(b.first_at) FILTER (WHERE b.kind = 'payment') AS first_payment_at,
               max(b.last_at) FILTER (WHERE shared._counts_as_usage(b.kind)) AS last_usage_at
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
    INSERT INTO shared.person_activity_settled (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at, event_counts,
        first_payment_at, last_usage_at)
    SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
           d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, p.plan, p.mrr,
           d.last_cancel_at, d.counts, d.first_payment_at, d.last_usage_at
    FROM days AS d
    LEFT JOIN paid AS p USING (person_id, product_id, day)
    ORDER BY d.person_id, d.product_id, d.day;
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    INSERT INTO shared.segment_change_log (person_ids)
    SELECT array_agg(p.id) FROM shared.person AS p HAVING count(*) > 0;
    RETURN v_rows;
END
$$;

COMMENT ON FUNCTION shared.rebuild_person_activity() IS
'Rebuild the daily rows (shared.person_activity_daily) from every event in shared.event '
'(after installing on a '
'database with events, or after changing shared.feature_event_kind) and queue every person for '
're-evaluation; returns the daily rows written.';

/*
 * Recompute shared.person_feature for the persons in pg_temp._segment_candidate, as of p_now.
 * Windows: a 7-day count sums today's UTC day and the six before it; next_change_at is the
 * earliest instant a window or a time mark (first seen + 3 days, last seen + 30 days, churned +
 * 30 days) changes a feature when no event comes.
 *
 * A candidate whose only change is new events (the added_* columns the fold wrote) has them
 * merged into its stored row: firsts and lasts by least and greatest, counts and windows by
 * sums. That holds while no active day has left a window since the row was computed, which is
 * what a next_change_at still ahead says. Its next_change_at is the least of the stored one and
 * the new marks: never later than exact (a mark the new events moved on only brings an earlier
 * re-evaluation, which computes it exactly). Everyone else (new to the features, the person row
 * changed, a window crossed) is computed from all of its daily rows.
 */
CREATE OR REPLACE FUNCTION shared._refresh_person_features(p_now timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_today date := shared._utc_day(p_now);
    v_rows bigint;
BEGIN
    WITH candidate AS (
        SELECT c.*, k.person_id IS NOT NULL AS known, k.ctid AS known_row,
               k.lifecycle_stage AS known_stage,
               k.products AS known_products, k.first_seen_at AS known_first_seen_at,
               k.last_seen_at AS known_last_seen_at,
               k.last_activity_at AS known_last_activity_at, k.events AS known_events,
               k.activated_at AS known_activated_at, k.first_paid_at AS known_first_paid_at,
               k.last_paid_at AS known_last_paid_at, k.plan AS known_plan, k.mrr AS known_mrr,
               k.last_cancel_at AS known_last_cancel_at,
               k.pricing_views_7d AS known_pricing_views_7d,
               k.pricing_views_30d AS known_pricing_views_30d, k.usage_7d AS known_usage_7d,
               k.usage_30d AS known_usage_30d, k.next_change_at AS known_next_change_at,
               k.paid AS known_paid, k.churned_at AS known_churned_at,
               c.added_events IS NOT NULL AND NOT c.person_changed AND k.person_id IS NOT NULL
                   AND (k.next_change_at IS NULL OR k.next_change_at > p_now)
                   -- A row from before last_cancel_at existed does not know it.
                   AND k.last_cancel_at IS DISTINCT FROM '-infinity' AS merged
        -- Per candidate through the primary key (a merge join would walk the whole index).
        FROM pg_temp._segment_candidate AS c
        LEFT JOIN shared.person_feature AS k ON k.person_id = c.person_id
    ), agg AS (
        SELECT c.person_id, c.merged, c.known, c.known_row, c.known_next_change_at, c.known_stage,
               c.known_products, c.known_first_seen_at, c.known_last_seen_at,
               c.known_last_activity_at, c.known_events, c.known_activated_at,
               c.known_first_paid_at, c.known_last_paid_at, c.known_paid, c.known_plan,
               c.known_mrr, c.known_churned_at, c.known_pricing_views_7d,
               c.known_pricing_views_30d, c.known_usage_7d, c.known_usage_30d,
               c.known_last_cancel_at, p.lifecycle_stage, a.*
        FROM candidate AS c
        -- The lifecycle stage is the one column taken from the person row, and every insert or
        -- update of a person is logged (person_changed): the person row is read only for those
        -- and for people new to the features; the others keep the stage they have.
        JOIN LATERAL (SELECT c.known_stage AS lifecycle_stage
                      WHERE c.known AND NOT c.person_changed
                      UNION ALL
                      SELECT pp.lifecycle_stage FROM shared.person AS pp
                      WHERE NOT (c.known AND NOT c.person_changed) AND pp.id = c.person_id) AS p
          ON true
        JOIN LATERAL (
            SELECT CASE WHEN c.added_products <@ c.known_products THEN c.known_products
                        ELSE ARRAY(SELECT DISTINCT u.p
                                   FROM unnest(c.known_products || c.added_products) AS u(p)
                                   ORDER BY u.p) END AS products,
                   least(c.known_first_seen_at, c.added_first_at) AS first_seen_at,
                   greatest(c.known_last_seen_at, c.added_last_at) AS last_seen_at,
                   greatest(c.known_last_activity_at, c.added_last_activity_at) AS last_activity_at,
                   c.known_events + c.added_events AS events,
                   least(c.known_activated_at, c.added_activated_at) AS activated_at,
                   least(c.known_first_paid_at, c.added_first_paid_at) AS first_paid_at,
                   greatest(c.known_last_paid_at, c.added_last_paid_at) AS last_paid_at,
                   -- The stored plan is the latest payment's while paid; a person not paid
                   -- before is paid now only through a new payment, which is then the latest.
                   shared._latest_payment_value(c.known_last_paid_at, c.known_plan,
                                                c.added_last_paid_at, c.added_plan) AS plan,
                   shared._latest_payment_value(c.known_last_paid_at, c.known_mrr,
                                                c.added_last_paid_at, c.added_mrr) AS mrr,
                   greatest(c.known_last_cancel_at, c.added_last_cancel_at) AS last_cancel_at,
                   c.known_pricing_views_7d + c.added_pricing_views_7d AS pv7,
                   c.known_pricing_views_30d + c.added_pricing_views_30d AS pv30,
                   c.known_usage_7d + c.added_usage_7d AS u7,
                   c.known_usage_30d + c.added_usage_30d AS u30,
                   c.added_oldest_7d AS oldest7, c.added_oldest_30d AS oldest30
            WHERE c.merged
            UNION ALL
            SELECT array_agg(DISTINCT d.product_id ORDER BY d.product_id) AS products,
                   min(d.first_at) AS first_seen_at, max(d.last_at) AS last_seen_at,
                   max(d.last_usage_at) AS last_activity_at,
                   sum(d.events) AS events,
                   min(d.first_activation_at) AS activated_at,
                   min(d.first_payment_at) AS first_paid_at,
                   max(d.last_payment_at) AS last_paid_at,
                   -- The latest payment's; of two at the same instant, the greater product's
                   -- (as the fold picks them).
                   (array_agg(d.plan ORDER BY d.last_payment_at DESC, d.product_id DESC)
                        FILTER (WHERE d.last_payment_at IS NOT NULL))[1] AS plan,
                   (array_agg(d.mrr ORDER BY d.last_payment_at DESC, d.product_id DESC)
                        FILTER (WHERE d.last_payment_at IS NOT NULL))[1] AS mrr,
                   max(d.last_cancel_at) AS last_cancel_at,
                   coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 7), 0) AS pv7,
                   coalesce(sum(d.pricing_views) FILTER (WHERE d.day > v_today - 30), 0) AS pv30,
                   coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 7), 0) AS u7,
                   coalesce(sum(d.usage) FILTER (WHERE d.day > v_today - 30), 0) AS u30,
                   min(d.day) FILTER (WHERE d.day > v_today - 7
                                        AND (d.usage > 0 OR d.pricing_views > 0)) AS oldest7,
                   min(d.day) FILTER (WHERE d.day > v_today - 30
                                        AND (d.usage > 0 OR d.pricing_views > 0)) AS oldest30
            FROM shared._person_activity_row AS d
            WHERE NOT c.merged AND d.person_id = c.person_id
            HAVING NOT c.merged
        ) AS a ON true
    ), derived AS (
        SELECT g.*,
               shared._feature_paid(g.last_paid_at, g.last_cancel_at) AS is_paid,
               shared._feature_churned_at(g.last_paid_at, g.last_cancel_at, g.last_seen_at, p_now)
                   AS churned
        FROM agg AS g
    ), computed AS MATERIALIZED (
        SELECT d.*, coalesce(d.products, '{}') AS new_products,
               coalesce(d.events, 0) AS new_events,
               CASE WHEN d.is_paid THEN d.plan END AS new_plan,
               CASE WHEN d.is_paid THEN d.mrr END AS new_mrr,
               -- least() skips NULLs; marks already passed are not future changes.
               (SELECT min(m) FROM unnest(ARRAY[
                    CASE WHEN d.merged THEN d.known_next_change_at END,
                    shared._utc_midnight(d.oldest7 + 7),
                    shared._utc_midnight(d.oldest30 + 30),
                    d.first_seen_at + interval '3 days',
                    d.last_seen_at + interval '30 days',
                    d.churned + interval '30 days']) AS m
                WHERE m > p_now) AS new_next_change_at
        FROM derived AS d
    ), updated AS (
        -- The row read above, by its address: no second index probe, no conflict check.
        UPDATE shared.person_feature AS f SET
            products = d.new_products, first_seen_at = d.first_seen_at,
            last_seen_at = d.last_seen_at, last_activity_at = d.last_activity_at,
            events = d.new_events, activated_at = d.activated_at,
            first_paid_at = d.first_paid_at, last_paid_at = d.last_paid_at, paid = d.is_paid,
            plan = d.new_plan, mrr = d.new_mrr, churned_at = d.churned,
            pricing_views_7d = d.pv7, pricing_views_30d = d.pv30, usage_7d = d.u7,
            usage_30d = d.u30, lifecycle_stage = d.lifecycle_stage, computed_at = p_now,
            next_change_at = d.new_next_change_at, last_cancel_at = d.last_cancel_at
        FROM computed AS d
        WHERE d.known AND f.ctid = d.known_row
    ), inserted AS (
        -- Only this evaluation (under its lock) writes features: a person new to them has none.
        INSERT INTO shared.person_feature (
            person_id, products, first_seen_at, last_seen_at, last_activity_at, events,
            activated_at, first_paid_at, last_paid_at, paid, plan, mrr, churned_at,
            pricing_views_7d, pricing_views_30d, usage_7d, usage_30d, lifecycle_stage,
            computed_at, next_change_at, last_cancel_at)
        SELECT d.person_id, d.new_products, d.first_seen_at, d.last_seen_at,
               d.last_activity_at, d.new_events, d.activated_at, d.first_paid_at,
               d.last_paid_at, d.is_paid, d.new_plan, d.new_mrr, d.churned, d.pv7, d.pv30,
               d.u7, d.u30, d.lifecycle_stage, p_now, d.new_next_change_at, d.last_cancel_at
        FROM computed AS d
        WHERE NOT d.known
        ORDER BY d.person_id
    )
    -- What changed, by column, for the segments that read only some columns
    -- (shared._segment_feature_columns); NULL for the new and those a time mark reached, whom
    -- every segment re-evaluates. computed_at changes on every run.
    INSERT INTO pg_temp._segment_candidate_change (person_id, changed)
    SELECT x.person_id, CASE
        WHEN x.known AND (x.known_next_change_at IS NULL OR x.known_next_change_at > p_now)
        THEN array_remove(ARRAY[
            'computed_at',
            CASE WHEN x.new_products IS DISTINCT FROM x.known_products THEN 'products' END,
            CASE WHEN x.first_seen_at IS DISTINCT FROM x.known_first_seen_at THEN 'first_seen_at' END,
            CASE WHEN x.last_seen_at IS DISTINCT FROM x.known_last_seen_at THEN 'last_seen_at' END,
            CASE WHEN x.last_activity_at IS DISTINCT FROM x.known_last_activity_at
                 THEN 'last_activity_at' END,
            CASE WHEN x.new_events IS DISTINCT FROM x.known_events THEN 'events' END,
            CASE WHEN x.activated_at IS DISTINCT FROM x.known_activated_at THEN 'activated_at' END,
            CASE WHEN x.first_paid_at IS DISTINCT FROM x.known_first_paid_at THEN 'first_paid_at' END,
            CASE WHEN x.last_paid_at IS DISTINCT FROM x.known_last_paid_at THEN 'last_paid_at' END,
            CASE WHEN x.is_paid IS DISTINCT FROM x.known_paid THEN 'paid' END,
            CASE WHEN x.new_plan IS DISTINCT FROM x.known_plan THEN 'plan' END,
            CASE WHEN x.new_mrr IS DISTINCT FROM x.known_mrr THEN 'mrr' END,
            CASE WHEN x.churned IS DISTINCT FROM x.known_churned_at THEN 'churned_at' END,
            CASE WHEN x.pv7 IS DISTINCT FROM x.known_pricing_views_7d THEN 'pricing_views_7d' END,
            CASE WHEN x.pv30 IS DISTINCT FROM x.known_pricing_views_30d THEN 'pricing_views_30d' END,
            CASE WHEN x.u7 IS DISTINCT FROM x.known_usage_7d THEN 'usage_7d' END,
            CASE WHEN x.u30 IS DISTINCT FROM x.known_usage_30d THEN 'usage_30d' END,
            CASE WHEN x.lifecycle_stage IS DISTINCT FROM x.known_stage THEN 'lifecycle_stage' END,
            CASE WHEN x.new_next_change_at IS DISTINCT FROM x.known_next_change_at
                 THEN 'next_change_at' END,
            CASE WHEN x.last_cancel_at IS DISTINCT FROM x.known_last_cancel_at
                 THEN 'last_cancel_at' END], NULL) END
    FROM computed AS x;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;

/** Section - Membership history and the change queue */

/*
 * Joins and leaves, whoever wrote them (an evaluation, or an erasure through the foreign key):
 * a history row each (for persons who still exist: an erased person leaves nothing behind but
 * the queue message), and messages on pgmq segment_changes, up to 1,000 person ids each.
 */
CREATE OR REPLACE FUNCTION shared._segment_member_changed()
RETURNS trigger
LANGUAGE plpgsql
-- Whoever inserts (a product's role included) keeps the features: the tables are not theirs.
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_change text := CASE TG_OP WHEN 'INSERT' THEN 'join' ELSE 'leave' END;
    v_run bigint := nullif(current_setting('gdp.segment_run', true), '')::bigint;
    v_msgs jsonb[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO shared.segment_history (segment_id, person_id, change, at, run_id)
        SELECT c.segment_id, c.person_id, 'join', c.joined_at, v_run FROM changed AS c;
    ELSE
        -- Rows deleted by an erasure or a segment's removal (the foreign keys) leave no history;
        -- an evaluation (v_run) deletes only rows whose person and segment it is looking at.
        INSERT INTO shared.segment_history (segment_id, person_id, change, at, run_id)
        SELECT c.segment_id, c.person_id, 'leave', now(), v_run FROM changed AS c
        WHERE v_run IS NOT NULL
           OR (EXISTS (SELECT 1 FROM shared.person AS p WHERE p.id = c.person_id)
               AND EXISTS (SELECT 1 FROM shared.segment AS s WHERE s.segment_id = c.segment_id));
    END IF;

    SELECT array_agg(jsonb_build_object(
               'segment_id', ch.segment_id, 'change', v_change, 'person_ids', ch.ids,
               'run_id', v_run, 'at', now(),
               'reason', CASE WHEN v_run IS NULL THEN 'erased' ELSE 'evaluated' END)
           ORDER BY ch.segment_id, ch.chunk)
    INTO v_msgs
    FROM (SELECT n.segment_id, n.chunk, array_agg(n.person_id ORDER BY n.person_id) AS ids
          FROM (SELECT c.segment_id, c.person_id,
                       (row_number() OVER (PARTITION BY c.segment_id ORDER BY c.person_id) - 1)
                           / 1000 AS chunk
                FROM changed AS c) AS n
          GROUP BY n.segment_id, n.chunk) AS ch;
    IF v_msgs IS NOT NULL THEN
        PERFORM pgmq.send_batch('segment_changes', v_msgs);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER segment_member_joined
    AFTER INSERT ON shared.segment_member
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION shared._segment_member_changed();

CREATE OR REPLACE TRIGGER segment_member_left
    AFTER DELETE ON shared.segment_member
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION shared._segment_member_changed();

-- An erased person leaves no trace in the daily features or the history either (the queue
-- message of the leave, written by _segment_member_changed, carries only the id, for the
-- audience worker). Set-based, once per statement, instead of a per-row foreign key check.
CREATE OR REPLACE FUNCTION shared._person_segment_rows_erased()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    DELETE FROM shared.segment_history AS h USING old_people AS o WHERE h.person_id = o.id;
    -- Recent first: a settle moving the person's rows commits before this sees them, and the
    -- next statement (a new snapshot) then finds them settled.
    DELETE FROM shared.person_activity_recent AS d USING old_people AS o WHERE d.person_id = o.id;
    DELETE FROM shared.person_activity_settled AS d USING old_people AS o WHERE d.person_id = o.id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER person_segment_rows_erased
    AFTER DELETE ON shared.person
    REFERENCING OLD TABLE AS old_people
    FOR EACH STATEMENT EXECUTE FUNCTION shared._person_segment_rows_erased();

/** Section - Segment views: validation, definition, preview */

/*
 * The functions the rules of these views call, read from their parse trees (pg_depend leaves
 * built-ins out): functions, aggregates, window functions, and operators (stored by operator
 * id; their function is looked up when the rule runs). For the segment view checks.
 */
CREATE OR REPLACE FUNCTION shared._views_called_functions(p_views oid[])
RETURNS TABLE (function_id oid)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT DISTINCT CASE WHEN m[1] = 'opno' THEN o.oprcode::oid ELSE m[2]::oid END
    FROM pg_catalog.pg_rewrite AS r
    CROSS JOIN regexp_matches(r.ev_action::text, ':(funcid|aggfnoid|winfnoid|opno) (\d+)', 'g')
        AS m
    LEFT JOIN pg_catalog.pg_operator AS o ON m[1] = 'opno' AND o.oid = m[2]::oid
    WHERE r.ev_class = ANY (p_views)
$$;

/*
 * What is wrong with the view segments.<p_segment_id>, or NULL. A segment view must return a
 * person_id column of type uuid, may read only the person table (the one place raw PII may
 * come from), the feature and event tables, the segment tables and other segment views, and may
 * call only functions that read nothing else; with p_check_duplicates it must return each
 * person once.
 */
CREATE OR REPLACE FUNCTION shared._segment_view_problem(p_segment_id text, p_check_duplicates boolean)
RETURNS text
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_view regclass := to_regclass(format('segments.%I', p_segment_id));
    v_views oid[];
    v_type text;
    v_bad text;
    v_dup uuid;
BEGIN
    IF v_view IS NULL OR (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = v_view) <> 'v' THEN
        RETURN format('there is no view segments.%s', p_segment_id);
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO v_type
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = v_view AND a.attname = 'person_id' AND NOT a.attisdropped;
    IF v_type IS NULL THEN
        RETURN 'a segment view must return a person_id column';
    ELSIF v_type <> 'uuid' THEN
        RETURN format('person_id must be a uuid (shared.person.id), not %s', v_type);
    END IF;

    -- The view and every segment view it reads, through their rules (pg_depend): the rules
    -- the two checks below look into.
    WITH RECURSIVE views(oid) AS (
        SELECT v_view::oid
        UNION
        SELECT d.refobjid
        FROM views AS w
        JOIN pg_catalog.pg_rewrite AS r ON r.ev_class = w.oid
        JOIN pg_catalog.pg_depend AS d
          ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> w.oid
        JOIN pg_catalog.pg_class AS c ON c.oid = d.refobjid AND c.relkind IN ('v', 'm')
        JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace AND ns.nspname = 'segments'
    )
    SELECT array_agg(w.oid) INTO v_views FROM views AS w;

    -- Every relation those rules read.
    SELECT d.refobjid::regclass::text INTO v_bad
    FROM pg_catalog.pg_rewrite AS r
    JOIN pg_catalog.pg_depend AS d
      ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
     AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> r.ev_class
    JOIN pg_catalog.pg_class AS c ON c.oid = d.refobjid
    JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
    WHERE r.ev_class = ANY (v_views)
      AND NOT (ns.nspname = 'segments' AND c.relkind IN ('v', 'm'))
      AND (ns.nspname, c.relname) NOT IN (
          ('shared', 'person'), ('shared', 'person_feature'), ('shared', 'person_activity_daily'),
          ('shared', 'person_product_feature'), ('shared', 'person_event_count'),
          ('shared', 'event'), ('shared', 'identity_link'), ('shared', 'product'),
          ('shared', 'segment'), ('shared', 'segment_member'), ('shared', 'feature_event_kind'))
    ORDER BY 1
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN format('reads %s; a segment may read only shared.person (the one place raw PII '
                      'may come from), the feature tables (shared.person_feature, '
                      'person_activity_daily, person_product_feature, person_event_count), '
                      'shared.event, identity_link, product, segment, segment_member and other '
                      'segment views', v_bad);
    END IF;

    -- The functions and operators those rules call: a function that runs a query of its own,
    -- reads a file or large object, or is not built in reads what the view names nowhere (and
    -- runs with the evaluation's rights). Built-ins, and the immutable helpers in shared, are
    -- allowed.
    SELECT p.oid::regprocedure::text INTO v_bad
    FROM shared._views_called_functions(v_views) AS k
    JOIN pg_catalog.pg_proc AS p ON p.oid = k.function_id
    JOIN pg_catalog.pg_namespace AS ns ON ns.oid = p.pronamespace
    WHERE p.proname ~ '^(query|cursor|table|schema|database)_to_xml'
       OR p.proname ~ '^(pg_read_file|pg_read_binary_file|pg_ls_|pg_stat_file|lo_)'
       OR NOT (ns.nspname = 'pg_catalog'
               OR (ns.nspname = 'shared' AND p.provolatile = 'i' AND NOT p.prosecdef))
    ORDER BY 1
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN format('calls %s; a segment may call only built-in functions that read nothing '
                      'but their arguments (no query_to_xml and the like, no file or large '
                      'object reads) and the immutable helpers in shared', v_bad);
    END IF;

    IF p_check_duplicates THEN
        EXECUTE format('SELECT v.person_id FROM segments.%I AS v GROUP BY v.person_id '
                       'HAVING count(*) > 1 LIMIT 1', p_segment_id) INTO v_dup;
        IF v_dup IS NOT NULL THEN
            RETURN shared._segment_duplicate_problem(v_dup);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

/*
 * The person_feature columns a segment view reads, when it filters person_feature row by row:
 * then a person's membership follows from their own row and the time, and an incremental run
 * re-evaluates the segment only for the candidates one of those columns changed for, plus the
 * new and those a time mark reached. (The marks cover the PRD's horizons; a view comparing
 * with now() at others is exact at a full run, as it is for people who are not candidates.)
 * NULL for any other view: it reads another table or view, person_feature twice, a whole row,
 * or has aggregates, window functions, sub-selects, LIMIT, OFFSET, DISTINCT ON or volatile
 * functions (which functions a segment may call at all, _segment_view_problem says): every
 * candidate. Read from the view's rule: its dependencies (pg_depend) and its parse tree.
 */
CREATE OR REPLACE FUNCTION shared._segment_feature_columns(p_segment_id text)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    WITH rule AS (
        SELECT r.oid, r.ev_class, r.ev_action::text AS tree
        FROM pg_catalog.pg_rewrite AS r
        WHERE r.ev_class = to_regclass(format('segments.%I', p_segment_id))
          AND r.rulename = '_RETURN'
    ), row_by_row AS (
        SELECT r.tree !~ ':(hasAggs|hasWindowFuncs|hasSubLinks|hasTargetSRFs|hasDistinctOn) true'
               AND r.tree !~ ':(setOperations|limitCount|limitOffset) \{'
               AND r.tree !~ ':varattno 0 '
               -- person_feature once among the query's range table entries.
               AND regexp_count(r.tree, format(':rtekind 0 :relid %s ',
                                               'shared.person_feature'::regclass::oid)) = 1
               -- Functions and operators, built-ins included (pg_depend leaves those out):
               -- now() is stable, random() volatile.
               AND NOT EXISTS (
                   SELECT FROM shared._views_called_functions(ARRAY[r.ev_class]) AS k
                   JOIN pg_catalog.pg_proc AS f ON f.oid = k.function_id
                   WHERE f.provolatile = 'v') AS ok
        FROM rule AS r
    )
    SELECT CASE WHEN bool_and(
                    -- The view itself (its rule's old and new), person_feature's columns
                    -- (a whole-row use depends on the table, column 0), anything not a table.
                    d.refclassid <> 'pg_catalog.pg_class'::regclass
                    OR d.refobjid = r.ev_class
                    OR (d.refobjid = 'shared.person_feature'::regclass AND d.refobjsubid > 0))
                AND (SELECT w.ok FROM row_by_row AS w)
                THEN array_agg(a.attname::text ORDER BY a.attnum)
                         FILTER (WHERE a.attname IS NOT NULL) END
    FROM rule AS r
    JOIN pg_catalog.pg_depend AS d
      ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid AND d.deptype = 'n'
    LEFT JOIN pg_catalog.pg_attribute AS a
           ON d.refclassid = 'pg_catalog.pg_class'::regclass AND a.attrelid = d.refobjid
          AND a.attnum = d.refobjsubid AND d.refobjsubid > 0
$$;

-- Make (or replace) the view segments.<p_segment_id> from one SELECT; raises GD400 on anything
-- else, naming the rule.
CREATE OR REPLACE FUNCTION shared._segment_make_view(p_segment_id text, p_query text)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_query text := rtrim(p_query, E' \t\r\n;');
    v_cursor refcursor;
    v_problem text;
BEGIN
    IF p_segment_id IS NULL OR p_segment_id !~ '^[a-z][a-z0-9_]{1,62}$' THEN
        PERFORM shared._raise('GD400', 'segment', 'must be 2-63 characters: a lowercase letter, '
                              'then lowercase letters, digits or _');
    END IF;
    IF v_query IS NULL OR v_query = '' THEN
        PERFORM shared._raise('GD400', 'query', 'is empty; a segment is one SELECT returning person_id');
    END IF;
    BEGIN
        -- A cursor takes exactly one query that returns rows: a second statement smuggled in
        -- after a semicolon, or a command that is not a query, is refused here.
        OPEN v_cursor FOR EXECUTE v_query;
        CLOSE v_cursor;
        IF to_regclass(format('segments.%I', p_segment_id)) IS NOT NULL THEN
            EXECUTE format('DROP VIEW segments.%I', p_segment_id);
        END IF;
        EXECUTE format('CREATE VIEW segments.%I AS %s', p_segment_id, v_query);
    EXCEPTION
        WHEN SQLSTATE 'GD400' THEN RAISE;
        WHEN dependent_objects_still_exist THEN
            PERFORM shared._raise('GD409', 'segment', format(
                'other views read segments.%s; change or drop them first (%s)', p_segment_id,
                SQLERRM));
        WHEN OTHERS THEN
            PERFORM shared._raise('GD400', 'query', format(
                'must be one SELECT returning person_id: %s', SQLERRM));
    END;
    v_problem := shared._segment_view_problem(p_segment_id, true);
    IF v_problem IS NOT NULL THEN
        PERFORM shared._raise('GD400', 'query', v_problem);
    END IF;
END
$$;

/*
 * Create (p_create) or change a segment: its view from one SELECT, and its row in the registry.
 * One transaction: a refused query changes nothing.
 */
CREATE OR REPLACE FUNCTION shared.segment_define(
    p_segment_id text,
    p_query text,
    p_create boolean,
    p_description text DEFAULT NULL,
    p_owner text DEFAULT NULL,
    p_audience_name text DEFAULT NULL
)
RETURNS shared.segment
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_row shared.segment;
    v_exists boolean;
BEGIN
    v_exists := EXISTS (SELECT 1 FROM shared.segment AS s WHERE s.segment_id = p_segment_id);
    IF p_create AND v_exists THEN
        PERFORM shared._raise('GD409', 'segment', format('%s exists; use edit', p_segment_id));
    ELSIF NOT p_create AND NOT v_exists THEN
        PERFORM shared._raise('GD404', 'segment', format('no segment %s', p_segment_id));
    END IF;
    IF p_create AND (p_description IS NULL OR p_owner IS NULL) THEN
        PERFORM shared._raise('GD400', CASE WHEN p_description IS NULL THEN 'description'
                                            ELSE 'owner' END,
                              'is required for a new segment');
    END IF;
    IF length(p_description) NOT BETWEEN 1 AND 500 THEN
        PERFORM shared._raise('GD400', 'description', 'must be 1-500 characters');
    ELSIF length(p_owner) NOT BETWEEN 1 AND 200 THEN
        PERFORM shared._raise('GD400', 'owner', 'must be 1-200 characters');
    ELSIF length(p_audience_name) NOT BETWEEN 1 AND 200 THEN
        PERFORM shared._raise('GD400', 'audience', 'must be 1-200 characters');
    END IF;

    PERFORM shared._segment_make_view(p_segment_id, p_query);

    IF p_create THEN
        INSERT INTO shared.segment (segment_id, description, owner, audience_name)
        VALUES (p_segment_id, p_description, p_owner, p_audience_name)
        RETURNING * INTO v_row;
    ELSE
        UPDATE shared.segment AS s SET
            description = coalesce(p_description, s.description),
            owner = coalesce(p_owner, s.owner),
            audience_name = coalesce(p_audience_name, s.audience_name),
            updated_at = now(),
            last_error = NULL
        WHERE s.segment_id = p_segment_id
        RETURNING * INTO v_row;
    END IF;
    RETURN v_row;
END
$$;

COMMENT ON FUNCTION shared.segment_define(text, text, boolean, text, text, text) IS
'Create (p_create) or change the segment view segments.<id> from one SELECT returning person_id, '
'validated (person_id uuid, no duplicates, reads raw PII only through shared.person), and its '
'registry row; a refused query changes nothing (GD400/GD404/GD409 naming the field).';

/*
 * What a query would do as segment p_segment_id, without saving anything: its size, who would
 * join and leave against the current membership (from the features as of the last evaluation),
 * and up to p_sample of each. The view is made and checked inside a block that is then rolled
 * back, so the same refusals as segment_define apply.
 */
CREATE OR REPLACE FUNCTION shared.segment_preview(
    p_segment_id text,
    p_query text,
    p_sample integer DEFAULT 5
)
RETURNS TABLE (members bigint, joining bigint, leaving bigint, staying bigint,
               sample_joining uuid[], sample_leaving uuid[])
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_members bigint;
    v_join bigint;
    v_leave bigint;
    v_stay bigint;
    v_sj uuid[];
    v_sl uuid[];
BEGIN
    BEGIN
        PERFORM shared._segment_make_view(p_segment_id, p_query);
        EXECUTE format($q$
            WITH cur AS (SELECT DISTINCT v.person_id FROM segments.%I AS v),
                 mem AS (SELECT m.person_id FROM shared.segment_member AS m
                         WHERE m.segment_id = $1)
            SELECT (SELECT count(*) FROM cur),
                   (SELECT count(*) FROM cur WHERE cur.person_id NOT IN (SELECT person_id FROM mem)),
                   (SELECT count(*) FROM mem WHERE mem.person_id NOT IN (SELECT person_id FROM cur)),
                   (SELECT count(*) FROM cur WHERE cur.person_id IN (SELECT person_id FROM mem)),
                   ARRAY(SELECT cur.person_id FROM cur
                         WHERE cur.person_id NOT IN (SELECT person_id FROM mem)
                         ORDER BY 1 LIMIT $2),
                   ARRAY(SELECT mem.person_id FROM mem
                         WHERE mem.person_id NOT IN (SELECT person_id FROM cur)
                         ORDER BY 1 LIMIT $2)
            $q$, p_segment_id)
        INTO v_members, v_join, v_leave, v_stay, v_sj, v_sl
        USING p_segment_id, greatest(p_sample, 0);
        RAISE EXCEPTION USING ERRCODE = 'GDROL', MESSAGE = 'preview: rolled back';
    EXCEPTION WHEN SQLSTATE 'GDROL' THEN
        NULL;  -- the view made above is gone again; the numbers stay
    END;
    RETURN QUERY SELECT v_members, v_join, v_leave, v_stay, v_sj, v_sl;
END
$$;

COMMENT ON FUNCTION shared.segment_preview(text, text, integer) IS
'Size of a segment query and its diff against the current membership (joining, leaving, '
'staying, with samples), refused like segment_define; saves nothing.';

/** Section - Evaluation */

/*
 * Evaluate the enabled segments. The first run of a UTC day settles the days before it
 * (shared._settle_person_activity); the logged events are folded into today's rows.
 * Candidates are the persons in the change log (their events or person row changed since the
 * last run) plus those whose features change with time alone (person_feature.next_change_at
 * passed); their features are merged or recomputed (shared._refresh_person_features), then each
 * segment view is evaluated for the candidates only (p_full: for everyone; a view that reads
 * only some feature columns, for the candidates one of them changed for) and
 * shared.segment_member changed to match, which writes the history and the queue messages
 * (_segment_member_changed). Segment views must depend only on the person's own features for an
 * incremental run to be exact; a full run evaluates everyone. One run at a time (transaction
 * advisory lock; a second caller gets GD409). A view that fails is recorded in the run and the
 * segment row and the other segments go on. Returns one row per segment.
 */
CREATE OR REPLACE FUNCTION shared.evaluate_segments(p_full boolean DEFAULT false)
RETURNS TABLE (run_id bigint, segment_id text, members bigint, joined bigint, "left" bigint,
               error text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
-- A batch job over every person: hash the candidates and memberships in memory, not on disk.
SET work_mem = '256MB'
-- What it reads (features, memberships, today's daily rows) is read on every run, so
-- it is in memory: a probe per candidate costs what the default for a disk seek assumes it
-- does not, and without this a 1% run scans every person's features and memberships once per
-- segment instead of probing the candidates' rows.
SET random_page_cost = 1.1
-- Plans are costed in the hundreds of thousands for a few thousand candidates (per-candidate
-- aggregates); compiling them took longer than running them.
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_run bigint;
    v_now timestamptz := now();
    v_t0 timestamptz;
    v_candidates integer;
    v_features_ms numeric;
    v_seg record;
    v_problem text;
    v_members bigint;
    v_joined bigint;
    v_left bigint;
    v_join uuid[];
    v_leave uuid[];
    v_dup uuid;
    v_stats jsonb := '{}'::jsonb;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('gdp.evaluate_segments')) THEN
        PERFORM shared._raise('GD409', 'segments', 'another evaluation is running');
    END IF;
    INSERT INTO shared.segment_run (mode) VALUES (CASE WHEN p_full THEN 'full' ELSE 'incremental' END)
    RETURNING segment_run.run_id INTO v_run;
    PERFORM set_config('gdp.segment_run', v_run::text, true);

    v_t0 := clock_timestamp();
    IF to_regclass('pg_temp._segment_candidate') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate;
    END IF;
    -- person_changed: the person row was inserted or updated since the last run.
    -- added_*: what the person's new events add (shared._fold_new_events).
    CREATE TEMP TABLE _segment_candidate (
        person_id uuid PRIMARY KEY, person_changed boolean NOT NULL DEFAULT false,
        added_products text[], added_first_at timestamptz, added_last_at timestamptz,
        added_last_activity_at timestamptz, added_events bigint,
        added_activated_at timestamptz, added_first_paid_at timestamptz,
        added_last_paid_at timestamptz, added_plan text, added_mrr numeric(14,2),
        added_last_cancel_at timestamptz, added_pricing_views_7d bigint,
        added_pricing_views_30d bigint, added_usage_7d bigint, added_usage_30d bigint,
        added_oldest_7d date, added_oldest_30d date
    ) ON COMMIT DROP;
    IF to_regclass('pg_temp._segment_candidate_change') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate_change;
    END IF;
    -- Per candidate, the person_feature columns the refresh changed (NULL: re-evaluate every
    -- segment); written by shared._refresh_person_features, read by the segments below.
    CREATE TEMP TABLE _segment_candidate_change (person_id uuid NOT NULL, changed text[])
        ON COMMIT DROP;
    IF to_regclass('pg_temp._segment_new_event') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_new_event;
    END IF;
    CREATE TEMP TABLE _segment_new_event (id bigint PRIMARY KEY) ON COMMIT DROP;
    -- Only committed rows are deleted (and their events, committed with them, are seen by the
    -- statements below); a statement committing meanwhile stays in the log for the next run.
    WITH drained AS (
        DELETE FROM shared.segment_change_log
        RETURNING event_ids, event_id_first, event_id_last, person_ids
    ), new_events AS (
        INSERT INTO pg_temp._segment_new_event
        SELECT u.id FROM drained AS d, unnest(d.event_ids) AS u(id)
        UNION
        SELECT g.id FROM drained AS d, generate_series(d.event_id_first, d.event_id_last) AS g(id)
        RETURNING 1
    )
    INSERT INTO pg_temp._segment_candidate (person_id, person_changed)
    SELECT DISTINCT u.id, true FROM drained AS d, unnest(d.person_ids) AS u(id);
    ANALYZE pg_temp._segment_new_event;
    -- The first run of a UTC day settles the days before it (late events' days any run).
    PERFORM shared._settle_person_activity(shared._utc_day(v_now));
    PERFORM shared._fold_new_events(v_now);
    INSERT INTO pg_temp._segment_candidate (person_id)
    SELECT f.person_id FROM shared.person_feature AS f WHERE f.next_change_at <= v_now
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_candidates = ROW_COUNT;
    SELECT count(*) INTO v_candidates FROM pg_temp._segment_candidate;
    ANALYZE pg_temp._segment_candidate (person_id, person_changed);
    PERFORM shared._refresh_person_features(v_now);
    ANALYZE pg_temp._segment_candidate_change;
    v_features_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
    -- An incremental run reads the candidates' memberships of every segment once, through the
    -- person index (one probe per candidate rather than one per candidate and segment). Each
    -- segment below reads only its own rows, which no earlier step of the loop changes.
    IF to_regclass('pg_temp._segment_candidate_member') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate_member;
    END IF;
    IF NOT p_full THEN
        CREATE TEMP TABLE _segment_candidate_member ON COMMIT DROP AS
            SELECT m.segment_id, m.person_id, c.changed
            FROM pg_temp._segment_candidate_change AS c
            JOIN shared.segment_member AS m ON m.person_id = c.person_id;
        ANALYZE pg_temp._segment_candidate_member (segment_id, person_id);
    END IF;

    FOR v_seg IN SELECT s.segment_id FROM shared.segment AS s WHERE s.enabled
                 ORDER BY s.segment_id LOOP
        v_t0 := clock_timestamp();
        v_members := NULL;
        BEGIN
            -- Held to the end: a segment_define replacing the view waits, so the view checked
            -- and whose columns are read is the one evaluated.
            IF to_regclass(format('segments.%I', v_seg.segment_id)) IS NOT NULL THEN
                EXECUTE format('LOCK TABLE segments.%I IN ACCESS SHARE MODE', v_seg.segment_id);
            END IF;
            v_problem := shared._segment_view_problem(v_seg.segment_id, false);
            IF v_problem IS NOT NULL THEN
                PERFORM shared._raise('GD400', 'segment', v_problem);
            END IF;
            -- One pass over the view and the segment's members (a full join on person_id):
            -- who joins, who leaves and, in a full run, how many are in. Then two plain
            -- statements change only those rows (each fires the history and queue trigger).
            -- In an incremental run the members come from the candidates' memberships read
            -- above: joined to the segment's rows inside the full join, the planner read the
            -- segment's whole member index to hash it (60-95 ms per large segment at a million
            -- people). Both sides take the same candidates: those one of the columns the view
            -- reads changed for ($2, NULL when it is not a row-by-row filter of
            -- person_feature), or every segment's (changed IS NULL).
            IF p_full THEN
                EXECUTE format($q$
                    SELECT count(cur.person_id),
                           array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL),
                           (array_agg(cur.person_id) FILTER (WHERE cur.n > 1))[1]
                    FROM (SELECT v.person_id, count(*) AS n FROM segments.%I AS v
                          WHERE v.person_id IS NOT NULL GROUP BY v.person_id) AS cur
                    FULL JOIN (SELECT m.person_id FROM shared.segment_member AS m
                               WHERE m.segment_id = $1) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_members, v_join, v_leave, v_dup
                USING v_seg.segment_id;
            ELSE
                EXECUTE format($q$
                    SELECT array_agg(cur.person_id ORDER BY cur.person_id)
                               FILTER (WHERE mem.person_id IS NULL),
                           array_agg(mem.person_id) FILTER (WHERE cur.person_id IS NULL),
                           (array_agg(cur.person_id) FILTER (WHERE cur.n > 1))[1]
                    FROM (SELECT v.person_id, count(*) AS n FROM segments.%I AS v
                          JOIN pg_temp._segment_candidate_change AS c ON c.person_id = v.person_id
                          WHERE $2::text[] IS NULL OR c.changed IS NULL OR c.changed && $2
                          GROUP BY v.person_id) AS cur
                    FULL JOIN (SELECT cm.person_id FROM pg_temp._segment_candidate_member AS cm
                               WHERE cm.segment_id = $1
                                 AND ($2::text[] IS NULL OR cm.changed IS NULL
                                      OR cm.changed && $2)) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_join, v_leave, v_dup
                USING v_seg.segment_id, shared._segment_feature_columns(v_seg.segment_id);
            END IF;
            -- A view made with plain SQL is refused here as segment_define refuses it: counted
            -- in the same pass (the people it returns for this run's candidates, or everyone).
            IF v_dup IS NOT NULL THEN
                PERFORM shared._raise('GD400', 'segment', shared._segment_duplicate_problem(v_dup));
            END IF;
            DELETE FROM shared.segment_member AS m
            USING unnest(v_leave) AS u(person_id)
            WHERE m.segment_id = v_seg.segment_id AND m.person_id = u.person_id;
            GET DIAGNOSTICS v_left = ROW_COUNT;
            INSERT INTO shared.segment_member (segment_id, person_id, joined_at)
            SELECT v_seg.segment_id, u.person_id, v_now FROM unnest(v_join) AS u(person_id);
            GET DIAGNOSTICS v_joined = ROW_COUNT;
            UPDATE shared.segment AS s SET last_evaluated_at = v_now, last_error = NULL
            WHERE s.segment_id = v_seg.segment_id;
            v_stats := v_stats || jsonb_build_object(v_seg.segment_id, jsonb_build_object(
                'members', v_members, 'joined', v_joined, 'left', v_left,
                'ms', round((extract(epoch FROM clock_timestamp() - v_t0) * 1000)::numeric, 1)));
            RETURN QUERY SELECT v_run, v_seg.segment_id, v_members, v_joined, v_left, NULL::text;
        EXCEPTION WHEN OTHERS THEN
            UPDATE shared.segment AS s SET last_error = left(SQLERRM, 500)
            WHERE s.segment_id = v_seg.segment_id;
            v_stats := v_stats || jsonb_build_object(v_seg.segment_id,
                                                     jsonb_build_object('error', left(SQLERRM, 500)));
            RETURN QUERY SELECT v_run, v_seg.segment_id, NULL::bigint, 0::bigint, 0::bigint,
                                left(SQLERRM, 500);
        END;
    END LOOP;

    UPDATE shared.segment_run AS r SET
        finished_at = clock_timestamp(), candidates = v_candidates,
        features_ms = round(v_features_ms, 1), segments = v_stats,
        joined = coalesce((SELECT sum((e.value ->> 'joined')::bigint) FROM jsonb_each(v_stats) AS e), 0),
        "left" = coalesce((SELECT sum((e.value ->> 'left')::bigint) FROM jsonb_each(v_stats) AS e), 0)
    WHERE r.run_id = v_run;
    PERFORM set_config('gdp.segment_run', '', true);
END
$$;

COMMENT ON FUNCTION shared.evaluate_segments(boolean) IS
'Evaluate the enabled segments: recompute the features of persons that changed or whose time '
'windows crossed, update shared.segment_member (history rows, pgmq segment_changes messages) '
'for those persons (p_full: for everyone); one run at a time; returns one row per segment.';

-- Segments with their sizes and last run, for gdp segments list/show and the dashboard.
CREATE OR REPLACE VIEW shared.segment_overview AS
    SELECT s.segment_id, s.description, s.owner, s.audience_name, s.enabled,
           (SELECT count(*) FROM shared.segment_member AS m WHERE m.segment_id = s.segment_id)
               AS members,
           s.last_evaluated_at, s.last_error, s.created_at, s.updated_at,
           pg_catalog.pg_get_viewdef(to_regclass(format('segments.%I', s.segment_id)), true)
               AS definition
    FROM shared.segment AS s;

-- What gdp worker segments needs to know: whether to run (GAP-002's flag) and how often.
CREATE OR REPLACE FUNCTION shared.segment_worker_config()
RETURNS TABLE (enabled boolean, interval_s integer)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED'),
           coalesce((shared.setting_value('SEGMENT_ENGINE_CRON_INTERVAL') #>> '{}')::integer, 300)
$$;

COMMENT ON FUNCTION shared.segment_worker_config() IS
'For gdp worker segments: whether GAP-002 (SEGMENT_ENGINE_META_CAPI_ENABLED) is on and '
'SEGMENT_ENGINE_CRON_INTERVAL in seconds (default 300).';
