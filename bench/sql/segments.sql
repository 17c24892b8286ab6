-- name: make_people
-- The bench's people, numbered (bench_person maps the number to the id for the event load).
INSERT INTO shared.person (email, lifecycle_stage, created_at)
SELECT 'p' || n || '@bench.example', 'lead', now() - interval '90 days'
FROM generate_series(1, %(people)s::integer) AS n;

-- name: number_people
CREATE TABLE public.bench_person AS
SELECT row_number() OVER (ORDER BY p.created_at, p.id)::integer AS n, p.id
FROM shared.person AS p;

-- name: number_people_key
ALTER TABLE public.bench_person ADD PRIMARY KEY (n);

-- name: make_events
-- Events spread over 90 days, names in proportions a product sees (usage, page views, pricing
-- views, activations, payments, cancellations). Loaded with triggers off (the session runs as
-- replication replica), in slices [first, last] of the same series by parallel sessions; the
-- daily features are then built in one pass by shared.rebuild_person_activity().
INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at, properties,
                          source)
SELECT (ARRAY['snapmix', 'softwarehub', 'vellopad', 'gapradar'])[1 + (g %% 4)],
       'b' || g,
       CASE WHEN r < 0.30 THEN 'SnapCreated' WHEN r < 0.55 THEN 'PageView'
            WHEN r < 0.80 THEN 'FeatureUsed' WHEN r < 0.86 THEN 'PricingPageViewed'
            WHEN r < 0.93 THEN 'Signup' WHEN r < 0.97 THEN 'SubscriptionPurchased'
            WHEN r < 0.98 THEN 'SubscriptionCanceled' ELSE 'Custom' END,
       bp.id,
       now() - (g %% 7776000) * interval '1 second',
       CASE WHEN r >= 0.93 AND r < 0.97 THEN '{"plan": "pro", "plan_price": "19"}'::jsonb
            ELSE '{}'::jsonb END,
       'import'
FROM (SELECT g, random() AS r, 1 + ((g * 7919) %% %(people)s) AS n
      FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g) AS s
JOIN public.bench_person AS bp ON bp.n = s.n;

-- name: load_session
-- A loading session: triggers off (replication replica), memory for the join with the 1M
-- numbered people and for index builds.
SET session_replication_role = replica;
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET max_parallel_maintenance_workers = 2;
SET synchronous_commit = off;

-- name: event_index_definitions
-- Every index of shared.event with the constraint it backs: compared before the load and after
-- the rebuild, so the bench measures the table exactly as the migrations define it.
SELECT i.indexrelid::regclass::text AS index_name, c.conname,
       coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(i.indexrelid)) AS definition
FROM pg_index AS i
LEFT JOIN pg_constraint AS c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
WHERE i.indrelid = 'shared.event'::regclass
ORDER BY 1;

-- name: drop_event_indexes
-- Secondary indexes are built once after the load instead of row by row during it (the
-- primary key stays: ids arrive in order). Their definitions are kept to put them back.
DO $$
DECLARE
    v record;
BEGIN
    CREATE TABLE public.bench_event_index AS
    SELECT i.indexrelid::regclass::text AS index_name, c.conname,
           coalesce(pg_get_constraintdef(c.oid), pg_get_indexdef(i.indexrelid)) AS definition
    FROM pg_index AS i
    LEFT JOIN pg_constraint AS c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
    WHERE i.indrelid = 'shared.event'::regclass AND NOT i.indisprimary;
    FOR v IN SELECT * FROM public.bench_event_index LOOP
        IF v.conname IS NOT NULL THEN
            EXECUTE format('ALTER TABLE shared.event DROP CONSTRAINT %I', v.conname);
        ELSE
            EXECUTE format('DROP INDEX %s', v.index_name);
        END IF;
    END LOOP;
END
$$;

-- name: restore_event_indexes
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT * FROM public.bench_event_index ORDER BY index_name LOOP
        IF v.conname IS NOT NULL THEN
            EXECUTE format('ALTER TABLE shared.event ADD CONSTRAINT %I %s', v.conname, v.definition);
        ELSE
            EXECUTE v.definition;
        END IF;
    END LOOP;
    DROP TABLE public.bench_event_index;
END
$$;

-- name: rebuild_features
SELECT shared.rebuild_person_activity() AS rows;

-- name: analyze
ANALYZE;

-- name: settle
-- What autovacuum does after the data set's 20 million inserts and the first evaluation's
-- million (hint bits, visibility map, statistics), done at once so the measured runs see the
-- tables as they are in steady state rather than each run paying for it at random.
VACUUM (ANALYZE) shared.person_feature, shared.segment_member, shared.segment_history,
    shared.person, shared.person_activity_settled, shared.person_activity_recent, shared.event;

-- name: checkpoint
-- The pages the load and the VACUUM dirtied (gigabytes), written now: otherwise the
-- checkpointer writes them during the measured runs, as a database in steady state does not.
CHECKPOINT;

-- name: evaluate
SELECT * FROM shared.evaluate_segments(%(full)s::boolean);

-- name: last_run
SELECT candidates, features_ms, joined, "left",
       extract(epoch FROM finished_at - started_at) AS seconds
FROM shared.segment_run ORDER BY run_id DESC LIMIT 1;

-- name: change_people
-- One percent of people do something now: one event each, 1,000-row statements as products insert.
INSERT INTO shared.event (product_id, event_id, event_name, person_id, properties)
SELECT 'snapmix', 'c' || %(round)s || '-' || bp.n,
       CASE WHEN bp.n %% 3 = 0 THEN 'SubscriptionPurchased' WHEN bp.n %% 3 = 1
            THEN 'PricingPageViewed' ELSE 'FeatureUsed' END,
       bp.id, '{"plan_price": "29"}'
FROM public.bench_person AS bp
WHERE bp.n BETWEEN %(first)s AND %(last)s;

-- name: change_people_scattered
-- The same, for the people whose number ends in %(slot)s (1%% of them, spread over the whole id
-- space: numbers follow ids) among numbers first..last.
INSERT INTO shared.event (product_id, event_id, event_name, person_id, properties)
SELECT 'snapmix', 's' || %(slot)s || '-' || bp.n,
       CASE WHEN bp.n %% 3 = 0 THEN 'SubscriptionPurchased' WHEN bp.n %% 3 = 1
            THEN 'PricingPageViewed' ELSE 'FeatureUsed' END,
       bp.id, '{"plan_price": "29"}'
FROM public.bench_person AS bp
WHERE bp.n BETWEEN %(first)s AND %(last)s AND bp.n %% 100 = %(slot)s;

-- name: settle_day
-- What the next UTC day's first evaluation does first: today's rows (the measured runs') moved
-- from the recent table into the settled history.
SELECT (SELECT count(*) FROM shared.person_activity_recent) AS recent_rows,
       shared._settle_person_activity(shared._utc_day(now()) + 1) AS settled;

-- name: sizes
SELECT (SELECT count(*) FROM shared.person) AS people,
       (SELECT count(*) FROM shared.event) AS events,
       (SELECT count(*) FROM shared.person_activity_settled) AS daily_rows,
       pg_size_pretty(pg_total_relation_size('shared.person_activity_settled')) AS daily_size,
       (SELECT jsonb_object_agg(segment_id, n) FROM (SELECT segment_id, count(*) AS n
        FROM shared.segment_member GROUP BY 1) AS m) AS members;

-- name: naive_segments
-- Baseline: the six segments computed from shared.event on every run (no features): one pass
-- grouping every event by person, then the same six predicates.
WITH f AS (
    SELECT e.person_id,
           min(e.occurred_at) AS first_seen_at, max(e.occurred_at) AS last_seen_at,
           min(e.occurred_at) FILTER (WHERE e.event_name IN ('FeatureUsed', 'SnapCreated')) AS activated_at,
           max(e.occurred_at) FILTER (WHERE e.event_name = 'SubscriptionPurchased') AS paid_at,
           max(e.occurred_at) FILTER (WHERE e.event_name = 'SubscriptionCanceled') AS cancel_at,
           count(*) FILTER (WHERE e.event_name = 'PricingPageViewed'
                              AND e.occurred_at > now() - interval '7 days') AS pv7,
           count(*) FILTER (WHERE e.event_name NOT IN ('PageView', 'PricingPageViewed')
                              AND e.occurred_at > now() - interval '7 days') AS u7
    FROM shared.event AS e WHERE e.person_id IS NOT NULL GROUP BY e.person_id
), g AS (
    SELECT f.*, f.paid_at IS NOT NULL AND (f.cancel_at IS NULL OR f.cancel_at < f.paid_at) AS paid
    FROM f
)
SELECT count(*) FILTER (WHERE activated_at IS NOT NULL AND NOT paid
                          AND first_seen_at <= now() - interval '3 days') AS activated_not_paid_day3,
       count(*) FILTER (WHERE pv7 >= 2 AND NOT paid) AS high_intent_pricing_2plus,
       count(*) FILTER (WHERE paid AND u7 >= 10) AS paid_high_usage_7d,
       count(*) FILTER (WHERE (cancel_at >= paid_at OR last_seen_at <= now() - interval '30 days')
                          AND greatest(cancel_at, last_seen_at + interval '30 days')
                              > now() - interval '30 days') AS churned_30d,
       count(*) AS all_leads,
       count(*) FILTER (WHERE paid) AS all_customers
FROM g;

-- name: ingest_people
SELECT array_agg(bp.id ORDER BY bp.n) AS ids FROM public.bench_person AS bp WHERE bp.n <= 2000;

-- name: ingest
INSERT INTO shared.event (product_id, event_id, event_name, person_id, client_ip_address,
                          client_user_agent, event_source_url)
SELECT 'snapmix', r.event_id, r.event_name, r.person_id, '203.0.113.7', 'Mozilla/5.0 (bench)',
       'https://example.com/app'
FROM unnest(%(event_ids)s::text[], %(names)s::text[], %(person_ids)s::uuid[])
     AS r(event_id, event_name, person_id);

-- name: features_off
ALTER TABLE shared.event DISABLE TRIGGER event_features;

-- name: features_on
ALTER TABLE shared.event ENABLE TRIGGER event_features;

-- name: flush_stats
-- This session's pending statistics (its WAL counts among them) are reported when it next goes
-- idle, not up to a second later.
SELECT pg_catalog.pg_stat_force_next_flush();

-- name: wal_written
-- WAL the server has written so far: its position in bytes, and the full-page images (the
-- first change to a page after a checkpoint writes the whole page). Server-wide: the bench's
-- session is the only one writing, but autovacuum may add to it.
SELECT pg_catalog.pg_current_wal_lsn() - '0/0'::pg_lsn AS wal_bytes, wal_fpi
FROM pg_catalog.pg_stat_wal;

-- name: backend_cpu
SELECT pg_backend_pid() AS pid;

-- name: enable_flags
UPDATE shared.feature_flag SET enabled = true
WHERE flag_key IN ('SHARED_PERSON_TABLE_ENABLED', 'META_CAPI_INGEST_ENABLED',
                   'SEGMENT_ENGINE_META_CAPI_ENABLED');

-- name: set_pixel
SELECT shared.set_setting('META_PIXEL_ID', '"1234567890"', 'bench');

-- name: server_memory
-- The server's buffer cache: at a million people the evaluation's working set (person,
-- features, memberships, the candidates' daily rows) is larger than PostgreSQL's default 128MB.
SELECT current_setting('shared_buffers'), current_setting('work_mem');
