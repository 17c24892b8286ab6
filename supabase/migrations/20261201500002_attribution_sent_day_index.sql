-- migrate:up transaction:false

/**
 * The insight views put GDP's own conversions (delivered through the Conversions API) next to
 * Meta's, per project and day of delivery; this index lets a date range read only its days of
 * shared.attribution_events instead of every delivery ever made. Built concurrently: the table
 * keeps taking delivery records while it builds.
 */
CREATE INDEX CONCURRENTLY IF NOT EXISTS attribution_events_sent_day_idx
    ON shared.attribution_events (((created_at AT TIME ZONE 'UTC')::date), product_id)
    WHERE status = 'sent';

-- migrate:down
