-- migrate:up
-- gdp:release sources=sha256:630d2d93c4026bdee7c39f0fec36b6f472058ad457554951813bba0b0d73d456

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared.assign_campaign_project(p_campaign_id text, p_project_id text, p_actor text)
 RETURNS TABLE(campaign_id text, campaign_name text, project_id text, assigned_by text)
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    UPDATE shared.campaign_project AS c
    SET project_id = p_project_id, assigned_by = p_actor, updated_at = now()
    WHERE c.campaign_id = p_campaign_id
    RETURNING c.campaign_id, c.campaign_name, c.project_id, c.assigned_by;
$function$;

CREATE OR REPLACE FUNCTION shared.erase_person_by_email(p_email text, p_requested_by text, p_reason text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_person_id uuid;
BEGIN
    SELECT id INTO v_person_id FROM shared.person WHERE email = shared._normalize_email(p_email);
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'email', 'no person with this email');
    END IF;
    RETURN shared.erase_person(v_person_id, p_requested_by, p_reason);
END
$function$;

CREATE OR REPLACE FUNCTION shared.process_roles()
 RETURNS TABLE(role_name text, purpose text, present boolean, logins text[])
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
    SELECT r.role_name, r.purpose, p.oid IS NOT NULL,
           coalesce((SELECT array_agg(l.rolname::text ORDER BY l.rolname)
                     FROM pg_catalog.pg_auth_members AS m
                     JOIN pg_catalog.pg_roles AS l ON l.oid = m.member
                     WHERE m.roleid = p.oid AND l.rolcanlogin), '{}')
    FROM (VALUES
        (1, 'gdp_api',             'gdp serve: the HTTP service'),
        (2, 'gdp_capi_worker',     'gdp worker capi: Conversions API delivery'),
        (3, 'gdp_insights_worker', 'gdp worker insights: Ads Insights pulls'),
        (4, 'gdp_lead_worker',     'gdp worker leads: Lead Ads sync'),
        (5, 'gdp_segment_worker',  'gdp worker segments: segment evaluation'),
        (6, 'gdp_audience_worker', 'gdp worker audiences: Custom Audience sync'),
        (7, 'gdp_maintenance',     'gdp worker maintenance: retention'),
        (8, 'gdp_dashboard',       'the dashboard and the insights API of gdp serve'),
        (9, 'gdp_admin',           'the admin CLI: gdp flags, checklist, settings, keys, dlq, people, insights')
    ) AS r(ord, role_name, purpose)
    LEFT JOIN pg_catalog.pg_roles AS p ON p.rolname = r.role_name
    ORDER BY r.ord
$function$;

CREATE OR REPLACE FUNCTION shared.record_consent(p_person_id uuid, p_status text, p_source text, p_changed_at timestamp with time zone DEFAULT now())
 RETURNS shared.consent_status
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_status shared.consent_status;
    v_current shared.person;
BEGIN
    IF coalesce(p_status, '') <> ALL (enum_range(NULL::shared.consent_status)::text[]) THEN
        PERFORM shared._raise('GD400', 'status', 'must be one of granted, withdrawn, unknown');
    END IF;
    IF nullif(shared._trim(p_source), '') IS NULL THEN
        PERFORM shared._raise('GD400', 'source', 'is required (where the consent was given)');
    END IF;
    v_status := p_status::shared.consent_status;

    SELECT * INTO v_current FROM shared.person WHERE id = p_person_id FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'person_id', format('no person %s', p_person_id));
    END IF;

    INSERT INTO shared.consent_log (person_id, status, source, changed_at)
    VALUES (p_person_id, v_status, shared._trim(p_source), coalesce(p_changed_at, now()));

    IF v_current.consent_changed_at IS NULL
       OR coalesce(p_changed_at, now()) >= v_current.consent_changed_at THEN
        UPDATE shared.person
        SET consent_status = v_status, consent_changed_at = coalesce(p_changed_at, now())
        WHERE id = p_person_id;
        RETURN v_status;
    END IF;
    RETURN v_current.consent_status;
END
$function$;

CREATE OR REPLACE FUNCTION shared.replay_dead_letters(p_ids bigint[], p_actor text)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_msgs jsonb[];
BEGIN
    WITH picked AS (
        UPDATE shared.capi_dead_letter AS d
        SET replayed_at = now(), replayed_by = v_actor
        WHERE d.replayed_at IS NULL AND (p_ids IS NULL OR d.id = ANY (p_ids))
          AND EXISTS (SELECT 1 FROM shared.event AS e WHERE e.id = d.event_ref)
        RETURNING d.event_ref, d.meta_event_name
    )
    SELECT array_agg(jsonb_build_object('event', event_ref, 'meta_event_name', meta_event_name,
                                        'replay', true) ORDER BY event_ref)
    INTO v_msgs FROM picked;
    IF v_msgs IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pgmq.send_batch('meta_capi', v_msgs);
    PERFORM pg_notify('gdp_meta_capi', '');
    RETURN cardinality(v_msgs);
END
$function$;

REVOKE ALL (external_id) ON TABLE shared.identity_link FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (external_id) ON TABLE shared.identity_link TO gdp_admin;

REVOKE ALL (id) ON TABLE shared.identity_link FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (id) ON TABLE shared.identity_link TO gdp_admin;

REVOKE ALL (person_id) ON TABLE shared.identity_link FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (person_id) ON TABLE shared.identity_link TO gdp_admin;

REVOKE ALL (provider) ON TABLE shared.identity_link FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (provider) ON TABLE shared.identity_link TO gdp_admin;

REVOKE ALL (consent_status) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (consent_status) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (created_at) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (created_at) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (email) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (email) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (first_name) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (first_name) ON TABLE shared.person TO gdp_admin;

GRANT SELECT (id) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (last_name) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (last_name) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (lifecycle_stage) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (lifecycle_stage) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (phone) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (phone) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (source_product) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (source_product) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (utm_campaign) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (utm_campaign) ON TABLE shared.person TO gdp_admin;

REVOKE ALL (utm_source) ON TABLE shared.person FROM PUBLIC, anon, authenticated, service_role;

GRANT SELECT (utm_source) ON TABLE shared.person TO gdp_admin;

REVOKE ALL ON FUNCTION shared.assign_campaign_project(text, text, text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.assign_campaign_project(text, text, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.assign_campaign_project(text, text, text) TO service_role;

GRANT EXECUTE ON FUNCTION shared.erase_person_by_email(text, text, text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.record_consent(uuid, text, text, timestamp with time zone) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.replay_dead_letters(bigint[], text) TO gdp_admin;

GRANT EXECUTE ON FUNCTION shared.upsert_people(jsonb) TO gdp_admin;

GRANT SELECT ON TABLE shared.campaign_project TO gdp_admin;

GRANT SELECT ON TABLE shared.capi_dead_letter TO gdp_admin;

GRANT SELECT ON TABLE shared.insights_pulls TO gdp_admin;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.campaign_project'::regclass AND p.polname = 'The admin CLI reads campaign projects'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin CLI reads campaign projects" ON shared.campaign_project;
        CREATE POLICY "The admin CLI reads campaign projects" ON shared.campaign_project
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_dead_letter'::regclass AND p.polname = 'The admin CLI reads dead letters'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin CLI reads dead letters" ON shared.capi_dead_letter;
        CREATE POLICY "The admin CLI reads dead letters" ON shared.capi_dead_letter
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.identity_link'::regclass AND p.polname = 'The admin CLI lists identity links'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin CLI lists identity links" ON shared.identity_link;
        CREATE POLICY "The admin CLI lists identity links" ON shared.identity_link
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.person'::regclass AND p.polname = 'The admin CLI lists people'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_admin']::text[]) THEN
        DROP POLICY IF EXISTS "The admin CLI lists people" ON shared.person;
        CREATE POLICY "The admin CLI lists people" ON shared.person
            AS PERMISSIVE FOR SELECT
            TO gdp_admin
            USING (true);
    END IF;
END
$release$;

COMMENT ON FUNCTION shared.assign_campaign_project(text, text, text) IS 'Map a campaign to a project by hand (gdp insights assign); pulls never change it afterwards. No row when the campaign is unknown.';

-- migrate:down
