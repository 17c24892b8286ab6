-- name: retention_run
-- Rounds of retention batches, each committed on its own, until nothing is left past its window
-- or max_seconds pass (db/functions/60_retention.sql). Outside a transaction block: it commits.
CALL shared.run_retention(
    p_batch_size => %(batch_size)s::integer,
    p_max_seconds => %(max_seconds)s::integer,
    p_as_of => %(as_of)s::timestamptz
);

-- name: retention_table_sizes
-- Rows and bytes (heap, indexes, TOAST) of every table retention bounds.
SELECT t.name, c.reltuples::bigint AS estimated_rows, pg_total_relation_size(c.oid) AS bytes
FROM (VALUES ('shared.event'), ('shared.attribution_events'), ('shared.capi_dead_letter'),
             ('pgmq.a_meta_capi')) AS t(name)
JOIN pg_class AS c ON c.oid = to_regclass(t.name);
