-- migrate:up
-- gdp:release sources=sha256:51b366cfd71a148d1a912dc839b9522a2e467168d920eda6da4dd067f5ffbcb8

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._event_features()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
DECLARE
    v_msgs jsonb[];
BEGIN
    -- One row per statement, whatever its size: the evaluation folds these events into the
    -- daily features (shared._fold_new_events), so the insert pays for an array, not an upsert.
    INSERT INTO shared.segment_change_log (event_ids)
    SELECT array_agg(n.id) FROM new_events AS n WHERE n.person_id IS NOT NULL
    HAVING count(*) > 0;

    -- The first-time rows of the PRD's trigger table (conversion rules with
    -- first_time_per_person, e.g. "first feature used" -> CompleteRegistration), fired from the
    -- features rather than from one event: for each person and rule, the statement's first
    -- matching event is sent when the person had no such event before, and
    -- shared.feature_trigger_fired's primary key makes it once per person even when two
    -- sessions insert at the same time (the second waits for the first's row, then finds it).
    IF shared.is_enabled('META_CAPI_INGEST_ENABLED')
       AND shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') THEN
        WITH matched AS (
            -- The rule that decides each event (shared.applicable_conversion_rule, the one
            -- definition), where it is a first-time one.
            SELECT n.id, n.person_id, n.event_name, r.rule_id
            FROM new_events AS n
            JOIN shared.applicable_conversion_rule AS r
              ON r.product_id = n.product_id AND r.event_name = n.event_name
            WHERE n.meta_event_name IS NULL AND n.person_id IS NOT NULL
              AND r.first_time_per_person
        ), firsts AS (
            SELECT DISTINCT ON (m.rule_id, m.person_id) m.rule_id, m.person_id, m.id, m.event_name
            FROM matched AS m
            ORDER BY m.rule_id, m.person_id, m.id
        ), fired AS (
            INSERT INTO shared.feature_trigger_fired (rule_id, person_id, event_ref)
            SELECT f.rule_id, f.person_id, f.id FROM firsts AS f
            -- The ledger first (one primary-key probe); only a person not in it yet has their
            -- earlier events looked at: one whose events from before this ledger existed (or
            -- before the flag was on) include one is not new to it.
            WHERE NOT EXISTS (SELECT 1 FROM shared.feature_trigger_fired AS done
                              WHERE done.rule_id = f.rule_id AND done.person_id = f.person_id)
              AND NOT EXISTS (SELECT 1 FROM shared.event AS earlier
                              WHERE earlier.person_id = f.person_id
                                AND earlier.event_name = f.event_name AND earlier.id < f.id)
            ORDER BY f.rule_id, f.person_id
            ON CONFLICT (rule_id, person_id) DO NOTHING
            RETURNING rule_id, event_ref
        )
        SELECT array_agg(jsonb_build_object('event', fd.event_ref, 'meta_event_name', r.meta_event_name)
                         ORDER BY fd.event_ref)
        INTO v_msgs
        FROM fired AS fd JOIN shared.conversion_rule AS r ON r.rule_id = fd.rule_id;

        IF v_msgs IS NOT NULL THEN
            PERFORM pgmq.send_batch('meta_capi', v_msgs);
            PERFORM pg_notify('gdp_meta_capi', '');
        END IF;
    END IF;
    RETURN NULL;
END
$function$;

GRANT SELECT ON TABLE shared.applicable_conversion_rule TO gdp_capi_worker;

COMMENT ON FUNCTION shared.acknowledge_checklist_item(text, text, text) IS 'Acknowledge a pre-deploy checklist item as a named admin (audited); flags that require it can then be enabled.';

COMMENT ON FUNCTION shared.authenticate_service_key(text) IS 'The product a presented service key belongs to, or NULL for an unknown or revoked key; refreshes last_used_at at most once a minute.';

COMMENT ON FUNCTION shared.capi_event_status(text, text) IS 'Delivery status of one product event (GET /api/v1/meta/event/{event_id}): the latest outcome, queued or retrying while its message waits, or stored when nothing sends it to Meta.';

COMMENT ON FUNCTION shared.capi_set_breaker(text, text, integer, text) IS 'Record a pixel''s circuit-breaker state (open with Meta''s error, or closed) for every CAPI worker to read.';

COMMENT ON FUNCTION shared.create_service_key(text, text, text) IS 'Create a service key for a product: returned once (with its id and prefix), stored only as its SHA-256.';

COMMENT ON FUNCTION shared.disable_flag(text, text, boolean, text) IS 'Disable a feature flag; refused while flags that depend on it are on, unless p_cascade switches them off first (each audited).';

COMMENT ON FUNCTION shared.enable_flag(text, text, text[], text) IS 'Enable a feature flag through the deployment gate: refused (GD423) naming everything missing; audited with the actor and note.';

COMMENT ON FUNCTION shared.erase_person(uuid, text, text) IS 'Erase a person (GDPR): the person, identity links, consent log and events go, delivery records lose the person; an erasure record keeps only Meta-format hashes of email and phone for audience removal. Returns the erasure id.';

COMMENT ON FUNCTION shared.erase_person_by_email(text, text, text) IS 'erase_person for the person with this email (normalized as stored).';

COMMENT ON FUNCTION shared.flag_blockers(text, text[]) IS 'What stands between a flag and enabled, as readable reasons (prerequisites off, settings missing, secrets absent from p_present_secrets, checklist items not acknowledged); empty when nothing does.';

COMMENT ON FUNCTION shared.gate_report(text[]) IS 'Every feature flag in the PRD''s enable order with its state, who changed it last, and what would block enabling it now (gdp flags list).';

COMMENT ON FUNCTION shared.ingest_events(text, jsonb, text) IS 'Store events from the HTTP endpoints in one call: upsert the people their raw PII describes, insert the events idempotently per (product, event_id); one row per element: accepted, duplicate or unknown_person.';

COMMENT ON FUNCTION shared.is_enabled(text) IS 'Whether a feature flag (a PRD gap) is on; false for an unknown flag.';

COMMENT ON FUNCTION shared.link_identity(uuid, text, text, jsonb) IS 'Link an external identity (provider, external id) to a person; again to the same person is a no-op, to another person is refused (GD409). Returns the link''s id.';

COMMENT ON FUNCTION shared.record_capi_outcomes(jsonb, bigint[]) IS 'Record the outcomes of a batch of Conversions API events (delivery records, and dead letters where a reason is given) and archive their queue messages, in one transaction.';

COMMENT ON FUNCTION shared.record_consent(uuid, text, text, timestamp with time zone) IS 'Record a consent change (logged); the person''s state follows the most recent change by its own time. A withdrawal waits for a Conversions API request in flight for the person.';

COMMENT ON FUNCTION shared.replay_dead_letters(bigint[], text) IS 'Put dead letters (all pending ones when p_ids is NULL) back on the meta_capi queue with their original event and event_id, so Meta deduplicates; returns how many were queued.';

COMMENT ON FUNCTION shared.revoke_service_key(uuid, text) IS 'Revoke a service key (idempotent; the first revocation''s time and actor are kept).';

COMMENT ON FUNCTION shared.set_lifecycle_stage(uuid, text) IS 'Move a person to a lifecycle stage explicitly, backwards too (e.g. churned -> customer).';

COMMENT ON FUNCTION shared.set_setting(text, jsonb, text, text) IS 'Set a non-secret setting, globally or for one product, checked against its definition (value type and pattern, known product scope); audited.';

COMMENT ON FUNCTION shared.setting_value(text, text) IS 'A setting''s value for a scope: the product''s own (p_scope = its product id), else the global one, else NULL.';

COMMENT ON FUNCTION shared.unset_setting(text, text, text) IS 'Remove a setting for a scope (audited); false when it was not set.';

COMMENT ON FUNCTION shared.upsert_people(jsonb) IS 'Upsert people by email, many at once (the PRD''s syncLeadToPerson): case variants are one person, first touch kept, empty fields filled, lifecycle only advances, identities linked; an invalid entry fails the call (GD400) naming entry and field.';

COMMENT ON FUNCTION shared.upsert_person(text, text, text, text, text, text, text, text, text, text, text, text, text, text, jsonb, jsonb) IS 'Upsert one person with named arguments (the PostgREST RPC shape), by the rules of upsert_people; returns the person''s id.';

COMMENT ON FUNCTION shared.withdraw_checklist_acknowledgement(text, text, text) IS 'Withdraw a checklist acknowledgement (audited); flags already on stay on.';

-- migrate:down
