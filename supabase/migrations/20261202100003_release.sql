-- migrate:up
-- gdp:release sources=sha256:7d005dda0de74bf77f380a7517142056662d9166ce00b14e567e19342efb2b00

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

GRANT EXECUTE ON FUNCTION pgmq.archive(text, bigint) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION pgmq.archive(text, bigint[]) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION pgmq.metrics(text) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION pgmq.read(text, integer, integer, jsonb) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION pgmq.set_vt(text, bigint, integer) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION pgmq.set_vt(text, bigint, timestamp with time zone) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION pgmq.set_vt(text, bigint[], integer) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION pgmq.set_vt(text, bigint[], timestamp with time zone) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION shared.capi_claim_request(bigint[], integer[], integer) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION shared.capi_extend_leases(bigint[], integer[], integer) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION shared.capi_set_breaker(text, text, integer, text) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION shared.is_enabled(text) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION shared.record_capi_outcomes(jsonb, bigint[]) TO gdp_capi_worker;

GRANT EXECUTE ON FUNCTION shared.setting_value(text, text) TO gdp_capi_worker;

GRANT USAGE ON SCHEMA pgmq TO gdp_capi_worker;

GRANT USAGE ON SCHEMA shared TO gdp_capi_worker;

GRANT SELECT ON SEQUENCE pgmq.q_meta_capi_msg_id_seq TO gdp_capi_worker;

GRANT INSERT ON TABLE pgmq.a_meta_capi TO gdp_capi_worker;

GRANT SELECT ON TABLE pgmq.a_meta_capi TO gdp_capi_worker;

GRANT SELECT ON TABLE pgmq.meta TO gdp_capi_worker;

GRANT DELETE ON TABLE pgmq.q_meta_capi TO gdp_capi_worker;

GRANT SELECT ON TABLE pgmq.q_meta_capi TO gdp_capi_worker;

GRANT UPDATE ON TABLE pgmq.q_meta_capi TO gdp_capi_worker;

GRANT INSERT ON TABLE shared.attribution_events TO gdp_capi_worker;

GRANT INSERT ON TABLE shared.capi_dead_letter TO gdp_capi_worker;

GRANT INSERT ON TABLE shared.capi_pixel_state TO gdp_capi_worker;

GRANT SELECT ON TABLE shared.capi_pixel_state TO gdp_capi_worker;

GRANT UPDATE ON TABLE shared.capi_pixel_state TO gdp_capi_worker;

GRANT SELECT ON TABLE shared.conversion_rule TO gdp_capi_worker;

GRANT SELECT ON TABLE shared.event TO gdp_capi_worker;

GRANT SELECT ON TABLE shared.feature_flag TO gdp_capi_worker;

GRANT SELECT ON TABLE shared.identity_link TO gdp_capi_worker;

GRANT SELECT ON TABLE shared.person TO gdp_capi_worker;

GRANT SELECT ON TABLE shared.setting TO gdp_capi_worker;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.attribution_events'::regclass AND p.polname = 'The CAPI worker records delivery outcomes'
                AND p.polcmd = 'a'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM NULL
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker records delivery outcomes" ON shared.attribution_events;
        CREATE POLICY "The CAPI worker records delivery outcomes" ON shared.attribution_events
            AS PERMISSIVE FOR INSERT
            TO gdp_capi_worker
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_dead_letter'::regclass AND p.polname = 'The CAPI worker records dead letters'
                AND p.polcmd = 'a'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM NULL
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker records dead letters" ON shared.capi_dead_letter;
        CREATE POLICY "The CAPI worker records dead letters" ON shared.capi_dead_letter
            AS PERMISSIVE FOR INSERT
            TO gdp_capi_worker
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.capi_pixel_state'::regclass AND p.polname = 'The CAPI worker keeps the pixel breakers'
                AND p.polcmd = '*'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker keeps the pixel breakers" ON shared.capi_pixel_state;
        CREATE POLICY "The CAPI worker keeps the pixel breakers" ON shared.capi_pixel_state
            AS PERMISSIVE FOR ALL
            TO gdp_capi_worker
            USING (true)
            WITH CHECK (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.conversion_rule'::regclass AND p.polname = 'The CAPI worker reads conversion rules'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker reads conversion rules" ON shared.conversion_rule;
        CREATE POLICY "The CAPI worker reads conversion rules" ON shared.conversion_rule
            AS PERMISSIVE FOR SELECT
            TO gdp_capi_worker
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.event'::regclass AND p.polname = 'The CAPI worker reads the events it sends'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker reads the events it sends" ON shared.event;
        CREATE POLICY "The CAPI worker reads the events it sends" ON shared.event
            AS PERMISSIVE FOR SELECT
            TO gdp_capi_worker
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.feature_flag'::regclass AND p.polname = 'The CAPI worker reads feature flags'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker reads feature flags" ON shared.feature_flag;
        CREATE POLICY "The CAPI worker reads feature flags" ON shared.feature_flag
            AS PERMISSIVE FOR SELECT
            TO gdp_capi_worker
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.identity_link'::regclass AND p.polname = 'The CAPI worker reads Lead Ads identities'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker reads Lead Ads identities" ON shared.identity_link;
        CREATE POLICY "The CAPI worker reads Lead Ads identities" ON shared.identity_link
            AS PERMISSIVE FOR SELECT
            TO gdp_capi_worker
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.person'::regclass AND p.polname = 'The CAPI worker reads the people it sends'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker reads the people it sends" ON shared.person;
        CREATE POLICY "The CAPI worker reads the people it sends" ON shared.person
            AS PERMISSIVE FOR SELECT
            TO gdp_capi_worker
            USING (true);
    END IF;
END
$release$;

DO $release$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p WHERE p.polrelid = 'shared.setting'::regclass AND p.polname = 'The CAPI worker reads settings'
                AND p.polcmd = 'r'
                AND p.polpermissive = true
                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM 'true'
                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT FROM NULL
                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = ARRAY['gdp_capi_worker']::text[]) THEN
        DROP POLICY IF EXISTS "The CAPI worker reads settings" ON shared.setting;
        CREATE POLICY "The CAPI worker reads settings" ON shared.setting
            AS PERMISSIVE FOR SELECT
            TO gdp_capi_worker
            USING (true);
    END IF;
END
$release$;

-- migrate:down
