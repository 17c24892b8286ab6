-- migrate:up

/**
 * Per-product identity on the direct (Supabase client) path, and the CAPI worker's role.
 *
 *   - gdp_product: the role of every product's JWT (`gdp keys create PRODUCT --jwt`), NOLOGIN and
 *     NOINHERIT like Supabase's anon and authenticated, granted to `authenticator` where it exists
 *     so PostgREST may switch to it after verifying a token. Which product a request acts for is
 *     the token's `product_id` claim, believed only while the role is gdp_product
 *     (shared.product_claim, db/functions/15_identity.sql).
 *   - gdp_capi_worker: `gdp worker capi`, made with the other process roles' guard.
 *   - shared.product_credential: one row per product JWT (its `jti`), so a token can be listed
 *     and revoked; the token itself is never stored (it is signed outside the database with the
 *     project's JWT secret).
 *
 * Grants and policies live in db/policies/15_identity.sql.
 */

DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['gdp_product', 'gdp_capi_worker'] LOOP
        -- Roles are cluster-wide: a second database on the same server finds them made.
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            IF v_role = 'gdp_product' THEN
                CREATE ROLE gdp_product NOLOGIN NOINHERIT;
            ELSE
                EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
            END IF;
        END IF;
        -- A migrating role that is not a superuser (Supabase's postgres has CREATEROLE only)
        -- needs membership to grant the role on.
        IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
           AND NOT pg_catalog.pg_has_role(current_user, v_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', v_role, current_user);
        END IF;
    END LOOP;
    -- PostgREST's login: it may become gdp_product once it has verified a product's token.
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticator')
       AND NOT pg_catalog.pg_has_role('authenticator', 'gdp_product', 'MEMBER') THEN
        GRANT gdp_product TO authenticator;
    END IF;
END
$$;

COMMENT ON ROLE gdp_product IS 'A product writing through the Supabase client: its JWT carries role gdp_product and product_id; RLS ties every row it writes or reads to that product';
COMMENT ON ROLE gdp_capi_worker IS 'gdp worker capi: claims queued events, reads what it sends, records outcomes';

CREATE TABLE shared.product_credential (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id  text NOT NULL REFERENCES shared.product (product_id),
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    expires_at  timestamptz,
    revoked_at  timestamptz,
    revoked_by  text,
    CONSTRAINT product_credential_revocation_complete
        CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
CREATE INDEX product_credential_product_id_idx ON shared.product_credential (product_id);
COMMENT ON TABLE shared.product_credential IS 'Product JWTs (gdp keys create --jwt) by their jti: listed and revoked here; the token is never stored';

ALTER TABLE shared.product_credential ENABLE ROW LEVEL SECURITY;

-- Keys are changed only through the admin functions, which audit each change like the gate's.
ALTER TABLE shared.gate_audit DROP CONSTRAINT gate_audit_subject_kind_known;
ALTER TABLE shared.gate_audit ADD CONSTRAINT gate_audit_subject_kind_known
    CHECK (subject_kind IN ('flag', 'checklist', 'setting', 'service_key', 'product_credential'));

-- migrate:down
