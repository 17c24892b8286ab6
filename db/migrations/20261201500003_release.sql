-- migrate:up
-- gdp:release sources=sha256:22c502b8dfd91f605128706c007d3e5255cd17fa7769d2e780efedb1e8241dfe

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._lead_as_person(p_lead jsonb, p_row shared.meta_lead)
 RETURNS TABLE(person jsonb, project_id text, campaign_id text, created_time timestamp with time zone, problem text)
 LANGUAGE plpgsql
 STABLE
AS $function$
DECLARE
    v_id text := p_lead ->> 'id';
    v_form text := coalesce(p_lead ->> 'form_id', p_row.form_id);
    v_ad text := coalesce(p_lead ->> 'ad_id', p_row.ad_id);
    v_fields jsonb;
    v_campaign_id text;
    v_campaign_name text;
    v_project text;
    v_email text;
    v_full text;
    v_created timestamptz;
BEGIN
    v_campaign_id := coalesce(p_lead ->> 'campaign_id', p_row.campaign_id,
                              (SELECT d.campaign_id FROM shared.performance_daily AS d
                               WHERE d.ad_id = v_ad ORDER BY d.date DESC LIMIT 1));
    SELECT c.campaign_name, c.project_id INTO v_campaign_name, v_project
    FROM shared.campaign_project AS c WHERE c.campaign_id = v_campaign_id;
    v_campaign_name := coalesce(p_lead ->> 'campaign_name', v_campaign_name);
    v_project := coalesce(v_project, shared._project_for_campaign_name(v_campaign_name),
                          shared.setting_value('LEAD_ADS_DEFAULT_PRODUCT') #>> '{}', 'waitlistlab');
    v_created := CASE WHEN (p_lead ->> 'created_time') ~ '^\d{4}-\d{2}-\d{2}T'
                      THEN (p_lead ->> 'created_time')::timestamptz
                      ELSE p_row.created_time END;

    v_fields := shared._lead_person_fields(v_form, p_lead -> 'field_data');
    v_email := shared._normalize_email(v_fields ->> 'email');
    IF v_email IS NULL OR NOT shared._is_valid_email(v_email) THEN
        RETURN QUERY SELECT NULL::jsonb, v_project, v_campaign_id, v_created,
                            'the lead has no usable email (a person needs one)'::text;
        RETURN;
    END IF;
    v_full := shared._trim(v_fields ->> 'full_name');
    RETURN QUERY SELECT jsonb_strip_nulls(jsonb_build_object(
        'email', v_email,
        'phone', shared._normalize_phone(v_fields ->> 'phone'),
        'first_name', coalesce(v_fields ->> 'first_name', nullif(split_part(v_full, ' ', 1), '')),
        'last_name', coalesce(v_fields ->> 'last_name',
                              nullif(shared._trim(substr(v_full, length(split_part(v_full, ' ', 1)) + 1)), '')),
        'city', v_fields ->> 'city',
        'state', v_fields ->> 'state',
        'zip', v_fields ->> 'zip',
        'country', CASE WHEN upper(v_fields ->> 'country') ~ '^[A-Z]{2}$'
                        THEN upper(v_fields ->> 'country') END,
        'gender', shared._normalize_gender(v_fields ->> 'gender'),
        'date_of_birth', shared._lead_date(v_fields ->> 'date_of_birth')::text,
        'utm_source', 'meta',
        'utm_medium', CASE WHEN (p_lead ->> 'is_organic') = 'true' OR v_ad IS NULL
                           THEN 'organic' ELSE 'paid' END,
        'utm_campaign', v_campaign_name,
        'meta_lead_form_id', v_form,
        'source_product', v_project,
        'lifecycle_stage', 'lead',
        'properties', CASE WHEN v_fields -> 'lead_answers' <> '{}'::jsonb
                           THEN jsonb_build_object('lead_answers', v_fields -> 'lead_answers') END,
        'identities', jsonb_build_array(jsonb_build_object(
            'provider', 'meta_lead',
            'external_id', v_id,
            'metadata', jsonb_strip_nulls(jsonb_build_object(
                'form_id', v_form, 'ad_id', v_ad, 'campaign_id', v_campaign_id,
                'page_id', p_row.page_id)))))),
        v_project, v_campaign_id, v_created, NULL::text;
END
$function$;

CREATE OR REPLACE FUNCTION shared._lead_date(p_value text)
 RETURNS date
 LANGUAGE plpgsql
 IMMUTABLE
AS $function$
BEGIN
    IF p_value ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN p_value::date;
    ELSIF p_value ~ '^\d{1,2}/\d{1,2}/\d{4}$' THEN
        RETURN to_date(p_value, 'MM/DD/YYYY');
    END IF;
    RETURN NULL;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$function$;

CREATE OR REPLACE FUNCTION shared._lead_person_fields(p_form_id text, p_field_data jsonb)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
    WITH answers AS (
        SELECT f.value ->> 'name' AS name,
               (SELECT string_agg(v, ', ') FROM jsonb_array_elements_text(
                    CASE WHEN jsonb_typeof(f.value -> 'values') = 'array'
                         THEN f.value -> 'values' ELSE '[]'::jsonb END) AS v) AS all_values,
               CASE WHEN jsonb_typeof(f.value -> 'values') = 'array'
                    THEN nullif(shared._trim(f.value -> 'values' ->> 0), '') END AS first_value
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_field_data) = 'array'
                                       THEN p_field_data ELSE '[]'::jsonb END) AS f
        WHERE jsonb_typeof(f.value) = 'object' AND f.value ->> 'name' IS NOT NULL
    ), mapped AS (
        SELECT a.name, a.all_values, a.first_value,
               (SELECT m.person_field FROM shared.lead_field_map AS m
                WHERE m.meta_field = lower(a.name) AND m.form_id IN (p_form_id, '*')
                ORDER BY (m.form_id = '*') LIMIT 1) AS person_field
        FROM answers AS a
    )
    SELECT coalesce((SELECT jsonb_object_agg(x.person_field, x.first_value)
                     FROM (SELECT DISTINCT ON (m.person_field) m.person_field, m.first_value
                           FROM mapped AS m
                           WHERE m.person_field IS NOT NULL AND m.person_field <> 'ignore'
                             AND m.first_value IS NOT NULL
                           ORDER BY m.person_field, m.name) AS x), '{}'::jsonb)
           || jsonb_build_object('lead_answers',
                  coalesce((SELECT jsonb_object_agg(m.name, m.all_values) FROM mapped AS m
                            WHERE m.person_field IS NULL AND m.all_values IS NOT NULL),
                           '{}'::jsonb))
$function$;

CREATE OR REPLACE FUNCTION shared._meta_action_map(p_list jsonb)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT coalesce(jsonb_object_agg(s.action_type, s.value), '{}'::jsonb)
    FROM (
        SELECT e ->> 'action_type' AS action_type, sum((e ->> 'value')::numeric) AS value
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(p_list) = 'array'
                                       THEN p_list ELSE '[]'::jsonb END) AS e
        WHERE e ->> 'action_type' IS NOT NULL AND (e ->> 'value') ~ '^-?[0-9]+(\.[0-9]+)?$'
        GROUP BY 1
    ) AS s
$function$;

CREATE OR REPLACE FUNCTION shared._project_for_campaign_name(p_campaign_name text)
 RETURNS text
 LANGUAGE sql
 STABLE
AS $function$
    SELECT p.product_id
    FROM shared.product AS p
    CROSS JOIN LATERAL (
        SELECT min(pos) AS pos
        FROM unnest(ARRAY[p.product_id, lower(replace(p.display_name, ' ', ''))]) AS name(token)
        CROSS JOIN LATERAL (
            SELECT m.pos
            FROM (SELECT position(name.token IN lower(coalesce(p_campaign_name, ''))) AS pos) AS m
            WHERE m.pos > 0
              AND lower(p_campaign_name) ~ ('(^|[^a-z0-9])' || name.token || '([^a-z0-9]|$)')
        ) AS hit
    ) AS found
    WHERE found.pos IS NOT NULL
    ORDER BY found.pos, p.product_id
    LIMIT 1
$function$;

CREATE OR REPLACE FUNCTION shared._ratio(p_numerator numeric, p_denominator numeric, p_scale integer DEFAULT 2)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT CASE WHEN p_denominator > 0 THEN round(p_numerator / p_denominator, p_scale) END $function$;

CREATE OR REPLACE FUNCTION shared.authenticate_dashboard_key(p_dashboard_key text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_row shared.dashboard_key;
BEGIN
    IF p_dashboard_key IS NULL OR length(p_dashboard_key) > 200 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_row FROM shared.dashboard_key
    WHERE key_sha256 = shared._sha256_hex(p_dashboard_key) AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_row.last_used_at IS NULL OR v_row.last_used_at < now() - interval '1 minute' THEN
        UPDATE shared.dashboard_key SET last_used_at = now() WHERE id = v_row.id;
    END IF;
    RETURN v_row.label;
END
$function$;

CREATE OR REPLACE FUNCTION shared.create_dashboard_key(p_label text, p_actor text)
 RETURNS TABLE(key_id uuid, dashboard_key text, key_prefix text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_key text;
    v_id uuid;
BEGIN
    IF length(shared._trim(coalesce(p_label, ''))) NOT BETWEEN 1 AND 200 THEN
        PERFORM shared._raise('GD400', 'label', 'must name who or what the key is for (1-200 characters)');
    END IF;
    v_key := 'gdp_dk_' || replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    INSERT INTO shared.dashboard_key (key_prefix, key_sha256, label, created_by)
    VALUES (left(v_key, 15), shared._sha256_hex(v_key), shared._trim(p_label), v_actor)
    RETURNING id INTO v_id;
    RETURN QUERY SELECT v_id, v_key, left(v_key, 15);
END
$function$;

CREATE OR REPLACE FUNCTION shared.insights_begin_pull(p_account_id text, p_date_from date, p_date_to date, p_mode text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_id bigint;
BEGIN
    IF coalesce(p_account_id, '') !~ '^act_[0-9]{1,30}$' THEN
        PERFORM shared._raise('GD400', 'account_id', 'must look like act_<digits>');
    END IF;
    IF p_date_from IS NULL OR p_date_to IS NULL OR p_date_from > p_date_to THEN
        PERFORM shared._raise('GD400', 'date_from', 'must be a date on or before date_to');
    END IF;
    IF p_mode IS NULL OR p_mode NOT IN ('sync', 'async') THEN
        PERFORM shared._raise('GD400', 'mode', 'must be sync or async');
    END IF;
    -- A worker that died mid-pull leaves its row running; an hour on, it is not coming back.
    UPDATE shared.insights_pull
    SET status = 'failed', finished_at = now(), error_message = 'abandoned (worker stopped)'
    WHERE status = 'running' AND started_at < now() - interval '1 hour';
    INSERT INTO shared.insights_pull (account_id, date_from, date_to, mode)
    VALUES (p_account_id, p_date_from, p_date_to, p_mode)
    RETURNING id INTO v_id;
    RETURN v_id;
END
$function$;

CREATE OR REPLACE FUNCTION shared.insights_cache_state()
 RETURNS TABLE(ttl_s integer, last_pull_id bigint, enabled boolean)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT coalesce((shared.setting_value('META_INSIGHTS_CACHE_TTL_SEC') #>> '{}')::integer, 900),
           (SELECT p.id FROM shared.insights_pull AS p
            WHERE p.status = 'succeeded' ORDER BY p.finished_at DESC LIMIT 1),
           shared.is_enabled('ACD_META_INSIGHTS_ENABLED')
$function$;

CREATE OR REPLACE FUNCTION shared.insights_finish_pull(p_pull_id bigint, p_status text, p_stats jsonb)
 RETURNS shared.insights_pull
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_row shared.insights_pull;
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('succeeded', 'failed') THEN
        PERFORM shared._raise('GD400', 'status', 'must be succeeded or failed');
    END IF;
    UPDATE shared.insights_pull AS p SET
        status = p_status,
        finished_at = now(),
        requests = coalesce((p_stats ->> 'requests')::integer, p.requests),
        retries = coalesce((p_stats ->> 'retries')::integer, p.retries),
        report_runs = coalesce((p_stats ->> 'report_runs')::integer, p.report_runs),
        splits = coalesce((p_stats ->> 'splits')::integer, p.splits),
        throttle_wait_ms = coalesce((p_stats ->> 'throttle_wait_ms')::bigint, p.throttle_wait_ms),
        max_usage_pct = (p_stats ->> 'max_usage_pct')::integer,
        error_code = (p_stats ->> 'error_code')::integer,
        error_subcode = (p_stats ->> 'error_subcode')::integer,
        error_message = left(p_stats ->> 'error_message', 1000)
    WHERE p.id = p_pull_id AND p.status = 'running'
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'pull_id', format('no running insights pull %s', p_pull_id));
    END IF;
    IF p_status = 'succeeded' THEN
        PERFORM pg_notify('gdp_insights', p_pull_id::text);
    END IF;
    RETURN v_row;
END
$function$;

CREATE OR REPLACE FUNCTION shared.insights_worker_config()
 RETURNS TABLE(enabled boolean, ad_account_id text, repull_days integer, async_min_days integer, pull_interval_s integer, attribution_windows text[], last_succeeded_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT shared.is_enabled('ACD_META_INSIGHTS_ENABLED'),
           shared.setting_value('META_AD_ACCOUNT_ID') #>> '{}',
           coalesce((shared.setting_value('META_INSIGHTS_REPULL_DAYS') #>> '{}')::integer, 28),
           coalesce((shared.setting_value('META_INSIGHTS_ASYNC_MIN_DAYS') #>> '{}')::integer, 8),
           coalesce((shared.setting_value('META_INSIGHTS_PULL_INTERVAL_SEC') #>> '{}')::integer, 900),
           coalesce(ARRAY(SELECT jsonb_array_elements_text(
                              shared.setting_value('META_INSIGHTS_ATTRIBUTION_WINDOWS'))),
                    '{}'::text[]),
           (SELECT max(p.finished_at) FROM shared.insights_pull AS p WHERE p.status = 'succeeded')
$function$;

CREATE OR REPLACE FUNCTION shared.insights_write_rows(p_pull_id bigint, p_rows jsonb)
 RETURNS TABLE(rows_written integer, rows_restated integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_pull shared.insights_pull;
    v_windows text[];
    v_written integer;
    v_restated integer;
BEGIN
    -- Writers take turns: the rollup of a (day, campaign) is recomputed from the ad rows, and
    -- two writers touching the same campaign-day at once would each miss the other's rows.
    -- Taken before any read, so this call's statements see what the previous writer committed.
    PERFORM pg_advisory_xact_lock(hashtext('shared.insights_write_rows'));
    SELECT * INTO v_pull FROM shared.insights_pull WHERE id = p_pull_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'pull_id', format('no insights pull %s', p_pull_id));
    END IF;
    IF v_pull.status <> 'running' THEN
        PERFORM shared._raise('GD409', 'pull_id', format('pull %s is %s', p_pull_id, v_pull.status));
    END IF;
    IF p_rows IS NULL OR jsonb_typeof(p_rows) <> 'array' THEN
        PERFORM shared._raise('GD400', 'rows', 'must be a JSON array of insights rows');
    END IF;
    IF EXISTS (
        SELECT 1 FROM jsonb_array_elements(p_rows) AS r
        WHERE jsonb_typeof(r) <> 'object'
           OR coalesce(r ->> 'ad_id', '') !~ '^[0-9]{1,30}$'
           OR coalesce(r ->> 'campaign_id', '') !~ '^[0-9]{1,30}$'
           OR shared._try_iso_date(r ->> 'date_start') IS NULL
           OR (r ->> 'date_start') IS DISTINCT FROM (r ->> 'date_stop')
    ) THEN
        PERFORM shared._raise('GD400', 'rows',
            'each row needs ad_id, campaign_id and one day (date_start = date_stop): level=ad, time_increment=1');
    END IF;
    v_windows := coalesce(ARRAY(SELECT jsonb_array_elements_text(
                     shared.setting_value('META_INSIGHTS_ATTRIBUTION_WINDOWS'))), '{}'::text[]);

    -- One statement: every CTE sees the table as it was before it, so "old" holds the figures
    -- this page replaces.
    WITH page AS (
        SELECT DISTINCT ON (r.ad_id, r.date_start::date)
               r.ad_id, r.date_start::date AS date, r.campaign_id, r.campaign_name, r.adset_id,
               r.adset_name, r.ad_name, r.account_currency AS currency,
               coalesce(r.spend, '0')::numeric AS spend,
               coalesce(r.impressions, '0')::bigint AS impressions,
               coalesce(r.clicks, '0')::bigint AS clicks, r.reach::bigint AS reach,
               x.actions, x.action_values,
               shared.meta_conversions(x.actions) AS conversions,
               shared.meta_conversions(x.action_values, true) AS conversion_value
        FROM jsonb_to_recordset(p_rows) AS r(
            ad_id text, date_start text, campaign_id text, campaign_name text, adset_id text,
            adset_name text, ad_name text, account_currency text, spend text, impressions text,
            clicks text, reach text, actions jsonb, action_values jsonb)
        CROSS JOIN LATERAL (
            SELECT shared._meta_action_map(r.actions) AS actions,
                   shared._meta_action_map(r.action_values) AS action_values
        ) AS x
        ORDER BY r.ad_id, r.date_start::date
    ), old AS (
        SELECT o.ad_id, o.date, o.spend, o.conversions, o.conversion_value
        FROM shared.performance_daily AS o
        JOIN page AS n ON n.ad_id = o.ad_id AND n.date = o.date
    ), upserted AS (
        INSERT INTO shared.performance_daily AS d (
            ad_id, date, account_id, campaign_id, campaign_name, adset_id, adset_name, ad_name,
            currency, spend, impressions, clicks, reach, actions, action_values, conversions,
            conversion_value, attribution_windows, pull_id)
        SELECT n.ad_id, n.date, v_pull.account_id, n.campaign_id, n.campaign_name, n.adset_id,
               n.adset_name, n.ad_name, n.currency, n.spend, n.impressions, n.clicks, n.reach,
               n.actions, n.action_values, n.conversions, n.conversion_value, v_windows, p_pull_id
        FROM page AS n
        ON CONFLICT (ad_id, date) DO UPDATE SET
            account_id = excluded.account_id,
            campaign_id = excluded.campaign_id,
            campaign_name = excluded.campaign_name,
            adset_id = excluded.adset_id,
            adset_name = excluded.adset_name,
            ad_name = excluded.ad_name,
            currency = excluded.currency,
            spend = excluded.spend,
            impressions = excluded.impressions,
            clicks = excluded.clicks,
            reach = excluded.reach,
            actions = excluded.actions,
            action_values = excluded.action_values,
            conversions = excluded.conversions,
            conversion_value = excluded.conversion_value,
            attribution_windows = excluded.attribution_windows,
            pulled_at = now(),
            pull_id = excluded.pull_id,
            restatements = d.restatements
                + ((d.spend, d.conversions, d.conversion_value)
                   IS DISTINCT FROM (excluded.spend, excluded.conversions,
                                     excluded.conversion_value))::integer
        RETURNING 1
    ), restated AS (
        INSERT INTO shared.performance_restatement (
            ad_id, date, pull_id, spend_before, spend_after, conversions_before,
            conversions_after, value_before, value_after)
        SELECT o.ad_id, o.date, p_pull_id, o.spend, n.spend, o.conversions, n.conversions,
               o.conversion_value, n.conversion_value
        FROM page AS n
        JOIN old AS o ON o.ad_id = n.ad_id AND o.date = n.date
        WHERE (o.spend, o.conversions, o.conversion_value)
              IS DISTINCT FROM (n.spend, n.conversions, n.conversion_value)
        RETURNING 1
    ), campaigns AS (
        INSERT INTO shared.campaign_project AS c (campaign_id, campaign_name, project_id)
        SELECT DISTINCT ON (n.campaign_id) n.campaign_id, n.campaign_name,
               shared._project_for_campaign_name(n.campaign_name)
        FROM page AS n
        ORDER BY n.campaign_id
        ON CONFLICT (campaign_id) DO UPDATE SET
            campaign_name = excluded.campaign_name,
            -- A renamed campaign follows the convention again unless an admin assigned it.
            project_id = CASE WHEN c.assigned_by = 'naming_convention'
                              THEN excluded.project_id ELSE c.project_id END,
            updated_at = now()
        WHERE c.campaign_name IS DISTINCT FROM excluded.campaign_name
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM restated)
    INTO v_written, v_restated
    FROM (SELECT count(*) FROM campaigns) AS settled;

    -- The rollup of every (day, campaign) this page touched, recomputed from the ad rows (a
    -- separate statement, so it sees the rows just written).
    INSERT INTO shared.performance_campaign_daily AS r (
        date, campaign_id, spend, impressions, clicks, conversions, conversion_value, ads)
    SELECT d.date, d.campaign_id, sum(d.spend), sum(d.impressions), sum(d.clicks),
           sum(d.conversions), sum(d.conversion_value), count(*)
    FROM (SELECT DISTINCT (e ->> 'date_start')::date AS date, e ->> 'campaign_id' AS campaign_id
          FROM jsonb_array_elements(p_rows) AS e) AS t
    JOIN shared.performance_daily AS d ON d.campaign_id = t.campaign_id AND d.date = t.date
    GROUP BY d.date, d.campaign_id
    ON CONFLICT (date, campaign_id) DO UPDATE SET
        spend = excluded.spend, impressions = excluded.impressions, clicks = excluded.clicks,
        conversions = excluded.conversions, conversion_value = excluded.conversion_value,
        ads = excluded.ads;

    UPDATE shared.insights_pull
    SET rows_written = insights_pull.rows_written + v_written,
        rows_restated = insights_pull.rows_restated + v_restated
    WHERE id = p_pull_id;
    RETURN QUERY SELECT v_written, v_restated;
END
$function$;

CREATE OR REPLACE FUNCTION shared.lead_fetch_failed(p_msg_id bigint, p_leadgen_id text, p_final boolean, p_delay_s integer, p_error_code integer, p_error_subcode integer, p_error_message text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
BEGIN
    UPDATE shared.meta_lead AS l SET
        attempts = l.attempts + 1,
        status = CASE WHEN p_final THEN 'failed' ELSE l.status END,
        error_code = p_error_code,
        error_subcode = p_error_subcode,
        error_message = left(p_error_message, 500)
    WHERE l.leadgen_id = p_leadgen_id AND l.status <> 'synced';
    IF p_msg_id IS NOT NULL THEN
        IF p_final THEN
            PERFORM pgmq.archive('meta_leads', p_msg_id);
        ELSE
            PERFORM pgmq.set_vt('meta_leads', p_msg_id, greatest(p_delay_s, 0));
        END IF;
    END IF;
    RETURN CASE WHEN p_final THEN 'failed' ELSE 'retrying' END;
END
$function$;

CREATE OR REPLACE FUNCTION shared.lead_queue_read(p_vt integer, p_qty integer)
 RETURNS TABLE(msg_id bigint, read_ct integer, leadgen_id text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT m.msg_id, m.read_ct, m.message ->> 'leadgen_id'
    FROM pgmq.read('meta_leads', greatest(p_vt, 1), least(greatest(p_qty, 1), 1000)) AS m
$function$;

CREATE OR REPLACE FUNCTION shared.lead_worker_config()
 RETURNS TABLE(enabled boolean, default_product text, max_attempts integer)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT shared.is_enabled('LEAD_ADS_SYNC_ENABLED'),
           coalesce(shared.setting_value('LEAD_ADS_DEFAULT_PRODUCT') #>> '{}', 'waitlistlab'),
           coalesce((shared.setting_value('LEAD_ADS_MAX_ATTEMPTS') #>> '{}')::integer, 8)
$function$;

CREATE OR REPLACE FUNCTION shared.meta_conversions(p_actions jsonb, p_values_only boolean DEFAULT false)
 RETURNS numeric
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT coalesce(sum(best.value), 0)
    FROM (
        SELECT DISTINCT ON (a.family) (p_actions ->> a.action_type)::numeric AS value
        FROM shared.insights_conversion_action AS a
        JOIN shared.conversion_family AS f ON f.family = a.family
        WHERE f.enabled AND (NOT p_values_only OR f.counts_value) AND p_actions ? a.action_type
        ORDER BY a.family, a.rank
    ) AS best
$function$;

CREATE OR REPLACE FUNCTION shared.receive_lead_webhook(p_payload jsonb)
 RETURNS TABLE(enabled boolean, changes integer, new_leads integer, duplicates integer, skipped integer)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_changes integer;
    v_valid integer;
    v_new text[];
BEGIN
    IF p_payload IS NULL OR jsonb_typeof(p_payload) <> 'object' THEN
        PERFORM shared._raise('GD400', 'body', 'must be a JSON object');
    END IF;
    IF p_payload ->> 'object' IS DISTINCT FROM 'page' THEN
        PERFORM shared._raise('GD400', 'object', 'must be page (Lead Ads notifications)');
    END IF;
    IF jsonb_typeof(p_payload -> 'entry') IS DISTINCT FROM 'array' THEN
        PERFORM shared._raise('GD400', 'entry', 'must be an array');
    END IF;
    -- Off: nothing is stored (the answer says so; Meta is answered 200 and drops the delivery).
    IF NOT shared.is_enabled('LEAD_ADS_SYNC_ENABLED') THEN
        RETURN QUERY SELECT false, 0, 0, 0, 0;
        RETURN;
    END IF;

    WITH items AS (
        SELECT c.value AS change, e.value ->> 'id' AS entry_page
        FROM jsonb_array_elements(p_payload -> 'entry') AS e
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(e.value -> 'changes') = 'array'
                 THEN e.value -> 'changes' ELSE '[]'::jsonb END) AS c
    ), leadgen AS (
        SELECT v.leadgen_id, v.page_id, v.form_id, v.ad_id,
               CASE WHEN v.created ~ '^[0-9]{1,12}$' THEN to_timestamp(v.created::bigint) END
                   AS created_time
        FROM items AS i
        CROSS JOIN LATERAL (
            SELECT i.change -> 'value' ->> 'leadgen_id' AS leadgen_id,
                   coalesce(i.change -> 'value' ->> 'page_id', i.entry_page) AS page_id,
                   i.change -> 'value' ->> 'form_id' AS form_id,
                   coalesce(i.change -> 'value' ->> 'ad_id',
                            i.change -> 'value' ->> 'adgroup_id') AS ad_id,
                   i.change -> 'value' ->> 'created_time' AS created
        ) AS v
        WHERE i.change ->> 'field' = 'leadgen'
          AND jsonb_typeof(i.change -> 'value') = 'object'
          AND v.leadgen_id ~ '^[0-9]{1,30}$'
          AND v.page_id ~ '^[0-9]{1,30}$'
          AND v.form_id ~ '^[0-9]{1,30}$'
          AND (v.ad_id IS NULL OR v.ad_id ~ '^[0-9]{1,30}$')
    ), valid AS (
        -- The same lead twice in one delivery is one lead (the second copy is a duplicate).
        SELECT DISTINCT ON (g.leadgen_id) g.* FROM leadgen AS g ORDER BY g.leadgen_id
    ), upserted AS (
        INSERT INTO shared.meta_lead AS l (leadgen_id, page_id, form_id, ad_id, is_organic,
                                           created_time)
        SELECT d.leadgen_id, d.page_id, d.form_id, d.ad_id, d.ad_id IS NULL, d.created_time
        FROM valid AS d
        ORDER BY d.leadgen_id
        ON CONFLICT (leadgen_id) DO UPDATE SET
            deliveries = l.deliveries + 1,
            last_delivery_at = now()
        RETURNING l.leadgen_id, (l.xmax = 0) AS is_new
    )
    SELECT (SELECT count(*)::integer FROM items),
           (SELECT count(*)::integer FROM leadgen),
           (SELECT array_agg(u.leadgen_id ORDER BY u.leadgen_id) FILTER (WHERE u.is_new)
            FROM upserted AS u)
    INTO v_changes, v_valid, v_new;

    IF cardinality(v_new) > 0 THEN
        PERFORM pgmq.send_batch(
            'meta_leads',
            ARRAY(SELECT jsonb_build_object('leadgen_id', id) FROM unnest(v_new) AS id));
        PERFORM pg_notify('gdp_meta_leads', '');
    END IF;
    RETURN QUERY SELECT true, v_changes, coalesce(cardinality(v_new), 0),
                        v_valid - coalesce(cardinality(v_new), 0), v_changes - v_valid;
END
$function$;

CREATE OR REPLACE FUNCTION shared.revoke_dashboard_key(p_key_id uuid, p_actor text)
 RETURNS shared.dashboard_key
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.dashboard_key;
BEGIN
    UPDATE shared.dashboard_key
    SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, v_actor)
    WHERE id = p_key_id
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no dashboard key %s', p_key_id));
    END IF;
    RETURN v_row;
END
$function$;

CREATE OR REPLACE FUNCTION shared.sync_lead(p_msg_id bigint, p_lead jsonb)
 RETURNS TABLE(leadgen_id text, status text, person_id uuid, created boolean, project_id text, problem text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT * FROM shared.sync_leads(jsonb_build_array(
        jsonb_build_object('msg_id', p_msg_id, 'lead', p_lead)))
$function$;

CREATE OR REPLACE FUNCTION shared.sync_leads(p_items jsonb)
 RETURNS TABLE(leadgen_id text, status text, person_id uuid, created boolean, project_id text, problem text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_item jsonb;
    v_lead jsonb;
    v_id text;
    v_row shared.meta_lead;
    v_mapped record;
    v_work jsonb := '[]'::jsonb;
    v_done jsonb := '[]'::jsonb;
    v_archive bigint[] := '{}';
BEGIN
    IF p_items IS NULL OR jsonb_typeof(p_items) <> 'array' THEN
        PERFORM shared._raise('GD400', 'items', 'must be a JSON array of {msg_id, lead}');
    END IF;
    FOR v_item IN SELECT e.value FROM jsonb_array_elements(p_items) AS e ORDER BY e.value -> 'lead' ->> 'id'
    LOOP
        v_lead := v_item -> 'lead';
        v_id := v_lead ->> 'id';
        IF jsonb_typeof(v_lead) IS DISTINCT FROM 'object' OR coalesce(v_id, '') !~ '^[0-9]{1,30}$' THEN
            PERFORM shared._raise('GD400', 'lead', 'must be Meta''s lead object with its numeric id');
        END IF;
        IF (v_item ->> 'msg_id') IS NOT NULL THEN
            v_archive := v_archive || (v_item ->> 'msg_id')::bigint;
        END IF;
        SELECT * INTO v_row FROM shared.meta_lead AS l WHERE l.leadgen_id = v_id FOR UPDATE;
        IF NOT FOUND THEN
            -- A lead found by a backfill rather than a notification.
            IF coalesce(v_lead ->> 'form_id', '') !~ '^[0-9]{1,30}$' THEN
                PERFORM shared._raise('GD400', 'form_id', 'is required for a lead not yet notified');
            END IF;
            INSERT INTO shared.meta_lead (leadgen_id, page_id, form_id, ad_id, deliveries)
            VALUES (v_id, coalesce(v_lead ->> 'page_id', '0'), v_lead ->> 'form_id',
                    v_lead ->> 'ad_id', 0)
            RETURNING * INTO v_row;
        END IF;
        IF v_row.status = 'synced' OR v_work @> jsonb_build_array(jsonb_build_object('id', v_id)) THEN
            v_done := v_done || jsonb_build_object('id', v_id, 'status', v_row.status,
                                                   'person_id', v_row.person_id,
                                                   'project_id', v_row.project_id);
            CONTINUE;
        END IF;
        SELECT * INTO v_mapped FROM shared._lead_as_person(v_lead, v_row);
        v_work := v_work || jsonb_build_object(
            'id', v_id, 'person', v_mapped.person, 'project_id', v_mapped.project_id,
            'campaign_id', v_mapped.campaign_id, 'created_time', v_mapped.created_time,
            'problem', v_mapped.problem, 'lead', v_lead);
    END LOOP;

    RETURN QUERY
    WITH work AS (
        SELECT w.ord, w.value ->> 'id' AS id, nullif(w.value -> 'person', 'null') AS person,
               w.value ->> 'project_id' AS project_id, w.value ->> 'campaign_id' AS campaign_id,
               (w.value ->> 'created_time')::timestamptz AS created_time,
               w.value ->> 'problem' AS problem, w.value -> 'lead' AS lead
        FROM jsonb_array_elements(v_work) WITH ORDINALITY AS w(value, ord)
    ), valid AS (
        SELECT wk.*, row_number() OVER (ORDER BY wk.ord) AS n
        FROM work AS wk WHERE wk.person IS NOT NULL
    ), people AS (
        SELECT u.ordinal, u.person_id, u.created
        FROM shared.upsert_people(coalesce(
            (SELECT jsonb_agg(v.person ORDER BY v.n) FROM valid AS v), '[]'::jsonb)) AS u
    ), synced AS (
        SELECT wk.*, pe.person_id, coalesce(pe.created, false) AS created
        FROM work AS wk
        LEFT JOIN valid AS v ON v.id = wk.id
        LEFT JOIN people AS pe ON pe.ordinal = v.n
    ), events AS (
        INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at,
                                  source, action_source, properties)
        SELECT s.project_id, 'meta_lead:' || s.id, 'LeadFormSubmitted', s.person_id,
               coalesce(s.created_time, now()), 'lead_form', 'system_generated',
               jsonb_strip_nulls(jsonb_build_object(
                   'leadgen_id', s.id, 'form_id', s.lead ->> 'form_id',
                   'ad_id', s.lead ->> 'ad_id', 'campaign_id', s.campaign_id))
        FROM synced AS s
        WHERE s.person_id IS NOT NULL
        ON CONFLICT ON CONSTRAINT event_product_id_event_id_key DO NOTHING
        RETURNING 1
    ), recorded AS (
        UPDATE shared.meta_lead AS l SET
            status = CASE WHEN s.person_id IS NOT NULL THEN 'synced' ELSE 'failed' END,
            attempts = l.attempts + 1,
            person_id = s.person_id,
            project_id = s.project_id,
            synced_at = CASE WHEN s.person_id IS NOT NULL THEN now() END,
            ad_id = coalesce(s.lead ->> 'ad_id', l.ad_id),
            adset_id = coalesce(s.lead ->> 'adset_id', l.adset_id),
            campaign_id = s.campaign_id,
            is_organic = coalesce((s.lead ->> 'is_organic')::boolean, l.is_organic),
            created_time = coalesce(s.created_time, l.created_time),
            field_names = ARRAY(SELECT f ->> 'name' FROM jsonb_array_elements(
                                    CASE WHEN jsonb_typeof(s.lead -> 'field_data') = 'array'
                                         THEN s.lead -> 'field_data' ELSE '[]'::jsonb END) AS f
                                WHERE f ->> 'name' IS NOT NULL ORDER BY 1),
            error_code = NULL,
            error_subcode = NULL,
            error_message = s.problem
        FROM synced AS s
        WHERE l.leadgen_id = s.id
        RETURNING l.leadgen_id, l.status, l.person_id, l.project_id
    )
    SELECT r.leadgen_id, r.status, r.person_id, s.created, r.project_id, s.problem
    FROM recorded AS r JOIN synced AS s ON s.id = r.leadgen_id
    WHERE (SELECT count(*) FROM events) >= 0
    UNION ALL
    SELECT d.value ->> 'id', d.value ->> 'status', (d.value ->> 'person_id')::uuid, false,
           d.value ->> 'project_id', NULL::text
    FROM jsonb_array_elements(v_done) AS d;

    IF cardinality(v_archive) > 0 THEN
        PERFORM pgmq.archive('meta_leads', v_archive);
    END IF;
END
$function$;

CREATE OR REPLACE VIEW shared.capi_health AS
 SELECT ( SELECT count(*) AS count
           FROM shared.attribution_events a
          WHERE ((a.status = 'sent'::text) AND (a.created_at > (now() - '24:00:00'::interval)))) AS delivered_24h,
    ( SELECT count(*) AS count
           FROM shared.attribution_events a
          WHERE (a.status = 'sent'::text)) AS delivered_total,
    ( SELECT count(*) AS count
           FROM shared.capi_dead_letter d
          WHERE ((d.replayed_at IS NULL) AND (d.dead_lettered_at > (now() - '24:00:00'::interval)))) AS dead_lettered_24h,
    ( SELECT COALESCE(jsonb_object_agg(r.reason, r.n), '{}'::jsonb) AS "coalesce"
           FROM ( SELECT d.reason,
                    count(*) AS n
                   FROM shared.capi_dead_letter d
                  WHERE (d.replayed_at IS NULL)
                  GROUP BY d.reason) r) AS dead_lettered_by_reason,
    ( SELECT count(*) AS count
           FROM shared.capi_pixel_state s
          WHERE (s.breaker = 'open'::text)) AS open_breakers,
    ( SELECT COALESCE(jsonb_agg(jsonb_build_object('pixel_id', s.pixel_id, 'breaker', s.breaker, 'opened_at', s.opened_at, 'last_error_code', s.last_error_code) ORDER BY s.pixel_id), '[]'::jsonb) AS "coalesce"
           FROM shared.capi_pixel_state s) AS breakers,
    ( SELECT count(*) AS count
           FROM pgmq.q_meta_capi) AS queued,
    ( SELECT count(*) AS count
           FROM pgmq.q_meta_leads) AS leads_queued;

CREATE OR REPLACE VIEW shared.gate_state AS
 SELECT f.flag_key,
    f.gap,
    f.enable_order,
    f.enabled,
    f.changed_at,
    f.changed_by,
    f.description
   FROM shared.feature_flag f;

CREATE OR REPLACE VIEW shared.gdp_conversions_daily AS
 SELECT a.date,
    a.project,
    count(*) AS conversions,
    (COALESCE(sum(v.value) FILTER (WHERE f.counts_value), (0)::numeric))::numeric(14,2) AS conversion_value
   FROM (((( SELECT ((x.created_at AT TIME ZONE 'UTC'::text))::date AS date,
            x.product_id AS project,
            x.event_ref,
            min(x.meta_event_name) AS meta_event_name
           FROM shared.attribution_events x
          WHERE ((x.status = 'sent'::text) AND (x.event_ref IS NOT NULL))
          GROUP BY (((x.created_at AT TIME ZONE 'UTC'::text))::date), x.product_id, x.event_ref) a
     JOIN shared.conversion_family f ON (((f.meta_event_name = a.meta_event_name) AND f.enabled)))
     JOIN shared.event e ON ((e.id = a.event_ref)))
     LEFT JOIN LATERAL ( SELECT
                CASE
                    WHEN (raw.val ~ '^-?[0-9]+(\.[0-9]+)?$'::text) THEN (raw.val)::numeric
                    ELSE NULL::numeric
                END AS value
           FROM ( SELECT COALESCE((e.properties ->> ( SELECT r.value_property
                           FROM shared.conversion_rule r
                          WHERE ((r.event_name = e.event_name) AND ((r.product_id = e.product_id) OR (r.product_id IS NULL)))
                          ORDER BY r.product_id
                         LIMIT 1)), (e.properties ->> 'value'::text)) AS val) raw) v ON (true))
  GROUP BY a.date, a.project;

CREATE OR REPLACE VIEW shared.insights_ad_daily AS
 SELECT d.date,
    COALESCE(c.project_id, 'unassigned'::text) AS project,
    d.campaign_id,
    d.campaign_name,
    d.adset_id,
    d.adset_name,
    d.ad_id,
    d.ad_name,
    d.spend,
    d.impressions,
    d.clicks,
    d.reach,
    d.conversions AS meta_conversions,
    d.conversion_value AS meta_conversion_value,
    shared._ratio(d.spend, d.conversions) AS meta_cost_per_conversion,
    shared._ratio(d.conversion_value, d.spend) AS meta_roas,
    d.restatements,
    d.pulled_at
   FROM (shared.performance_daily d
     LEFT JOIN shared.campaign_project c ON ((c.campaign_id = d.campaign_id)));

CREATE OR REPLACE VIEW shared.insights_project_daily AS
 SELECT s.date,
    s.project,
    (sum(s.spend))::numeric(14,2) AS spend,
    (sum(s.impressions))::bigint AS impressions,
    (sum(s.clicks))::bigint AS clicks,
    (sum(s.meta_conversions))::numeric(14,2) AS meta_conversions,
    (sum(s.meta_value))::numeric(14,2) AS meta_conversion_value,
    (sum(s.gdp_conversions))::bigint AS gdp_conversions,
    (sum(s.gdp_value))::numeric(14,2) AS gdp_conversion_value
   FROM ( SELECT r.date,
            COALESCE(c.project_id, 'unassigned'::text) AS project,
            r.spend,
            r.impressions,
            r.clicks,
            r.conversions AS meta_conversions,
            r.conversion_value AS meta_value,
            0 AS gdp_conversions,
            0 AS gdp_value
           FROM (shared.performance_campaign_daily r
             LEFT JOIN shared.campaign_project c ON ((c.campaign_id = r.campaign_id)))
        UNION ALL
         SELECT g.date,
            g.project,
            0,
            0,
            0,
            0,
            0,
            g.conversions,
            g.conversion_value
           FROM shared.gdp_conversions_daily g) s
  GROUP BY s.date, s.project;

CREATE OR REPLACE VIEW shared.insights_by_project AS
 SELECT d.project,
    (sum(d.spend))::numeric(14,2) AS spend,
    (sum(d.impressions))::bigint AS impressions,
    (sum(d.clicks))::bigint AS clicks,
    (sum(d.meta_conversions))::numeric(14,2) AS meta_conversions,
    (sum(d.meta_conversion_value))::numeric(14,2) AS meta_conversion_value,
    (sum(d.gdp_conversions))::bigint AS gdp_conversions,
    (sum(d.gdp_conversion_value))::numeric(14,2) AS gdp_conversion_value,
    shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS meta_cost_per_conversion,
    shared._ratio(sum(d.spend), sum(d.gdp_conversions)) AS gdp_cost_per_conversion,
    shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS meta_roas,
    shared._ratio(sum(d.gdp_conversion_value), sum(d.spend)) AS gdp_roas
   FROM shared.insights_project_daily d
  WHERE ((d.date >= (((now() AT TIME ZONE 'UTC'::text))::date - 29)) AND (d.date <= ((now() AT TIME ZONE 'UTC'::text))::date))
  GROUP BY d.project;

CREATE OR REPLACE VIEW shared.insights_daily AS
 SELECT d.date,
    (sum(d.spend))::numeric(14,2) AS spend,
    (sum(d.impressions))::bigint AS impressions,
    (sum(d.clicks))::bigint AS clicks,
    (sum(d.meta_conversions))::numeric(14,2) AS meta_conversions,
    (sum(d.meta_conversion_value))::numeric(14,2) AS meta_conversion_value,
    (sum(d.gdp_conversions))::bigint AS gdp_conversions,
    (sum(d.gdp_conversion_value))::numeric(14,2) AS gdp_conversion_value,
    shared._ratio(sum(d.spend), sum(d.meta_conversions)) AS meta_cost_per_conversion,
    shared._ratio(sum(d.spend), sum(d.gdp_conversions)) AS gdp_cost_per_conversion,
    shared._ratio(sum(d.meta_conversion_value), sum(d.spend)) AS meta_roas,
    shared._ratio(sum(d.gdp_conversion_value), sum(d.spend)) AS gdp_roas
   FROM shared.insights_project_daily d
  GROUP BY d.date;

CREATE OR REPLACE VIEW shared.insights_pulls AS
 SELECT p.id,
    p.account_id,
    p.date_from,
    p.date_to,
    p.mode,
    p.status,
    p.started_at,
    p.finished_at,
    p.rows_written,
    p.rows_restated,
    p.requests,
    p.retries,
    p.report_runs,
    p.splits,
    p.throttle_wait_ms,
    p.max_usage_pct,
    ((EXTRACT(epoch FROM (p.finished_at - p.started_at)) * (1000)::numeric))::bigint AS duration_ms,
    p.error_code,
    p.error_subcode,
    p.error_message
   FROM shared.insights_pull p;

CREATE OR REPLACE VIEW shared.insights_summary AS
 SELECT (sum(b.spend))::numeric(14,2) AS spend,
    (sum(b.impressions))::bigint AS impressions,
    (sum(b.clicks))::bigint AS clicks,
    shared._ratio(((100)::numeric * sum(b.clicks)), sum(b.impressions)) AS ctr,
    shared._ratio(sum(b.spend), sum(b.clicks)) AS cpc,
    (sum(b.meta_conversions))::numeric(14,2) AS meta_conversions,
    (sum(b.gdp_conversions))::bigint AS gdp_conversions,
    shared._ratio(sum(b.spend), sum(b.meta_conversions)) AS meta_cost_per_conversion,
    shared._ratio(sum(b.spend), sum(b.gdp_conversions)) AS gdp_cost_per_conversion,
    shared._ratio(sum(b.meta_conversion_value), sum(b.spend)) AS meta_roas,
    shared._ratio(sum(b.gdp_conversion_value), sum(b.spend)) AS gdp_roas
   FROM shared.insights_by_project b;

CREATE OR REPLACE VIEW shared.lead_submissions AS
 SELECT l.leadgen_id,
    l.form_id,
    l.page_id,
    l.ad_id,
    l.adset_id,
    l.campaign_id,
    c.campaign_name,
    COALESCE(l.project_id, c.project_id) AS project,
    l.is_organic,
    l.created_time,
    l.received_at,
    l.deliveries,
    l.status,
    l.attempts,
    l.synced_at,
    l.person_id,
    (p.lifecycle_stage)::text AS lifecycle_stage,
    l.error_code,
    l.error_message
   FROM ((shared.meta_lead l
     LEFT JOIN shared.campaign_project c ON ((c.campaign_id = l.campaign_id)))
     LEFT JOIN shared.person p ON ((p.id = l.person_id)));

CREATE OR REPLACE VIEW shared.lead_forms AS
 SELECT s.form_id,
    count(*) AS leads,
    count(*) FILTER (WHERE (s.status = 'synced'::text)) AS synced,
    count(*) FILTER (WHERE (s.status = 'failed'::text)) AS failed,
    count(*) FILTER (WHERE (s.status = 'received'::text)) AS pending,
    count(*) FILTER (WHERE (s.lifecycle_stage = ANY (ARRAY['activated'::text, 'customer'::text]))) AS activated,
    count(*) FILTER (WHERE (s.lifecycle_stage = 'customer'::text)) AS customers,
    array_agg(DISTINCT s.project) FILTER (WHERE (s.project IS NOT NULL)) AS projects,
    min(s.created_time) AS first_lead_at,
    max(s.created_time) AS last_lead_at
   FROM shared.lead_submissions s
  GROUP BY s.form_id;

CREATE OR REPLACE VIEW shared.lead_funnel AS
 SELECT COALESCE(s.project, 'unassigned'::text) AS project,
    count(*) AS leads,
    count(*) FILTER (WHERE (s.status = 'synced'::text)) AS synced,
    count(*) FILTER (WHERE (s.lifecycle_stage = ANY (ARRAY['activated'::text, 'customer'::text, 'churned'::text]))) AS activated,
    count(*) FILTER (WHERE (s.lifecycle_stage = 'customer'::text)) AS customers
   FROM shared.lead_submissions s
  GROUP BY COALESCE(s.project, 'unassigned'::text);

CREATE OR REPLACE VIEW shared.metric_ad_click_source AS
 SELECT count(*) AS conversions,
    count(*) FILTER (WHERE c.from_ad) AS with_ad_click_source,
    shared._ratio((count(*) FILTER (WHERE c.from_ad))::numeric, (count(*))::numeric, 4) AS share,
    0.50 AS target,
    COALESCE((shared._ratio((count(*) FILTER (WHERE c.from_ad))::numeric, (count(*))::numeric, 4) > 0.50), false) AS met
   FROM ( SELECT ((e.fbc IS NOT NULL) OR (p.meta_fbc IS NOT NULL) OR (lower(p.utm_source) = ANY (ARRAY['meta'::text, 'facebook'::text, 'fb'::text, 'instagram'::text, 'ig'::text, 'messenger'::text, 'audience_network'::text, 'threads'::text, 'whatsapp'::text])) OR (EXISTS ( SELECT 1
                   FROM shared.identity_link l
                  WHERE ((l.person_id = e.person_id) AND (l.provider = 'meta_lead'::text))))) AS from_ad
           FROM (((( SELECT DISTINCT ON (x.event_ref) x.event_ref,
                    x.meta_event_name
                   FROM shared.attribution_events x
                  WHERE ((x.status = 'sent'::text) AND (x.created_at > (now() - '30 days'::interval)))
                  ORDER BY x.event_ref) a
             JOIN shared.conversion_family f ON (((f.meta_event_name = a.meta_event_name) AND f.enabled)))
             JOIN shared.event e ON ((e.id = a.event_ref)))
             LEFT JOIN shared.person p ON ((p.id = e.person_id)))) c;

CREATE OR REPLACE VIEW shared.metric_insights_freshness AS
 SELECT max(p.finished_at) AS last_pull_at,
    round((EXTRACT(epoch FROM (now() - max(p.finished_at))) / (60)::numeric), 1) AS minutes,
    15 AS target_minutes,
    COALESCE(((EXTRACT(epoch FROM (now() - max(p.finished_at))) / (60)::numeric) < (15)::numeric), false) AS met,
    ( SELECT count(*) AS count
           FROM shared.insights_pull f
          WHERE ((f.status = 'failed'::text) AND (f.started_at > (now() - '24:00:00'::interval)))) AS failed_pulls_24h
   FROM shared.insights_pull p
  WHERE (p.status = 'succeeded'::text);

CREATE OR REPLACE VIEW shared.metric_lead_to_customer AS
 SELECT count(*) AS customers,
    count(*) FILTER (WHERE p.traced) AS traced_to_source,
    count(*) FILTER (WHERE p.from_lead_ad) AS from_lead_ads,
    shared._ratio((count(*) FILTER (WHERE p.traced))::numeric, (count(*))::numeric, 4) AS share,
    0.80 AS target,
    COALESCE((shared._ratio((count(*) FILTER (WHERE p.traced))::numeric, (count(*))::numeric, 4) > 0.80), false) AS met
   FROM ( SELECT ((x.source_product IS NOT NULL) AND ((x.utm_source IS NOT NULL) OR (x.meta_fbc IS NOT NULL) OR (x.meta_lead_form_id IS NOT NULL))) AS traced,
            (x.meta_lead_form_id IS NOT NULL) AS from_lead_ad
           FROM shared.person x
          WHERE (x.lifecycle_stage = 'customer'::shared.lifecycle_stage)) p;

CREATE OR REPLACE VIEW shared.metric_match_key_coverage AS
 SELECT a.product_id AS project,
    a.meta_event_name,
    count(*) AS delivered,
    round(avg((('em'::text = ANY (a.match_keys)))::integer), 4) AS em_share,
    round(avg((('ph'::text = ANY (a.match_keys)))::integer), 4) AS ph_share,
    round(avg((('external_id'::text = ANY (a.match_keys)))::integer), 4) AS external_id_share,
    round(avg(((a.match_keys && ARRAY['fbc'::text, 'fbp'::text]))::integer), 4) AS fbc_or_fbp_share,
    round(avg(((a.match_keys @> ARRAY['client_ip_address'::text, 'client_user_agent'::text]))::integer), 4) AS ip_and_ua_share,
    round(avg(((a.match_keys && ARRAY['em'::text, 'ph'::text]))::integer), 4) AS em_or_ph_share,
    0.70 AS target,
    (avg(((a.match_keys && ARRAY['em'::text, 'ph'::text]))::integer) > 0.70) AS met
   FROM ( SELECT DISTINCT ON (x.event_ref) x.product_id,
            x.meta_event_name,
            x.match_keys
           FROM shared.attribution_events x
          WHERE ((x.status = 'sent'::text) AND (x.created_at > (now() - '7 days'::interval)))
          ORDER BY x.event_ref, x.id) a
  GROUP BY a.product_id, a.meta_event_name;

CREATE OR REPLACE VIEW shared.metric_roas_cpa_change AS
 WITH live AS (
         SELECT ((f.changed_at AT TIME ZONE 'UTC'::text))::date AS day
           FROM shared.feature_flag f
          WHERE ((f.flag_key = 'META_CAPI_INGEST_ENABLED'::text) AND f.enabled)
        ), windows AS (
         SELECT sum(r.spend) FILTER (WHERE ((r.date >= (l.day - 30)) AND (r.date < l.day))) AS spend_before,
            sum(r.conversion_value) FILTER (WHERE ((r.date >= (l.day - 30)) AND (r.date < l.day))) AS value_before,
            sum(r.conversions) FILTER (WHERE ((r.date >= (l.day - 30)) AND (r.date < l.day))) AS conv_before,
            sum(r.spend) FILTER (WHERE ((r.date >= l.day) AND (r.date < (l.day + 30)))) AS spend_after,
            sum(r.conversion_value) FILTER (WHERE ((r.date >= l.day) AND (r.date < (l.day + 30)))) AS value_after,
            sum(r.conversions) FILTER (WHERE ((r.date >= l.day) AND (r.date < (l.day + 30)))) AS conv_after,
            min(l.day) AS live_since
           FROM (live l
             JOIN shared.performance_campaign_daily r ON (((r.date >= (l.day - 30)) AND (r.date < (l.day + 30)))))
        )
 SELECT w.live_since,
    shared._ratio(w.value_before, w.spend_before) AS roas_before,
    shared._ratio(w.value_after, w.spend_after) AS roas_after,
    shared._ratio((shared._ratio(w.value_after, w.spend_after, 6) - shared._ratio(w.value_before, w.spend_before, 6)), shared._ratio(w.value_before, w.spend_before, 6), 4) AS roas_change,
    0.20 AS roas_target,
    COALESCE((shared._ratio(w.value_after, w.spend_after, 6) >= (1.2 * shared._ratio(w.value_before, w.spend_before, 6))), false) AS roas_met,
    shared._ratio(w.spend_before, w.conv_before) AS cpa_before,
    shared._ratio(w.spend_after, w.conv_after) AS cpa_after,
    shared._ratio((shared._ratio(w.spend_after, w.conv_after, 6) - shared._ratio(w.spend_before, w.conv_before, 6)), shared._ratio(w.spend_before, w.conv_before, 6), 4) AS cpa_change,
    '-0.15'::numeric AS cpa_target,
    COALESCE((shared._ratio(w.spend_after, w.conv_after, 6) <= (0.85 * shared._ratio(w.spend_before, w.conv_before, 6))), false) AS cpa_met
   FROM windows w;

CREATE OR REPLACE VIEW shared.projects AS
 SELECT p.product_id AS project,
    p.display_name
   FROM shared.product p
UNION ALL
 SELECT 'unassigned'::text AS project,
    'Campaigns mapped to no project'::text AS display_name;

CREATE OR REPLACE VIEW shared.success_metrics AS
 SELECT 'capi_match_rate'::text AS metric,
    'CAPI event match rate'::text AS name,
    '> 70%'::text AS target,
    ( SELECT round((sum((m.em_or_ph_share * (m.delivered)::numeric)) / NULLIF(sum(m.delivered), (0)::numeric)), 4) AS round
           FROM shared.metric_match_key_coverage m) AS value,
    'share'::text AS unit,
    COALESCE(( SELECT ((sum((m.em_or_ph_share * (m.delivered)::numeric)) / NULLIF(sum(m.delivered), (0)::numeric)) > 0.70)
           FROM shared.metric_match_key_coverage m), false) AS met,
    'delivered events (7 days) carrying em or ph; Meta''s own EMQ is in Events Manager'::text AS measured_as
UNION ALL
 SELECT 'ad_click_source'::text AS metric,
    'Cross-product conversions with an ad click source'::text AS name,
    '> 50%'::text AS target,
    m.share AS value,
    'share'::text AS unit,
    m.met,
    'delivered conversions (30 days) with fbc, a Meta UTM or a Lead Ads lead'::text AS measured_as
   FROM shared.metric_ad_click_source m
UNION ALL
 SELECT 'roas_change'::text AS metric,
    'Ad ROAS improvement'::text AS name,
    '+20% within 30 days of CAPI'::text AS target,
    m.roas_change AS value,
    'change'::text AS unit,
    COALESCE(m.roas_met, false) AS met,
    'Meta ROAS, 30 days after META_CAPI_INGEST_ENABLED vs the 30 days before'::text AS measured_as
   FROM (( SELECT 1 AS "?column?") one
     LEFT JOIN shared.metric_roas_cpa_change m ON (true))
UNION ALL
 SELECT 'cpa_change'::text AS metric,
    'Cost per acquisition reduction'::text AS name,
    '-15% from baseline'::text AS target,
    m.cpa_change AS value,
    'change'::text AS unit,
    COALESCE(m.cpa_met, false) AS met,
    'Meta CPA, 30 days after META_CAPI_INGEST_ENABLED vs the 30 days before'::text AS measured_as
   FROM (( SELECT 1 AS "?column?") one
     LEFT JOIN shared.metric_roas_cpa_change m ON (true))
UNION ALL
 SELECT 'lead_to_customer'::text AS metric,
    'Lead to customer attribution'::text AS name,
    '> 80% of customers traced'::text AS target,
    m.share AS value,
    'share'::text AS unit,
    m.met,
    'customers whose first touch (product + UTM, click id or lead form) is known'::text AS measured_as
   FROM shared.metric_lead_to_customer m
UNION ALL
 SELECT 'insights_latency'::text AS metric,
    'Dashboard insights latency'::text AS name,
    '< 15 min from Meta'::text AS target,
    m.minutes AS value,
    'minutes'::text AS unit,
    m.met,
    'minutes since the newest successful insights pull'::text AS measured_as
   FROM shared.metric_insights_freshness m;

REVOKE ALL ON FUNCTION shared._lead_as_person(jsonb, shared.meta_lead) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._lead_as_person(jsonb, shared.meta_lead) TO service_role;

REVOKE ALL ON FUNCTION shared._lead_date(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._lead_date(text) TO service_role;

REVOKE ALL ON FUNCTION shared._lead_person_fields(text, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._lead_person_fields(text, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._meta_action_map(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._meta_action_map(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared._project_for_campaign_name(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._project_for_campaign_name(text) TO service_role;

REVOKE ALL ON FUNCTION shared._ratio(numeric, numeric, integer) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared._ratio(numeric, numeric, integer) TO gdp_dashboard;

GRANT EXECUTE ON FUNCTION shared._ratio(numeric, numeric, integer) TO service_role;

REVOKE ALL ON FUNCTION shared.authenticate_dashboard_key(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.authenticate_dashboard_key(text) TO gdp_dashboard;

GRANT EXECUTE ON FUNCTION shared.authenticate_dashboard_key(text) TO service_role;

REVOKE ALL ON FUNCTION shared.create_dashboard_key(text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.create_dashboard_key(text, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.create_dashboard_key(text, text) TO service_role;

REVOKE ALL ON FUNCTION shared.insights_begin_pull(text, date, date, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.insights_begin_pull(text, date, date, text) TO gdp_insights_worker;

GRANT EXECUTE ON FUNCTION shared.insights_begin_pull(text, date, date, text) TO service_role;

REVOKE ALL ON FUNCTION shared.insights_cache_state() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.insights_cache_state() TO gdp_dashboard;

GRANT EXECUTE ON FUNCTION shared.insights_cache_state() TO service_role;

REVOKE ALL ON FUNCTION shared.insights_finish_pull(bigint, text, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.insights_finish_pull(bigint, text, jsonb) TO gdp_insights_worker;

GRANT EXECUTE ON FUNCTION shared.insights_finish_pull(bigint, text, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.insights_worker_config() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.insights_worker_config() TO gdp_insights_worker;

GRANT EXECUTE ON FUNCTION shared.insights_worker_config() TO service_role;

REVOKE ALL ON FUNCTION shared.insights_write_rows(bigint, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.insights_write_rows(bigint, jsonb) TO gdp_insights_worker;

GRANT EXECUTE ON FUNCTION shared.insights_write_rows(bigint, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.lead_fetch_failed(bigint, text, boolean, integer, integer, integer, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.lead_fetch_failed(bigint, text, boolean, integer, integer, integer, text) TO gdp_lead_worker;

GRANT EXECUTE ON FUNCTION shared.lead_fetch_failed(bigint, text, boolean, integer, integer, integer, text) TO service_role;

REVOKE ALL ON FUNCTION shared.lead_queue_read(integer, integer) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.lead_queue_read(integer, integer) TO gdp_lead_worker;

GRANT EXECUTE ON FUNCTION shared.lead_queue_read(integer, integer) TO service_role;

REVOKE ALL ON FUNCTION shared.lead_worker_config() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.lead_worker_config() TO gdp_lead_worker;

GRANT EXECUTE ON FUNCTION shared.lead_worker_config() TO service_role;

REVOKE ALL ON FUNCTION shared.meta_conversions(jsonb, boolean) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.meta_conversions(jsonb, boolean) TO service_role;

REVOKE ALL ON FUNCTION shared.receive_lead_webhook(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.receive_lead_webhook(jsonb) TO gdp_api;

GRANT EXECUTE ON FUNCTION shared.receive_lead_webhook(jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.revoke_dashboard_key(uuid, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.revoke_dashboard_key(uuid, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.revoke_dashboard_key(uuid, text) TO service_role;

REVOKE ALL ON FUNCTION shared.sync_lead(bigint, jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.sync_lead(bigint, jsonb) TO gdp_lead_worker;

GRANT EXECUTE ON FUNCTION shared.sync_lead(bigint, jsonb) TO service_role;

REVOKE ALL ON FUNCTION shared.sync_leads(jsonb) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.sync_leads(jsonb) TO gdp_lead_worker;

GRANT EXECUTE ON FUNCTION shared.sync_leads(jsonb) TO service_role;

GRANT USAGE ON SCHEMA shared TO gdp_admin;

GRANT USAGE ON SCHEMA shared TO gdp_api;

GRANT USAGE ON SCHEMA shared TO gdp_dashboard;

GRANT USAGE ON SCHEMA shared TO gdp_insights_worker;

GRANT USAGE ON SCHEMA shared TO gdp_lead_worker;

GRANT SELECT ON SEQUENCE pgmq.q_meta_leads_msg_id_seq TO service_role;

GRANT USAGE ON SEQUENCE pgmq.q_meta_leads_msg_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.insights_pull_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.insights_pull_id_seq TO service_role;

GRANT SELECT ON SEQUENCE shared.performance_restatement_id_seq TO service_role;

GRANT USAGE ON SEQUENCE shared.performance_restatement_id_seq TO service_role;

GRANT DELETE ON TABLE pgmq.a_meta_leads TO service_role;

GRANT INSERT ON TABLE pgmq.a_meta_leads TO service_role;

GRANT SELECT ON TABLE pgmq.a_meta_leads TO service_role;

GRANT UPDATE ON TABLE pgmq.a_meta_leads TO service_role;

GRANT DELETE ON TABLE pgmq.q_meta_leads TO service_role;

GRANT INSERT ON TABLE pgmq.q_meta_leads TO service_role;

GRANT SELECT ON TABLE pgmq.q_meta_leads TO service_role;

GRANT UPDATE ON TABLE pgmq.q_meta_leads TO service_role;

GRANT DELETE ON TABLE shared.campaign_project TO service_role;

GRANT INSERT ON TABLE shared.campaign_project TO service_role;

GRANT SELECT ON TABLE shared.campaign_project TO service_role;

GRANT UPDATE ON TABLE shared.campaign_project TO service_role;

REVOKE ALL ON TABLE shared.capi_health FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.capi_health TO gdp_dashboard;

GRANT DELETE ON TABLE shared.capi_health TO service_role;

GRANT INSERT ON TABLE shared.capi_health TO service_role;

GRANT SELECT ON TABLE shared.capi_health TO service_role;

GRANT UPDATE ON TABLE shared.capi_health TO service_role;

GRANT DELETE ON TABLE shared.conversion_family TO service_role;

GRANT INSERT ON TABLE shared.conversion_family TO service_role;

GRANT SELECT ON TABLE shared.conversion_family TO service_role;

GRANT UPDATE ON TABLE shared.conversion_family TO service_role;

GRANT SELECT ON TABLE shared.dashboard_key TO gdp_admin;

GRANT SELECT ON TABLE shared.dashboard_key TO service_role;

REVOKE ALL ON TABLE shared.gate_state FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.gate_state TO gdp_dashboard;

GRANT DELETE ON TABLE shared.gate_state TO service_role;

GRANT INSERT ON TABLE shared.gate_state TO service_role;

GRANT SELECT ON TABLE shared.gate_state TO service_role;

GRANT UPDATE ON TABLE shared.gate_state TO service_role;

REVOKE ALL ON TABLE shared.gdp_conversions_daily FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.gdp_conversions_daily TO gdp_dashboard;

GRANT DELETE ON TABLE shared.gdp_conversions_daily TO service_role;

GRANT INSERT ON TABLE shared.gdp_conversions_daily TO service_role;

GRANT SELECT ON TABLE shared.gdp_conversions_daily TO service_role;

GRANT UPDATE ON TABLE shared.gdp_conversions_daily TO service_role;

REVOKE ALL ON TABLE shared.insights_ad_daily FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.insights_ad_daily TO gdp_dashboard;

GRANT DELETE ON TABLE shared.insights_ad_daily TO service_role;

GRANT INSERT ON TABLE shared.insights_ad_daily TO service_role;

GRANT SELECT ON TABLE shared.insights_ad_daily TO service_role;

GRANT UPDATE ON TABLE shared.insights_ad_daily TO service_role;

REVOKE ALL ON TABLE shared.insights_by_project FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.insights_by_project TO gdp_dashboard;

GRANT DELETE ON TABLE shared.insights_by_project TO service_role;

GRANT INSERT ON TABLE shared.insights_by_project TO service_role;

GRANT SELECT ON TABLE shared.insights_by_project TO service_role;

GRANT UPDATE ON TABLE shared.insights_by_project TO service_role;

GRANT DELETE ON TABLE shared.insights_conversion_action TO service_role;

GRANT INSERT ON TABLE shared.insights_conversion_action TO service_role;

GRANT SELECT ON TABLE shared.insights_conversion_action TO service_role;

GRANT UPDATE ON TABLE shared.insights_conversion_action TO service_role;

REVOKE ALL ON TABLE shared.insights_daily FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.insights_daily TO gdp_dashboard;

GRANT DELETE ON TABLE shared.insights_daily TO service_role;

GRANT INSERT ON TABLE shared.insights_daily TO service_role;

GRANT SELECT ON TABLE shared.insights_daily TO service_role;

GRANT UPDATE ON TABLE shared.insights_daily TO service_role;

REVOKE ALL ON TABLE shared.insights_project_daily FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.insights_project_daily TO gdp_dashboard;

GRANT DELETE ON TABLE shared.insights_project_daily TO service_role;

GRANT INSERT ON TABLE shared.insights_project_daily TO service_role;

GRANT SELECT ON TABLE shared.insights_project_daily TO service_role;

GRANT UPDATE ON TABLE shared.insights_project_daily TO service_role;

GRANT SELECT ON TABLE shared.insights_pull TO service_role;

REVOKE ALL ON TABLE shared.insights_pulls FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.insights_pulls TO gdp_dashboard;

GRANT DELETE ON TABLE shared.insights_pulls TO service_role;

GRANT INSERT ON TABLE shared.insights_pulls TO service_role;

GRANT SELECT ON TABLE shared.insights_pulls TO service_role;

GRANT UPDATE ON TABLE shared.insights_pulls TO service_role;

REVOKE ALL ON TABLE shared.insights_summary FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.insights_summary TO gdp_dashboard;

GRANT DELETE ON TABLE shared.insights_summary TO service_role;

GRANT INSERT ON TABLE shared.insights_summary TO service_role;

GRANT SELECT ON TABLE shared.insights_summary TO service_role;

GRANT UPDATE ON TABLE shared.insights_summary TO service_role;

GRANT DELETE ON TABLE shared.lead_field_map TO service_role;

GRANT INSERT ON TABLE shared.lead_field_map TO service_role;

GRANT SELECT ON TABLE shared.lead_field_map TO service_role;

GRANT UPDATE ON TABLE shared.lead_field_map TO service_role;

REVOKE ALL ON TABLE shared.lead_forms FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.lead_forms TO gdp_dashboard;

GRANT DELETE ON TABLE shared.lead_forms TO service_role;

GRANT INSERT ON TABLE shared.lead_forms TO service_role;

GRANT SELECT ON TABLE shared.lead_forms TO service_role;

GRANT UPDATE ON TABLE shared.lead_forms TO service_role;

REVOKE ALL ON TABLE shared.lead_funnel FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.lead_funnel TO gdp_dashboard;

GRANT DELETE ON TABLE shared.lead_funnel TO service_role;

GRANT INSERT ON TABLE shared.lead_funnel TO service_role;

GRANT SELECT ON TABLE shared.lead_funnel TO service_role;

GRANT UPDATE ON TABLE shared.lead_funnel TO service_role;

REVOKE ALL ON TABLE shared.lead_submissions FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.lead_submissions TO gdp_dashboard;

GRANT DELETE ON TABLE shared.lead_submissions TO service_role;

GRANT INSERT ON TABLE shared.lead_submissions TO service_role;

GRANT SELECT ON TABLE shared.lead_submissions TO service_role;

GRANT UPDATE ON TABLE shared.lead_submissions TO service_role;

GRANT DELETE ON TABLE shared.meta_lead TO service_role;

GRANT INSERT ON TABLE shared.meta_lead TO service_role;

GRANT SELECT ON TABLE shared.meta_lead TO service_role;

GRANT UPDATE ON TABLE shared.meta_lead TO service_role;

REVOKE ALL ON TABLE shared.metric_ad_click_source FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.metric_ad_click_source TO gdp_dashboard;

GRANT DELETE ON TABLE shared.metric_ad_click_source TO service_role;

GRANT INSERT ON TABLE shared.metric_ad_click_source TO service_role;

GRANT SELECT ON TABLE shared.metric_ad_click_source TO service_role;

GRANT UPDATE ON TABLE shared.metric_ad_click_source TO service_role;

REVOKE ALL ON TABLE shared.metric_insights_freshness FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.metric_insights_freshness TO gdp_dashboard;

GRANT DELETE ON TABLE shared.metric_insights_freshness TO service_role;

GRANT INSERT ON TABLE shared.metric_insights_freshness TO service_role;

GRANT SELECT ON TABLE shared.metric_insights_freshness TO service_role;

GRANT UPDATE ON TABLE shared.metric_insights_freshness TO service_role;

REVOKE ALL ON TABLE shared.metric_lead_to_customer FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.metric_lead_to_customer TO gdp_dashboard;

GRANT DELETE ON TABLE shared.metric_lead_to_customer TO service_role;

GRANT INSERT ON TABLE shared.metric_lead_to_customer TO service_role;

GRANT SELECT ON TABLE shared.metric_lead_to_customer TO service_role;

GRANT UPDATE ON TABLE shared.metric_lead_to_customer TO service_role;

REVOKE ALL ON TABLE shared.metric_match_key_coverage FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.metric_match_key_coverage TO gdp_dashboard;

GRANT DELETE ON TABLE shared.metric_match_key_coverage TO service_role;

GRANT INSERT ON TABLE shared.metric_match_key_coverage TO service_role;

GRANT SELECT ON TABLE shared.metric_match_key_coverage TO service_role;

GRANT UPDATE ON TABLE shared.metric_match_key_coverage TO service_role;

REVOKE ALL ON TABLE shared.metric_roas_cpa_change FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.metric_roas_cpa_change TO gdp_dashboard;

GRANT DELETE ON TABLE shared.metric_roas_cpa_change TO service_role;

GRANT INSERT ON TABLE shared.metric_roas_cpa_change TO service_role;

GRANT SELECT ON TABLE shared.metric_roas_cpa_change TO service_role;

GRANT UPDATE ON TABLE shared.metric_roas_cpa_change TO service_role;

GRANT DELETE ON TABLE shared.performance_campaign_daily TO service_role;

GRANT INSERT ON TABLE shared.performance_campaign_daily TO service_role;

GRANT SELECT ON TABLE shared.performance_campaign_daily TO service_role;

GRANT UPDATE ON TABLE shared.performance_campaign_daily TO service_role;

GRANT DELETE ON TABLE shared.performance_daily TO service_role;

GRANT INSERT ON TABLE shared.performance_daily TO service_role;

GRANT SELECT ON TABLE shared.performance_daily TO service_role;

GRANT UPDATE ON TABLE shared.performance_daily TO service_role;

GRANT DELETE ON TABLE shared.performance_restatement TO service_role;

GRANT INSERT ON TABLE shared.performance_restatement TO service_role;

GRANT SELECT ON TABLE shared.performance_restatement TO service_role;

GRANT UPDATE ON TABLE shared.performance_restatement TO service_role;

REVOKE ALL ON TABLE shared.projects FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.projects TO gdp_dashboard;

GRANT DELETE ON TABLE shared.projects TO service_role;

GRANT INSERT ON TABLE shared.projects TO service_role;

GRANT SELECT ON TABLE shared.projects TO service_role;

GRANT UPDATE ON TABLE shared.projects TO service_role;

REVOKE ALL ON TABLE shared.success_metrics FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT ON TABLE shared.success_metrics TO gdp_dashboard;

GRANT DELETE ON TABLE shared.success_metrics TO service_role;

GRANT INSERT ON TABLE shared.success_metrics TO service_role;

GRANT SELECT ON TABLE shared.success_metrics TO service_role;

GRANT UPDATE ON TABLE shared.success_metrics TO service_role;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.campaign_project'::regclass AND p.polname = 'The service role can read and change campaign projects'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read and change campaign projects" ON shared.campaign_project;
        CREATE POLICY "The service role can read and change campaign projects" ON shared.campaign_project
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.campaign_project'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.campaign_project ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.conversion_family'::regclass AND p.polname = 'The service role can read and change conversion families'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read and change conversion families" ON shared.conversion_family;
        CREATE POLICY "The service role can read and change conversion families" ON shared.conversion_family
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.conversion_family'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.conversion_family ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.dashboard_key'::regclass AND p.polname = 'The service role can read dashboard keys'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read dashboard keys" ON shared.dashboard_key;
        CREATE POLICY "The service role can read dashboard keys" ON shared.dashboard_key
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.dashboard_key'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.dashboard_key ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.insights_conversion_action'::regclass AND p.polname = 'The service role can read and change conversion action types'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read and change conversion action types" ON shared.insights_conversion_action;
        CREATE POLICY "The service role can read and change conversion action types" ON shared.insights_conversion_action
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.insights_conversion_action'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.insights_conversion_action ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.insights_pull'::regclass AND p.polname = 'The service role can read insights pulls'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read insights pulls" ON shared.insights_pull;
        CREATE POLICY "The service role can read insights pulls" ON shared.insights_pull
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.insights_pull'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.insights_pull ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.lead_field_map'::regclass AND p.polname = 'The service role can read and change lead field mappings'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read and change lead field mappings" ON shared.lead_field_map;
        CREATE POLICY "The service role can read and change lead field mappings" ON shared.lead_field_map
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.lead_field_map'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.lead_field_map ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.meta_lead'::regclass AND p.polname = 'The service role can read Lead Ads leads'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read Lead Ads leads" ON shared.meta_lead;
        CREATE POLICY "The service role can read Lead Ads leads" ON shared.meta_lead
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.meta_lead'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.meta_lead ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.performance_campaign_daily'::regclass AND p.polname = 'The service role can read campaign performance'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read campaign performance" ON shared.performance_campaign_daily;
        CREATE POLICY "The service role can read campaign performance" ON shared.performance_campaign_daily
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.performance_campaign_daily'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.performance_campaign_daily ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.performance_daily'::regclass AND p.polname = 'The service role can read ad performance'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read ad performance" ON shared.performance_daily;
        CREATE POLICY "The service role can read ad performance" ON shared.performance_daily
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.performance_daily'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.performance_daily ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.performance_restatement'::regclass AND p.polname = 'The service role can read restatements'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['service_role']::text[]) THEN
        DROP POLICY IF EXISTS "The service role can read restatements" ON shared.performance_restatement;
        CREATE POLICY "The service role can read restatements" ON shared.performance_restatement
            AS PERMISSIVE FOR ALL
            TO service_role
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'shared.performance_restatement'::regclass) IS DISTINCT FROM true THEN
        ALTER TABLE shared.performance_restatement ENABLE ROW LEVEL SECURITY;
    END IF;
END
$release$;

COMMENT ON FUNCTION shared.authenticate_dashboard_key(text) IS 'The label of a live dashboard key, or NULL for an unknown or revoked one.';

COMMENT ON FUNCTION shared.create_dashboard_key(text, text) IS 'Create a dashboard user''s key (gdp_dk_...): returned once, stored only as SHA-256.';

COMMENT ON FUNCTION shared.insights_begin_pull(text, date, date, text) IS 'Start a pull of act_<id> over [date_from, date_to] (sync or async); returns the pull id the rows are written under.';

COMMENT ON FUNCTION shared.insights_cache_state() IS 'The insights API cache key: META_INSIGHTS_CACHE_TTL_SEC, the newest succeeded pull, and whether ACD_META_INSIGHTS_ENABLED is on.';

COMMENT ON FUNCTION shared.insights_finish_pull(bigint, text, jsonb) IS 'Close a running pull as succeeded or failed with its counters (requests, retries, report runs, splits, throttle waits, error); a success tells API caches to refresh.';

COMMENT ON FUNCTION shared.insights_worker_config() IS 'What the insights worker runs by: the ACD_META_INSIGHTS_ENABLED flag, the ad account, the re-pull window, when to use async report runs, the pull interval, the attribution windows and when the last pull succeeded.';

COMMENT ON FUNCTION shared.insights_write_rows(bigint, jsonb) IS 'Write a page of Meta insights rows (level=ad, time_increment=1, as Meta sends them) under a running pull: upsert by (ad, day), log restated days, map new campaigns to projects by naming convention, keep the per-campaign rollup in step.';

COMMENT ON FUNCTION shared.lead_fetch_failed(bigint, text, boolean, integer, integer, integer, text) IS 'Record a lead that could not be fetched from Meta: retried after p_delay_s, or with p_final recorded as failed (Meta''s code kept) and its message archived.';

COMMENT ON FUNCTION shared.lead_queue_read(integer, integer) IS 'Lease up to p_qty messages of the meta_leads queue for p_vt seconds (the lead worker''s only queue access).';

COMMENT ON FUNCTION shared.lead_worker_config() IS 'What the lead worker runs by: LEAD_ADS_SYNC_ENABLED, the default product and the fetch attempts before a lead is recorded as failed.';

COMMENT ON FUNCTION shared.meta_conversions(jsonb, boolean) IS 'Conversions (or with p_values_only, revenue) in Meta''s {action_type: number}: per family of shared.conversion_family its best-ranked action type present, so omni_purchase, purchase and the pixel purchase are one purchase, not three.';

COMMENT ON FUNCTION shared.receive_lead_webhook(jsonb) IS 'Store a verified Lead Ads webhook delivery: every entry and change, deduplicated by leadgen_id (a repeat counts a delivery), new leads queued on pgmq meta_leads (ids only). Returns whether LEAD_ADS_SYNC_ENABLED is on (off: nothing stored), changes, new leads, duplicates and skipped changes.';

COMMENT ON FUNCTION shared.revoke_dashboard_key(uuid, text) IS 'Revoke a dashboard key by id; it stops working at once (the API caches successes for a second).';

COMMENT ON FUNCTION shared.sync_lead(bigint, jsonb) IS 'The PRD''s syncLeadToPerson on one Meta lead object: see shared.sync_leads.';

COMMENT ON FUNCTION shared.sync_leads(jsonb) IS 'The PRD''s syncLeadToPerson for a batch of Meta lead objects ([{msg_id, lead}]): people upserted by email in one call with first touch from the campaign, lead ids linked (meta_lead), LeadFormSubmitted events stored, leads recorded and messages archived; one transaction, idempotent.';

COMMENT ON VIEW shared.capi_health IS 'Conversions API health: delivered, dead-lettered by reason, circuit breakers, queue lengths.';

COMMENT ON VIEW shared.gate_state IS 'The deployment gate: every flag, its gap, order and state.';

COMMENT ON VIEW shared.gdp_conversions_daily IS 'Conversions GDP delivered to Meta through the Conversions API, per product and day, with their value (first-party ROAS/CPA).';

COMMENT ON VIEW shared.insights_ad_daily IS 'Per ad per day with its project: Meta''s spend, conversions, CPA and ROAS, and how often the day was restated.';

COMMENT ON VIEW shared.insights_by_project IS 'Per project over the last 30 days: spend, clicks, conversions, CPA and ROAS, Meta''s and GDP''s side by side.';

COMMENT ON VIEW shared.insights_daily IS 'All projects per day, with CPA and ROAS from Meta''s action values and from GDP''s delivered conversions.';

COMMENT ON VIEW shared.insights_project_daily IS 'Spend, impressions, clicks and conversions per project per day: Meta''s (Ads Insights) and GDP''s own (delivered through CAPI), side by side.';

COMMENT ON VIEW shared.insights_pulls IS 'Every insights pull with its range, rows, requests, retries and duration: how fresh the numbers are.';

COMMENT ON VIEW shared.insights_summary IS 'All projects over the last 30 days: spend, CTR, CPC, conversions, CPA and ROAS (Meta''s and GDP''s).';

COMMENT ON VIEW shared.lead_forms IS 'Per lead form: leads, synced, failed, pending, how many became activated or customers, projects.';

COMMENT ON VIEW shared.lead_funnel IS 'Lead Ads leads per project and how many were activated or became customers.';

COMMENT ON VIEW shared.lead_submissions IS 'Every Lead Ads submission with its form, ad, campaign, project, sync status and the person''s lifecycle stage (no answers, no PII).';

COMMENT ON VIEW shared.metric_ad_click_source IS 'PRD metric "> 50% of conversions have an ad click source": delivered conversions (30 days) with an fbc, a Meta UTM source or a Lead Ads lead behind them.';

COMMENT ON VIEW shared.metric_insights_freshness IS 'PRD metric "dashboard insights latency < 15 min from Meta": minutes since the newest successful pull (API caches are dropped when a pull lands).';

COMMENT ON VIEW shared.metric_lead_to_customer IS 'PRD metric "> 80% of customers traced to source": customers whose first touch (product and UTM source, click id or lead form) is known.';

COMMENT ON VIEW shared.metric_match_key_coverage IS 'PRD metric "CAPI event match rate > 70%": per product and event, the share of delivered events (7 days) carrying em, ph, external_id, fbc/fbp, IP+UA; met when em or ph is on more than 70%.';

COMMENT ON VIEW shared.metric_roas_cpa_change IS 'PRD metrics "ROAS +20% within 30 days of CAPI" and "CPA -15% from baseline": Meta''s ROAS and CPA in the 30 days before META_CAPI_INGEST_ENABLED went on against the 30 days since.';

COMMENT ON VIEW shared.projects IS 'The projects insights are reported by: every product, and "unassigned" for unmapped campaigns.';

COMMENT ON VIEW shared.success_metrics IS 'The PRD''s success metrics, one row each: target, current value, unit and whether it is met.';

-- migrate:down
