-- migrate:up

/**
 * Functions are not executable by PUBLIC unless granted.
 *
 * PostgreSQL grants EXECUTE to PUBLIC on every new function, and default privileges given per
 * schema can only add to that, never take it away (see the ALTER DEFAULT PRIVILEGES page of the
 * PostgreSQL documentation): the IN SCHEMA shared revoke of 20261128000002 changes nothing. So
 * the default is taken away for the migrating role in this database (current_user: `postgres`
 * on Supabase, whoever runs `gdp db up` elsewhere), and given back in `public` and `extensions`,
 * where Supabase projects and extensions expect it. A function that a later migration, Studio
 * session or hand-written script creates in `shared` is then callable only by the roles it is
 * granted to; release migrations also revoke PUBLIC on every function they create.
 */

ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

DO $$
DECLARE
    v_schema text;
BEGIN
    FOREACH v_schema IN ARRAY ARRAY['public', 'extensions'] LOOP
        IF to_regnamespace(v_schema) IS NOT NULL THEN
            EXECUTE format(
                'ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS TO PUBLIC',
                v_schema);
        END IF;
    END LOOP;
END
$$;

-- migrate:down
