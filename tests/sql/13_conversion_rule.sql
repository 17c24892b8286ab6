-- "Which conversion rule applies" is defined once, the view shared.applicable_conversion_rule,
-- and every reader agrees with it: the enqueue trigger (Meta event name, first time per person)
-- and the first-party value in shared.gdp_conversions_daily.
BEGIN;
SELECT plan(11);

SELECT isnt(obj_description('shared.applicable_conversion_rule'::regclass, 'pg_class'), NULL,
            'applicable_conversion_rule is documented in the catalog');
SELECT is_empty($$SELECT * FROM shared.applicable_conversion_rule
                  WHERE product_id = 'snapmix' AND event_name = 'Checkout'$$,
                'no rule for the event: no row');

INSERT INTO shared.conversion_rule (product_id, event_name, meta_event_name, value_property)
VALUES (NULL, 'Checkout', 'Purchase', 'amount'),
       ('snapmix', 'Checkout', 'Purchase', 'total'),
       (NULL, 'Register', 'Lead', NULL),
       ('snapmix', 'Register', 'CompleteRegistration', NULL);
INSERT INTO shared.conversion_rule (product_id, event_name, meta_event_name, enabled)
VALUES ('velvethold', 'Register', 'Subscribe', false);
INSERT INTO shared.conversion_rule (product_id, event_name, meta_event_name, first_time_per_person)
VALUES (NULL, 'Activate', 'StartTrial', true);

SELECT results_eq(
    $$SELECT p.product_id, r.meta_event_name, r.value_property
      FROM (VALUES ('snapmix'), ('waitlistlab')) AS p(product_id)
      JOIN shared.applicable_conversion_rule AS r
        ON r.product_id = p.product_id AND r.event_name = 'Checkout'
      ORDER BY 1$$,
    $$VALUES ('snapmix', 'Purchase', 'total'), ('waitlistlab', 'Purchase', 'amount')$$,
    'the product''s own rule before the any-product one');
SELECT is((SELECT r.meta_event_name FROM shared.applicable_conversion_rule AS r
           WHERE r.product_id = 'velvethold' AND r.event_name = 'Register'),
          'Lead', 'a disabled rule of the product does not apply: the any-product one does');
SELECT is((SELECT count(*) FROM shared.applicable_conversion_rule AS r
           WHERE r.product_id = 'snapmix' AND r.event_name = 'Register'), 1::bigint,
          'one rule at most');

-- The enqueue trigger names the Meta event by the same rule.
UPDATE shared.feature_flag SET enabled = true
WHERE flag_key IN ('SHARED_PERSON_TABLE_ENABLED', 'META_CAPI_INGEST_ENABLED',
                   'SEGMENT_ENGINE_META_CAPI_ENABLED');
SELECT shared.upsert_people('[{"email":"rule.reader@example.com"}]');
CREATE TEMP TABLE ids AS SELECT id AS person_id FROM shared.person
WHERE email = 'rule.reader@example.com';

INSERT INTO shared.event (product_id, event_id, event_name, person_id, properties)
SELECT p, p || '-' || e, e, (SELECT person_id FROM ids),
       jsonb_build_object('total', '30.00', 'amount', '12.50')
FROM unnest(ARRAY['snapmix', 'waitlistlab', 'velvethold']) AS p,
     unnest(ARRAY['Checkout', 'Register', 'Browse']) AS e;
-- A product-named Meta event is kept whatever the rules say.
INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name)
VALUES ('snapmix', 'named', 'Register', 'Contact');

CREATE TEMP TABLE queued AS
SELECT e.event_id, q.message ->> 'meta_event_name' AS meta_event_name
FROM pgmq.q_meta_capi AS q JOIN shared.event AS e ON e.id = (q.message ->> 'event')::bigint;

SELECT results_eq(
    $$SELECT event_id, meta_event_name FROM queued ORDER BY event_id$$,
    $$VALUES ('named', 'Contact'),
             ('snapmix-Checkout', 'Purchase'), ('snapmix-Register', 'CompleteRegistration'),
             ('velvethold-Checkout', 'Purchase'), ('velvethold-Register', 'Lead'),
             ('waitlistlab-Checkout', 'Purchase'), ('waitlistlab-Register', 'Lead')$$,
    'the trigger queues each event under the Meta name of the rule that applies (none: not queued)');
SELECT is_empty(
    $$SELECT q.event_id FROM queued AS q JOIN shared.event AS e USING (event_id)
      WHERE e.meta_event_name IS NULL
        AND q.meta_event_name IS DISTINCT FROM
            (SELECT r.meta_event_name FROM shared.applicable_conversion_rule AS r
             WHERE r.product_id = e.product_id AND r.event_name = e.event_name)$$,
    'the trigger and applicable_conversion_rule agree on every event');

-- first_time_per_person: only a person's first event of that name goes.
INSERT INTO shared.event (product_id, event_id, event_name, person_id)
VALUES ('snapmix', 'activate-1', 'Activate', (SELECT person_id FROM ids));
INSERT INTO shared.event (product_id, event_id, event_name, person_id)
VALUES ('snapmix', 'activate-2', 'Activate', (SELECT person_id FROM ids));
SELECT results_eq(
    $$SELECT e.event_id FROM pgmq.q_meta_capi AS q
      JOIN shared.event AS e ON e.id = (q.message ->> 'event')::bigint
      WHERE e.event_name = 'Activate'$$,
    $$VALUES ('activate-1')$$, 'a first-time-per-person rule queues the first event only');

-- With the rules' flag off, events without a Meta name are stored and not queued.
UPDATE shared.feature_flag SET enabled = false WHERE flag_key = 'SEGMENT_ENGINE_META_CAPI_ENABLED';
INSERT INTO shared.event (product_id, event_id, event_name) VALUES ('snapmix', 'off', 'Checkout');
SELECT is_empty(
    $$SELECT 1 FROM pgmq.q_meta_capi AS q
      JOIN shared.event AS e ON e.id = (q.message ->> 'event')::bigint
      WHERE e.event_id = 'off'$$,
    'rules off (GAP-002): no Meta name from a rule');

-- The first-party value counts the property the applying rule names.
INSERT INTO shared.attribution_events (event_ref, product_id, event_id, meta_event_name, status)
SELECT e.id, e.product_id, e.event_id, 'Purchase', 'sent'
FROM shared.event AS e WHERE e.event_id IN ('snapmix-Checkout', 'waitlistlab-Checkout');
SELECT results_eq(
    $$SELECT project, conversion_value FROM shared.gdp_conversions_daily ORDER BY project$$,
    $$VALUES ('snapmix', 30.00::numeric(14, 2)), ('waitlistlab', 12.50::numeric(14, 2))$$,
    'gdp_conversions_daily values each conversion by the rule that applies to it');
UPDATE shared.conversion_rule SET enabled = false
WHERE product_id = 'snapmix' AND event_name = 'Checkout';
SELECT results_eq(
    $$SELECT project, conversion_value FROM shared.gdp_conversions_daily ORDER BY project$$,
    $$VALUES ('snapmix', 12.50::numeric(14, 2)), ('waitlistlab', 12.50::numeric(14, 2))$$,
    'a disabled rule no longer names the value property: the any-product rule does');

SELECT * FROM finish();
ROLLBACK;
