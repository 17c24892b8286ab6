-- name: create_service_key
SELECT key_id, service_key, key_prefix
FROM shared.create_service_key(%(product_id)s, %(actor)s, %(label)s);

-- name: revoke_service_key
SELECT id, product_id, revoked_at FROM shared.revoke_service_key(%(key_id)s::uuid, %(actor)s);

-- name: list_service_keys
SELECT id, product_id, key_prefix, label, created_at, created_by, revoked_at, last_used_at
FROM shared.service_key
ORDER BY product_id, created_at;

-- name: authenticate_service_key
SELECT shared.authenticate_service_key(%(service_key)s) AS product_id;
