/**
 * Retention (db/functions/60_retention.sql): the maintenance role runs the retention rules and
 * nothing else. It holds no table privilege: the functions are SECURITY DEFINER and delete only
 * what the windows in shared.setting say.
 */

GRANT USAGE ON SCHEMA shared TO gdp_maintenance;

REVOKE EXECUTE ON FUNCTION
    shared.retention_delete_events(integer, timestamptz),
    shared.retention_delete_attribution_events(integer, timestamptz),
    shared.retention_delete_dead_letters(integer, timestamptz),
    shared.retention_delete_queue_archives(integer, timestamptz),
    shared.apply_retention(integer, timestamptz),
    shared._retention_cutoff(text, timestamptz),
    shared._retention_batch_size(integer),
    shared._retention_lock_key()
FROM PUBLIC;
REVOKE EXECUTE ON PROCEDURE
    shared.run_retention(integer, integer, timestamptz, bigint, bigint, bigint, bigint, integer, boolean)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
    shared.retention_delete_events(integer, timestamptz),
    shared.retention_delete_attribution_events(integer, timestamptz),
    shared.retention_delete_dead_letters(integer, timestamptz),
    shared.retention_delete_queue_archives(integer, timestamptz),
    shared.apply_retention(integer, timestamptz),
    shared._retention_lock_key()
TO gdp_maintenance;
GRANT EXECUTE ON PROCEDURE
    shared.run_retention(integer, integer, timestamptz, bigint, bigint, bigint, bigint, integer, boolean)
TO gdp_maintenance;
