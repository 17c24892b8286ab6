-- migrate:up

/**
 * The shared schema (PRD GAP-003 and the deployment gate).
 *
 * Tables only: the functions that write them live in db/functions/ and the policies and grants
 * in db/policies/, both re-applied on every deploy. Raw PII (email, phone, names, address, date
 * of birth) lives in shared.person and nowhere else; every other table holds ids and hashes.
 */

CREATE SCHEMA IF NOT EXISTS shared;
COMMENT ON SCHEMA shared IS
    'Growth Data Plane: people, events, delivery records and the deployment gate. Service role only.';

-- Functions must be granted one by one; nothing in this schema is callable by PUBLIC by default.
ALTER DEFAULT PRIVILEGES IN SCHEMA shared REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

/** Section - Types */

-- An enum, because its order is the lifecycle's order: GREATEST() advances a person, never back.
CREATE TYPE shared.lifecycle_stage AS ENUM ('lead', 'activated', 'customer', 'churned');
CREATE TYPE shared.consent_status AS ENUM ('unknown', 'granted', 'withdrawn');

/** Section - Products */

CREATE TABLE shared.product (
    product_id   text PRIMARY KEY
                 CONSTRAINT product_id_format CHECK (product_id ~ '^[a-z][a-z0-9_]{1,39}$'),
    display_name text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE shared.product IS 'Every product that writes people and events (the PRD''s list).';

INSERT INTO shared.product (product_id, display_name) VALUES
    ('waitlistlab',   'WaitlistLab'),
    ('snapmix',       'SnapMix'),
    ('softwarehub',   'SoftwareHub'),
    ('velvethold',    'VelvetHold'),
    ('steadyletters', 'SteadyLetters'),
    ('blogcanvas',    'BlogCanvas'),
    ('vellopad',      'VelloPad'),
    ('gapradar',      'GapRadar');

/** Section - People */

CREATE TABLE shared.person (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),

    -- Identity. Stored normalized so that case and whitespace variants are one person.
    email              text NOT NULL,
    phone              text,
    first_name         text,
    last_name          text,
    -- Further match keys Meta accepts (ct, st, zp, country, db, ge); optional.
    city               text,
    state              text,
    zip                text,
    country            text,
    date_of_birth      date,
    gender             text,

    -- First-touch attribution: written once, never overwritten by later touches.
    utm_source         text,
    utm_medium         text,
    utm_campaign       text,
    utm_content        text,
    utm_term           text,
    meta_fbp           text,
    meta_fbc           text,
    meta_lead_form_id  text,
    source_product     text REFERENCES shared.product (product_id),

    lifecycle_stage    shared.lifecycle_stage NOT NULL DEFAULT 'lead',
    consent_status     shared.consent_status NOT NULL DEFAULT 'unknown',
    consent_changed_at timestamptz,

    properties         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT person_email_key UNIQUE (email),
    CONSTRAINT person_email_normalized
        CHECK (email = lower(btrim(email)) AND email ~ '^[^@\s]+@[^@\s]+\.[^@\s.]+$'),
    CONSTRAINT person_phone_e164 CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    CONSTRAINT person_country_alpha2 CHECK (country ~ '^[A-Z]{2}$'),
    CONSTRAINT person_gender_code CHECK (gender IN ('f', 'm')),
    CONSTRAINT person_properties_object CHECK (jsonb_typeof(properties) = 'object')
);
COMMENT ON TABLE shared.person IS
    'One row per human across all products; the only table that holds raw PII.';

CREATE TABLE shared.identity_link (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    person_id   uuid NOT NULL REFERENCES shared.person (id) ON DELETE CASCADE,
    -- 'supabase_auth', 'stripe', 'posthog', 'meta', 'resend', or a product's own user ids.
    provider    text NOT NULL
                CONSTRAINT identity_link_provider_format CHECK (provider ~ '^[a-z][a-z0-9_]{1,39}$'),
    external_id text NOT NULL
                CONSTRAINT identity_link_external_id_length
                CHECK (length(external_id) BETWEEN 1 AND 255),
    metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identity_link_provider_external_id_key UNIQUE (provider, external_id)
);
CREATE INDEX identity_link_person_id_idx ON shared.identity_link (person_id);

-- Proof of what a person agreed to and when: kept with the person, erased with the person.
CREATE TABLE shared.consent_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   uuid NOT NULL REFERENCES shared.person (id) ON DELETE CASCADE,
    status      shared.consent_status NOT NULL,
    source      text NOT NULL,
    changed_at  timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_log_person_id_idx ON shared.consent_log (person_id, changed_at);

-- What remains of an erased person: hashes in Meta's match-key format, so audience syncs can
-- still remove them from Meta, and nothing that identifies them in the clear.
CREATE TABLE shared.erasure (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id            uuid NOT NULL,
    email_sha256         text NOT NULL CONSTRAINT erasure_email_sha256_hex
                         CHECK (email_sha256 ~ '^[0-9a-f]{64}$'),
    phone_sha256         text CONSTRAINT erasure_phone_sha256_hex
                         CHECK (phone_sha256 ~ '^[0-9a-f]{64}$'),
    requested_by         text NOT NULL,
    reason               text,
    erased_at            timestamptz NOT NULL DEFAULT now(),
    audiences_cleared_at timestamptz
);
CREATE INDEX erasure_pending_audiences_idx ON shared.erasure (erased_at)
    WHERE audiences_cleared_at IS NULL;

/** Section - Events */

-- The unified events table every product writes. Idempotent per (product_id, event_id): a resend
-- is a no-op. See db/README.md, "Partitioning shared.event", for how that survives partitioning.
CREATE TABLE shared.event (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id        text NOT NULL REFERENCES shared.product (product_id),
    event_id          text NOT NULL
                      CONSTRAINT event_event_id_length CHECK (length(event_id) BETWEEN 1 AND 200),
    event_name        text NOT NULL
                      CONSTRAINT event_event_name_format
                      CHECK (event_name ~ '^[A-Za-z][A-Za-z0-9_ .:-]{0,99}$'),
    person_id         uuid REFERENCES shared.person (id) ON DELETE CASCADE,
    occurred_at       timestamptz NOT NULL DEFAULT now(),
    received_at       timestamptz NOT NULL DEFAULT now(),
    source            text NOT NULL DEFAULT 'server'
                      CONSTRAINT event_source_known
                      CHECK (source IN ('server', 'client', 'relay', 'sql', 'lead_form',
                                        'import', 'segment_engine')),
    properties        jsonb NOT NULL DEFAULT '{}'::jsonb
                      CONSTRAINT event_properties_object CHECK (jsonb_typeof(properties) = 'object'),
    -- Browser signals Meta matches on, sent unhashed as Meta requires; no email/phone/name here.
    action_source     text NOT NULL DEFAULT 'website'
                      CONSTRAINT event_action_source_known
                      CHECK (action_source IN ('email', 'website', 'app', 'phone_call', 'chat',
                                               'physical_store', 'system_generated',
                                               'business_messaging', 'other')),
    event_source_url  text,
    client_ip_address inet,
    client_user_agent text,
    fbp               text,
    fbc               text,
    CONSTRAINT event_product_id_event_id_key UNIQUE (product_id, event_id)
);
CREATE INDEX event_person_id_idx ON shared.event (person_id, occurred_at);
CREATE INDEX event_received_at_brin ON shared.event USING brin (received_at);

-- One row per delivery outcome to Meta. Ids and hashes only: no raw PII ever lands here.
CREATE TABLE shared.attribution_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- shared.event.id; no foreign key, so the delivery record outlives erasure and partition drops.
    event_ref       bigint,
    product_id      text NOT NULL,
    event_id        text NOT NULL,
    meta_event_name text NOT NULL,
    person_id       uuid REFERENCES shared.person (id) ON DELETE SET NULL,
    pixel_id        text,
    status          text NOT NULL
                    CONSTRAINT attribution_events_status_known
                    CHECK (status IN ('queued', 'sent', 'retrying', 'rejected', 'expired',
                                      'blocked_consent', 'held_auth', 'dead_lettered',
                                      'replayed')),
    attempt         integer NOT NULL DEFAULT 1,
    batch_size      integer,
    -- Which user_data keys were sent (em, ph, fbc, ...): match-key coverage without the values.
    match_keys      text[] NOT NULL DEFAULT '{}',
    events_received integer,
    test_event_code text,
    meta_fbtrace_id text,
    error_code      integer,
    error_subcode   integer,
    error_message   text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attribution_events_event_idx ON shared.attribution_events (product_id, event_id);
CREATE INDEX attribution_events_person_id_idx ON shared.attribution_events (person_id);
CREATE INDEX attribution_events_status_idx ON shared.attribution_events (status, created_at);

/** Section - Deployment gate: flags, settings, checklist, audit */

CREATE TABLE shared.feature_flag (
    flag_key          text PRIMARY KEY
                      CONSTRAINT feature_flag_key_format CHECK (flag_key ~ '^[A-Z][A-Z0-9_]+$'),
    gap               text NOT NULL CONSTRAINT feature_flag_gap_format CHECK (gap ~ '^GAP-00[1-7]$'),
    -- Position of the flag's gap in the PRD's per-feature enable order (1 = first).
    enable_order      smallint NOT NULL,
    description       text NOT NULL,
    enabled           boolean NOT NULL DEFAULT false,
    -- Non-secret settings (rows of shared.setting) that must be present before enabling.
    required_settings text[] NOT NULL DEFAULT '{}',
    -- Secrets that must be configured in the environment (names only; values never stored).
    required_secrets  text[] NOT NULL DEFAULT '{}',
    changed_at        timestamptz,
    changed_by        text
);

CREATE TABLE shared.feature_flag_prerequisite (
    flag_key          text NOT NULL REFERENCES shared.feature_flag (flag_key) ON DELETE CASCADE,
    requires_flag_key text NOT NULL REFERENCES shared.feature_flag (flag_key) ON DELETE CASCADE,
    PRIMARY KEY (flag_key, requires_flag_key),
    CONSTRAINT feature_flag_prerequisite_not_self CHECK (flag_key <> requires_flag_key)
);

CREATE TABLE shared.deploy_checklist_item (
    item_key        text PRIMARY KEY
                    CONSTRAINT deploy_checklist_item_key_format CHECK (item_key ~ '^[a-z][a-z0-9_]+$'),
    position        smallint NOT NULL UNIQUE,
    title           text NOT NULL,
    acknowledged_by text,
    acknowledged_at timestamptz,
    note            text,
    CONSTRAINT deploy_checklist_item_ack_complete
        CHECK ((acknowledged_by IS NULL) = (acknowledged_at IS NULL))
);

-- Which checklist items each flag needs. The PRD says all of them before any feature; admins may
-- relax that with SQL, and the gate follows the rows.
CREATE TABLE shared.feature_flag_checklist (
    flag_key text NOT NULL REFERENCES shared.feature_flag (flag_key) ON DELETE CASCADE,
    item_key text NOT NULL REFERENCES shared.deploy_checklist_item (item_key) ON DELETE CASCADE,
    PRIMARY KEY (flag_key, item_key)
);

CREATE TABLE shared.setting_definition (
    setting_key   text PRIMARY KEY
                  CONSTRAINT setting_definition_key_format CHECK (setting_key ~ '^[A-Z][A-Z0-9_]+$'),
    description   text NOT NULL,
    value_type    text NOT NULL
                  CONSTRAINT setting_definition_value_type_known
                  CHECK (value_type IN ('text', 'integer', 'boolean', 'object')),
    -- A regular expression a text value must match (e.g. digits for a pixel id).
    value_pattern text,
    min_value     bigint,
    max_value     bigint,
    -- Whether a product may override the global value (e.g. its own pixel).
    per_product   boolean NOT NULL DEFAULT false
);

CREATE TABLE shared.setting (
    setting_key text NOT NULL REFERENCES shared.setting_definition (setting_key),
    -- 'global', or the product_id whose override this is.
    scope       text NOT NULL DEFAULT 'global',
    value       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL,
    PRIMARY KEY (setting_key, scope)
);

CREATE TABLE shared.gate_audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_kind text NOT NULL
                 CONSTRAINT gate_audit_subject_kind_known
                 CHECK (subject_kind IN ('flag', 'checklist', 'setting')),
    subject_key  text NOT NULL,
    scope        text NOT NULL DEFAULT 'global',
    actor        text NOT NULL,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    from_value   jsonb,
    to_value     jsonb,
    note         text
);
CREATE INDEX gate_audit_subject_idx ON shared.gate_audit (subject_kind, subject_key, changed_at);

/** Section - Service keys */

-- One product per key; the key itself is shown once and stored only as its SHA-256.
CREATE TABLE shared.service_key (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id  text NOT NULL REFERENCES shared.product (product_id),
    key_prefix  text NOT NULL,
    key_sha256  text NOT NULL CONSTRAINT service_key_sha256_hex CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text,
    last_used_at timestamptz,
    CONSTRAINT service_key_sha256_key UNIQUE (key_sha256),
    CONSTRAINT service_key_revocation_complete CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX service_key_product_id_idx ON shared.service_key (product_id);

-- migrate:down
