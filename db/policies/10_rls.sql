/**
 * Row-level security on every table in shared: the PRD's service-role-only policy, named as a
 * sentence. The policies name the role (TO service_role), never a JWT claim: any session can set
 * request.jwt.claims, so a policy that trusts its "role" would let anon pose as the service role.
 * anon and authenticated have no policy at all: should a grant ever leak, they see 0 rows and
 * write nothing. Products (gdp_product) get their own policies in 15_identity.sql.
 */

-- A table added without a policy still gets RLS, which then denies everyone but the owner.
DO $$
DECLARE
    v_table regclass;
BEGIN
    FOR v_table IN
        SELECT c.oid::regclass FROM pg_catalog.pg_class AS c
        WHERE c.relnamespace = 'shared'::regnamespace AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', v_table);
    END LOOP;
END
$$;

-- Each with its policy for the service role (shared._service_role_only, db/functions/00_common.sql).
SELECT shared._service_role_only(t.name, t.policy)
FROM (VALUES
    ('product',                   'Only the service role can read or write products'),
    ('person',                    'Only the service role can read or write people'),
    ('identity_link',             'Only the service role can read or write identity links'),
    ('consent_log',               'Only the service role can read or write consent records'),
    ('erasure',                   'Only the service role can read or write erasure records'),
    ('event',                     'Only the service role can read or write events'),
    ('attribution_events',        'Only the service role can read or write delivery records'),
    ('feature_flag',              'Only the service role can read or change feature flags'),
    ('feature_flag_prerequisite', 'Only the service role can read or change flag prerequisites'),
    ('deploy_checklist_item',     'Only the service role can read or acknowledge the checklist'),
    ('feature_flag_checklist',    'Only the service role can read or change flag checklists'),
    ('setting_definition',        'Only the service role can read or change setting definitions'),
    ('setting',                   'Only the service role can read or change settings'),
    ('gate_audit',                'Only the service role can read or write the gate audit'),
    ('service_key',               'Only the service role can read or write service keys'),
    ('conversion_rule',           'Only the service role can read or change conversion rules'),
    ('capi_dead_letter',          'Only the service role can read or write dead letters'),
    ('capi_pixel_state',          'Only the service role can read or write pixel states')
) AS t(name, policy);
