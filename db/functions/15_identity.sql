/**
 * Per-product identity on the direct path (PostgREST / the Supabase client).
 *
 * A product holds a JWT signed with the project's JWT secret (gdp keys create PRODUCT --jwt) whose
 * claims are {"role": "gdp_product", "product_id": ..., "jti": <shared.product_credential.id>}.
 * PostgREST verifies the signature, switches to the role and puts the claims into the transaction
 * (set_config('request.jwt.claims', ..., true)). Any session can set that setting, so the claims
 * are believed only while the session acts as gdp_product, a role that only PostgREST's login
 * (authenticator) and the owner may become; the credential must also exist and not be revoked.
 */

/*
 * The product the current request acts for, or NULL: only for the role gdp_product, only for a
 * credential that exists, names the same product and is neither revoked nor expired.
 * `role` is the setting SET ROLE (and PostgREST) changes; unlike current_user it keeps its value
 * inside SECURITY DEFINER functions, so the API functions can ask it too. SECURITY DEFINER so that
 * gdp_product needs no privilege on shared.product_credential.
 */
CREATE OR REPLACE FUNCTION shared.product_claim()
RETURNS text
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT c.product_id
    FROM (SELECT auth.jwt() AS claims) AS j
    JOIN shared.product_credential AS c
      ON c.id = CASE WHEN (j.claims ->> 'jti') ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                     THEN (j.claims ->> 'jti')::uuid END
     AND c.product_id = j.claims ->> 'product_id'
    WHERE (current_user = 'gdp_product'
           OR current_setting('role', true) = 'gdp_product')
      AND c.revoked_at IS NULL
      AND (c.expires_at IS NULL OR c.expires_at > now())
$$;

COMMENT ON FUNCTION shared.product_claim() IS
    'The product_id of the current request''s verified product credential (role gdp_product, a known, unrevoked jti), else NULL. Used by RLS and the API functions products call.';

/*
 * Called by the RLS WITH CHECK of product-facing tables only when a row's product is not the
 * caller's (after an OR, so the happy path costs nothing): refuses with a message that names the
 * field and the rule instead of the bare "violates row-level security policy".
 */
CREATE OR REPLACE FUNCTION shared._refuse_foreign_product(p_product_id text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_claim text := shared.product_claim();
BEGIN
    IF v_claim IS NULL THEN
        PERFORM shared._raise('GD403', 'product_id',
            'this request carries no valid product credential (a gdp_product JWT from '
            '`gdp keys create PRODUCT --jwt` that is not revoked)');
    END IF;
    PERFORM shared._raise('GD403', 'product_id',
        format('a credential of %s writes only rows of %s, not %s',
               v_claim, v_claim, coalesce(p_product_id, 'NULL')));
    RETURN false;
END
$$;

/*
 * The people a product upserts through shared.upsert_people: with a product credential every
 * entry's source_product must be the caller's own (an entry without one is stamped with it).
 * Other callers (the service role, workers) pass through unchanged.
 */
CREATE OR REPLACE FUNCTION shared._people_for_caller(p_people jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_claim text;
    v_bad record;
BEGIN
    IF current_setting('role', true) IS DISTINCT FROM 'gdp_product'
       AND current_user <> 'gdp_product' THEN
        RETURN p_people;
    END IF;
    v_claim := shared.product_claim();
    IF v_claim IS NULL THEN
        PERFORM shared._raise('GD403', 'product_id',
            'this request carries no valid product credential (a gdp_product JWT from '
            '`gdp keys create PRODUCT --jwt` that is not revoked)');
    END IF;
    IF p_people IS NULL OR jsonb_typeof(p_people) <> 'array' THEN
        RETURN p_people;
    END IF;
    SELECT e.ord, e.v ->> 'source_product' AS product INTO v_bad
    FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    WHERE jsonb_typeof(e.v) = 'object'
      AND e.v ? 'source_product' AND jsonb_typeof(e.v -> 'source_product') <> 'null'
      AND e.v ->> 'source_product' IS DISTINCT FROM v_claim
    LIMIT 1;
    IF FOUND THEN
        PERFORM shared._raise('GD403', 'source_product',
            format('a credential of %s upserts people only for %s, not %s (entry %s)',
                   v_claim, v_claim, v_bad.product, v_bad.ord));
    END IF;
    RETURN (
        SELECT jsonb_agg(CASE WHEN jsonb_typeof(e.v) = 'object'
                              THEN e.v || jsonb_build_object('source_product', v_claim)
                              ELSE e.v END
                         ORDER BY e.ord)
        FROM jsonb_array_elements(p_people) WITH ORDINALITY AS e(v, ord)
    );
END
$$;

/*
 * A new product credential: the row whose id becomes the JWT's jti. The token is signed by the
 * caller (gdp keys create --jwt) with the project's JWT secret, which never enters the database.
 */
CREATE OR REPLACE FUNCTION shared.create_product_credential(
    p_product_id text,
    p_actor text,
    p_label text DEFAULT NULL,
    p_expires_at timestamptz DEFAULT NULL
)
RETURNS shared.product_credential
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.product_credential;
BEGIN
    PERFORM 1 FROM shared.product WHERE product_id = p_product_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD400', 'product', format('%s is not a known product', p_product_id));
    END IF;
    IF p_expires_at IS NOT NULL AND p_expires_at <= now() THEN
        PERFORM shared._raise('GD400', 'expires_at', 'must be in the future');
    END IF;
    INSERT INTO shared.product_credential (product_id, label, created_by, expires_at)
    VALUES (p_product_id, p_label, v_actor, p_expires_at)
    RETURNING * INTO v_row;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('product_credential', v_row.id::text, v_actor, NULL, to_jsonb('created'::text),
            format('product %s', p_product_id));
    RETURN v_row;
END
$$;

COMMENT ON FUNCTION shared.create_product_credential(text, text, text, timestamptz) IS
    'Register a product JWT (gdp keys create PRODUCT --jwt): returns the row whose id is the token''s jti. Audited.';

/*
 * Revoke a key by id, whichever kind it is: an HTTP service key or a product JWT. A revoked JWT
 * stops working at once (shared.product_claim checks the row on every statement).
 */
CREATE OR REPLACE FUNCTION shared.revoke_key(p_key_id uuid, p_actor text)
RETURNS TABLE (id uuid, product_id text, kind text, revoked_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
#variable_conflict use_column
DECLARE
    v_actor text := shared._require_actor(p_actor);
BEGIN
    RETURN QUERY
    WITH done AS (
        UPDATE shared.service_key AS k
        SET revoked_at = coalesce(k.revoked_at, now()), revoked_by = coalesce(k.revoked_by, v_actor)
        WHERE k.id = p_key_id
        RETURNING k.id, k.product_id, k.revoked_at)
    SELECT d.id, d.product_id, 'service_key'::text, d.revoked_at FROM done AS d;
    IF FOUND THEN
        INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
        VALUES ('service_key', p_key_id::text, v_actor, to_jsonb('created'::text),
                to_jsonb('revoked'::text));
        RETURN;
    END IF;
    RETURN QUERY
    WITH done AS (
        UPDATE shared.product_credential AS c
        SET revoked_at = coalesce(c.revoked_at, now()), revoked_by = coalesce(c.revoked_by, v_actor)
        WHERE c.id = p_key_id
        RETURNING c.id, c.product_id, c.revoked_at)
    SELECT d.id, d.product_id, 'product_jwt'::text, d.revoked_at FROM done AS d;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no service key or product credential %s', p_key_id));
    END IF;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
    VALUES ('product_credential', p_key_id::text, v_actor, to_jsonb('created'::text),
            to_jsonb('revoked'::text));
END
$$;

COMMENT ON FUNCTION shared.revoke_key(uuid, text) IS
    'Revoke an HTTP service key or a product JWT by its id (gdp keys revoke). A revoked JWT is refused from the next statement on.';

-- Keys of both kinds, for gdp keys list (no secret in either).
CREATE OR REPLACE FUNCTION shared.list_keys()
RETURNS TABLE (id uuid, product_id text, kind text, key_prefix text, label text,
               created_at timestamptz, created_by text, expires_at timestamptz,
               revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT k.id, k.product_id, 'service_key', k.key_prefix, k.label, k.created_at, k.created_by,
           NULL::timestamptz, k.revoked_at, k.last_used_at
    FROM shared.service_key AS k
    UNION ALL
    SELECT c.id, c.product_id, 'product_jwt', 'jwt', c.label, c.created_at, c.created_by,
           c.expires_at, c.revoked_at, NULL::timestamptz
    FROM shared.product_credential AS c
    ORDER BY 2, 6
$$;

COMMENT ON FUNCTION shared.list_keys() IS
    'Service keys and product JWTs by product, with their state; never a secret (gdp keys list).';

/*
 * GDP's process roles, what each is for, and the logins that may act as it (role_options in
 * workers/db/connection.py: each process connects with `-c role=<its role>`, so its login needs
 * only membership). For `gdp db roles`.
 */
CREATE OR REPLACE FUNCTION shared.process_roles()
RETURNS TABLE (role_name text, purpose text, present boolean, logins text[])
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
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
$$;

COMMENT ON FUNCTION shared.process_roles() IS
    'GDP''s process roles, what each is for, whether it exists and the logins that are members (gdp db roles).';

/*
 * Make (or update) a login for GDP's processes and make it a member of the given process roles:
 * NOINHERIT, so the login alone holds nothing; it acts as a role only after `SET ROLE` (which
 * role_options does at connection start). p_password_hash is a SCRAM verifier computed by the
 * client (libpq's PQencryptPasswordConn), so no password ever reaches the server or its logs;
 * NULL keeps the current password. Needs CREATEROLE (Supabase's postgres has it).
 */
CREATE OR REPLACE FUNCTION shared.make_process_login(
    p_login text,
    p_roles text[],
    p_password_hash text DEFAULT NULL
)
RETURNS TABLE (login text, created boolean, roles text[])
LANGUAGE plpgsql
SET search_path = ''
AS $$
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
    -- Two deployers making the same login at once: the second waits, then finds it made.
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('shared.make_process_login'));

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
$$;

COMMENT ON FUNCTION shared.make_process_login(text, text[], text) IS
    'Create or update a NOINHERIT login for GDP processes and grant it the named process roles (gdp db roles login). Takes a client-computed SCRAM verifier, never a password.';
