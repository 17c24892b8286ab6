-- migrate:up
-- gdp:release sources=sha256:9becb5338d9c83dadc70d0caf06c336eaad0823ed085b0eae3afe1abace3c0d3

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._lock_people(p_ids uuid[])
 RETURNS uuid[]
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    -- Each id probed through the primary key, in id order (two batches naming the same people
    -- lock them in one order, so they never deadlock): `id = ANY (...)` reads all of
    -- shared.person whenever the table's statistics are older than its growth.
    SELECT coalesce(array_agg(l.id), '{}'::uuid[])
    FROM (SELECT DISTINCT u.id FROM unnest(p_ids) AS u(id)
          WHERE u.id IS NOT NULL ORDER BY u.id) AS ids
    CROSS JOIN LATERAL (SELECT p.id FROM shared.person AS p
                        WHERE p.id = ids.id
                        LIMIT 1
                        FOR KEY SHARE OF p) AS l
$function$;

-- migrate:down
