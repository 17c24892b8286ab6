-- Deploy bookkeeping for `gdp db up` (workers/db/migrate.py).

-- name: migrations_tables
-- Where migration history may live: GDP's private table, dbmate's default (public, which
-- Supabase's default privileges expose to anon), and the Supabase CLI's.
SELECT to_regclass('gdp_migrations.schema_migrations') IS NOT NULL AS private,
       to_regclass('public.schema_migrations') IS NOT NULL AS legacy,
       to_regclass('supabase_migrations.schema_migrations') IS NOT NULL AS supabase_cli;

-- name: legacy_versions
SELECT version::text AS version FROM public.schema_migrations ORDER BY 1;

-- name: supabase_cli_versions
SELECT version::text AS version FROM supabase_migrations.schema_migrations ORDER BY 1;

-- name: create_private_schema
CREATE SCHEMA IF NOT EXISTS gdp_migrations;

-- name: move_legacy_table
ALTER TABLE public.schema_migrations SET SCHEMA gdp_migrations;

-- name: create_private_table
-- As dbmate creates it, so that a moved table and a new one are the same.
CREATE TABLE IF NOT EXISTS gdp_migrations.schema_migrations (version varchar PRIMARY KEY);

-- name: copy_versions
INSERT INTO gdp_migrations.schema_migrations (version)
SELECT unnest(%(versions)s::text[])
ON CONFLICT (version) DO NOTHING;

-- name: delete_legacy_versions
DELETE FROM public.schema_migrations WHERE version = ANY (%(versions)s::text[]);

-- name: lock_timeout_local
SELECT pg_catalog.set_config('lock_timeout', %(timeout)s, true);

-- name: pgmq_installed
SELECT to_regclass('pgmq.meta') IS NOT NULL AS present;

-- name: pgmq_available
SELECT 1 AS available FROM pg_catalog.pg_available_extensions WHERE name = 'pgmq';

-- name: create_pgmq_extension
CREATE EXTENSION IF NOT EXISTS pgmq;

-- name: deploy_try_lock
-- One deploy at a time per database (gdp db up, gdp db pgmq). Tried, not waited for: a session
-- blocked in pg_advisory_lock keeps its snapshot, and CREATE INDEX CONCURRENTLY in the running
-- deploy waits for every older snapshot to go, so each would wait for the other forever.
SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('gdp: deploy')) AS locked;

-- name: deploy_unlock
SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('gdp: deploy'));
