-- migrate:up

/**
 * Retention windows (applied by db/functions/60_retention.sql through `gdp worker maintenance`
 * or pg_cron) and the role that applies them.
 *
 * Defaults, and why:
 *   RETENTION_EVENT_DAYS 400: a year of events plus a month, so ROI can be compared year over
 *     year and segments can look back a full year; Meta needs none of it after 7 days. At least
 *     8, so no event Meta would still take (7 days) is ever deleted.
 *   RETENTION_ATTRIBUTION_DAYS 90: delivery records answer "did Meta get it, and why not"
 *     (status endpoint, dead-letter review, reconciling a month's conversions with Events
 *     Manager, whose default attribution window is 7-day click / 1-day view and whose longest is
 *     28 days); a quarter covers a month-end review with room to spare. At least 8.
 *   RETENTION_QUEUE_ARCHIVE_DAYS 14: archived queue messages carry ids only; two weeks (twice
 *     Meta's 7-day window) is enough to reconstruct what the workers did during an incident.
 *   RETENTION_DEAD_LETTER_DAYS 30: a month for an admin to look at a dead letter and replay it
 *     (counted from the replay once replayed); an event dead-lettered 30 days ago cannot reach
 *     Meta any more, so only the record of why is lost.
 *   RETENTION_BATCH_SIZE 5000: rows deleted per table per transaction (tens of milliseconds).
 * Erasure records, people, consent and settings have no window: they are never deleted here.
 */

DO $$
BEGIN
    -- Roles are cluster-wide: created once, whoever deploys first.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'gdp_maintenance') THEN
        CREATE ROLE gdp_maintenance NOLOGIN;
    END IF;
END
$$;
COMMENT ON ROLE gdp_maintenance IS 'gdp worker maintenance: applies retention (EXECUTE on shared.apply_retention and its parts only)';

INSERT INTO shared.setting_definition
    (setting_key, description, value_type, value_pattern, min_value, max_value, per_product)
VALUES
    ('RETENTION_EVENT_DAYS',
     'Days shared.event rows are kept after they were received (events still queued for Meta or with a pending dead letter are kept longer)',
     'integer', NULL, 8, 36500, false),
    ('RETENTION_ATTRIBUTION_DAYS',
     'Days delivery records (shared.attribution_events) are kept',
     'integer', NULL, 8, 36500, false),
    ('RETENTION_QUEUE_ARCHIVE_DAYS',
     'Days archived queue messages (pgmq.a_<queue>) are kept',
     'integer', NULL, 1, 36500, false),
    ('RETENTION_DEAD_LETTER_DAYS',
     'Days dead letters are kept after they were dead-lettered, or replayed',
     'integer', NULL, 1, 36500, false),
    ('RETENTION_BATCH_SIZE',
     'Rows deleted per table in one retention transaction',
     'integer', NULL, 100, 100000, false);

INSERT INTO shared.setting (setting_key, scope, value, updated_by) VALUES
    ('RETENTION_EVENT_DAYS', 'global', '400', 'install'),
    ('RETENTION_ATTRIBUTION_DAYS', 'global', '90', 'install'),
    ('RETENTION_QUEUE_ARCHIVE_DAYS', 'global', '14', 'install'),
    ('RETENTION_DEAD_LETTER_DAYS', 'global', '30', 'install'),
    ('RETENTION_BATCH_SIZE', 'global', '5000', 'install');

-- migrate:down
