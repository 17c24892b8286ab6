-- migrate:up

/**
 * Audience sync at a million members: a run re-checks only the people changed since the last.
 *
 * A run remembers from when it looked for changed people (changed_since; NULL: it checked every
 * member), and an audience when every member was last checked (full_checked_at): runs in between
 * read only the people updated since (shared.person.updated_at, indexed by the next migration).
 */

ALTER TABLE shared.meta_audience ADD COLUMN full_checked_at timestamptz;
-- How many rows are acknowledged, kept by the functions that change them (a run weighs its
-- removals against it without counting a million rows).
ALTER TABLE shared.meta_audience ADD COLUMN acknowledged bigint NOT NULL DEFAULT 0
    CONSTRAINT meta_audience_acknowledged CHECK (acknowledged >= 0);
ALTER TABLE shared.audience_sync_run ADD COLUMN changed_since timestamptz;
COMMENT ON COLUMN shared.audience_sync_run.changed_since IS
    'The run re-checked people changed after this time; NULL: it re-checked every member.';

-- migrate:down
