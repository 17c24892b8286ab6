-- migrate:up

/**
 * person_feature.last_cancel_at: the last cancellation, stored so that an evaluation can merge
 * a person's new events into the stored features (paid and churned_at need it) instead of
 * reading every daily row of the person again.
 *
 * Rows computed before it have no value, so every person with features is queued once for a
 * recompute from the daily rows (one change-log row; the next evaluation takes them all, as
 * after shared.rebuild_person_activity). Adding a nullable column takes a moment's lock.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);

ALTER TABLE shared.person_feature ADD COLUMN last_cancel_at timestamptz;
COMMENT ON COLUMN shared.person_feature.last_cancel_at IS
    'The last cancellation (a payment after it makes the person paid again).';

INSERT INTO shared.segment_change_log (person_ids)
SELECT array_agg(f.person_id) FROM shared.person_feature AS f HAVING count(*) > 0;

-- migrate:down
