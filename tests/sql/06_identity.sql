-- Per-product identity (issue 11): acting as anon, authenticated, service_role and gdp_product
-- for two products, the way PostgREST does (SET LOCAL ROLE + request.jwt.claims).
BEGIN;
SELECT plan(24);
GRANT USAGE ON SCHEMA tests TO gdp_product;

SELECT has_role('gdp_product', 'the product role exists');
SELECT ok(NOT (SELECT rolcanlogin OR rolinherit OR rolbypassrls FROM pg_roles
               WHERE rolname = 'gdp_product'),
    'gdp_product cannot log in, inherits nothing and does not bypass RLS');
SELECT policies_are('shared', 'event', ARRAY[
    'Only the service role can read or write events',
    'Products insert only their own events',
    'Products read only their own events',
    'The CAPI worker reads the events it sends',
    'The HTTP service reads events',
    'The HTTP service stores events of authenticated products'],
    'event: the service role, GDP''s processes, and products as themselves');
SELECT is(
    (SELECT count(*) FROM pg_policy p
     WHERE p.polrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'shared'::regnamespace)
       AND (pg_get_expr(p.polqual, p.polrelid) LIKE '%auth.role()%'
            OR pg_get_expr(p.polwithcheck, p.polrelid) LIKE '%auth.role()%')),
    0::bigint, 'no policy in shared trusts the role claim of request.jwt.claims');

CREATE TEMP TABLE creds ON COMMIT DROP AS
SELECT (shared.create_product_credential('snapmix', 'pgtap')).id AS snapmix,
       (shared.create_product_credential('waitlistlab', 'pgtap')).id AS waitlistlab;
GRANT SELECT ON creds TO PUBLIC;

CREATE FUNCTION pg_temp.as_product(p_product text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', json_build_object(
        'role', 'gdp_product', 'product_id', p_product,
        'jti', CASE p_product WHEN 'snapmix' THEN (SELECT snapmix FROM creds)
                              ELSE (SELECT waitlistlab FROM creds) END)::text, true);
    SET LOCAL ROLE gdp_product;
END
$$;

INSERT INTO shared.event (product_id, event_id, event_name) VALUES ('waitlistlab', 'w-0', 'Signup');
INSERT INTO shared.attribution_events (product_id, event_id, meta_event_name, status)
VALUES ('waitlistlab', 'w-0', 'Lead', 'sent');

-- snapmix
SELECT pg_temp.as_product('snapmix');
SELECT is(shared.product_claim(), 'snapmix', 'the claim names snapmix');
SELECT lives_ok($$INSERT INTO shared.event (product_id, event_id, event_name)
                  VALUES ('snapmix', 's-1', 'Signup')$$, 'snapmix inserts its own event');
SELECT throws_ok($$INSERT INTO shared.event (product_id, event_id, event_name)
                   VALUES ('waitlistlab', 's-2', 'Signup')$$, 'GD403',
    'product_id: a credential of snapmix writes only rows of snapmix, not waitlistlab',
    'snapmix cannot insert an event of waitlistlab');
SELECT throws_ok($$UPDATE shared.feature_flag SET enabled = true$$, '42501', NULL,
    'snapmix cannot flip a flag');
SELECT throws_ok($$SELECT shared.create_service_key('waitlistlab', 'x')$$, '42501', NULL,
    'snapmix cannot create a key for another product');
SELECT throws_ok($$SELECT email FROM shared.person$$, '42501', NULL,
    'snapmix cannot read people');
SELECT throws_ok($$UPDATE shared.event SET event_name = 'X'$$, '42501', NULL,
    'snapmix cannot change events');
SELECT is((SELECT count(*) FROM shared.event), 1::bigint, 'snapmix sees only its own event');
SELECT is((SELECT count(*) FROM shared.attribution_events), 0::bigint,
    'snapmix sees no delivery record of waitlistlab');
SELECT lives_ok($$SELECT shared.upsert_person('pg@example.com')$$,
    'snapmix upserts a person through the SQL API');
SELECT tests.clear_role();

-- waitlistlab
SELECT pg_temp.as_product('waitlistlab');
SELECT is((SELECT count(*) FROM shared.attribution_events), 1::bigint,
    'waitlistlab reads its own delivery record');
SELECT is((SELECT array_agg(event_id) FROM shared.event), ARRAY['w-0'],
    'waitlistlab sees only its own events');
SELECT throws_ok($$SELECT shared.upsert_people('[{"email": "y@example.com", "source_product": "snapmix"}]')$$,
    'GD403', NULL, 'waitlistlab cannot upsert people in the name of snapmix');
SELECT tests.clear_role();

-- Claims set by a session that is not gdp_product count for nothing.
SELECT tests.act_as('authenticated');
SELECT set_config('request.jwt.claims', json_build_object('role', 'service_role',
    'product_id', 'snapmix', 'jti', (SELECT snapmix FROM creds))::text, true);
SELECT throws_ok($$INSERT INTO shared.event (product_id, event_id, event_name)
                   VALUES ('snapmix', 'a-1', 'Signup')$$, '42501', NULL,
    'authenticated with forged claims cannot insert events');
SELECT tests.clear_role();
SELECT tests.act_as('anon');
SELECT throws_ok($$SELECT shared.upsert_person('anon@example.com')$$, '42501', NULL,
    'anon cannot call the person API');
SELECT tests.clear_role();

-- The service role reads everything but changes the gate only through its functions.
SELECT tests.act_as('service_role');
SELECT is((SELECT count(*) FROM shared.event), 2::bigint, 'service_role reads every event');
SELECT throws_ok($$UPDATE shared.feature_flag SET enabled = true$$, '42501', NULL,
    'service_role cannot flip a flag directly');
SELECT throws_ok($$UPDATE shared.product_credential SET revoked_at = NULL$$, '42501', NULL,
    'service_role cannot un-revoke a credential directly');
SELECT lives_ok($$SELECT shared.revoke_key((SELECT snapmix FROM creds), 'pgtap')$$,
    'service_role revokes a product credential through the audited function');
SELECT tests.clear_role();

SELECT pg_temp.as_product('snapmix');
SELECT throws_ok($$INSERT INTO shared.event (product_id, event_id, event_name)
                   VALUES ('snapmix', 's-9', 'Signup')$$, 'GD403', NULL,
    'a revoked credential inserts nothing');
SELECT tests.clear_role();

SELECT * FROM finish();
ROLLBACK;
