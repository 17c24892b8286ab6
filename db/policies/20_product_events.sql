/**
 * shared.product_event (the relay's event configuration, GAP-005): service role only, like every
 * table in shared (00_grants.sql, 10_rls.sql). Idempotent; re-applied on every deploy.
 */

REVOKE ALL ON shared.product_event FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON shared.product_event TO service_role;
GRANT USAGE, SELECT ON SEQUENCE shared.product_event_product_event_id_seq TO service_role;

ALTER TABLE shared.product_event ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Only the service role can read or change product events"
    ON shared.product_event;
CREATE POLICY "Only the service role can read or change product events"
    ON shared.product_event FOR ALL TO service_role USING (true) WITH CHECK (true);
