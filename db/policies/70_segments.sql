/**
 * Grants and policies for segments, their members and the segment engine's tables. Idempotent;
 * re-applied on every deploy, after 00_grants.sql (which grants the service role every table in
 * shared).
 *
 * Members are written only by the segment engine; no product role reads them (they join people
 * across products). The engine's tables are written by its triggers and by evaluate_segments
 * (SECURITY DEFINER), so gdp_segment_worker (gdp worker segments) needs only that function.
 */

SELECT shared._service_role_only(t.name, t.policy)
FROM (VALUES
    ('segment',               'The service role can read and change segments'),
    ('segment_member',        'The service role can read segment members'),
    ('feature_event_kind',    'The service role can read and change feature event kinds'),
    ('person_activity_settled', 'The service role can read settled daily person activity'),
    ('person_activity_recent', 'The service role can read recent daily person activity'),
    ('person_feature',        'The service role can read person features'),
    ('segment_change_log',    'The service role can read the segment change log'),
    ('segment_run',           'The service role can read segment runs'),
    ('segment_history',       'The service role can read segment history'),
    ('feature_trigger_fired', 'The service role can read fired first-time rules')
) AS t(name, policy);

REVOKE ALL ON SCHEMA segments FROM PUBLIC;
GRANT USAGE ON SCHEMA segments TO service_role;
GRANT SELECT ON ALL TABLES IN SCHEMA segments TO service_role;
-- No ALTER DEFAULT PRIVILEGES here: it binds to whichever role deploys (postgres on Supabase, a
-- superuser elsewhere), so two deploy paths would differ. A view added later by plain SQL is
-- readable by the service role from the next deploy on.

-- gdp worker segments: evaluation only.
REVOKE ALL ON ALL TABLES IN SCHEMA shared FROM gdp_segment_worker;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA shared FROM gdp_segment_worker;
GRANT USAGE ON SCHEMA shared TO gdp_segment_worker;
GRANT EXECUTE ON FUNCTION shared.evaluate_segments(boolean) TO gdp_segment_worker, service_role;
GRANT EXECUTE ON FUNCTION shared.segment_worker_config() TO gdp_segment_worker, service_role;
