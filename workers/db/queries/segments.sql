-- name: segments_evaluate
-- One evaluation (db/functions/70_segments.sql): one row per enabled segment.
SELECT * FROM shared.evaluate_segments(%(full)s::boolean);

-- name: segments_worker_config
SELECT * FROM shared.segment_worker_config();

-- name: segments_try_lock
-- The worker's session lock: two workers never evaluate at once (the function also refuses a
-- second concurrent run inside its transaction).
SELECT pg_try_advisory_lock(hashtext('gdp.segment_worker')) AS locked;

-- name: segments_unlock
SELECT pg_advisory_unlock(hashtext('gdp.segment_worker')) AS unlocked;

-- name: segments_last_run
SELECT r.run_id, r.mode, r.started_at, r.finished_at, r.candidates, r.joined, r."left"
FROM shared.segment_run AS r ORDER BY r.run_id DESC LIMIT 1;

-- name: segments_define
SELECT * FROM shared.segment_define(%(segment_id)s, %(query)s, %(create)s::boolean,
                                    %(description)s, %(owner)s, %(audience_name)s);

-- name: segments_preview
SELECT * FROM shared.segment_preview(%(segment_id)s, %(query)s, %(sample)s::integer);

-- name: segments_list
SELECT o.segment_id, o.audience_name, o.enabled, o.members, o.last_evaluated_at, o.last_error,
       o.description
FROM shared.segment_overview AS o ORDER BY o.segment_id;

-- name: segments_show
SELECT o.* FROM shared.segment_overview AS o WHERE o.segment_id = %(segment_id)s;

-- name: segments_members
SELECT m.person_id, m.joined_at FROM shared.segment_member AS m
WHERE m.segment_id = %(segment_id)s
ORDER BY m.joined_at, m.person_id
LIMIT %(limit)s;

-- name: segments_recent_history
SELECT h.person_id, h.change, h.at, h.run_id FROM shared.segment_history AS h
WHERE h.segment_id = %(segment_id)s
ORDER BY h.id DESC LIMIT %(limit)s;
