-- Segment evaluation in chunks of candidates (gdp.segment_chunk_size): the same members as a
-- full run, and a view that fails on a later chunk stops only itself.
BEGIN;
SELECT plan(7);

INSERT INTO shared.person (id, email)
SELECT ('00000000-0000-0000-0000-0000000000b' || g)::uuid, 'b' || g || '@example.com'
FROM generate_series(1, 7) AS g;
INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at)
SELECT 'snapmix', 'first-' || g, 'FeatureUsed',
       ('00000000-0000-0000-0000-0000000000b' || g)::uuid, now() - interval '5 days'
FROM generate_series(1, 7) AS g;
SELECT count(*) FROM shared.evaluate_segments();

-- Fails (division by zero) for a person with five events; nobody has more than one yet.
SELECT shared.segment_define('fragile',
    'SELECT f.person_id FROM shared.person_feature AS f WHERE f.events >= 2 AND 10 / (5 - f.events) > 0',
    true, 'fails once someone has five events', 'tests');

-- b1-b4 and b6-b7 get a second event (fragile: they join); b5 gets four more.
INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at)
SELECT 'snapmix', 'more-' || g || '-' || k,
       CASE WHEN g % 2 = 0 THEN 'SubscriptionPurchased' ELSE 'PricingPageViewed' END,
       ('00000000-0000-0000-0000-0000000000b' || g)::uuid, now()
FROM generate_series(1, 7) AS g, generate_series(1, 4) AS k
WHERE k = 1 OR g = 5;

SET gdp.segment_chunk_size = 2;
CREATE TEMP TABLE chunked AS SELECT * FROM shared.evaluate_segments();

SELECT is((SELECT candidates FROM shared.segment_run ORDER BY run_id DESC LIMIT 1), 7,
    'the seven people are candidates, in four chunks of up to two');
SELECT ok((SELECT error LIKE '%division by zero%' FROM chunked WHERE segment_id = 'fragile'),
    'the view failing on the third chunk (b5, after its features have five events) is reported');
SELECT is((SELECT joined FROM chunked WHERE segment_id = 'fragile'), 4::bigint,
    'the chunks before it keep their changes: b1-b4 joined');
SELECT is((SELECT array_agg(person_id ORDER BY person_id)::text FROM shared.segment_member
            WHERE segment_id = 'fragile'),
    '{00000000-0000-0000-0000-0000000000b1,00000000-0000-0000-0000-0000000000b2,00000000-0000-0000-0000-0000000000b3,00000000-0000-0000-0000-0000000000b4}',
    'and nothing after it changed');
SELECT is((SELECT last_error LIKE '%division by zero%' FROM shared.segment WHERE segment_id = 'fragile'),
    true, 'the segment row holds the error');
SELECT is((SELECT count(*)::integer FROM chunked WHERE segment_id <> 'fragile' AND error IS NULL),
    6, 'every other segment went through every chunk');

RESET gdp.segment_chunk_size;
SELECT is(
    (SELECT sum(joined + "left")::integer FROM shared.evaluate_segments(true)
      WHERE segment_id <> 'fragile'),
    0, 'a full run after the chunked one changes no other segment: the chunks missed nobody');

SELECT * FROM finish();
ROLLBACK;
