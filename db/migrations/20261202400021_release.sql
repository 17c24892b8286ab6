-- migrate:up
-- gdp:release sources=sha256:a65541d81d9aa800af2263fd7bd9ab1c309ea226bda0443564f5702a7daddcaa

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

GRANT EXECUTE ON FUNCTION shared._audience_member_count(text) TO gdp_dashboard;

GRANT SELECT ON TABLE shared.audience_status TO gdp_dashboard;

-- migrate:down
