-- migrate:up

/**
 * Today's activity in a small table of its own, settled into the history once a day.
 *
 * An evaluation folded each person's new events into shared.person_activity_daily, whose
 * primary key (20 million rows at a million people) took one random leaf per person: after a
 * checkpoint, a full-page image each. Now:
 *
 *   - shared.person_activity_settled: the daily rows as they were (the table, renamed);
 *   - shared.person_activity_recent: what evaluations fold in until the day is over (same
 *     columns and key; a day's rows, so a small index); the first evaluation of a UTC day moves
 *     the days before it into the settled table (shared._settle_person_activity);
 *   - shared.person_activity_daily: a view with one row per person, product and day over both,
 *     under the old name, so that what read the table reads everything. Views that read the
 *     table are made again on the view (they followed the rename).
 *   - first_payment_at and last_usage_at on the daily rows: the day's first payment and last
 *     usage event, from which person features take first_paid_at and last_activity_at (both
 *     only grow or shrink as events come, so new events merge into stored features). Rows from
 *     before have neither; readers fall back to the last payment and the last event of a day
 *     with usage, as before, until shared.rebuild_person_activity() recomputes them.
 *
 * An evaluation by the previous release's functions between this migration and the release
 * that follows fails (it would write the view) and is rolled back whole: the change log it
 * drained is kept for the next run.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);

-- What reads the table (a view of an admin's, or of this project's), to be made again on the
-- view of the same name once it exists: a view follows a renamed table by its oid.
CREATE TEMP TABLE _gdp_activity_reader ON COMMIT DROP AS
SELECT DISTINCT v.oid::regclass::text AS name, pg_catalog.pg_get_viewdef(v.oid) AS definition,
       v.reloptions AS options, v.oid AS view_oid
FROM pg_catalog.pg_depend AS d
JOIN pg_catalog.pg_rewrite AS r ON r.oid = d.objid
JOIN pg_catalog.pg_class AS v ON v.oid = r.ev_class
WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
  AND d.refclassid = 'pg_catalog.pg_class'::regclass
  AND d.refobjid = 'shared.person_activity_daily'::regclass
  AND v.oid <> d.refobjid
  -- A materialized view keeps its rows and reads the settled days until it is made again.
  AND v.relkind = 'v';

ALTER TABLE shared.person_activity_daily RENAME TO person_activity_settled;
ALTER INDEX shared.person_activity_daily_pkey RENAME TO person_activity_settled_pkey;
ALTER TABLE shared.person_activity_settled
    ADD COLUMN first_payment_at timestamptz,
    ADD COLUMN last_usage_at timestamptz;
COMMENT ON TABLE shared.person_activity_settled IS
    'Per person, product and UTC day, for the days before the current one (settled from '
    'shared.person_activity_recent by the first evaluation of each day). Read '
    'shared.person_activity_daily for every day.';

CREATE TABLE shared.person_activity_recent (
    person_id           uuid NOT NULL,
    product_id          text NOT NULL,
    day                 date NOT NULL,
    first_at            timestamptz NOT NULL,
    last_at             timestamptz NOT NULL,
    events              integer NOT NULL,
    usage               integer NOT NULL,
    pricing_views       integer NOT NULL,
    first_activation_at timestamptz,
    payments            integer NOT NULL,
    last_payment_at     timestamptz,
    plan                text,
    mrr                 numeric(14, 2),
    last_cancel_at      timestamptz,
    event_counts        jsonb NOT NULL,
    first_payment_at    timestamptz,
    last_usage_at       timestamptz,
    PRIMARY KEY (person_id, product_id, day)
);
-- The settling evaluation finds the days before the current one without reading the table.
CREATE INDEX person_activity_recent_day_idx ON shared.person_activity_recent (day);
COMMENT ON TABLE shared.person_activity_recent IS
    'Per person, product and UTC day: what evaluations folded in since the day''s rows were '
    'last settled into shared.person_activity_settled. Read shared.person_activity_daily.';
ALTER TABLE shared.person_activity_recent ENABLE ROW LEVEL SECURITY;

-- One row per person, product and day over both tables, made here so that the readers below
-- can be made again on it; the release that follows replaces it with db/functions'
-- definition (the same rows, read without grouping).
CREATE VIEW shared.person_activity_daily WITH (security_invoker = true) AS
    SELECT a.person_id, a.product_id, a.day, min(a.first_at) AS first_at,
           max(a.last_at) AS last_at, sum(a.events)::integer AS events,
           sum(a.usage)::integer AS usage, sum(a.pricing_views)::integer AS pricing_views,
           min(a.first_activation_at) AS first_activation_at,
           sum(a.payments)::integer AS payments, max(a.last_payment_at) AS last_payment_at,
           (array_agg(a.plan ORDER BY a.last_payment_at DESC NULLS LAST))[1] AS plan,
           ((array_agg(a.mrr ORDER BY a.last_payment_at DESC NULLS LAST))[1])::numeric(14, 2)
               AS mrr,
           max(a.last_cancel_at) AS last_cancel_at,
           shared._jsonb_sum_counts((array_agg(a.event_counts))[1],
                                    coalesce((array_agg(a.event_counts))[2], '{}'::jsonb))
               AS event_counts,
           min(a.first_payment_at) AS first_payment_at, max(a.last_usage_at) AS last_usage_at
    FROM (SELECT s.person_id, s.product_id, s.day, s.first_at, s.last_at, s.events, s.usage,
                 s.pricing_views, s.first_activation_at, s.payments, s.last_payment_at, s.plan,
                 s.mrr, s.last_cancel_at, s.event_counts, s.first_payment_at, s.last_usage_at
          FROM shared.person_activity_settled AS s
          UNION ALL
          SELECT r.person_id, r.product_id, r.day, r.first_at, r.last_at, r.events, r.usage,
                 r.pricing_views, r.first_activation_at, r.payments, r.last_payment_at, r.plan,
                 r.mrr, r.last_cancel_at, r.event_counts, r.first_payment_at, r.last_usage_at
          FROM shared.person_activity_recent AS r) AS a
    GROUP BY a.person_id, a.product_id, a.day;

DO $$
DECLARE
    v record;
BEGIN
    -- Oldest first, so that a view reading another is made after it.
    FOR v IN SELECT * FROM pg_temp._gdp_activity_reader ORDER BY view_oid LOOP
        -- With its options (security_invoker, security_barrier, check_option) as they were.
        EXECUTE format('CREATE OR REPLACE VIEW %s%s AS %s', v.name,
                       CASE WHEN v.options IS NOT NULL
                            THEN format(' WITH (%s)', array_to_string(v.options, ', ')) END,
                       v.definition);
    END LOOP;
END
$$;

-- The erasure trigger deletes a person's daily rows from the two tables: made here, not by the
-- release that follows, so that no erasure between the two deletes from the view.
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

-- migrate:down
