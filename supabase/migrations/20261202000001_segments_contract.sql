-- migrate:up

/**
 * Segments (GAP-002 segment engine, GAP-007 audience sync): the two tables both halves share.
 *
 *   - segments: the schema where each segment is a view an admin edits, returning person_id;
 *   - shared.segment: the registry of those views (description, owner, the PRD's audience name);
 *   - shared.segment_member: who is in each segment now, written only by the segment engine
 *     (shared.evaluate_segments) and read by the audience worker, which diffs it against what
 *     Meta last acknowledged.
 *
 * Features, evaluation, history and the change queue come in the segment engine's migrations;
 * audiences, their acknowledged rows and sync runs in the audience sync's. Grants and policies
 * live in db/policies/.
 */

CREATE SCHEMA IF NOT EXISTS segments;
COMMENT ON SCHEMA segments IS
    'One view per segment, returning person_id; registered in shared.segment.';

CREATE TABLE shared.segment (
    -- The view's name in schema segments.
    segment_id    text PRIMARY KEY
                  CONSTRAINT segment_id_format CHECK (segment_id ~ '^[a-z][a-z0-9_]{1,62}$'),
    description   text NOT NULL
                  CONSTRAINT segment_description_length CHECK (length(description) BETWEEN 1 AND 500),
    owner         text NOT NULL
                  CONSTRAINT segment_owner_length CHECK (length(owner) BETWEEN 1 AND 200),
    -- The Meta Custom Audience it maps to (the PRD's names); NULL: not synced to Meta.
    audience_name text
                  CONSTRAINT segment_audience_name_length CHECK (length(audience_name) BETWEEN 1 AND 200),
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE shared.segment IS
    'Registered segments: each is the view segments.<segment_id>, returning person_id.';

CREATE TABLE shared.segment_member (
    segment_id text NOT NULL REFERENCES shared.segment (segment_id) ON DELETE CASCADE,
    -- Erasure deletes the person and so the membership; the audience worker then removes the
    -- person from Meta under the hashes it last sent.
    person_id  uuid NOT NULL REFERENCES shared.person (id) ON DELETE CASCADE,
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, person_id)
);
-- Erasure and person merges find a person's memberships without scanning every segment.
CREATE INDEX segment_member_person_id_idx ON shared.segment_member (person_id);
COMMENT ON TABLE shared.segment_member IS
    'Current members of each segment; written by shared.evaluate_segments only.';

ALTER TABLE shared.segment ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.segment_member ENABLE ROW LEVEL SECURITY;

-- migrate:down
