-- migrate:up
-- gdp:release sources=sha256:cab0f709f6bb21673efe4648dca6d482bacb7efe8edbff441f0018d6310887b3

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._event_enqueue_for_meta()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_rules_on boolean;
    v_sent integer;
BEGIN
    -- GAP-001 is the door to Meta: with it off, events are stored and nothing is queued.
    IF NOT shared.is_enabled('META_CAPI_INGEST_ENABLED') THEN
        RETURN NULL;
    END IF;
    -- Events without an explicit Meta name go through the rules only when GAP-002 is on.
    v_rules_on := shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED');

    WITH rules AS (
        SELECT DISTINCT ON (coalesce(r.product_id, '*'), r.event_name)
               r.product_id, r.event_name, r.meta_event_name, r.first_time_per_person
        FROM shared.conversion_rule AS r
        WHERE v_rules_on AND r.enabled
        ORDER BY coalesce(r.product_id, '*'), r.event_name
    ), decided AS (
        SELECT n.id,
               coalesce(n.meta_event_name, own.meta_event_name, anyp.meta_event_name) AS meta_name,
               n.meta_event_name IS NULL
                   AND coalesce(own.first_time_per_person, anyp.first_time_per_person, false)
                   AS first_time_only,
               n.person_id, n.event_name
        FROM new_events AS n
        LEFT JOIN rules AS own
               ON n.meta_event_name IS NULL AND own.product_id = n.product_id
              AND own.event_name = n.event_name
        LEFT JOIN rules AS anyp
               ON n.meta_event_name IS NULL AND anyp.product_id IS NULL
              AND anyp.event_name = n.event_name
    ), messages AS (
        SELECT array_agg(jsonb_build_object('event', d.id, 'meta_event_name', d.meta_name)
                         ORDER BY d.id) AS msgs
        FROM decided AS d
        -- First-time rules (first feature used) fire from the features, once per person:
        -- shared._fire_first_time_rules (db/functions/70_segments.sql).
        WHERE d.meta_name IS NOT NULL AND NOT d.first_time_only
    )
    SELECT count(*) INTO v_sent
    FROM messages AS m, LATERAL pgmq.send_batch('meta_capi', m.msgs) AS sent
    WHERE m.msgs IS NOT NULL;

    IF v_sent > 0 THEN
        -- Wakes idle workers at once (delivered on commit; one per transaction, not per row).
        PERFORM pg_notify('gdp_meta_capi', '');
    END IF;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared._event_features()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_msgs jsonb[];
BEGIN
    -- One row per statement, whatever its size: the evaluation folds these events into the
    -- daily features (shared._fold_new_events), so the insert pays for an array, not an upsert.
    INSERT INTO shared.segment_change_log (event_ids)
    SELECT array_agg(n.id) FROM new_events AS n WHERE n.person_id IS NOT NULL
    HAVING count(*) > 0;

    -- The first-time rows of the PRD's trigger table (conversion rules with
    -- first_time_per_person, e.g. "first feature used" -> CompleteRegistration), fired from the
    -- features rather than from one event: for each person and rule, the statement's first
    -- matching event is sent when the person had no such event before, and
    -- shared.feature_trigger_fired's primary key makes it once per person even when two
    -- sessions insert at the same time (the second waits for the first's row, then finds it).
    IF shared.is_enabled('META_CAPI_INGEST_ENABLED')
       AND shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') THEN
        WITH rules AS (
            SELECT DISTINCT ON (coalesce(r.product_id, '*'), r.event_name)
                   r.rule_id, r.product_id, r.event_name, r.meta_event_name, r.first_time_per_person
            FROM shared.conversion_rule AS r
            WHERE r.enabled
            ORDER BY coalesce(r.product_id, '*'), r.event_name
        ), matched AS (
            -- The rule that decides each event: the product's own, else the any-product one.
            SELECT n.id, n.person_id, n.event_name,
                   coalesce(own.rule_id, anyp.rule_id) AS rule_id,
                   coalesce(own.first_time_per_person, anyp.first_time_per_person) AS first_time
            FROM new_events AS n
            LEFT JOIN rules AS own ON own.product_id = n.product_id AND own.event_name = n.event_name
            LEFT JOIN rules AS anyp ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
            WHERE n.meta_event_name IS NULL AND n.person_id IS NOT NULL
              AND n.event_name IN (SELECT r.event_name FROM rules AS r WHERE r.first_time_per_person)
        ), firsts AS (
            SELECT DISTINCT ON (m.rule_id, m.person_id) m.rule_id, m.person_id, m.id, m.event_name
            FROM matched AS m
            WHERE m.first_time
            ORDER BY m.rule_id, m.person_id, m.id
        ), fired AS (
            INSERT INTO shared.feature_trigger_fired (rule_id, person_id, event_ref)
            SELECT f.rule_id, f.person_id, f.id FROM firsts AS f
            -- Probed per person through an index (LATERAL … LIMIT 1 is never turned into a hash
            -- join, which would read the whole ledger or event table for every statement): the
            -- ledger first; only a person not in it yet has their earlier events looked at: one
            -- whose events from before the ledger existed (or before the flag was on) include
            -- one is not new to it.
            LEFT JOIN LATERAL (SELECT 1 AS found FROM shared.feature_trigger_fired AS done
                               WHERE done.rule_id = f.rule_id AND done.person_id = f.person_id
                               LIMIT 1) AS fired_before ON true
            LEFT JOIN LATERAL (SELECT 1 AS found FROM shared.event AS earlier
                               WHERE fired_before.found IS NULL
                                 AND earlier.person_id = f.person_id
                                 AND earlier.event_name = f.event_name AND earlier.id < f.id
                               LIMIT 1) AS seen_before ON true
            WHERE fired_before.found IS NULL AND seen_before.found IS NULL
            ORDER BY f.rule_id, f.person_id
            ON CONFLICT (rule_id, person_id) DO NOTHING
            RETURNING rule_id, event_ref
        )
        SELECT array_agg(jsonb_build_object('event', fd.event_ref, 'meta_event_name', r.meta_event_name)
                         ORDER BY fd.event_ref)
        INTO v_msgs
        FROM fired AS fd JOIN rules AS r ON r.rule_id = fd.rule_id;

        IF v_msgs IS NOT NULL THEN
            PERFORM pgmq.send_batch('meta_capi', v_msgs);
            PERFORM pg_notify('gdp_meta_capi', '');
        END IF;
    END IF;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared._fold_new_events()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_rows bigint;
BEGIN
    WITH kinds AS (
        SELECT n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day, n.occurred_at,
               n.event_name, n.properties, coalesce(own.kind, anyp.kind) AS kind
        FROM pg_temp._segment_new_event AS ne
        JOIN shared.event AS n ON n.id = ne.id
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL
    ), by_name AS (
        SELECT k.person_id, k.product_id, k.day, k.event_name, count(*) AS n
        FROM kinds AS k GROUP BY 1, 2, 3, 4
    ), names AS (
        SELECT b.person_id, b.product_id, b.day, jsonb_object_agg(b.event_name, b.n) AS counts
        FROM by_name AS b GROUP BY 1, 2, 3
    ), days AS (
        SELECT k.person_id, k.product_id, k.day,
               min(k.occurred_at) AS first_at, max(k.occurred_at) AS last_at,
               count(*)::integer AS events,
               count(*) FILTER (WHERE k.kind IS NULL OR k.kind NOT IN ('page_view', 'pricing_view'))::integer AS usage,
               count(*) FILTER (WHERE k.kind = 'pricing_view')::integer AS pricing_views,
               min(k.occurred_at) FILTER (WHERE k.kind = 'activation') AS first_activation_at,
               count(*) FILTER (WHERE k.kind = 'payment')::integer AS payments,
               max(k.occurred_at) FILTER (WHERE k.kind = 'payment') AS last_payment_at,
               (array_agg(k.properties ->> 'plan' ORDER BY k.occurred_at DESC)
                    FILTER (WHERE k.kind = 'payment'))[1] AS plan,
               (array_agg(coalesce(k.properties ->> 'mrr', k.properties ->> 'plan_price',
                                   k.properties ->> 'upgrade_price', k.properties ->> 'value')
                          ORDER BY k.occurred_at DESC)
                    FILTER (WHERE k.kind = 'payment'))[1] AS amount,
               max(k.occurred_at) FILTER (WHERE k.kind = 'cancel') AS last_cancel_at
        FROM kinds AS k GROUP BY 1, 2, 3
    )
    INSERT INTO shared.person_activity_daily AS a (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at, event_counts)
    SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
           d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, d.plan,
           -- An amount that is not a number is no MRR (the event itself is stored as sent).
           CASE WHEN d.amount ~ '^\s*[0-9]{1,12}(\.[0-9]+)?\s*$' THEN round(d.amount::numeric, 2) END,
           d.last_cancel_at, nm.counts
    FROM days AS d
    JOIN names AS nm USING (person_id, product_id, day)
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

    INSERT INTO pg_temp._segment_candidate (person_id)
    SELECT DISTINCT e.person_id
    FROM pg_temp._segment_new_event AS ne JOIN shared.event AS e ON e.id = ne.id
    WHERE e.person_id IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN v_rows;
END
$function$;

CREATE OR REPLACE FUNCTION shared._jsonb_sum_counts(p_a jsonb, p_b jsonb)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
    FROM (SELECT e.key AS k, sum(e.value::bigint) AS n
          FROM (SELECT * FROM jsonb_each_text(p_a) UNION ALL SELECT * FROM jsonb_each_text(p_b)) AS e
          GROUP BY e.key) AS s
$function$;

CREATE OR REPLACE FUNCTION shared._person_features_changed()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
BEGIN
    INSERT INTO shared.segment_change_log (person_ids)
    SELECT array_agg(p.id) FROM changed_people AS p HAVING count(*) > 0;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared._person_segment_rows_erased()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
BEGIN
    DELETE FROM shared.segment_history AS h USING old_people AS o WHERE h.person_id = o.id;
    DELETE FROM shared.person_activity_daily AS d USING old_people AS o WHERE d.person_id = o.id;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared._refresh_person_features(p_now timestamp with time zone)
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_today date := shared._utc_day(p_now);
    v_rows bigint;
BEGIN
    WITH agg AS (
        SELECT c.person_id, p.lifecycle_stage, a.*
        FROM pg_temp._segment_candidate AS c
        -- Per candidate through the primary key (a merge join would walk the whole index).
        JOIN LATERAL (SELECT pp.lifecycle_stage FROM shared.person AS pp
                      WHERE pp.id = c.person_id LIMIT 1) AS p ON true
        LEFT JOIN LATERAL (
            SELECT array_agg(DISTINCT d.product_id ORDER BY d.product_id) AS products,
                   min(d.first_at) AS first_seen_at, max(d.last_at) AS last_seen_at,
                   max(d.last_at) FILTER (WHERE d.usage > 0) AS last_activity_at,
                   sum(d.events) AS events,
                   min(d.first_activation_at) AS activated_at,
                   min(d.last_payment_at) AS first_paid_at,
                   max(d.last_payment_at) AS last_paid_at,
                   (array_agg(d.plan ORDER BY d.last_payment_at DESC)
                        FILTER (WHERE d.last_payment_at IS NOT NULL))[1] AS plan,
                   (array_agg(d.mrr ORDER BY d.last_payment_at DESC)
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
            FROM shared.person_activity_daily AS d
            WHERE d.person_id = c.person_id
        ) AS a ON true
    ), derived AS (
        SELECT g.*,
               g.last_paid_at IS NOT NULL
                   AND (g.last_cancel_at IS NULL OR g.last_cancel_at < g.last_paid_at) AS is_paid,
               CASE WHEN g.last_cancel_at IS NOT NULL
                         AND (g.last_paid_at IS NULL OR g.last_cancel_at >= g.last_paid_at)
                    THEN g.last_cancel_at
                    WHEN g.last_seen_at <= p_now - interval '30 days'
                    THEN g.last_seen_at + interval '30 days' END AS churned
        FROM agg AS g
    )
    INSERT INTO shared.person_feature AS f (
        person_id, products, first_seen_at, last_seen_at, last_activity_at, events, activated_at,
        first_paid_at, last_paid_at, paid, plan, mrr, churned_at, pricing_views_7d,
        pricing_views_30d, usage_7d, usage_30d, lifecycle_stage, computed_at, next_change_at)
    SELECT d.person_id, coalesce(d.products, '{}'), d.first_seen_at, d.last_seen_at,
           d.last_activity_at, coalesce(d.events, 0), d.activated_at, d.first_paid_at,
           d.last_paid_at, d.is_paid, CASE WHEN d.is_paid THEN d.plan END,
           CASE WHEN d.is_paid THEN d.mrr END, d.churned, d.pv7, d.pv30, d.u7, d.u30,
           d.lifecycle_stage, p_now,
           -- least() skips NULLs; marks already passed are not future changes.
           (SELECT min(m) FROM unnest(ARRAY[
                shared._utc_midnight(d.oldest7 + 7),
                shared._utc_midnight(d.oldest30 + 30),
                d.first_seen_at + interval '3 days',
                d.last_seen_at + interval '30 days',
                d.churned + interval '30 days']) AS m
            WHERE m > p_now)
    FROM derived AS d
    ORDER BY d.person_id
    ON CONFLICT (person_id) DO UPDATE SET
        products = excluded.products, first_seen_at = excluded.first_seen_at,
        last_seen_at = excluded.last_seen_at, last_activity_at = excluded.last_activity_at,
        events = excluded.events, activated_at = excluded.activated_at,
        first_paid_at = excluded.first_paid_at, last_paid_at = excluded.last_paid_at,
        paid = excluded.paid, plan = excluded.plan, mrr = excluded.mrr,
        churned_at = excluded.churned_at, pricing_views_7d = excluded.pricing_views_7d,
        pricing_views_30d = excluded.pricing_views_30d, usage_7d = excluded.usage_7d,
        usage_30d = excluded.usage_30d, lifecycle_stage = excluded.lifecycle_stage,
        computed_at = excluded.computed_at, next_change_at = excluded.next_change_at;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$function$;

CREATE OR REPLACE FUNCTION shared._segment_make_view(p_segment_id text, p_query text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared._segment_member_changed()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_change text := CASE TG_OP WHEN 'INSERT' THEN 'join' ELSE 'leave' END;
    v_run bigint := nullif(current_setting('gdp.segment_run', true), '')::bigint;
    v_msgs jsonb[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO shared.segment_history (segment_id, person_id, change, at, run_id)
        SELECT c.segment_id, c.person_id, 'join', c.joined_at, v_run FROM changed AS c;
    ELSE
        INSERT INTO shared.segment_history (segment_id, person_id, change, at, run_id)
        SELECT c.segment_id, c.person_id, 'leave', now(), v_run FROM changed AS c
        WHERE EXISTS (SELECT 1 FROM shared.person AS p WHERE p.id = c.person_id)
          AND EXISTS (SELECT 1 FROM shared.segment AS s WHERE s.segment_id = c.segment_id);
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
$function$;

CREATE OR REPLACE FUNCTION shared._segment_view_problem(p_segment_id text, p_check_duplicates boolean)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_view regclass := to_regclass(format('segments.%I', p_segment_id));
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

    -- Every relation the view reads, through the views it reads (pg_depend of their rules).
    WITH RECURSIVE reads(rel) AS (
        SELECT d.refobjid
        FROM pg_catalog.pg_rewrite AS r
        JOIN pg_catalog.pg_depend AS d
          ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> v_view
        WHERE r.ev_class = v_view
        UNION
        SELECT d.refobjid
        FROM reads AS s
        JOIN pg_catalog.pg_class AS c ON c.oid = s.rel AND c.relkind IN ('v', 'm')
        JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace AND ns.nspname = 'segments'
        JOIN pg_catalog.pg_rewrite AS r ON r.ev_class = c.oid
        JOIN pg_catalog.pg_depend AS d
          ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> c.oid
    )
    SELECT s.rel::regclass::text INTO v_bad
    FROM reads AS s
    JOIN pg_catalog.pg_class AS c ON c.oid = s.rel
    JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
    WHERE NOT (ns.nspname = 'segments' AND c.relkind IN ('v', 'm'))
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

    IF p_check_duplicates THEN
        EXECUTE format('SELECT v.person_id FROM segments.%I AS v GROUP BY v.person_id '
                       'HAVING count(*) > 1 LIMIT 1', p_segment_id) INTO v_dup;
        IF v_dup IS NOT NULL THEN
            RETURN format('returns person %s more than once; a segment returns each person once '
                          '(use DISTINCT or GROUP BY person_id)', v_dup);
        END IF;
    END IF;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared._utc_day(p_at timestamp with time zone)
 RETURNS date
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT (p_at AT TIME ZONE 'UTC')::date $function$;

CREATE OR REPLACE FUNCTION shared._utc_midnight(p_day date)
 RETURNS timestamp with time zone
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT p_day::timestamp AT TIME ZONE 'UTC' $function$;

CREATE OR REPLACE FUNCTION shared.evaluate_segments(p_full boolean DEFAULT false)
 RETURNS TABLE(run_id bigint, segment_id text, members bigint, joined bigint, "left" bigint, error text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
 SET work_mem TO '64MB'
AS $function$
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
    CREATE TEMP TABLE _segment_candidate (person_id uuid PRIMARY KEY) ON COMMIT DROP;
    IF to_regclass('pg_temp._segment_new_event') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_new_event;
    END IF;
    CREATE TEMP TABLE _segment_new_event (id bigint PRIMARY KEY) ON COMMIT DROP;
    -- Only committed rows are deleted (and their events, committed with them, are seen by the
    -- statements below); a statement committing meanwhile stays in the log for the next run.
    WITH drained AS (
        DELETE FROM shared.segment_change_log RETURNING event_ids, person_ids
    ), new_events AS (
        INSERT INTO pg_temp._segment_new_event
        SELECT DISTINCT u.id FROM drained AS d, unnest(d.event_ids) AS u(id)
        RETURNING 1
    )
    INSERT INTO pg_temp._segment_candidate
    SELECT DISTINCT u.id FROM drained AS d, unnest(d.person_ids) AS u(id);
    ANALYZE pg_temp._segment_new_event;
    PERFORM shared._fold_new_events();
    INSERT INTO pg_temp._segment_candidate
    SELECT f.person_id FROM shared.person_feature AS f WHERE f.next_change_at <= v_now
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_candidates = ROW_COUNT;
    SELECT count(*) INTO v_candidates FROM pg_temp._segment_candidate;
    ANALYZE pg_temp._segment_candidate;
    PERFORM shared._refresh_person_features(v_now);
    v_features_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;

    FOR v_seg IN SELECT s.segment_id FROM shared.segment AS s WHERE s.enabled
                 ORDER BY s.segment_id LOOP
        v_t0 := clock_timestamp();
        v_members := NULL;
        BEGIN
            v_problem := shared._segment_view_problem(v_seg.segment_id, false);
            IF v_problem IS NOT NULL THEN
                PERFORM shared._raise('GD400', 'segment', v_problem);
            END IF;
            IF p_full THEN
                EXECUTE format($q$
                    WITH cur AS (SELECT DISTINCT v.person_id FROM segments.%I AS v
                                 WHERE v.person_id IS NOT NULL),
                    gone AS (
                        DELETE FROM shared.segment_member AS m
                        WHERE m.segment_id = $1
                          AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.person_id = m.person_id)
                        RETURNING 1),
                    added AS (
                        INSERT INTO shared.segment_member (segment_id, person_id, joined_at)
                        SELECT $1, cur.person_id, $2 FROM cur
                        WHERE NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                                          WHERE m.segment_id = $1 AND m.person_id = cur.person_id)
                        ORDER BY cur.person_id
                        RETURNING 1)
                    SELECT (SELECT count(*) FROM cur), (SELECT count(*) FROM added),
                           (SELECT count(*) FROM gone)
                    $q$, v_seg.segment_id)
                INTO v_members, v_joined, v_left
                USING v_seg.segment_id, v_now;
            ELSE
                EXECUTE format($q$
                    WITH cur AS (SELECT DISTINCT v.person_id FROM segments.%I AS v
                                 JOIN pg_temp._segment_candidate AS c ON c.person_id = v.person_id),
                    gone AS (
                        DELETE FROM shared.segment_member AS m
                        USING pg_temp._segment_candidate AS c
                        WHERE m.segment_id = $1 AND m.person_id = c.person_id
                          AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.person_id = m.person_id)
                        RETURNING 1),
                    added AS (
                        INSERT INTO shared.segment_member (segment_id, person_id, joined_at)
                        SELECT $1, cur.person_id, $2 FROM cur
                        WHERE NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                                          WHERE m.segment_id = $1 AND m.person_id = cur.person_id)
                        ORDER BY cur.person_id
                        RETURNING 1)
                    SELECT (SELECT count(*) FROM added), (SELECT count(*) FROM gone)
                    $q$, v_seg.segment_id)
                INTO v_joined, v_left
                USING v_seg.segment_id, v_now;
            END IF;
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
$function$;

CREATE OR REPLACE FUNCTION shared.rebuild_person_activity()
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_rows bigint;
BEGIN
    -- Never beside an evaluation (which folds logged events into the same rows).
    PERFORM pg_advisory_xact_lock(hashtext('gdp.evaluate_segments'));
    DELETE FROM shared.person_activity_daily;
    -- One statement, so one snapshot: the logged events it deletes are exactly those already
    -- committed, which the events it reads include; an insert committing meanwhile is in
    -- neither, and the next evaluation folds it in.
    WITH cleared AS (
        DELETE FROM shared.segment_change_log AS l WHERE l.event_ids IS NOT NULL RETURNING 1
    ), kinds AS (
        SELECT n.person_id, n.product_id, shared._utc_day(n.occurred_at) AS day, n.occurred_at,
               n.event_name, n.properties, coalesce(own.kind, anyp.kind) AS kind
        FROM shared.event AS n
        LEFT JOIN shared.feature_event_kind AS own
               ON own.product_id = n.product_id AND own.event_name = n.event_name
        LEFT JOIN shared.feature_event_kind AS anyp
               ON anyp.product_id IS NULL AND anyp.event_name = n.event_name
        WHERE n.person_id IS NOT NULL
    ), by_name AS (
        SELECT k.person_id, k.product_id, k.day, k.event_name, count(*) AS n
        FROM kinds AS k GROUP BY 1, 2, 3, 4
    ), names AS (
        SELECT b.person_id, b.product_id, b.day, jsonb_object_agg(b.event_name, b.n) AS counts
        FROM by_name AS b GROUP BY 1, 2, 3
    ), days AS (
        SELECT k.person_id, k.product_id, k.day,
               min(k.occurred_at) AS first_at, max(k.occurred_at) AS last_at,
               count(*)::integer AS events,
               count(*) FILTER (WHERE k.kind IS NULL OR k.kind NOT IN ('page_view', 'pricing_view'))::integer AS usage,
               count(*) FILTER (WHERE k.kind = 'pricing_view')::integer AS pricing_views,
               min(k.occurred_at) FILTER (WHERE k.kind = 'activation') AS first_activation_at,
               count(*) FILTER (WHERE k.kind = 'payment')::integer AS payments,
               max(k.occurred_at) FILTER (WHERE k.kind = 'payment') AS last_payment_at,
               (array_agg(k.properties ->> 'plan' ORDER BY k.occurred_at DESC)
                    FILTER (WHERE k.kind = 'payment'))[1] AS plan,
               (array_agg(coalesce(k.properties ->> 'mrr', k.properties ->> 'plan_price',
                                   k.properties ->> 'upgrade_price', k.properties ->> 'value')
                          ORDER BY k.occurred_at DESC)
                    FILTER (WHERE k.kind = 'payment'))[1] AS amount,
               max(k.occurred_at) FILTER (WHERE k.kind = 'cancel') AS last_cancel_at
        FROM kinds AS k GROUP BY 1, 2, 3
    )
    INSERT INTO shared.person_activity_daily AS a (
        person_id, product_id, day, first_at, last_at, events, usage, pricing_views,
        first_activation_at, payments, last_payment_at, plan, mrr, last_cancel_at, event_counts)
    SELECT d.person_id, d.product_id, d.day, d.first_at, d.last_at, d.events, d.usage,
           d.pricing_views, d.first_activation_at, d.payments, d.last_payment_at, d.plan,
           -- An amount that is not a number is no MRR (the event itself is stored as sent).
           CASE WHEN d.amount ~ '^\s*[0-9]{1,12}(\.[0-9]+)?\s*$' THEN round(d.amount::numeric, 2) END,
           d.last_cancel_at, nm.counts
    FROM days AS d
    JOIN names AS nm USING (person_id, product_id, day)
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

    INSERT INTO shared.segment_change_log (person_ids)
    SELECT array_agg(p.id) FROM shared.person AS p HAVING count(*) > 0;
    RETURN v_rows;
END
$function$;

CREATE OR REPLACE FUNCTION shared.segment_define(p_segment_id text, p_query text, p_create boolean, p_description text DEFAULT NULL::text, p_owner text DEFAULT NULL::text, p_audience_name text DEFAULT NULL::text)
 RETURNS shared.segment
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared.segment_preview(p_segment_id text, p_query text, p_sample integer DEFAULT 5)
 RETURNS TABLE(members bigint, joining bigint, leaving bigint, staying bigint, sample_joining uuid[], sample_leaving uuid[])
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION shared.segment_worker_config()
 RETURNS TABLE(enabled boolean, interval_s integer)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED'),
           coalesce((shared.setting_value('SEGMENT_ENGINE_CRON_INTERVAL') #>> '{}')::integer, 300)
$function$;

CREATE OR REPLACE VIEW shared.person_event_count AS
 SELECT d.person_id,
    d.product_id,
    c.key AS event_name,
    sum((c.value)::bigint) AS events
   FROM (shared.person_activity_daily d
     CROSS JOIN LATERAL jsonb_each_text(d.event_counts) c(key, value))
  GROUP BY d.person_id, d.product_id, c.key;

CREATE OR REPLACE VIEW shared.person_product_feature AS
 SELECT d.person_id,
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
    COALESCE(sum(d.usage) FILTER (WHERE (d.day > (shared._utc_day(now()) - 30))), (0)::bigint) AS usage_30d
   FROM shared.person_activity_daily d
  GROUP BY d.person_id, d.product_id;

CREATE OR REPLACE VIEW shared.segment_overview AS
 SELECT s.segment_id,
    s.description,
    s.owner,
    s.audience_name,
    s.enabled,
    ( SELECT count(*) AS count
           FROM shared.segment_member m
          WHERE (m.segment_id = s.segment_id)) AS members,
    s.last_evaluated_at,
    s.last_error,
    s.created_at,
    s.updated_at,
    pg_get_viewdef((to_regclass(format('segments.%I'::text, s.segment_id)))::oid, true) AS definition
   FROM shared.segment s;

REVOKE ALL ON FUNCTION shared._event_features() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._event_features() TO service_role;

REVOKE ALL ON FUNCTION shared._fold_new_events() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._fold_new_events() TO service_role;

REVOKE ALL ON FUNCTION shared._jsonb_sum_counts(jsonb, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._jsonb_sum_counts(jsonb, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._person_features_changed() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._person_features_changed() TO service_role;

REVOKE ALL ON FUNCTION shared._person_segment_rows_erased() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._person_segment_rows_erased() TO service_role;

REVOKE ALL ON FUNCTION shared._refresh_person_features(timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._refresh_person_features(timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION shared._segment_make_view(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._segment_make_view(text, text) TO service_role;

REVOKE ALL ON FUNCTION shared._segment_member_changed() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._segment_member_changed() TO service_role;

REVOKE ALL ON FUNCTION shared._segment_view_problem(text, boolean) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._segment_view_problem(text, boolean) TO service_role;

REVOKE ALL ON FUNCTION shared._utc_day(timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._utc_day(timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION shared._utc_midnight(date) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._utc_midnight(date) TO service_role;

REVOKE ALL ON FUNCTION shared.evaluate_segments(boolean) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.evaluate_segments(boolean) TO gdp_segment_worker;

GRANT EXECUTE ON FUNCTION shared.evaluate_segments(boolean) TO service_role;

REVOKE ALL ON FUNCTION shared.rebuild_person_activity() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.rebuild_person_activity() TO service_role;

REVOKE ALL ON FUNCTION shared.segment_define(text, text, boolean, text, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.segment_define(text, text, boolean, text, text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.segment_preview(text, text, integer) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.segment_preview(text, text, integer) TO service_role;

REVOKE ALL ON FUNCTION shared.segment_worker_config() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.segment_worker_config() TO gdp_segment_worker;

GRANT EXECUTE ON FUNCTION shared.segment_worker_config() TO service_role;

GRANT USAGE ON SCHEMA shared TO gdp_segment_worker;

GRANT SELECT ON SEQUENCE pgmq.q_segment_changes_msg_id_seq TO service_role;

GRANT USAGE ON SEQUENCE pgmq.q_segment_changes_msg_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.feature_event_kind_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.feature_event_kind_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.segment_change_log_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.segment_change_log_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.segment_history_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.segment_history_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.segment_run_run_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.segment_run_run_id_seq TO service_role;

GRANT DELETE ON TABLE pgmq.a_segment_changes TO service_role;

GRANT INSERT ON TABLE pgmq.a_segment_changes TO service_role;

GRANT SELECT ON TABLE pgmq.a_segment_changes TO service_role;

GRANT UPDATE ON TABLE pgmq.a_segment_changes TO service_role;

GRANT DELETE ON TABLE pgmq.q_segment_changes TO service_role;

GRANT INSERT ON TABLE pgmq.q_segment_changes TO service_role;

GRANT SELECT ON TABLE pgmq.q_segment_changes TO service_role;

GRANT UPDATE ON TABLE pgmq.q_segment_changes TO service_role;

GRANT SELECT ON TABLE segments.activated_not_paid_day3 TO service_role;

GRANT SELECT ON TABLE segments.all_customers TO service_role;

GRANT SELECT ON TABLE segments.all_leads TO service_role;

GRANT SELECT ON TABLE segments.churned_30d TO service_role;

GRANT SELECT ON TABLE segments.high_intent_pricing_2plus TO service_role;

GRANT SELECT ON TABLE segments.paid_high_usage_7d TO service_role;

GRANT DELETE ON TABLE shared.feature_event_kind TO service_role;

GRANT INSERT ON TABLE shared.feature_event_kind TO service_role;

GRANT SELECT ON TABLE shared.feature_event_kind TO service_role;

GRANT UPDATE ON TABLE shared.feature_event_kind TO service_role;

GRANT DELETE ON TABLE shared.feature_trigger_fired TO service_role;

GRANT INSERT ON TABLE shared.feature_trigger_fired TO service_role;

GRANT SELECT ON TABLE shared.feature_trigger_fired TO service_role;

GRANT UPDATE ON TABLE shared.feature_trigger_fired TO service_role;

GRANT DELETE ON TABLE shared.person_activity_daily TO service_role;

GRANT INSERT ON TABLE shared.person_activity_daily TO service_role;

GRANT SELECT ON TABLE shared.person_activity_daily TO service_role;

GRANT UPDATE ON TABLE shared.person_activity_daily TO service_role;

REVOKE ALL ON TABLE shared.person_event_count FROM PUBLIC, anon, authenticated, service_role;

GRANT DELETE ON TABLE shared.person_event_count TO service_role;

GRANT INSERT ON TABLE shared.person_event_count TO service_role;

GRANT SELECT ON TABLE shared.person_event_count TO service_role;

GRANT UPDATE ON TABLE shared.person_event_count TO service_role;

GRANT DELETE ON TABLE shared.person_feature TO service_role;

GRANT INSERT ON TABLE shared.person_feature TO service_role;

GRANT SELECT ON TABLE shared.person_feature TO service_role;

GRANT UPDATE ON TABLE shared.person_feature TO service_role;

REVOKE ALL ON TABLE shared.person_product_feature FROM PUBLIC, anon, authenticated, service_role;

GRANT DELETE ON TABLE shared.person_product_feature TO service_role;

GRANT INSERT ON TABLE shared.person_product_feature TO service_role;

GRANT SELECT ON TABLE shared.person_product_feature TO service_role;

GRANT UPDATE ON TABLE shared.person_product_feature TO service_role;

GRANT DELETE ON TABLE shared.segment_change_log TO service_role;

GRANT INSERT ON TABLE shared.segment_change_log TO service_role;

GRANT SELECT ON TABLE shared.segment_change_log TO service_role;

GRANT UPDATE ON TABLE shared.segment_change_log TO service_role;

GRANT DELETE ON TABLE shared.segment_history TO service_role;

GRANT INSERT ON TABLE shared.segment_history TO service_role;

GRANT SELECT ON TABLE shared.segment_history TO service_role;

GRANT UPDATE ON TABLE shared.segment_history TO service_role;

REVOKE ALL ON TABLE shared.segment_overview FROM PUBLIC, anon, authenticated, service_role;

GRANT DELETE ON TABLE shared.segment_overview TO service_role;

GRANT INSERT ON TABLE shared.segment_overview TO service_role;

GRANT SELECT ON TABLE shared.segment_overview TO service_role;

GRANT UPDATE ON TABLE shared.segment_overview TO service_role;

GRANT DELETE ON TABLE shared.segment_run TO service_role;

GRANT INSERT ON TABLE shared.segment_run TO service_role;

GRANT SELECT ON TABLE shared.segment_run TO service_role;

GRANT UPDATE ON TABLE shared.segment_run TO service_role;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.event'::regclass AND tgname = 'event_features' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER event_features AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_features()') THEN
        CREATE OR REPLACE TRIGGER event_features AFTER INSERT ON shared.event REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION shared._event_features();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_event_kind'::regclass AND p.polname = 'The service role can read and change feature event kinds'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read and change feature event kinds" ON shared.feature_event_kind;
        CREATE POLICY "The service role can read and change feature event kinds" ON shared.feature_event_kind
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_trigger_fired'::regclass AND p.polname = 'The service role can read fired first-time rules'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read fired first-time rules" ON shared.feature_trigger_fired;
        CREATE POLICY "The service role can read fired first-time rules" ON shared.feature_trigger_fired
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.person'::regclass AND tgname = 'person_features_inserted' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER person_features_inserted AFTER INSERT ON shared.person REFERENCING NEW TABLE AS changed_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_features_changed()') THEN
        CREATE OR REPLACE TRIGGER person_features_inserted AFTER INSERT ON shared.person REFERENCING NEW TABLE AS changed_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_features_changed();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.person'::regclass AND tgname = 'person_features_updated' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER person_features_updated AFTER UPDATE ON shared.person REFERENCING NEW TABLE AS changed_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_features_changed()') THEN
        CREATE OR REPLACE TRIGGER person_features_updated AFTER UPDATE ON shared.person REFERENCING NEW TABLE AS changed_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_features_changed();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.person'::regclass AND tgname = 'person_segment_rows_erased' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER person_segment_rows_erased AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_segment_rows_erased()') THEN
        CREATE OR REPLACE TRIGGER person_segment_rows_erased AFTER DELETE ON shared.person REFERENCING OLD TABLE AS old_people FOR EACH STATEMENT EXECUTE FUNCTION shared._person_segment_rows_erased();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.person_activity_daily'::regclass AND p.polname = 'The service role can read daily person activity'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read daily person activity" ON shared.person_activity_daily;
        CREATE POLICY "The service role can read daily person activity" ON shared.person_activity_daily
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.person_feature'::regclass AND p.polname = 'The service role can read person features'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read person features" ON shared.person_feature;
        CREATE POLICY "The service role can read person features" ON shared.person_feature
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.segment_change_log'::regclass AND p.polname = 'The service role can read the segment change log'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read the segment change log" ON shared.segment_change_log;
        CREATE POLICY "The service role can read the segment change log" ON shared.segment_change_log
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.segment_history'::regclass AND p.polname = 'The service role can read segment history'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read segment history" ON shared.segment_history;
        CREATE POLICY "The service role can read segment history" ON shared.segment_history
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.segment_member'::regclass AND tgname = 'segment_member_joined' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER segment_member_joined AFTER INSERT ON shared.segment_member REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION shared._segment_member_changed()') THEN
        CREATE OR REPLACE TRIGGER segment_member_joined AFTER INSERT ON shared.segment_member REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION shared._segment_member_changed();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = 'shared.segment_member'::regclass AND tgname = 'segment_member_left' AND NOT tgisinternal AND pg_catalog.pg_get_triggerdef(oid) = 'CREATE TRIGGER segment_member_left AFTER DELETE ON shared.segment_member REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION shared._segment_member_changed()') THEN
        CREATE OR REPLACE TRIGGER segment_member_left AFTER DELETE ON shared.segment_member REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION shared._segment_member_changed();
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.segment_run'::regclass AND p.polname = 'The service role can read segment runs'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read segment runs" ON shared.segment_run;
        CREATE POLICY "The service role can read segment runs" ON shared.segment_run
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

COMMENT ON FUNCTION shared.evaluate_segments(boolean) IS 'Evaluate the enabled segments: recompute the features of persons that changed or whose time windows crossed, update shared.segment_member (history rows, pgmq segment_changes messages) for those persons (p_full: for everyone); one run at a time; returns one row per segment.';

COMMENT ON FUNCTION shared.rebuild_person_activity() IS 'Rebuild shared.person_activity_daily from every event in shared.event (after installing on a database with events, or after changing shared.feature_event_kind) and queue every person for re-evaluation; returns the daily rows written.';

COMMENT ON FUNCTION shared.segment_define(text, text, boolean, text, text, text) IS 'Create (p_create) or change the segment view segments.<id> from one SELECT returning person_id, validated (person_id uuid, no duplicates, reads raw PII only through shared.person), and its registry row; a refused query changes nothing (GD400/GD404/GD409 naming the field).';

COMMENT ON FUNCTION shared.segment_preview(text, text, integer) IS 'Size of a segment query and its diff against the current membership (joining, leaving, staying, with samples), refused like segment_define; saves nothing.';

COMMENT ON FUNCTION shared.segment_worker_config() IS 'For gdp worker segments: whether GAP-002 (SEGMENT_ENGINE_META_CAPI_ENABLED) is on and SEGMENT_ENGINE_CRON_INTERVAL in seconds (default 300).';


-- migrate:down
