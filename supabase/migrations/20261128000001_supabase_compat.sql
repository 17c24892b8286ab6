-- migrate:up

/**
 * Supabase compatibility on plain PostgreSQL.
 *
 * On Supabase the API roles and the auth helpers already exist and are owned by Supabase: every
 * statement here is guarded so that it only creates what is missing and never alters what is
 * there. Elsewhere (local PostgreSQL, CI) it creates them the way Supabase defines them, so the
 * same policies hold and can be tested by acting as each role.
 */

-- pgmq (the queues) comes first, so that nothing is created when it is missing: the extension
-- where the server has it (Supabase Queues), else the SQL-only install of `gdp db pgmq`, which
-- `gdp db up` runs by itself (plain `dbmate up` needs it run first).
DO $$
BEGIN
    IF to_regclass('pgmq.meta') IS NULL THEN
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'pgmq') THEN
            CREATE EXTENSION IF NOT EXISTS pgmq;
        ELSE
            RAISE EXCEPTION 'pgmq is not installed and this server has no pgmq extension: run '
                '`gdp db pgmq` (the SQL-only install) before `dbmate up`, or deploy with `gdp db up`';
        END IF;
    END IF;
END
$$;

DO $$
BEGIN
    -- Roles are cluster-wide: a second database on the same server finds them already made.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'service_role') THEN
        -- As on Supabase: the service role skips RLS, but GRANTs still decide what it may touch.
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS auth;

DO $$
BEGIN
    -- Written as Supabase writes them: stable SQL functions that only read the JWT claims that
    -- PostgREST puts into the transaction with set_config('request.jwt.claims', ..., true).
    IF to_regprocedure('auth.uid()') IS NULL THEN
        EXECUTE $fn$
            CREATE FUNCTION auth.uid() RETURNS uuid
            LANGUAGE sql STABLE
            AS $body$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
                )::uuid
            $body$
        $fn$;
    END IF;
    IF to_regprocedure('auth.role()') IS NULL THEN
        EXECUTE $fn$
            CREATE FUNCTION auth.role() RETURNS text
            LANGUAGE sql STABLE
            AS $body$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
                )::text
            $body$
        $fn$;
    END IF;
    IF to_regprocedure('auth.jwt()') IS NULL THEN
        EXECUTE $fn$
            CREATE FUNCTION auth.jwt() RETURNS jsonb
            LANGUAGE sql STABLE
            AS $body$
                SELECT coalesce(
                    nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), '')
                )::jsonb
            $body$
        $fn$;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

-- migrate:down
