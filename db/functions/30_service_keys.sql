/**
 * Service keys: one product each, shown once, stored only as SHA-256.
 *
 * The key carries 244 random bits (two gen_random_uuid(), which draw from the server's strong
 * random source), so a fast hash is enough: there is nothing to brute-force.
 *
 * SECURITY DEFINER: keys change only through these functions (each change audited in
 * shared.gate_audit); no role but the owner may write shared.service_key directly.
 */

CREATE OR REPLACE FUNCTION shared.create_service_key(
    p_product_id text,
    p_actor text,
    p_label text DEFAULT NULL
)
RETURNS TABLE (key_id uuid, service_key text, key_prefix text)
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_secret text;
    v_key text;
    v_id uuid;
BEGIN
    PERFORM 1 FROM shared.product WHERE product_id = p_product_id;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD400', 'product', format('%s is not a known product', p_product_id));
    END IF;
    v_secret := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    v_key := format('gdp_sk_%s_%s', p_product_id, v_secret);
    INSERT INTO shared.service_key (product_id, key_prefix, key_sha256, label, created_by)
    VALUES (p_product_id, left(v_key, length(p_product_id) + 16), shared._sha256_hex(v_key),
            p_label, v_actor)
    RETURNING id INTO v_id;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value, note)
    VALUES ('service_key', v_id::text, v_actor, NULL, to_jsonb('created'::text),
            format('product %s', p_product_id));
    RETURN QUERY SELECT v_id, v_key, left(v_key, length(p_product_id) + 16);
END
$$;
COMMENT ON FUNCTION shared.create_service_key(text, text, text) IS
    'Create a service key for a product: returned once (with its id and prefix), stored only as its SHA-256.';

CREATE OR REPLACE FUNCTION shared.revoke_service_key(p_key_id uuid, p_actor text)
RETURNS shared.service_key
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_actor text := shared._require_actor(p_actor);
    v_row shared.service_key;
BEGIN
    UPDATE shared.service_key
    SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, v_actor)
    WHERE id = p_key_id
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'key_id', format('no service key %s', p_key_id));
    END IF;
    INSERT INTO shared.gate_audit (subject_kind, subject_key, actor, from_value, to_value)
    VALUES ('service_key', p_key_id::text, v_actor, to_jsonb('created'::text),
            to_jsonb('revoked'::text));
    RETURN v_row;
END
$$;
COMMENT ON FUNCTION shared.revoke_service_key(uuid, text) IS
    'Revoke a service key (idempotent; the first revocation''s time and actor are kept).';

/*
 * The product a presented key belongs to, or NULL for an unknown or revoked key. last_used_at is
 * refreshed at most once a minute so that a busy product does not turn every request into a write.
 */
CREATE OR REPLACE FUNCTION shared.authenticate_service_key(p_service_key text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_row shared.service_key;
BEGIN
    IF p_service_key IS NULL OR length(p_service_key) > 200 THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_row FROM shared.service_key
    WHERE key_sha256 = shared._sha256_hex(p_service_key) AND revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_row.last_used_at IS NULL OR v_row.last_used_at < now() - interval '1 minute' THEN
        UPDATE shared.service_key SET last_used_at = now() WHERE id = v_row.id;
    END IF;
    RETURN v_row.product_id;
END
$$;
COMMENT ON FUNCTION shared.authenticate_service_key(text) IS
    'The product a presented service key belongs to, or NULL for an unknown or revoked key; refreshes last_used_at at most once a minute.';
