-- migrate:up

/**
 * The segment change log holds a statement's event ids as their first and last id when they are
 * one unbroken run of the identity (the usual case: a statement's rows take consecutive ids
 * unless another session inserts at the same moment), instead of an array of every id, which
 * for a 1,000-row statement is an 8 kB value compressed and stored out of line on every insert
 * (db/functions/70_segments.sql, _event_features). The array stays for the other statements.
 * Nullable columns without a default: a catalog change, no table rewrite.
 */

SET lock_timeout = '2s';

ALTER TABLE shared.segment_change_log
    ADD COLUMN event_id_first bigint,
    ADD COLUMN event_id_last bigint;
COMMENT ON COLUMN shared.segment_change_log.event_id_first IS
    'With event_id_last: the statement''s events are exactly the ids from first to last.';

-- migrate:down
