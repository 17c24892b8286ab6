-- Audience sync in SQL: the diff audience_changes computes, what a recorded batch does to the
-- acknowledged rows, removal acknowledgements, replace sessions swapped in one step, and who may
-- do what (the worker role runs the functions and reads no table).
BEGIN;
SELECT plan(19);

INSERT INTO shared.segment (segment_id, description, owner, audience_name)
VALUES ('all_leads', 'everyone who left an email', 'growth', 'All Leads')
ON CONFLICT (segment_id) DO UPDATE SET audience_name = EXCLUDED.audience_name;
DELETE FROM shared.segment_member WHERE segment_id = 'all_leads';
SELECT shared.set_setting('META_CUSTOM_AUDIENCE_IDS', '{"all_leads": null}', 'test');
INSERT INTO shared.person (id, email) VALUES
    ('00000000-0000-0000-0000-00000000000a', 'a@example.com'),
    ('00000000-0000-0000-0000-00000000000b', 'b@example.com'),
    ('00000000-0000-0000-0000-00000000000c', 'c@example.com');
INSERT INTO shared.segment_member (segment_id, person_id)
SELECT 'all_leads', id FROM shared.person WHERE email IN ('a@example.com', 'b@example.com');

SELECT results_eq(
    $$SELECT segment_id, audience_name, audience_id, members, acknowledged FROM shared.audience_targets()$$,
    $$VALUES ('all_leads'::text, 'All Leads'::text, NULL::text, 2::bigint, 0::bigint)$$,
    'a mapped segment gets its audience row, named as the segment says');
SELECT throws_ok($$SELECT shared.audience_start_run('nope', 'diff', false)$$, 'GD404',
    'segment_id: nope is not mapped to an audience', 'a run needs a mapped segment');
SELECT run_id AS run FROM shared.audience_start_run('all_leads', 'diff', false) \gset
SELECT results_eq(
    $$SELECT op, count(*) FROM shared.audience_changes('all_leads', NULL) GROUP BY op$$,
    $$VALUES ('add'::text, 2::bigint)$$, 'nothing acknowledged: every member is to add');

SELECT is(shared.audience_record_batch(:run, 'add', format('[{"p":"%s","c":%s,"u":"%s"},{"p":"%s","c":%s,"u":"%s"}]',
    '00000000-0000-0000-0000-00000000000a', to_jsonb(array_fill('a'::text, ARRAY[13])), now(),
    '00000000-0000-0000-0000-00000000000b', to_jsonb(array_fill('b'::text, ARRAY[13])), now())::jsonb,
    '{"num_received_delta": 2, "num_invalid_entries": 1, "invalid_entry_samples": {"x": "bad"}}'),
    2, 'an acknowledged add stores both rows');
SELECT results_eq(
    format($$SELECT rows_added, requests, num_received, num_invalid_entries, invalid_entry_samples FROM shared.audience_sync_run WHERE id = %s$$, :run),
    $$VALUES (2, 1, 2::bigint, 1::bigint, '{"x": "bad"}'::jsonb)$$, 'the run counts Meta''s answer');
SELECT is((SELECT first_upload_at IS NOT NULL FROM shared.meta_audience), true,
    'the first acknowledged upload is remembered (the size guard applies before it only)');
SELECT is((SELECT count(*) FROM shared.audience_changes('all_leads', NULL)), 0::bigint,
    'acknowledged and unchanged: nothing to do');

-- b changes email (re-checked), a withdraws consent, c joins, then a is erased.
UPDATE shared.person SET email = 'b2@example.com', updated_at = now() + interval '1 second'
WHERE id = '00000000-0000-0000-0000-00000000000b';
UPDATE shared.person SET consent_status = 'withdrawn' WHERE id = '00000000-0000-0000-0000-00000000000a';
INSERT INTO shared.segment_member (segment_id, person_id)
VALUES ('all_leads', '00000000-0000-0000-0000-00000000000c');
SELECT results_eq(
    $$SELECT person_id::text, op, old_cells[1], email FROM shared.audience_changes('all_leads', NULL) ORDER BY person_id$$,
    $$VALUES ('00000000-0000-0000-0000-00000000000a', 'remove', 'a', NULL),
             ('00000000-0000-0000-0000-00000000000b', 'add', 'b', 'b2@example.com'),
             ('00000000-0000-0000-0000-00000000000c', 'add', NULL, 'c@example.com')$$,
    'a withdrawal removes under the old row; a changed person comes with the row Meta has');
SELECT shared.erase_person('00000000-0000-0000-0000-00000000000a', 'test', 'asked');
SELECT is((SELECT count(*) FROM shared.audience_ack WHERE person_id = '00000000-0000-0000-0000-00000000000a'),
    1::bigint, 'erasure keeps the acknowledged hashes until Meta confirms the removal');
SELECT is(shared.audience_record_batch(:run, 'remove', format('[{"p":"%s","c":%s}]',
    '00000000-0000-0000-0000-00000000000a', to_jsonb(array_fill('a'::text, ARRAY[13])))::jsonb),
    1, 'an acknowledged removal');
SELECT is((SELECT count(*) FROM shared.audience_ack WHERE person_id = '00000000-0000-0000-0000-00000000000a'),
    0::bigint, 'then the hashes go');

-- Removal acknowledgements: one use, covering what is needed.
SELECT shared.audience_allow_removals('all_leads', 5, 'ana', 'campaign over');
SELECT is(shared.audience_take_allowance(:run, 10), false, 'an acknowledgement covers its count only');
SELECT is(shared.audience_take_allowance(:run, 3), true, 'and is taken by a run');
SELECT is(shared.audience_take_allowance(:run, 3), false, 'once');

-- A diff run cut off may have left one request applied at Meta and unrecorded; a success ends that.
SELECT is(shared.audience_unrecorded_requests('all_leads'), 1, 'a diff run still running may have one request unrecorded');
SELECT shared.audience_finish_run(:run, 'succeeded');
SELECT is(shared.audience_unrecorded_requests('all_leads'), 0, 'a finished run left none');
SELECT run_id AS cut FROM shared.audience_start_run('all_leads', 'diff', false) \gset
SELECT run_id AS next FROM shared.audience_start_run('all_leads', 'diff', false) \gset
SELECT is(shared.audience_unrecorded_requests('all_leads'), 2, 'the interrupted run and the running one may');
SELECT shared.audience_finish_run(:next, 'succeeded');

-- A replace: staged rows become the acknowledged rows in one step.
SELECT run_id AS rrun FROM shared.audience_start_run('all_leads', 'replace', false, 'test') \gset
SELECT shared.audience_replace_stage(:rrun, 1, format('[{"p":"%s","c":%s,"u":"%s"}]',
    '00000000-0000-0000-0000-00000000000c', to_jsonb(array_fill('c'::text, ARRAY[13])), now())::jsonb);
SELECT results_eq(format($$SELECT rows_added, rows_removed FROM shared.audience_replace_complete(%s)$$, :rrun),
    $$VALUES (1::bigint, 1::bigint)$$, 'the replace swapped b out and c in');

-- The worker role runs the functions and reads no table.
SET LOCAL ROLE gdp_audience_worker;
SELECT throws_ok($$SELECT * FROM shared.audience_ack$$, '42501', NULL,
    'the worker role reads no table directly');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
