/**
 * Lead Ads into the shared person table: the webhook's one SQL call, the lead worker's queue and
 * the PRD's syncLeadToPerson, done set-based on what Meta's /{leadgen_id} answered.
 *
 *   webhook (gdp serve, gdp_api) -> shared.receive_lead_webhook: one row per leadgen_id, pgmq
 *   meta_leads gets the new ones (ids only) -> lead worker (gdp_lead_worker) fetches the lead ->
 *   shared.sync_lead: person upserted (first touch from the campaign), identity linked, a
 *   LeadFormSubmitted event stored, the message archived, all in one transaction.
 */

/*
 * Store a verified Lead Ads delivery (Meta's signature is checked by the caller, over the raw
 * body, before this runs). Every entry and every change is handled, since Meta batches them; a
 * leadgen_id seen before only counts another delivery (Meta retries for 36 hours). Changes that
 * are not leadgen notifications, or lack the ids, are counted and skipped so that one odd change
 * never makes Meta resend the whole delivery.
 */
CREATE OR REPLACE FUNCTION shared.receive_lead_webhook(p_payload jsonb)
RETURNS TABLE (enabled boolean, changes integer, new_leads integer, duplicates integer,
               skipped integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.receive_lead_webhook(jsonb) IS
    'Store a verified Lead Ads webhook delivery: every entry and change, deduplicated by leadgen_id (a repeat counts a delivery), new leads queued on pgmq meta_leads (ids only). Returns whether LEAD_ADS_SYNC_ENABLED is on (off: nothing stored), changes, new leads, duplicates and skipped changes.';

-- What the lead worker runs by (it reads no table directly).
CREATE OR REPLACE FUNCTION shared.lead_worker_config()
RETURNS TABLE (enabled boolean, default_product text, max_attempts integer)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT shared.is_enabled('LEAD_ADS_SYNC_ENABLED'),
           coalesce(shared.setting_value('LEAD_ADS_DEFAULT_PRODUCT') #>> '{}', 'waitlistlab'),
           coalesce((shared.setting_value('LEAD_ADS_MAX_ATTEMPTS') #>> '{}')::integer, 8)
$$;
COMMENT ON FUNCTION shared.lead_worker_config() IS
    'What the lead worker runs by: LEAD_ADS_SYNC_ENABLED, the default product and the fetch attempts before a lead is recorded as failed.';

-- Lease up to p_qty lead messages for p_vt seconds (a crashed worker's reappear after that).
CREATE OR REPLACE FUNCTION shared.lead_queue_read(p_vt integer, p_qty integer)
RETURNS TABLE (msg_id bigint, read_ct integer, leadgen_id text)
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT m.msg_id, m.read_ct, m.message ->> 'leadgen_id'
    FROM pgmq.read('meta_leads', greatest(p_vt, 1), least(greatest(p_qty, 1), 1000)) AS m
$$;
COMMENT ON FUNCTION shared.lead_queue_read(integer, integer) IS
    'Lease up to p_qty messages of the meta_leads queue for p_vt seconds (the lead worker''s only queue access).';

/*
 * A lead's answers as person fields, by shared.lead_field_map (the form's own rows first, then
 * the '*' rows). Values are Meta's arrays: the first value counts; questions without a mapping
 * go to properties.lead_answers (all values, joined by ", ").
 */
CREATE OR REPLACE FUNCTION shared._lead_person_fields(p_form_id text, p_field_data jsonb)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
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
$$;

-- Lead forms write dates as MM/DD/YYYY; ISO dates are accepted too.
CREATE OR REPLACE FUNCTION shared._lead_date(p_value text)
RETURNS date
LANGUAGE plpgsql IMMUTABLE
AS $$
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
$$;

/*
 * What one lead becomes, before anything is written: the person object for upsert_people (or
 * the reason there is none), the lead's project and campaign. First touch from the campaign:
 * utm_source meta, utm_medium paid (organic without an ad), utm_campaign the campaign's name,
 * the lead form, the campaign's project as source product (LEAD_ADS_DEFAULT_PRODUCT when the
 * campaign maps to none). Answers that break the person's rules (a phone without a country code,
 * an unknown country) are left out rather than losing the lead.
 */
CREATE OR REPLACE FUNCTION shared._lead_as_person(p_lead jsonb, p_row shared.meta_lead)
RETURNS TABLE (person jsonb, project_id text, campaign_id text, created_time timestamptz,
               problem text)
LANGUAGE plpgsql STABLE
AS $$
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
$$;

/*
 * The PRD's syncLeadToPerson for a batch of leads, on what GET /{leadgen_id} answered for each
 * (fields id, created_time, ad_id, adset_id, campaign_id, campaign_name, form_id, field_data,
 * is_organic). p_items: [{msg_id, lead}]. Every person is upserted by email in one
 * shared.upsert_people call (first touch kept, lifecycle only advances), each lead id linked to
 * its person (provider meta_lead, so later conversions carry lead_id to Meta), a
 * LeadFormSubmitted event stored per lead (not sent to Meta: Meta has the lead), the leads
 * recorded and their messages archived: one transaction. A lead without a usable email is
 * recorded as failed. Idempotent: a redelivered message or an already synced lead changes
 * nothing. If the batch is refused (an identity already linked to someone else), nothing is
 * written and the caller syncs the leads one by one to find the culprit.
 */
CREATE OR REPLACE FUNCTION shared.sync_leads(p_items jsonb)
RETURNS TABLE (leadgen_id text, status text, person_id uuid, created boolean, project_id text,
               problem text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.sync_leads(jsonb) IS
    'The PRD''s syncLeadToPerson for a batch of Meta lead objects ([{msg_id, lead}]): people upserted by email in one call with first touch from the campaign, lead ids linked (meta_lead), LeadFormSubmitted events stored, leads recorded and messages archived; one transaction, idempotent.';

-- One lead (the PostgREST RPC shape, and the worker's fallback when a batch is refused).
CREATE OR REPLACE FUNCTION shared.sync_lead(p_msg_id bigint, p_lead jsonb)
RETURNS TABLE (leadgen_id text, status text, person_id uuid, created boolean, project_id text,
               problem text)
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT * FROM shared.sync_leads(jsonb_build_array(
        jsonb_build_object('msg_id', p_msg_id, 'lead', p_lead)))
$$;
COMMENT ON FUNCTION shared.sync_lead(bigint, jsonb) IS
    'The PRD''s syncLeadToPerson on one Meta lead object: see shared.sync_leads.';

/*
 * A lead that could not be fetched: retried later (the message reappears after p_delay_s) until
 * p_final, then recorded as failed with Meta's code and the message archived. The message text
 * is Meta's error message, which names ids, never a lead's answers.
 */
CREATE OR REPLACE FUNCTION shared.lead_fetch_failed(
    p_msg_id bigint, p_leadgen_id text, p_final boolean, p_delay_s integer,
    p_error_code integer, p_error_subcode integer, p_error_message text
)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
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
$$;
COMMENT ON FUNCTION shared.lead_fetch_failed(bigint, text, boolean, integer, integer, integer, text) IS
    'Record a lead that could not be fetched from Meta: retried after p_delay_s, or with p_final recorded as failed (Meta''s code kept) and its message archived.';

/** Section - Views */

-- Lead submissions across products, ids and outcomes only (the answers stay in shared.person).
CREATE OR REPLACE VIEW shared.lead_submissions AS
SELECT l.leadgen_id, l.form_id, l.page_id, l.ad_id, l.adset_id, l.campaign_id,
       c.campaign_name, coalesce(l.project_id, c.project_id) AS project, l.is_organic,
       l.created_time, l.received_at, l.deliveries, l.status, l.attempts, l.synced_at,
       l.person_id, p.lifecycle_stage::text AS lifecycle_stage, l.error_code, l.error_message
FROM shared.meta_lead AS l
LEFT JOIN shared.campaign_project AS c ON c.campaign_id = l.campaign_id
LEFT JOIN shared.person AS p ON p.id = l.person_id;
COMMENT ON VIEW shared.lead_submissions IS
    'Every Lead Ads submission with its form, ad, campaign, project, sync status and the person''s lifecycle stage (no answers, no PII).';

CREATE OR REPLACE VIEW shared.lead_forms AS
SELECT s.form_id,
       count(*) AS leads,
       count(*) FILTER (WHERE s.status = 'synced') AS synced,
       count(*) FILTER (WHERE s.status = 'failed') AS failed,
       count(*) FILTER (WHERE s.status = 'received') AS pending,
       count(*) FILTER (WHERE s.lifecycle_stage IN ('activated', 'customer')) AS activated,
       count(*) FILTER (WHERE s.lifecycle_stage = 'customer') AS customers,
       array_agg(DISTINCT s.project) FILTER (WHERE s.project IS NOT NULL) AS projects,
       min(s.created_time) AS first_lead_at,
       max(s.created_time) AS last_lead_at
FROM shared.lead_submissions AS s
GROUP BY s.form_id;
COMMENT ON VIEW shared.lead_forms IS
    'Per lead form: leads, synced, failed, pending, how many became activated or customers, projects.';

-- Lead -> customer funnel per project: Lead Ads leads and what became of them.
CREATE OR REPLACE VIEW shared.lead_funnel AS
SELECT coalesce(s.project, 'unassigned') AS project,
       count(*) AS leads,
       count(*) FILTER (WHERE s.status = 'synced') AS synced,
       count(*) FILTER (WHERE s.lifecycle_stage IN ('activated', 'customer', 'churned')) AS activated,
       count(*) FILTER (WHERE s.lifecycle_stage = 'customer') AS customers
FROM shared.lead_submissions AS s
GROUP BY 1;
COMMENT ON VIEW shared.lead_funnel IS
    'Lead Ads leads per project and how many were activated or became customers.';
