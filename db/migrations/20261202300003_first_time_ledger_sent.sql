-- migrate:up

/**
 * The first-time ledger (shared.feature_trigger_fired) also records a person who already had
 * such an event before the ledger knew them (sent = false, nothing sent), so that their events
 * are looked at once, not on every statement that carries another one
 * (db/functions/70_segments.sql, _event_features). A constant default: no table rewrite.
 */

SET lock_timeout = '2s';

ALTER TABLE shared.feature_trigger_fired
    ADD COLUMN sent boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN shared.feature_trigger_fired.sent IS
    'false: the person had such an event before the ledger knew them; nothing was sent.';

-- migrate:down
