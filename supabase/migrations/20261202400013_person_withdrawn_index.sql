-- migrate:up transaction:false

/**
 * People who withdrew consent leave every audience on the next run: this small partial index
 * lists them without reading every person. Built concurrently.
 */
CREATE INDEX CONCURRENTLY IF NOT EXISTS person_consent_withdrawn_idx
    ON shared.person (id) WHERE consent_status = 'withdrawn';

-- migrate:down
