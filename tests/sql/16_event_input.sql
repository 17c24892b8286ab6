-- Event input: the id Meta sees, Meta's email form, the limits every path shares.
BEGIN;
SELECT plan(12);
SELECT tests.act_as('service_role');

SELECT is(shared.meta_event_id('snapmix', 'order-1'), 'snapmix:order-1',
    'the Meta event id is namespaced by the product');
SELECT isnt(shared.meta_event_id('snapmix', 'order-1'), shared.meta_event_id('velvethold', 'order-1'),
    'two products'' order-1 are two ids at Meta');

SELECT is(shared._normalize_email(E'\u200b A\u0301MELIE@Example.COM\u3000'), 'ámelie@example.com',
    'trim (Unicode spaces, zero-width), NFC, lower-case');
SELECT is(shared._normalize_email('İLKER@EXAMPLE.TR'), E'i\u0307lker@example.tr',
    'U+0130 lower-cases as Python does (ICU), not as libc');
SELECT is(shared._normalize_email(E'\x1c a@b.co \x1f'), 'a@b.co', 'str.strip() separators trimmed');

SELECT results_eq(
    $$SELECT count(DISTINCT person_id) FROM shared.upsert_people(jsonb_build_array(
        jsonb_build_object('email', normalize('josé@example.com', NFD)),
        jsonb_build_object('email', normalize('JOSÉ@example.com', NFC))))$$,
    ARRAY[1::bigint], 'NFD and NFC spellings are one person');

SELECT is(shared.event_limit('future_seconds'), 60, 'future tolerance');
SELECT throws_ok(
    $$INSERT INTO shared.event (product_id, event_id, event_name, properties)
      VALUES ('snapmix', 'big', 'Purchase', jsonb_build_object('content_name', repeat('x', 1048576)))$$,
    'GD400', 'properties.content_name: must be at most 1000 characters', '1 MB content_name refused');
SELECT throws_ok(
    $$INSERT INTO shared.event (product_id, event_id, event_name, occurred_at)
      VALUES ('snapmix', 'future', 'Purchase', now() + interval '1 hour')$$,
    'GD400', 'occurred_at: must not be more than 60 s in the future', 'future occurred_at refused');
SELECT throws_ok(
    $$INSERT INTO shared.event (product_id, event_id, event_name, event_source_url)
      VALUES ('snapmix', 'url', 'Purchase', 'ftp://x.io/a')$$,
    'GD400', NULL, 'non-http URL refused');
SELECT lives_ok(
    $$INSERT INTO shared.event (product_id, event_id, event_name, occurred_at, event_source_url, properties)
      VALUES ('snapmix', 'ok', 'Purchase', now(), 'https://snapmix.app/a',
              jsonb_build_object('content_name', repeat('x', 1000)))$$,
    'an event at the limits is stored');
SELECT is((SELECT count(*) FROM shared.event WHERE event_id IN ('big', 'future', 'url')), 0::bigint,
    'nothing of the refused inserts was stored');

SELECT * FROM finish();
ROLLBACK;
