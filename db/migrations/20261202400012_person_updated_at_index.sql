-- migrate:up transaction:false

/**
 * The audience sync re-checks only the people changed since its last run: this index finds them
 * without reading every person. Built concurrently: products keep writing people meanwhile.
 */
CREATE INDEX CONCURRENTLY IF NOT EXISTS person_updated_at_idx ON shared.person (updated_at);

-- migrate:down
