-- migrate:up
-- gdp:release sources=sha256:530070e4871a75d3903ff7acd105681f785eb20789c2d1cc38fcdb13615e747f

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

-- No catalog change: the files changed in comments or layout only.

-- migrate:down
