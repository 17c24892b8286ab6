-- migrate:up

/**
 * Audience sync (GAP-007): segment membership carried to Meta Custom Audiences by diff.
 *
 *   - shared.meta_audience: per mapped segment, the Meta audience (id, PRD name) and its guards
 *     (minimum size before the first upload, largest share removed in one run);
 *   - shared.audience_ack: what Meta last acknowledged per person, as the exact hashed row sent,
 *     so removals use the old hashes (after an email change, a consent withdrawal, an erasure:
 *     no foreign key to shared.person on purpose; the row goes once Meta acknowledged the removal);
 *   - shared.audience_replace_row: rows of a usersreplace session in flight (staged per batch,
 *     swapped into audience_ack when the session completes, so a crash resumes the session);
 *   - shared.audience_sync_run: one row per run, whatever its outcome;
 *   - shared.audience_removal_allowance: an admin's acknowledgement that lets one run remove more
 *     than the cap.
 *
 * Functions live in db/functions/75_audiences.sql, grants and policies in
 * db/policies/75_audiences.sql.
 */

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'gdp_audience_worker') THEN
        CREATE ROLE gdp_audience_worker NOLOGIN;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND NOT pg_catalog.pg_has_role(current_user, 'gdp_audience_worker', 'MEMBER') THEN
        GRANT gdp_audience_worker TO CURRENT_USER;
    END IF;
END
$$;

CREATE TABLE shared.meta_audience (
    segment_id        text PRIMARY KEY
                      CONSTRAINT meta_audience_segment_id_format
                      CHECK (segment_id ~ '^[a-z][a-z0-9_]{1,62}$'),
    -- NULL until the worker created it (or an admin mapped an existing one).
    audience_id       text UNIQUE
                      CONSTRAINT meta_audience_id_format CHECK (audience_id ~ '^[0-9]{1,30}$'),
    audience_name     text NOT NULL
                      CONSTRAINT meta_audience_name_length CHECK (length(audience_name) BETWEEN 1 AND 200),
    -- Written into the audience's description before it is created, so a worker that crashed
    -- between Meta's answer and storing the id finds it again instead of creating a second.
    create_marker     text NOT NULL DEFAULT ('gdp:' || gen_random_uuid()::text),
    min_size_first_upload integer NOT NULL DEFAULT 100
                      CONSTRAINT meta_audience_min_size CHECK (min_size_first_upload BETWEEN 0 AND 100000000),
    max_removed_share numeric(4, 3) NOT NULL DEFAULT 0.200
                      CONSTRAINT meta_audience_max_removed_share CHECK (max_removed_share BETWEEN 0 AND 1),
    first_upload_at   timestamptz,
    -- Set when Meta's count disagrees with what was acknowledged; the next run replaces.
    drift_detected_at timestamptz,
    drift_note        text,
    approximate_lower bigint,
    approximate_upper bigint,
    counted_at        timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE shared.meta_audience IS
    'The Meta Custom Audience of each mapped segment, with its guards.';

CREATE TABLE shared.audience_ack (
    segment_id        text NOT NULL REFERENCES shared.meta_audience (segment_id) ON DELETE CASCADE,
    person_id         uuid NOT NULL,
    -- The cells sent, in the order of the audience schema (EMAIL, PHONE, FN, LN, CT, ST, ZIP,
    -- COUNTRY, DOBY, DOBM, DOBD, GEN, EXTERN_ID): SHA-256 hex or "" (never the hash of "").
    row_cells         text[] NOT NULL
                      CONSTRAINT audience_ack_cells CHECK (cardinality(row_cells) = 13),
    -- shared.person.updated_at of the version that was hashed: a newer person row is re-checked.
    person_updated_at timestamptz NOT NULL,
    via               text NOT NULL CONSTRAINT audience_ack_via CHECK (via IN ('users', 'replace')),
    run_id            bigint,
    acknowledged_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (segment_id, person_id)
);
COMMENT ON TABLE shared.audience_ack IS
    'What Meta acknowledged per person and audience: the exact hashed row sent (hashes only).';

CREATE TABLE shared.audience_replace_row (
    segment_id        text NOT NULL REFERENCES shared.meta_audience (segment_id) ON DELETE CASCADE,
    person_id         uuid NOT NULL,
    row_cells         text[] NOT NULL
                      CONSTRAINT audience_replace_row_cells CHECK (cardinality(row_cells) = 13),
    person_updated_at timestamptz NOT NULL,
    run_id            bigint NOT NULL,
    PRIMARY KEY (segment_id, person_id)
);
COMMENT ON TABLE shared.audience_replace_row IS
    'Rows sent in the usersreplace session in flight; they become audience_ack when it completes.';

CREATE TABLE shared.audience_sync_run (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    segment_id            text NOT NULL,
    audience_id           text,
    kind                  text NOT NULL CONSTRAINT audience_sync_run_kind
                          CHECK (kind IN ('diff', 'replace')),
    status                text NOT NULL DEFAULT 'running' CONSTRAINT audience_sync_run_status
                          CHECK (status IN ('running', 'succeeded', 'failed', 'refused',
                                            'waiting', 'interrupted')),
    forced                boolean NOT NULL DEFAULT false,
    reason                text,
    started_at            timestamptz NOT NULL DEFAULT now(),
    finished_at           timestamptz,
    members               bigint,
    planned_adds          integer NOT NULL DEFAULT 0,
    planned_removes       integer NOT NULL DEFAULT 0,
    rows_added            integer NOT NULL DEFAULT 0,
    rows_removed          integer NOT NULL DEFAULT 0,
    requests              integer NOT NULL DEFAULT 0,
    retries               integer NOT NULL DEFAULT 0,
    num_received          bigint NOT NULL DEFAULT 0,
    num_invalid_entries   bigint NOT NULL DEFAULT 0,
    -- Meta's samples of invalid entries (the hashes GDP sent, never raw PII), at most 100.
    invalid_entry_samples jsonb NOT NULL DEFAULT '{}'::jsonb,
    session_id            bigint,
    batch_seq             integer NOT NULL DEFAULT 0,
    estimated_num_total   bigint,
    -- Graph error code (or "code/subcode") -> count, over the run's attempts.
    errors                jsonb NOT NULL DEFAULT '{}'::jsonb,
    error_message         text,
    CONSTRAINT audience_sync_run_samples CHECK (jsonb_typeof(invalid_entry_samples) = 'object'),
    CONSTRAINT audience_sync_run_errors CHECK (jsonb_typeof(errors) = 'object')
);
CREATE INDEX audience_sync_run_segment_idx ON shared.audience_sync_run (segment_id, id DESC);
COMMENT ON TABLE shared.audience_sync_run IS
    'One row per audience sync run: rows added/removed, requests, Meta''s counts, errors by code.';

CREATE TABLE shared.audience_removal_allowance (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    segment_id      text NOT NULL REFERENCES shared.meta_audience (segment_id) ON DELETE CASCADE,
    max_removals    integer NOT NULL CONSTRAINT audience_removal_allowance_max
                    CHECK (max_removals > 0),
    acknowledged_by text NOT NULL CONSTRAINT audience_removal_allowance_by
                    CHECK (length(acknowledged_by) BETWEEN 1 AND 200),
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    used_by_run     bigint REFERENCES shared.audience_sync_run (id)
);
COMMENT ON TABLE shared.audience_removal_allowance IS
    'An admin''s acknowledgement that the next run of a segment may remove up to max_removals.';

ALTER TABLE shared.meta_audience ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.audience_ack ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.audience_replace_row ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.audience_sync_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared.audience_removal_allowance ENABLE ROW LEVEL SECURITY;

-- migrate:down
