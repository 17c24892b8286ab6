-- migrate:up

/**
 * person_feature.last_cancel_at: the last cancellation, stored so that an evaluation can merge
 * a person's new events into the stored features (paid and churned_at need it) instead of
 * reading every daily row of the person again.
 *
 * '-infinity' means not known: the value of every row from before, and of a row the functions
 * of an earlier release write while a deploy runs (they do not name the column), so the
 * default stays. Such a row is never merged into; the person is computed from every daily row
 * at their next change, which writes the real value (NULL: no cancellation). Every person with
 * features is also queued for that now (one change-log row; the next evaluation takes them
 * all, as after shared.rebuild_person_activity). A constant default is added without a rewrite.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);

ALTER TABLE shared.person_feature ADD COLUMN last_cancel_at timestamptz DEFAULT '-infinity';
COMMENT ON COLUMN shared.person_feature.last_cancel_at IS
    'The last cancellation (a payment after it makes the person paid again); -infinity: not '
    'known yet (computed before the column existed), until the person''s next evaluation.';

INSERT INTO shared.segment_change_log (person_ids)
SELECT array_agg(f.person_id) FROM shared.person_feature AS f HAVING count(*) > 0;

-- migrate:down
