-- name: create_service_key
SELECT key_id, service_key, key_prefix
FROM shared.create_service_key(%(product_id)s, %(actor)s, %(label)s);

-- name: create_product_credential
SELECT id, product_id, created_at, expires_at
FROM shared.create_product_credential(%(product_id)s, %(actor)s, %(label)s, %(expires_at)s);

-- name: revoke_service_key
SELECT id, product_id, revoked_at FROM shared.revoke_service_key(%(key_id)s::uuid, %(actor)s);

-- name: revoke_key
SELECT id, product_id, kind, revoked_at FROM shared.revoke_key(%(key_id)s::uuid, %(actor)s);

-- name: list_keys
SELECT id, product_id, kind, key_prefix, label, created_at, created_by, expires_at, revoked_at,
       last_used_at
FROM shared.list_keys();

-- name: authenticate_service_key
SELECT shared.authenticate_service_key(%(service_key)s) AS product_id;

-- name: process_roles
SELECT role_name, purpose, present, logins FROM shared.process_roles();

-- name: make_process_login
SELECT login, created, roles
FROM shared.make_process_login(%(login)s, %(roles)s::text[], %(password_hash)s);
