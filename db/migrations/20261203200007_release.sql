-- migrate:up
-- gdp:release sources=sha256:7a895bfc327ed3ac2c2d7a02f73eee829335f3122fccd69afff0bc433683b039

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._feature_churned_at(p_last_paid_at timestamp with time zone, p_last_cancel_at timestamp with time zone, p_last_seen_at timestamp with time zone, p_now timestamp with time zone)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT CASE WHEN p_last_cancel_at IS NOT NULL
                     AND (p_last_paid_at IS NULL OR p_last_cancel_at >= p_last_paid_at)
                THEN p_last_cancel_at
                WHEN p_last_seen_at <= p_now - interval '30 days'
                THEN p_last_seen_at + interval '30 days' END
$function$;

CREATE OR REPLACE FUNCTION shared._feature_paid(p_last_paid_at timestamp with time zone, p_last_cancel_at timestamp with time zone)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT p_last_paid_at IS NOT NULL
           AND (p_last_cancel_at IS NULL OR p_last_cancel_at < p_last_paid_at)
$function$;

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
        -- The lifecycle stage is the one column taken from the person row, and every insert or
        -- update of a person is logged (person_changed): the person row is read only for those
        -- and for people new to the features; the others keep the stage they have. Their
        -- feature rows are rewritten below, so reading them here costs no extra page.
        LEFT JOIN shared.person_feature AS known
               ON known.person_id = c.person_id AND NOT c.person_changed
        -- Per candidate through the primary key (a merge join would walk the whole index).
        JOIN LATERAL (SELECT known.lifecycle_stage WHERE known.person_id IS NOT NULL
                      UNION ALL
                      SELECT pp.lifecycle_stage FROM shared.person AS pp
                      WHERE known.person_id IS NULL AND pp.id = c.person_id) AS p ON true
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
               shared._feature_paid(g.last_paid_at, g.last_cancel_at) AS is_paid,
               shared._feature_churned_at(g.last_paid_at, g.last_cancel_at, g.last_seen_at, p_now)
                   AS churned
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

CREATE OR REPLACE FUNCTION shared._segment_duplicate_problem(p_person_id uuid)
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT format('returns person %s more than once; a segment returns each person once '
                  '(use DISTINCT or GROUP BY person_id)', p_person_id)
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
$function$;

CREATE OR REPLACE FUNCTION shared._segment_view_problem(p_segment_id text, p_check_duplicates boolean)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
    -- allowed. Operators appear in stored rules by operator id (their function is looked up
    -- when the rule runs).
    WITH called AS (
        SELECT m[1] AS kind, m[2]::oid AS id
        FROM pg_catalog.pg_rewrite AS r,
             regexp_matches(r.ev_action::text, ':(funcid|aggfnoid|winfnoid|opno) (\d+)', 'g') AS m
        WHERE r.ev_class = ANY (v_views)
    )
    SELECT p.oid::regprocedure::text INTO v_bad
    FROM called AS k
    LEFT JOIN pg_catalog.pg_operator AS o ON k.kind = 'opno' AND o.oid = k.id
    JOIN pg_catalog.pg_proc AS p ON p.oid = CASE WHEN k.kind = 'opno' THEN o.oprcode::oid ELSE k.id END
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
$function$;

CREATE OR REPLACE FUNCTION shared.audience_change_counts(p_segment_id text, p_since timestamp with time zone)
 RETURNS TABLE(removes bigint, candidates bigint)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_segment text := p_segment_id;
    v_since timestamptz := p_since;
    v_removes bigint;
    v_new bigint;
    v_changed bigint;
BEGIN
    SELECT count(*) INTO v_removes FROM shared.audience_ack AS k
    WHERE k.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                      WHERE m.segment_id = v_segment AND m.person_id = k.person_id);
    v_removes := v_removes + (
        SELECT count(*) FROM shared._audience_withdrawn_ack AS k WHERE k.segment_id = v_segment);
    SELECT count(*) INTO v_new FROM shared.segment_member AS m
    WHERE m.segment_id = v_segment
      AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                      WHERE k.segment_id = v_segment AND k.person_id = m.person_id);
    IF v_since IS NULL THEN
        SELECT count(*) INTO v_changed FROM shared.audience_ack AS k
        JOIN shared.person AS p ON p.id = k.person_id
        WHERE k.segment_id = v_segment AND p.updated_at > k.person_updated_at;
    ELSE
        SELECT count(*) INTO v_changed FROM shared.person AS p
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = p.id
        WHERE p.updated_at > v_since AND p.updated_at > k.person_updated_at;
    END IF;
    RETURN QUERY SELECT v_removes, v_new + v_changed;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_changes_open(p_segment_id text, p_since timestamp with time zone, p_cursor text DEFAULT 'audience_changes'::text)
 RETURNS refcursor
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_cursor refcursor := p_cursor;
    v_segment text := p_segment_id;
    v_since timestamptz := p_since;
BEGIN
    IF v_since IS NULL THEN
        OPEN v_cursor NO SCROLL FOR
        SELECT k.person_id, 'remove'::text AS op, k.row_cells AS old_cells, NULL::text AS email,
               NULL::text AS phone, NULL::text AS first_name, NULL::text AS last_name,
               NULL::text AS city, NULL::text AS state, NULL::text AS zip, NULL::text AS country,
               NULL::date AS date_of_birth, NULL::text AS gender, k.person_updated_at
        FROM shared.audience_ack AS k
        WHERE k.segment_id = v_segment
          AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                          WHERE m.segment_id = v_segment AND m.person_id = k.person_id)
        UNION ALL
        SELECT k.person_id, 'remove', k.row_cells, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, k.person_updated_at
        FROM shared._audience_withdrawn_ack AS k
        WHERE k.segment_id = v_segment
        UNION ALL
        SELECT p.id, 'add', NULL, p.email, p.phone, p.first_name, p.last_name, p.city, p.state,
               p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM shared.segment_member AS m
        JOIN shared.person AS p ON p.id = m.person_id
        WHERE m.segment_id = v_segment AND p.consent_status <> 'withdrawn'
          AND NOT EXISTS (SELECT 1 FROM shared.audience_ack AS k
                          WHERE k.segment_id = v_segment AND k.person_id = m.person_id)
        UNION ALL
        SELECT p.id, 'add', k.row_cells, p.email, p.phone, p.first_name, p.last_name, p.city,
               p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM shared.audience_ack AS k
        JOIN shared.person AS p ON p.id = k.person_id
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = p.id
        WHERE k.segment_id = v_segment AND p.consent_status <> 'withdrawn'
          AND p.updated_at > k.person_updated_at;
    ELSE
        OPEN v_cursor NO SCROLL FOR
        SELECT k.person_id, 'remove'::text AS op, k.row_cells AS old_cells, NULL::text AS email,
               NULL::text AS phone, NULL::text AS first_name, NULL::text AS last_name,
               NULL::text AS city, NULL::text AS state, NULL::text AS zip, NULL::text AS country,
               NULL::date AS date_of_birth, NULL::text AS gender, k.person_updated_at
        FROM (SELECT h.person_id FROM shared.segment_history AS h
              WHERE h.segment_id = v_segment AND h.at >= v_since
              UNION
              SELECT e.person_id FROM shared.audience_erased AS e
              WHERE e.segment_id = v_segment) AS c
        JOIN shared.audience_ack AS k ON k.segment_id = v_segment AND k.person_id = c.person_id
        WHERE NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                          WHERE m.segment_id = v_segment AND m.person_id = k.person_id)
        UNION ALL
        SELECT k.person_id, 'remove', k.row_cells, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, k.person_updated_at
        FROM shared._audience_withdrawn_ack AS k
        WHERE k.segment_id = v_segment
        UNION ALL
        -- Who joined, and whose person row changed (a change of email, a consent given again).
        SELECT p.id, 'add', k.row_cells, p.email, p.phone, p.first_name, p.last_name, p.city,
               p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at
        FROM (SELECT h.person_id FROM shared.segment_history AS h
              WHERE h.segment_id = v_segment AND h.at >= v_since
              UNION
              SELECT q.id FROM shared.person AS q WHERE q.updated_at > v_since) AS c
        JOIN shared.segment_member AS m ON m.segment_id = v_segment AND m.person_id = c.person_id
        JOIN shared.person AS p ON p.id = c.person_id
        LEFT JOIN shared.audience_ack AS k
            ON k.segment_id = v_segment AND k.person_id = c.person_id
        WHERE p.consent_status <> 'withdrawn'
          AND (k.person_id IS NULL OR p.updated_at > k.person_updated_at);
    END IF;
    RETURN v_cursor;
END
$function$;

CREATE OR REPLACE FUNCTION shared.audience_removal_count(p_segment_id text)
 RETURNS bigint
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT (SELECT count(*) FROM shared.audience_ack AS k
            WHERE k.segment_id = p_segment_id
              AND NOT EXISTS (SELECT 1 FROM shared.segment_member AS m
                              WHERE m.segment_id = p_segment_id AND m.person_id = k.person_id))
         + (SELECT count(*) FROM shared._audience_withdrawn_ack AS k
            WHERE k.segment_id = p_segment_id)
$function$;

CREATE OR REPLACE FUNCTION shared.audience_set_guards(p_segment_id text, p_min_size_first_upload integer DEFAULT NULL::integer, p_max_removed_share numeric DEFAULT NULL::numeric)
 RETURNS TABLE(segment_id text, min_size_first_upload integer, max_removed_share numeric)
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
#variable_conflict use_column
BEGIN
    IF p_min_size_first_upload IS NOT NULL
       AND NOT p_min_size_first_upload BETWEEN 0 AND 100000000 THEN
        PERFORM shared._raise('GD400', 'min_size_first_upload',
                              'must be a whole number from 0 to 100,000,000');
    END IF;
    IF p_max_removed_share IS NOT NULL AND NOT p_max_removed_share BETWEEN 0 AND 1 THEN
        PERFORM shared._raise('GD400', 'max_removed_share',
                              'must be a share from 0 to 1 (0.2: a fifth of the audience)');
    END IF;
    IF p_min_size_first_upload IS NULL AND p_max_removed_share IS NULL THEN
        RETURN QUERY
        SELECT a.segment_id, a.min_size_first_upload, a.max_removed_share
        FROM shared.meta_audience AS a WHERE a.segment_id = p_segment_id;
    ELSE
        RETURN QUERY
        UPDATE shared.meta_audience AS a SET
            min_size_first_upload = coalesce(p_min_size_first_upload, a.min_size_first_upload),
            max_removed_share = coalesce(round(p_max_removed_share, 3), a.max_removed_share),
            updated_at = now()
        WHERE a.segment_id = p_segment_id
        RETURNING a.segment_id, a.min_size_first_upload, a.max_removed_share;
    END IF;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment', format('%s is not mapped to an audience',
                                                        p_segment_id));
    END IF;
END
$function$;

CREATE OR REPLACE FUNCTION shared.evaluate_segments(p_full boolean DEFAULT false)
 RETURNS TABLE(run_id bigint, segment_id text, members bigint, joined bigint, "left" bigint, error text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
 SET work_mem TO '256MB'
 SET random_page_cost TO '1.1'
 SET jit TO 'off'
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
    CREATE TEMP TABLE _segment_candidate (
        person_id uuid PRIMARY KEY, person_changed boolean NOT NULL DEFAULT false
    ) ON COMMIT DROP;
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
    PERFORM shared._fold_new_events();
    INSERT INTO pg_temp._segment_candidate (person_id)
    SELECT f.person_id FROM shared.person_feature AS f WHERE f.next_change_at <= v_now
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_candidates = ROW_COUNT;
    SELECT count(*) INTO v_candidates FROM pg_temp._segment_candidate;
    ANALYZE pg_temp._segment_candidate;
    PERFORM shared._refresh_person_features(v_now);
    v_features_ms := extract(epoch FROM clock_timestamp() - v_t0) * 1000;
    -- An incremental run reads the candidates' memberships of every segment once, through the
    -- person index (one probe per candidate rather than one per candidate and segment). Each
    -- segment below reads only its own rows, which no earlier step of the loop changes.
    IF to_regclass('pg_temp._segment_candidate_member') IS NOT NULL THEN
        DROP TABLE pg_temp._segment_candidate_member;
    END IF;
    IF NOT p_full THEN
        CREATE TEMP TABLE _segment_candidate_member ON COMMIT DROP AS
            SELECT m.segment_id, m.person_id
            FROM pg_temp._segment_candidate AS c
            JOIN shared.segment_member AS m ON m.person_id = c.person_id;
        ANALYZE pg_temp._segment_candidate_member;
    END IF;

    FOR v_seg IN SELECT s.segment_id FROM shared.segment AS s WHERE s.enabled
                 ORDER BY s.segment_id LOOP
        v_t0 := clock_timestamp();
        v_members := NULL;
        BEGIN
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
            -- people).
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
                          JOIN pg_temp._segment_candidate AS c ON c.person_id = v.person_id
                          GROUP BY v.person_id) AS cur
                    FULL JOIN (SELECT cm.person_id FROM pg_temp._segment_candidate_member AS cm
                               WHERE cm.segment_id = $1) AS mem
                      ON mem.person_id = cur.person_id
                    $q$, v_seg.segment_id)
                INTO v_join, v_leave, v_dup
                USING v_seg.segment_id;
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

CREATE OR REPLACE FUNCTION shared.retention_delete_queue_archives(p_batch_size integer DEFAULT NULL::integer, p_as_of timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_cutoff timestamptz := shared._retention_cutoff('RETENTION_QUEUE_ARCHIVE_DAYS', p_as_of);
    v_limit integer := shared._retention_batch_size(p_batch_size);
    v_queue text;
    v_count bigint;
    v_deleted bigint := 0;
BEGIN
    -- Every queue's archive, today's and those added later (pgmq.a_<queue>). Partitioned
    -- queues drop whole partitions through pg_partman's own retention instead.
    FOR v_queue IN
        SELECT m.queue_name FROM pgmq.meta AS m WHERE NOT m.is_partitioned ORDER BY m.queue_name
    LOOP
        EXECUTE format(
            'WITH doomed AS (SELECT a.msg_id FROM pgmq.%1$I AS a WHERE a.archived_at < $1'
            ' LIMIT $2 FOR UPDATE SKIP LOCKED)'
            ' DELETE FROM pgmq.%1$I AS a USING doomed WHERE a.msg_id = doomed.msg_id',
            'a_' || v_queue)
        USING v_cutoff, v_limit;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_deleted := v_deleted + v_count;
    END LOOP;
    -- segment_changes announces membership changes to whoever wants them (the PRD's email
    -- tool, a warehouse); with no reader its messages would pile up for ever. One not read
    -- within the window goes as an archived one would. The work queues (meta_capi, meta_leads)
    -- are never trimmed: their messages are owed to Meta.
    IF to_regclass('pgmq.q_segment_changes') IS NOT NULL THEN
        WITH doomed AS (
            SELECT q.msg_id FROM pgmq.q_segment_changes AS q
            WHERE q.enqueued_at < v_cutoff
            LIMIT v_limit
            FOR UPDATE SKIP LOCKED
        )
        DELETE FROM pgmq.q_segment_changes AS q USING doomed WHERE q.msg_id = doomed.msg_id;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_deleted := v_deleted + v_count;
    END IF;
    RETURN v_deleted;
END
$function$;

CREATE OR REPLACE VIEW shared._audience_withdrawn_ack WITH (security_invoker=true) AS
 SELECT k.segment_id,
    k.person_id,
    k.row_cells,
    k.person_updated_at
   FROM ((shared.person w
     JOIN shared.audience_ack k ON ((k.person_id = w.id)))
     JOIN shared.segment_member m ON (((m.segment_id = k.segment_id) AND (m.person_id = w.id))))
  WHERE (w.consent_status = 'withdrawn'::shared.consent_status);

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
    shared._feature_paid(g.last_paid_at, g.last_cancel_at) AS paid,
    shared._feature_churned_at(g.last_paid_at, g.last_cancel_at, g.last_seen_at, now()) AS churned_at
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

REVOKE ALL ON FUNCTION shared._feature_churned_at(timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._feature_churned_at(timestamp with time zone, timestamp with time zone, timestamp with time zone, timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION shared._feature_paid(timestamp with time zone, timestamp with time zone) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._feature_paid(timestamp with time zone, timestamp with time zone) TO service_role;

REVOKE ALL ON FUNCTION shared._payment_mrr(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._payment_mrr(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._segment_duplicate_problem(uuid) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._segment_duplicate_problem(uuid) TO service_role;

REVOKE ALL ON FUNCTION shared.audience_set_guards(text, integer, numeric) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_set_guards(text, integer, numeric) TO service_role;

REVOKE ALL ON TABLE shared._audience_withdrawn_ack FROM PUBLIC, anon, authenticated, service_role;

GRANT DELETE ON TABLE shared._audience_withdrawn_ack TO service_role;

GRANT INSERT ON TABLE shared._audience_withdrawn_ack TO service_role;

GRANT SELECT ON TABLE shared._audience_withdrawn_ack TO service_role;

GRANT UPDATE ON TABLE shared._audience_withdrawn_ack TO service_role;

COMMENT ON FUNCTION shared.audience_set_guards(text, integer, numeric) IS 'Set a mapped segment''s guards (minimum size before the first upload, largest share removed in one run; NULL: unchanged) and return them.';

COMMENT ON FUNCTION shared.retention_delete_queue_archives(integer, timestamp with time zone) IS 'Deletes one batch per queue of archived pgmq messages (pgmq.a_<queue>, ids only) archived more than RETENTION_QUEUE_ARCHIVE_DAYS ago, and of segment_changes messages nobody read in that time; returns how many.';

-- migrate:down
