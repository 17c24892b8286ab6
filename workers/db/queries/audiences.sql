-- name: audience_worker_config
SELECT enabled, ad_account_id, audience_ids, interval_s FROM shared.audience_worker_config();

-- name: audience_targets
SELECT segment_id, audience_name, audience_id, create_marker, min_size_first_upload,
       max_removed_share, first_upload_at, drift_detected_at, members, acknowledged,
       replace_staged, last_change_at
FROM shared.audience_targets(%(segment_id)s);

-- name: audience_store_id
SELECT shared.audience_store_id(%(segment_id)s, %(audience_id)s);

-- name: audience_try_lock
SELECT shared.audience_try_lock(%(segment_id)s) AS locked;

-- name: audience_unlock
SELECT shared.audience_unlock(%(segment_id)s) AS unlocked;

-- name: audience_start_run
SELECT run_id, changed_since
FROM shared.audience_start_run(%(segment_id)s, %(kind)s, %(forced)s, %(reason)s);

-- name: audience_changed_since
SELECT shared.audience_changed_since(%(segment_id)s) AS changed_since;

-- name: audience_change_counts
SELECT removes, candidates FROM shared.audience_change_counts(%(segment_id)s, %(since)s);

-- name: audience_member_count
SELECT shared._audience_member_count(%(segment_id)s) AS members;

-- name: audience_removal_count
SELECT shared.audience_removal_count(%(segment_id)s) AS removes;

-- name: audience_changes
-- Streamed through a server-side cursor: removals first, then the people to add or re-check.
SELECT c.person_id, c.op, c.old_cells, c.email, c.phone, c.first_name, c.last_name, c.city,
       c.state, c.zip, c.country, c.date_of_birth, c.gender, c.person_updated_at
FROM shared.audience_changes(%(segment_id)s, %(since)s) AS c;

-- name: audience_changes_open
-- Opens the cursor audience_changes in the session's transaction (audience_changes_fetch reads it).
SELECT shared.audience_changes_open(%(segment_id)s, %(since)s, 'audience_changes') AS cursor;

-- name: audience_changes_fetch
-- The next rows of the cursor audience_changes_open opened: at most one request's worth.
FETCH FORWARD 10000 FROM audience_changes;

-- name: audience_members_page
SELECT person_id, email, phone, first_name, last_name, city, state, zip, country,
       date_of_birth, gender, person_updated_at
FROM shared.audience_members_page(%(segment_id)s, %(after)s, %(limit)s);

-- name: audience_record_rows
-- The arrays go in binary (the b placeholders): 10,000 rows of 13 hashes cost the worker a few
-- milliseconds that way, tens of milliseconds as quoted array text.
SELECT shared.audience_record_rows(%(run_id)s, %(op)s, %(person_ids)b::uuid[], %(cells)b::text[],
                                   %(updated)b::timestamptz[], %(response)s::jsonb) AS n;

-- name: audience_record_error
SELECT shared.audience_record_error(%(run_id)s, %(code)s, %(subcode)s, %(retried)s);

-- name: audience_plan_run
SELECT shared.audience_plan_run(%(run_id)s, %(adds)s, %(removes)s, %(session_id)s,
                                %(estimated)s);

-- name: audience_finish_run
SELECT id, status, rows_added, rows_removed, requests, num_received, num_invalid_entries,
       errors, error_message
FROM shared.audience_finish_run(%(run_id)s, %(status)s, %(message)s);

-- name: audience_replace_state
SELECT run_id, session_id, batch_seq, last_person_id, staged, started_at
FROM shared.audience_replace_state(%(segment_id)s);

-- name: audience_resume_run
SELECT shared.audience_resume_run(%(run_id)s);

-- name: audience_replace_stage
SELECT shared.audience_replace_stage(%(run_id)s, %(batch_seq)s, %(rows)s::jsonb,
                                     %(response)s::jsonb) AS n;

-- name: audience_replace_complete
SELECT rows_added, rows_removed FROM shared.audience_replace_complete(%(run_id)s);

-- name: audience_record_count
SELECT shared.audience_record_count(%(segment_id)s, %(lower)s, %(upper)s, %(drift)s);

-- name: audience_unrecorded_requests
SELECT shared.audience_unrecorded_requests(%(segment_id)s) AS requests;

-- name: audience_take_allowance
SELECT shared.audience_take_allowance(%(run_id)s, %(needed)s) AS allowed;

-- name: audience_status
SELECT segment_id, audience_name, audience_id, members, acknowledged, approximate_lower,
       approximate_upper, drift_detected_at, first_upload_at, last_status, last_finished_at,
       last_succeeded_at, lag_seconds, failures_24h
FROM shared.audience_status
ORDER BY segment_id;

-- name: audience_allow_removals
SELECT shared.audience_allow_removals(%(segment_id)s, %(max_removals)s, %(actor)s,
                                      %(reason)s) AS id;

-- name: audience_set_guards
SELECT * FROM shared.audience_set_guards(%(segment_id)s, %(min_size)s::integer,
                                        %(max_removed_share)s::numeric);

-- name: audience_recent_runs
SELECT id, segment_id, kind, status, forced, started_at, finished_at, planned_adds,
       planned_removes, rows_added, rows_removed, requests, retries, num_received,
       num_invalid_entries, session_id, batch_seq, errors, error_message
FROM shared.audience_sync_run
WHERE %(segment_id)s::text IS NULL OR segment_id = %(segment_id)s
ORDER BY id DESC
LIMIT %(limit)s;
