-- migrate:up
-- gdp:release sources=sha256:be5088346e83c82974fca4302dfcfb1735d3b7adcb6682f9a67ca714e05437f7

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared.make_process_login(p_login text, p_roles text[], p_password_hash text DEFAULT NULL::text)
 RETURNS TABLE(login text, created boolean, roles text[])
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_known text[] := ARRAY(SELECT r.role_name FROM shared.process_roles() AS r);
    v_created boolean := false;
    v_role text;
BEGIN
    IF p_login IS NULL OR p_login !~ '^[a-z_][a-z0-9_]{0,62}$' THEN
        PERFORM shared._raise('GD400', 'login',
            'must be a lowercase name of letters, digits and _ (at most 63)');
    END IF;
    IF p_login = ANY (v_known) OR p_login IN ('gdp_product', 'anon', 'authenticated',
                                             'service_role', 'authenticator', 'postgres') THEN
        PERFORM shared._raise('GD400', 'login',
            format('%s is a role, not a login for a process; pick another name', p_login));
    END IF;
    IF coalesce(cardinality(p_roles), 0) = 0 THEN
        PERFORM shared._raise('GD400', 'roles', 'name at least one process role');
    END IF;
    FOREACH v_role IN ARRAY p_roles LOOP
        IF NOT v_role = ANY (v_known) THEN
            PERFORM shared._raise('GD400', 'roles',
                format('%s is not a GDP process role (one of: %s)', v_role,
                       array_to_string(v_known, ', ')));
        END IF;
    END LOOP;
    IF p_password_hash IS NOT NULL AND p_password_hash !~ '^SCRAM-SHA-256\$' THEN
        PERFORM shared._raise('GD400', 'password_hash', 'must be a SCRAM-SHA-256 verifier');
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = p_login) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT', p_login);
        v_created := true;
    ELSIF NOT (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = p_login) THEN
        PERFORM shared._raise('GD409', 'login', format('%s exists and cannot log in', p_login));
    END IF;
    IF p_password_hash IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', p_login, p_password_hash);
    END IF;
    FOREACH v_role IN ARRAY p_roles LOOP
        IF NOT pg_catalog.pg_has_role(p_login, v_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', v_role, p_login);
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT p_login, v_created,
           ARRAY(SELECT r.role_name FROM shared.process_roles() AS r
                 WHERE p_login = ANY (r.logins) ORDER BY r.role_name);
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
        (5, 'gdp_maintenance',     'gdp worker maintenance: retention'),
        (6, 'gdp_dashboard',       'the dashboard and the insights API of gdp serve'),
        (7, 'gdp_admin',           'the admin CLI: gdp flags, checklist, settings, keys')
    ) AS r(ord, role_name, purpose)
    LEFT JOIN pg_catalog.pg_roles AS p ON p.rolname = r.role_name
    ORDER BY r.ord
$function$;

REVOKE ALL ON FUNCTION shared.make_process_login(text, text[], text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.make_process_login(text, text[], text) TO service_role;

REVOKE ALL ON FUNCTION shared.process_roles() FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.process_roles() TO service_role;

COMMENT ON FUNCTION shared.make_process_login(text, text[], text) IS 'Create or update a NOINHERIT login for GDP processes and grant it the named process roles (gdp db roles login). Takes a client-computed SCRAM verifier, never a password.';

COMMENT ON FUNCTION shared.process_roles() IS 'GDP''s process roles, what each is for, whether it exists and the logins that are members (gdp db roles).';

-- migrate:down
