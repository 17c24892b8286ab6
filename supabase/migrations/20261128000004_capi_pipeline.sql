-- migrate:up

/**
 * The conversion path to Meta (GAP-001, GAP-006, GAP-002 triggers): what an event carries for
 * sending, the rules that turn product events into Meta events, the queue, dead letters and
 * the per-pixel circuit breaker.
 */

-- The Meta event to send, when the caller named one (ingest endpoint, relay, track-conversion);
-- otherwise the rules below decide. meta_user_data holds Meta-ready keys that do not come from
-- the person: SHA-256 hashes and unhashed ids (lead_id, external_id hash...), never raw PII.
ALTER TABLE shared.event
    ADD COLUMN meta_event_name text
        CONSTRAINT event_meta_event_name_format
        CHECK (meta_event_name ~ '^[A-Za-z][A-Za-z0-9_]{0,49}$'),
    ADD COLUMN meta_user_data jsonb NOT NULL DEFAULT '{}'::jsonb
        CONSTRAINT event_meta_user_data_object CHECK (jsonb_typeof(meta_user_data) = 'object');

-- Server-side events often have no browser (no user agent, no page): Meta rejects those as
-- 'website'. NULL lets the worker choose: website with browser context, system_generated without.
ALTER TABLE shared.event ALTER COLUMN action_source DROP NOT NULL;
ALTER TABLE shared.event ALTER COLUMN action_source DROP DEFAULT;

/** Section - Rules: product event -> Meta event (the PRD's GAP-002 trigger table, editable) */

CREATE TABLE shared.conversion_rule (
    rule_id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL: any product. A product's own rule wins over an any-product rule for the same event.
    product_id            text REFERENCES shared.product (product_id),
    event_name            text NOT NULL,
    meta_event_name       text NOT NULL
                          CONSTRAINT conversion_rule_meta_event_name_format
                          CHECK (meta_event_name ~ '^[A-Za-z][A-Za-z0-9_]{0,49}$'),
    -- The property of shared.event.properties that carries the value (e.g. plan_price).
    value_property        text,
    currency_property     text NOT NULL DEFAULT 'currency',
    default_currency      text CONSTRAINT conversion_rule_currency_iso CHECK (default_currency ~ '^[A-Z]{3}$'),
    -- Fire only for the person's first such event (e.g. first feature used).
    first_time_per_person boolean NOT NULL DEFAULT false,
    enabled               boolean NOT NULL DEFAULT true,
    description           text,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX conversion_rule_product_event_key
    ON shared.conversion_rule (coalesce(product_id, '*'), event_name);

INSERT INTO shared.conversion_rule
    (product_id, event_name, meta_event_name, value_property, default_currency,
     first_time_per_person, description)
VALUES
    (NULL, 'Signup', 'Lead', NULL, NULL, false, 'Account created'),
    (NULL, 'TrialStarted', 'StartTrial', NULL, NULL, false, 'Free trial started'),
    (NULL, 'SubscriptionPurchased', 'Purchase', 'plan_price', 'USD', false, 'Subscription purchased'),
    (NULL, 'FeatureUsed', 'CompleteRegistration', NULL, NULL, true, 'First feature used'),
    (NULL, 'Upgrade', 'Purchase', 'upgrade_price', 'USD', false, 'Upgrade'),
    ('snapmix', 'ProUpgrade', 'Purchase', 'upgrade_price', 'USD', false, 'SnapMix Pro upgrade'),
    ('snapmix', 'SnapCreated', 'SnapCreated', NULL, NULL, false, 'Snap created (custom event)'),
    ('softwarehub', 'CourseEnroll', 'Subscribe', NULL, NULL, false, 'Course enrolled'),
    ('softwarehub', 'Purchase', 'Purchase', 'value', 'USD', false, 'SoftwareHub purchase'),
    ('vellopad', 'BookPublished', 'BookPublished', NULL, NULL, false, 'Book published (custom event)'),
    ('velvethold', 'DateReserved', 'Schedule', NULL, NULL, false, 'Date reserved'),
    ('steadyletters', 'LetterSent', 'Purchase', 'letter_cost', 'USD', false, 'Letter sent'),
    ('blogcanvas', 'PostPublished', 'PostPublished', NULL, NULL, false, 'Post published (custom event)'),
    ('gapradar', 'ReportGenerated', 'ReportGenerated', NULL, NULL, false, 'Report generated (custom event)');

/** Section - Delivery bookkeeping */

CREATE TABLE shared.capi_dead_letter (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_ref        bigint NOT NULL,
    product_id       text NOT NULL,
    event_id         text NOT NULL,
    meta_event_name  text NOT NULL,
    pixel_id         text,
    reason           text NOT NULL
                     CONSTRAINT capi_dead_letter_reason_known
                     CHECK (reason IN ('expired', 'rejected', 'invalid', 'no_pixel')),
    error_code       integer,
    error_subcode    integer,
    error_message    text,
    attempts         integer NOT NULL DEFAULT 1,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    replayed_at      timestamptz,
    replayed_by      text
);
CREATE INDEX capi_dead_letter_pending_idx ON shared.capi_dead_letter (dead_lettered_at)
    WHERE replayed_at IS NULL;
CREATE INDEX capi_dead_letter_event_idx ON shared.capi_dead_letter (product_id, event_id);

-- Auth failures (190, 102, 10, 200-299) open a pixel's breaker: sending stops until a probe
-- succeeds. Kept in the database so every worker, the metrics and the admin see the same state.
CREATE TABLE shared.capi_pixel_state (
    pixel_id           text PRIMARY KEY,
    breaker            text NOT NULL DEFAULT 'closed'
                       CONSTRAINT capi_pixel_state_breaker_known CHECK (breaker IN ('closed', 'open')),
    opened_at          timestamptz,
    last_probe_at      timestamptz,
    last_error_code    integer,
    last_error_message text,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

/** Section - Settings used by the worker */

ALTER TABLE shared.setting_definition DROP CONSTRAINT setting_definition_value_type_known;
ALTER TABLE shared.setting_definition ADD CONSTRAINT setting_definition_value_type_known
    CHECK (value_type IN ('text', 'integer', 'boolean', 'object', 'array'));

INSERT INTO shared.setting_definition
    (setting_key, description, value_type, value_pattern, min_value, max_value, per_product)
VALUES
    ('META_LDU_US_STATES',
     'US states (two-letter codes) whose residents get Limited Data Use, e.g. ["CA","CO"]',
     'array', NULL, NULL, NULL, false),
    ('META_CAPI_PARTNER_AGENT', 'partner_agent sent with every Conversions API request',
     'text', '^[A-Za-z0-9_.\-]{1,64}$', NULL, NULL, false);

-- pgmq.create is idempotent, and so is the index: the pgmq schema and its queues outlive a
-- remote `supabase db reset` (the CLI keeps the pgmq schema), which then runs this again.
SELECT pgmq.create('meta_capi');
-- Lets the status endpoint find an event's pending message without scanning the queue.
CREATE INDEX IF NOT EXISTS q_meta_capi_event_idx ON pgmq.q_meta_capi (((message ->> 'event')::bigint));

-- migrate:down
