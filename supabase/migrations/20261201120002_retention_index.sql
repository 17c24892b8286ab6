-- migrate:up transaction:false

-- Retention finds old delivery records by created_at. A BRIN index: rows arrive in time order,
-- it is a few pages for millions of rows and costs inserts next to nothing (a btree would add
-- a write per delivery record). Built CONCURRENTLY: inserts go on while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS attribution_events_created_at_brin
    ON shared.attribution_events USING brin (created_at);

-- migrate:down
