-- migrate:up

/**
 * Audience sync: a run between full checks reads only what changed, through indexes.
 *
 *   - shared.audience_sync_run.checked_from: the earliest person.updated_at a change not yet
 *     visible to the run could carry (the start of the oldest transaction open when it began);
 *     the next run re-checks the people updated from there (was: the run's start less 10
 *     minutes, which at a bulk load re-read every person changed in those minutes);
 *   - shared.audience_erased: acknowledged people erased since (their membership and history
 *     go with them, so nothing else says they left); the removal Meta acknowledges clears them.
 *
 * Who joined or left comes from shared.segment_history (indexed by segment and time). Every
 * audience's next run is a full check, which the incremental runs then continue from.
 */

ALTER TABLE shared.audience_sync_run ADD COLUMN checked_from timestamptz;
COMMENT ON COLUMN shared.audience_sync_run.checked_from IS
    'The next run re-checks people and memberships changed from this time (the start of the oldest transaction open when this run began).';

CREATE TABLE shared.audience_erased (
    segment_id text NOT NULL REFERENCES shared.meta_audience (segment_id) ON DELETE CASCADE,
    person_id  uuid NOT NULL,
    erased_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, person_id)
);
COMMENT ON TABLE shared.audience_erased IS
    'Acknowledged people erased since: the next run removes them from the audience (ids only).';
ALTER TABLE shared.audience_erased ENABLE ROW LEVEL SECURITY;

-- Runs before this migration did not record checked_from: every audience starts with a full check.
UPDATE shared.meta_audience SET full_checked_at = NULL;

-- migrate:down
