/**
 * Grants and policies for the audience sync (GAP-007). Idempotent; re-applied on every deploy,
 * after 00_grants.sql (which grants the service role every table in shared).
 *
 *   gdp_audience_worker  executes the audience worker's functions; reads and writes no table
 *                        directly (the functions run as their owner, db/functions/75_audiences.sql)
 *
 * The tables hold hashes only; no product role reads them.
 */

SELECT shared._service_role_only(t.name, t.policy)
FROM (VALUES
    ('meta_audience',              'The service role can read and change audiences'),
    ('audience_ack',               'The service role can read acknowledged audience rows'),
    ('audience_replace_row',       'The service role can read staged replace rows'),
    ('audience_sync_run',          'The service role can read audience sync runs'),
    ('audience_removal_allowance', 'The service role can read and add removal acknowledgements'),
    ('audience_erased',            'The service role can read erased people awaiting removal')
) AS t(name, policy);

-- Acknowledged rows, staged rows and runs are written only through their functions.
REVOKE INSERT, UPDATE, DELETE ON shared.audience_ack, shared.audience_replace_row,
    shared.audience_sync_run, shared.audience_erased FROM service_role;
REVOKE ALL ON ALL TABLES IN SCHEMA shared FROM gdp_audience_worker;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA shared FROM gdp_audience_worker;
GRANT USAGE ON SCHEMA shared TO gdp_audience_worker;
REVOKE ALL ON shared.audience_status FROM PUBLIC, anon, authenticated;
GRANT SELECT ON shared.audience_status TO service_role, gdp_audience_worker;
-- The dashboard (gdp_dashboard) shows audience sizes from the view; the member count it calls
-- is the view's only function.
GRANT SELECT ON shared.audience_status TO gdp_dashboard;


REVOKE ALL ON FUNCTION
    shared.audience_schema(),
    shared.audience_worker_config(),
    shared._audience_member_count(text),
    shared.audience_changed_since(text),
    shared.audience_targets(text),
    shared.audience_store_id(text, text),
    shared.audience_try_lock(text),
    shared.audience_unlock(text),
    shared.audience_start_run(text, text, boolean, text),
    shared.audience_changes(text, timestamptz),
    shared.audience_changes_open(text, timestamptz, text),
    shared.audience_change_counts(text, timestamptz),
    shared.audience_removal_count(text),
    shared.audience_members_page(text, uuid, integer),
    shared._audience_count_response(bigint, jsonb),
    shared.audience_record_batch(bigint, text, jsonb, jsonb),
    shared.audience_record_rows(bigint, text, uuid[], text[], timestamptz[], jsonb),
    shared.audience_record_error(bigint, integer, integer, boolean),
    shared.audience_plan_run(bigint, integer, integer, bigint, bigint),
    shared.audience_finish_run(bigint, text, text),
    shared.audience_replace_state(text),
    shared.audience_resume_run(bigint),
    shared.audience_replace_stage(bigint, integer, jsonb, jsonb),
    shared.audience_replace_complete(bigint),
    shared.audience_record_count(text, bigint, bigint, text),
    shared.audience_allow_removals(text, integer, text, text),
    shared.audience_set_guards(text, integer, numeric),
    shared._audience_checked_from(),
    shared._audience_person_erased(),
    shared.audience_take_allowance(bigint, integer),
    shared.audience_unrecorded_requests(text)
FROM PUBLIC, anon, authenticated;

GRANT EXECUTE ON FUNCTION
    shared._audience_member_count(text),
    shared.audience_changed_since(text),
    shared.audience_schema(),
    shared.audience_worker_config(),
    shared.audience_targets(text),
    shared.audience_store_id(text, text),
    shared.audience_try_lock(text),
    shared.audience_unlock(text),
    shared.audience_start_run(text, text, boolean, text),
    shared.audience_changes(text, timestamptz),
    shared.audience_changes_open(text, timestamptz, text),
    shared.audience_change_counts(text, timestamptz),
    shared.audience_removal_count(text),
    shared.audience_members_page(text, uuid, integer),
    shared.audience_record_batch(bigint, text, jsonb, jsonb),
    shared.audience_record_rows(bigint, text, uuid[], text[], timestamptz[], jsonb),
    shared.audience_record_error(bigint, integer, integer, boolean),
    shared.audience_plan_run(bigint, integer, integer, bigint, bigint),
    shared.audience_finish_run(bigint, text, text),
    shared.audience_replace_state(text),
    shared.audience_resume_run(bigint),
    shared.audience_replace_stage(bigint, integer, jsonb, jsonb),
    shared.audience_replace_complete(bigint),
    shared.audience_record_count(text, bigint, bigint, text),
    shared.audience_take_allowance(bigint, integer),
    shared.audience_unrecorded_requests(text)
TO gdp_audience_worker, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_allow_removals(text, integer, text, text) TO service_role;
GRANT EXECUTE ON FUNCTION shared.audience_set_guards(text, integer, numeric) TO service_role;

-- The dashboard's audience panel reads shared.audience_status, whose member count runs here.
GRANT EXECUTE ON FUNCTION shared._audience_member_count(text) TO gdp_dashboard;
