-- migrate:up
-- gdp:release sources=sha256:4dce00acdfffdd4b00c3514697887548d3bf06d7f14facbd2d9f26f5466505d3

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

GRANT SELECT ON TABLE shared.applicable_conversion_rule TO gdp_capi_worker;

-- migrate:down
