-- migrate:up

/**
 * The segment engine (GAP-002 segments): person features, the change log, evaluation runs and
 * membership history, the first-time trigger ledger, the change queue and the PRD's six segments.
 *
 *   - shared.feature_event_kind: which product events mean activation, payment, cancellation or
 *     a pricing-page view (rows; admins edit them);
 *   - shared.person_activity_daily: one row per person, product and UTC day, folded in from the
 *     events the statement-level trigger on shared.event logged (db/functions/70_segments.sql),
 *     so a 7- or 30-day window is a sum over a few rows, never a rescan of events;
 *   - shared.person_feature: one row per person, the features as of the last evaluation
 *     (windows included) and when they next change with no new event (next_change_at);
 *   - shared.segment_change_log: one row per statement that inserted events or changed people
 *     since the last evaluation (append-only; the evaluation drains it);
 *   - shared.segment_run, shared.segment_history: every evaluation, every join and leave;
 *   - shared.feature_trigger_fired: a first-time rule (e.g. "first feature used") fired once per
 *     person, enforced by the primary key;
 *   - pgmq queue segment_changes: membership changes (ids only) for any consumer.
 *
 * The six segment views are made here, not in db/functions/: they are data an admin edits
 * (CREATE OR REPLACE VIEW, or gdp segments edit), which a release must never put back.
 */

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'gdp_segment_worker') THEN
        CREATE ROLE gdp_segment_worker NOLOGIN;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND NOT pg_catalog.pg_has_role(current_user, 'gdp_segment_worker', 'MEMBER') THEN
        GRANT gdp_segment_worker TO CURRENT_USER;
    END IF;
END
$$;

/** Section - What product events mean for features */

CREATE TABLE shared.feature_event_kind (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL: every product. A product's own row wins over an every-product row.
    product_id  text REFERENCES shared.product (product_id) ON DELETE CASCADE,
    event_name  text NOT NULL
                CONSTRAINT feature_event_kind_event_name_length
                CHECK (length(event_name) BETWEEN 1 AND 100),
    kind        text NOT NULL
                CONSTRAINT feature_event_kind_kind_known
                CHECK (kind IN ('activation', 'payment', 'cancel', 'pricing_view', 'page_view')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX feature_event_kind_product_event_key
    ON shared.feature_event_kind (coalesce(product_id, '*'), event_name);
COMMENT ON TABLE shared.feature_event_kind IS
    'What a product event means for person features: activation, payment, cancel, '
    'pricing_view or page_view (page views are not usage); other events count as usage.';

INSERT INTO shared.feature_event_kind (product_id, event_name, kind) VALUES
    (NULL, 'FeatureUsed', 'activation'),
    (NULL, 'SubscriptionPurchased', 'payment'),
    (NULL, 'Upgrade', 'payment'),
    (NULL, 'SubscriptionCanceled', 'cancel'),
    (NULL, 'SubscriptionCancelled', 'cancel'),
    (NULL, 'PricingPageViewed', 'pricing_view'),
    (NULL, 'PricingViewed', 'pricing_view'),
    (NULL, 'PageView', 'page_view'),
    ('snapmix', 'SnapCreated', 'activation'),
    ('snapmix', 'ProUpgrade', 'payment'),
    ('softwarehub', 'CourseEnroll', 'activation'),
    ('softwarehub', 'Purchase', 'payment'),
    ('vellopad', 'BookPublished', 'activation'),
    ('velvethold', 'DateReserved', 'activation'),
    ('steadyletters', 'LetterSent', 'activation'),
    ('blogcanvas', 'PostPublished', 'activation'),
    ('gapradar', 'ReportGenerated', 'activation');

/** Section - Features */

-- No foreign key (a per-row check on every folded row): erasure deletes a person's rows
-- explicitly (db/functions/70_segments.sql, _person_segment_rows_erased).
CREATE TABLE shared.person_activity_daily (
    person_id           uuid NOT NULL,
    product_id          text NOT NULL,
    -- The UTC day of occurred_at.
    day                 date NOT NULL,
    first_at            timestamptz NOT NULL,
    last_at             timestamptz NOT NULL,
    events              integer NOT NULL,
    -- Events that are neither page views nor pricing-page views.
    usage               integer NOT NULL,
    pricing_views       integer NOT NULL,
    first_activation_at timestamptz,
    payments            integer NOT NULL,
    last_payment_at     timestamptz,
    -- From the day's latest payment: properties.plan and the monthly amount (properties.mrr,
    -- else plan_price, upgrade_price or value).
    plan                text,
    mrr                 numeric(14, 2),
    last_cancel_at      timestamptz,
    -- {event_name: count} for the day.
    event_counts        jsonb NOT NULL,
    PRIMARY KEY (person_id, product_id, day)
);
COMMENT ON TABLE shared.person_activity_daily IS
    'Per person, product and UTC day: event counts and the facts features need; folded in by '
    'each segment evaluation from the events logged by the statement-level trigger.';

CREATE TABLE shared.person_feature (
    person_id           uuid PRIMARY KEY REFERENCES shared.person (id) ON DELETE CASCADE,
    products            text[] NOT NULL DEFAULT '{}',
    first_seen_at       timestamptz,
    last_seen_at        timestamptz,
    -- Last event that counts as usage (not a page view).
    last_activity_at    timestamptz,
    events              bigint NOT NULL DEFAULT 0,
    activated_at        timestamptz,
    first_paid_at       timestamptz,
    last_paid_at        timestamptz,
    paid                boolean NOT NULL DEFAULT false,
    plan                text,
    mrr                 numeric(14, 2),
    -- A cancellation after the last payment, or 30 days without an event for someone seen.
    churned_at          timestamptz,
    pricing_views_7d    integer NOT NULL DEFAULT 0,
    pricing_views_30d   integer NOT NULL DEFAULT 0,
    usage_7d            integer NOT NULL DEFAULT 0,
    usage_30d           integer NOT NULL DEFAULT 0,
    lifecycle_stage     shared.lifecycle_stage NOT NULL DEFAULT 'lead',
    computed_at         timestamptz NOT NULL DEFAULT now(),
    -- When a window or a time mark (3, 7, 30 days) next changes a feature with no new event.
    next_change_at      timestamptz
);
CREATE INDEX person_feature_next_change_idx ON shared.person_feature (next_change_at);
COMMENT ON TABLE shared.person_feature IS
    'Features per person across products, as of the last segment evaluation (computed_at).';

-- One row per inserting statement (not per event): what the statement-level triggers on
-- shared.event and shared.person saw, for the next evaluation to fold into the features.
CREATE TABLE shared.segment_change_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Events with a person, inserted by one statement (the evaluation aggregates them by id).
    event_ids  bigint[],
    -- People inserted or changed by one statement.
    person_ids uuid[],
    logged_at  timestamptz NOT NULL DEFAULT now()
);
-- Everyone already here is evaluated by the first run (their features from events before this
-- migration come from shared.rebuild_person_activity()).
INSERT INTO shared.segment_change_log (person_ids)
SELECT array_agg(p.id) FROM shared.person AS p HAVING count(*) > 0;
COMMENT ON TABLE shared.segment_change_log IS
    'Events and people written since the last evaluation, one row per statement; drained by it.';

/** Section - Runs, history, the first-time ledger */

ALTER TABLE shared.segment ADD COLUMN last_evaluated_at timestamptz;
ALTER TABLE shared.segment ADD COLUMN last_error text;

CREATE TABLE shared.segment_run (
    run_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mode           text NOT NULL CONSTRAINT segment_run_mode_known
                   CHECK (mode IN ('full', 'incremental')),
    started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at    timestamptz,
    candidates     integer,
    features_ms    numeric(12, 1),
    joined         integer NOT NULL DEFAULT 0,
    "left"         integer NOT NULL DEFAULT 0,
    -- {segment_id: {members, joined, left, ms}} or {segment_id: {error}}.
    segments       jsonb NOT NULL DEFAULT '{}'::jsonb
);
COMMENT ON TABLE shared.segment_run IS 'One row per segment evaluation, with what it changed.';

CREATE TABLE shared.segment_history (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    segment_id text NOT NULL REFERENCES shared.segment (segment_id) ON DELETE CASCADE,
    person_id  uuid NOT NULL,
    change     text NOT NULL CONSTRAINT segment_history_change_known
               CHECK (change IN ('join', 'leave')),
    at         timestamptz NOT NULL DEFAULT now(),
    -- shared.segment_run.run_id; NULL: not by an evaluation. No foreign key: a per-row check
    -- on every join and leave of a run.
    run_id     bigint
);
CREATE INDEX segment_history_segment_idx ON shared.segment_history (segment_id, at);
CREATE INDEX segment_history_person_idx ON shared.segment_history (person_id);
COMMENT ON TABLE shared.segment_history IS
    'Every join and leave of every segment, with its time and the run that decided it.';

CREATE TABLE shared.feature_trigger_fired (
    rule_id    bigint NOT NULL REFERENCES shared.conversion_rule (rule_id) ON DELETE CASCADE,
    person_id  uuid NOT NULL REFERENCES shared.person (id) ON DELETE CASCADE,
    event_ref  bigint NOT NULL,
    fired_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, person_id)
);
CREATE INDEX feature_trigger_fired_person_idx ON shared.feature_trigger_fired (person_id);
COMMENT ON TABLE shared.feature_trigger_fired IS
    'First-time conversion rules (e.g. first feature used) that fired, once per person.';

ALTER TABLE shared.feature_event_kind ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.person_activity_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.person_feature ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.segment_change_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.segment_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.segment_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.feature_trigger_fired ENABLE ROW LEVEL SECURITY;

SELECT pgmq.create('segment_changes');

/** Section - The PRD's six segments (GAP-007 table) */

CREATE OR REPLACE VIEW segments.activated_not_paid_day3 AS
    SELECT f.person_id FROM shared.person_feature AS f
    WHERE f.activated_at IS NOT NULL AND NOT f.paid
      AND f.first_seen_at <= now() - interval '3 days';

CREATE OR REPLACE VIEW segments.high_intent_pricing_2plus AS
    SELECT f.person_id FROM shared.person_feature AS f
    WHERE f.pricing_views_7d >= 2 AND NOT f.paid;

CREATE OR REPLACE VIEW segments.paid_high_usage_7d AS
    SELECT f.person_id FROM shared.person_feature AS f
    WHERE f.paid AND f.usage_7d >= 10;

CREATE OR REPLACE VIEW segments.churned_30d AS
    SELECT f.person_id FROM shared.person_feature AS f
    WHERE f.churned_at > now() - interval '30 days';

CREATE OR REPLACE VIEW segments.all_leads AS
    SELECT f.person_id FROM shared.person_feature AS f;

CREATE OR REPLACE VIEW segments.all_customers AS
    SELECT f.person_id FROM shared.person_feature AS f
    WHERE f.paid OR f.lifecycle_stage = 'customer';

INSERT INTO shared.segment (segment_id, description, owner, audience_name) VALUES
    ('activated_not_paid_day3', 'Activated (a key feature used) but not paid 3 days after first '
     'seen', 'install', 'Activated Free Users'),
    ('high_intent_pricing_2plus', 'Viewed pricing 2+ times in the last 7 days and not paid',
     'install', 'High Intent Visitors'),
    ('paid_high_usage_7d', 'Paying and 10+ usage events in the last 7 days', 'install',
     'Power Users'),
    ('churned_30d', 'Churned (cancelled, or 30 days without an event) in the last 30 days',
     'install', 'Win-Back Targets'),
    ('all_leads', 'Every person', 'install', 'All Leads'),
    ('all_customers', 'Paying now, or lifecycle stage customer', 'install', 'All Customers')
ON CONFLICT (segment_id) DO NOTHING;

-- migrate:down
