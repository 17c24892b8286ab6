-- migrate:up
-- gdp:release sources=sha256:c00c97e76295c0d6ab15f29834142a1d50c34cd950f2e059db2f1607e9e9060e

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared.audience_unrecorded_requests(p_segment_id text)
 RETURNS integer
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    SELECT count(*)::integer FROM shared.audience_sync_run AS r
    WHERE r.segment_id = p_segment_id AND r.kind = 'diff'
      AND r.status IN ('running', 'interrupted', 'failed')
      AND r.id > coalesce((SELECT max(s.id) FROM shared.audience_sync_run AS s
                           WHERE s.segment_id = p_segment_id AND s.status = 'succeeded'), 0)
$function$;

REVOKE ALL ON FUNCTION shared.audience_unrecorded_requests(text) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_unrecorded_requests(text) TO gdp_audience_worker;

GRANT EXECUTE ON FUNCTION shared.audience_unrecorded_requests(text) TO service_role;

COMMENT ON FUNCTION shared.audience_unrecorded_requests(text) IS 'Diff runs of a segment cut off since its last successful run: each may have left one request applied at Meta but unrecorded (the drift check allows for them).';

-- migrate:down
