-- migrate:up

/**
 * Ad performance and leads come back (GAP-004, and Lead Ads into the shared person table).
 *
 *   - shared.performance_daily: the PRD's table, one row per (ad, day) from Meta's Ads Insights,
 *     re-pulled over a rolling window because Meta restates recent days; every pull is a row of
 *     shared.insights_pull and every restated figure a row of shared.performance_restatement;
 *   - shared.performance_campaign_daily: the same numbers summed per (day, campaign), kept in
 *     step by the function that writes a pull, so a month of a large account reads fast;
 *   - shared.campaign_project: which project (product) a campaign advertises, filled from the
 *     campaign's name by convention and editable as rows;
 *   - shared.meta_lead and the pgmq queue meta_leads: Lead Ads notifications, deduplicated by
 *     leadgen_id, and what became of each lead (ids only: the answers go to shared.person);
 *   - shared.dashboard_key: credentials of dashboard users, stored as hashes.
 *
 * Functions live in db/functions/60_insights.sql and 65_leads.sql, grants and policies in
 * db/policies/60_insights.sql.
 */

/** Section - Roles of the processes that read and write these tables */

-- gdp_api (gdp serve: the Lead Ads webhook) and gdp_admin (the admin CLI: dashboard keys) belong
-- to the process roles made elsewhere; they are made here too, with the same guard, so the grants
-- of db/policies/60_insights.sql hold whichever migration runs first.
DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['gdp_insights_worker', 'gdp_lead_worker', 'gdp_dashboard',
                                  'gdp_api', 'gdp_admin'] LOOP
        -- Roles are cluster-wide: a second database on the same server finds them made.
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
        END IF;
        -- A migrating role that is not a superuser (Supabase's postgres has CREATEROLE only)
        -- needs membership to grant the role to the logins that run the processes.
        IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
           AND NOT pg_catalog.pg_has_role(current_user, v_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', v_role, current_user);
        END IF;
    END LOOP;
END
$$;

/** Section - Campaigns and projects */

CREATE TABLE shared.campaign_project (
    campaign_id   text PRIMARY KEY
                  CONSTRAINT campaign_project_campaign_id_format CHECK (campaign_id ~ '^[0-9]{1,30}$'),
    campaign_name text,
    -- NULL: not assigned to a project (shown as "unassigned").
    project_id    text REFERENCES shared.product (product_id),
    -- 'naming_convention' while the convention decides; an admin's name once set by hand, after
    -- which pulls never change it.
    assigned_by   text NOT NULL DEFAULT 'naming_convention',
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE shared.campaign_project IS
    'Which project (product) each Meta campaign advertises; set by naming convention, editable.';

/** Section - Ads Insights */

-- Which of Meta's action types count as a conversion, per family, best first: Meta reports one
-- purchase as omni_purchase, purchase and offsite_conversion.fb_pixel_purchase at once, so a
-- family counts only its best-ranked type present (summing them counts the purchase thrice).
CREATE TABLE shared.conversion_family (
    family          text PRIMARY KEY
                    CONSTRAINT conversion_family_format CHECK (family ~ '^[a-z][a-z0-9_]{1,39}$'),
    -- The Meta event GDP sends through the Conversions API for the same conversion.
    meta_event_name text NOT NULL UNIQUE,
    -- Whether its value (action_values) counts as revenue.
    counts_value    boolean NOT NULL DEFAULT false,
    enabled         boolean NOT NULL DEFAULT true
);

CREATE TABLE shared.insights_conversion_action (
    family      text NOT NULL REFERENCES shared.conversion_family (family) ON DELETE CASCADE,
    action_type text NOT NULL CONSTRAINT insights_conversion_action_type_length
                CHECK (length(action_type) BETWEEN 1 AND 100),
    rank        smallint NOT NULL,
    PRIMARY KEY (family, action_type),
    CONSTRAINT insights_conversion_action_rank_key UNIQUE (family, rank)
);

INSERT INTO shared.conversion_family (family, meta_event_name, counts_value) VALUES
    ('purchase', 'Purchase', true),
    ('lead', 'Lead', false),
    ('complete_registration', 'CompleteRegistration', false);

INSERT INTO shared.insights_conversion_action (family, action_type, rank) VALUES
    ('purchase', 'omni_purchase', 1),
    ('purchase', 'purchase', 2),
    ('purchase', 'offsite_conversion.fb_pixel_purchase', 3),
    ('purchase', 'onsite_conversion.purchase', 4),
    ('lead', 'lead', 1),
    ('lead', 'onsite_conversion.lead_grouped', 2),
    ('lead', 'offsite_conversion.fb_pixel_lead', 3),
    ('complete_registration', 'omni_complete_registration', 1),
    ('complete_registration', 'complete_registration', 2),
    ('complete_registration', 'offsite_conversion.fb_pixel_complete_registration', 3);

CREATE TABLE shared.insights_pull (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       text NOT NULL,
    date_from        date NOT NULL,
    date_to          date NOT NULL,
    -- sync: GET .../insights paged; async: report runs (POST, poll, read).
    mode             text NOT NULL CONSTRAINT insights_pull_mode_known CHECK (mode IN ('sync', 'async')),
    status           text NOT NULL DEFAULT 'running'
                     CONSTRAINT insights_pull_status_known
                     CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    rows_written     integer NOT NULL DEFAULT 0,
    rows_restated    integer NOT NULL DEFAULT 0,
    requests         integer NOT NULL DEFAULT 0,
    retries          integer NOT NULL DEFAULT 0,
    report_runs      integer NOT NULL DEFAULT 0,
    -- Ranges halved after Meta's data-per-call limit (100/1487534).
    splits           integer NOT NULL DEFAULT 0,
    throttle_wait_ms bigint NOT NULL DEFAULT 0,
    max_usage_pct    integer,
    error_code       integer,
    error_subcode    integer,
    error_message    text,
    CONSTRAINT insights_pull_range CHECK (date_from <= date_to)
);
CREATE INDEX insights_pull_succeeded_idx ON shared.insights_pull (finished_at DESC)
    WHERE status = 'succeeded';
COMMENT ON TABLE shared.insights_pull IS
    'Every insights pull: its range, rows, requests, retries, duration and error (freshness).';

CREATE TABLE shared.performance_daily (
    ad_id               text NOT NULL,
    date                date NOT NULL,
    account_id          text NOT NULL,
    campaign_id         text NOT NULL,
    campaign_name       text,
    adset_id            text,
    adset_name          text,
    ad_name             text,
    currency            text,
    spend               numeric(14, 2) NOT NULL DEFAULT 0,
    impressions         bigint NOT NULL DEFAULT 0,
    clicks              bigint NOT NULL DEFAULT 0,
    reach               bigint,
    -- Meta's actions and action_values as {action_type: number}.
    actions             jsonb NOT NULL DEFAULT '{}'::jsonb,
    action_values       jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- By shared.insights_conversion_action, computed when the row is written.
    conversions         numeric(14, 2) NOT NULL DEFAULT 0,
    conversion_value    numeric(14, 2) NOT NULL DEFAULT 0,
    -- The attribution contract the numbers were pulled under (e.g. {7d_click,1d_view}).
    attribution_windows text[] NOT NULL DEFAULT '{}',
    first_pulled_at     timestamptz NOT NULL DEFAULT now(),
    pulled_at           timestamptz NOT NULL DEFAULT now(),
    pull_id             bigint,
    -- How many pulls changed this day's spend, conversions or value after it was first seen.
    restatements        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (ad_id, date)
);
CREATE INDEX performance_daily_campaign_date_idx ON shared.performance_daily (campaign_id, date);
COMMENT ON TABLE shared.performance_daily IS
    'Meta Ads Insights per ad per day (the PRD''s table); upserted by (ad, day) on every pull.';

CREATE TABLE shared.performance_campaign_daily (
    date             date NOT NULL,
    campaign_id      text NOT NULL,
    spend            numeric(14, 2) NOT NULL,
    impressions      bigint NOT NULL,
    clicks           bigint NOT NULL,
    conversions      numeric(14, 2) NOT NULL,
    conversion_value numeric(14, 2) NOT NULL,
    ads              integer NOT NULL,
    PRIMARY KEY (date, campaign_id)
);
COMMENT ON TABLE shared.performance_campaign_daily IS
    'shared.performance_daily summed per day and campaign, written with it by every pull.';

CREATE TABLE shared.performance_restatement (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ad_id              text NOT NULL,
    date               date NOT NULL,
    pull_id            bigint,
    restated_at        timestamptz NOT NULL DEFAULT now(),
    spend_before       numeric(14, 2) NOT NULL,
    spend_after        numeric(14, 2) NOT NULL,
    conversions_before numeric(14, 2) NOT NULL,
    conversions_after  numeric(14, 2) NOT NULL,
    value_before       numeric(14, 2) NOT NULL,
    value_after        numeric(14, 2) NOT NULL
);
CREATE INDEX performance_restatement_day_idx ON shared.performance_restatement (date, ad_id);
COMMENT ON TABLE shared.performance_restatement IS
    'How a day''s figures moved between pulls (Meta restates recent days for up to 28 days).';

/** Section - Lead Ads */

CREATE TABLE shared.meta_lead (
    leadgen_id       text PRIMARY KEY
                     CONSTRAINT meta_lead_leadgen_id_format CHECK (leadgen_id ~ '^[0-9]{1,30}$'),
    page_id          text NOT NULL,
    form_id          text NOT NULL,
    ad_id            text,
    adset_id         text,
    campaign_id      text,
    -- Leads from organic reach or ad previews carry no ad.
    is_organic       boolean,
    created_time     timestamptz,
    received_at      timestamptz NOT NULL DEFAULT now(),
    -- Meta retries a notification for 36 hours until it is answered 2xx: each copy counts here.
    deliveries       integer NOT NULL DEFAULT 1,
    last_delivery_at timestamptz NOT NULL DEFAULT now(),
    status           text NOT NULL DEFAULT 'received'
                     CONSTRAINT meta_lead_status_known
                     CHECK (status IN ('received', 'synced', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    person_id        uuid REFERENCES shared.person (id) ON DELETE SET NULL,
    project_id       text,
    synced_at        timestamptz,
    -- The questions answered (names only; the answers live in shared.person).
    field_names      text[] NOT NULL DEFAULT '{}',
    error_code       integer,
    error_subcode    integer,
    error_message    text
);
CREATE INDEX meta_lead_form_idx ON shared.meta_lead (form_id, received_at);
CREATE INDEX meta_lead_person_idx ON shared.meta_lead (person_id);
COMMENT ON TABLE shared.meta_lead IS
    'Lead Ads notifications, one row per leadgen_id, and what became of each lead. Ids only.';

-- How a lead form's questions become person fields. form_id '*' holds for every form; a form's
-- own row wins. Questions without a row are kept in person.properties.lead_answers.
CREATE TABLE shared.lead_field_map (
    form_id      text NOT NULL DEFAULT '*'
                 CONSTRAINT lead_field_map_form_id_format CHECK (form_id ~ '^(\*|[0-9]{1,30})$'),
    meta_field   text NOT NULL
                 CONSTRAINT lead_field_map_meta_field_length CHECK (length(meta_field) BETWEEN 1 AND 200),
    person_field text NOT NULL
                 CONSTRAINT lead_field_map_person_field_known
                 CHECK (person_field IN ('email', 'phone', 'first_name', 'last_name', 'full_name',
                                         'city', 'state', 'zip', 'country', 'date_of_birth',
                                         'gender', 'ignore')),
    PRIMARY KEY (form_id, meta_field)
);

-- Meta's standard lead form questions (Lead Ads "prefill" fields).
INSERT INTO shared.lead_field_map (form_id, meta_field, person_field) VALUES
    ('*', 'email', 'email'),
    ('*', 'work_email', 'email'),
    ('*', 'phone_number', 'phone'),
    ('*', 'work_phone_number', 'phone'),
    ('*', 'full_name', 'full_name'),
    ('*', 'first_name', 'first_name'),
    ('*', 'last_name', 'last_name'),
    ('*', 'city', 'city'),
    ('*', 'state', 'state'),
    ('*', 'province', 'state'),
    ('*', 'zip_code', 'zip'),
    ('*', 'post_code', 'zip'),
    ('*', 'country', 'country'),
    ('*', 'date_of_birth', 'date_of_birth'),
    ('*', 'gender', 'gender');

SELECT pgmq.create('meta_leads');

/** Section - Dashboard users */

-- Shown once, stored only as SHA-256 (244 random bits: a fast hash is enough).
CREATE TABLE shared.dashboard_key (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key_prefix   text NOT NULL,
    key_sha256   text NOT NULL CONSTRAINT dashboard_key_sha256_hex CHECK (key_sha256 ~ '^[0-9a-f]{64}$'),
    label        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    revoked_at   timestamptz,
    revoked_by   text,
    last_used_at timestamptz,
    CONSTRAINT dashboard_key_sha256_key UNIQUE (key_sha256),
    CONSTRAINT dashboard_key_revocation_complete CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
COMMENT ON TABLE shared.dashboard_key IS
    'Keys of dashboard users (gdp dashboard keys create); read-only access to the insight views.';

/** Section - Settings and the flag */

INSERT INTO shared.setting_definition
    (setting_key, description, value_type, value_pattern, min_value, max_value, per_product)
VALUES
    ('META_INSIGHTS_REPULL_DAYS',
     'Days of insights re-pulled on every run (Meta restates recent days for up to 28)',
     'integer', NULL, 1, 90, false),
    ('META_INSIGHTS_ASYNC_MIN_DAYS',
     'Ranges of at least this many days are pulled with async report runs',
     'integer', NULL, 1, 1200, false),
    ('META_INSIGHTS_PULL_INTERVAL_SEC',
     'Seconds between insights pulls (Meta refreshes insights about every 15 minutes)',
     'integer', NULL, 60, 86400, false),
    ('META_INSIGHTS_ATTRIBUTION_WINDOWS',
     'action_attribution_windows requested and stored with every row, e.g. ["7d_click","1d_view"]',
     'array', NULL, NULL, NULL, false),
    ('LEAD_ADS_DEFAULT_PRODUCT',
     'Product a lead is attributed to when its campaign maps to no project',
     'text', '^[a-z][a-z0-9_]{1,39}$', NULL, NULL, false),
    ('LEAD_ADS_MAX_ATTEMPTS',
     'Fetch attempts for one lead before it is recorded as failed',
     'integer', NULL, 1, 100, false);

INSERT INTO shared.setting (setting_key, scope, value, updated_by) VALUES
    ('META_INSIGHTS_REPULL_DAYS', 'global', '28', 'install'),
    ('META_INSIGHTS_ASYNC_MIN_DAYS', 'global', '8', 'install'),
    ('META_INSIGHTS_PULL_INTERVAL_SEC', 'global', '900', 'install'),
    ('META_INSIGHTS_ATTRIBUTION_WINDOWS', 'global', '["7d_click", "1d_view"]', 'install'),
    ('LEAD_ADS_DEFAULT_PRODUCT', 'global', '"waitlistlab"', 'install'),
    ('LEAD_ADS_MAX_ATTEMPTS', 'global', '8', 'install');

-- Lead Ads write people (GAP-003's table) and send nothing to Meta, so they follow GAP-003 in
-- the enable order rather than waiting for the dashboard (GAP-004): see README, "Lead Ads".
INSERT INTO shared.feature_flag
    (flag_key, gap, enable_order, description, required_settings, required_secrets)
VALUES
    ('LEAD_ADS_SYNC_ENABLED', 'GAP-003', 1,
     'The Lead Ads webhook stores leadgen notifications and the lead worker syncs leads to people',
     '{LEAD_ADS_DEFAULT_PRODUCT}',
     '{META_APP_SECRET,META_WEBHOOK_VERIFY_TOKEN,META_CAPI_ACCESS_TOKEN}');

INSERT INTO shared.feature_flag_prerequisite (flag_key, requires_flag_key) VALUES
    ('LEAD_ADS_SYNC_ENABLED', 'SHARED_PERSON_TABLE_ENABLED');

INSERT INTO shared.feature_flag_checklist (flag_key, item_key)
SELECT 'LEAD_ADS_SYNC_ENABLED', c.item_key FROM shared.deploy_checklist_item AS c;

-- migrate:down
