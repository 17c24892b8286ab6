-- migrate:up
-- gdp:release sources=sha256:cc81cc2bcf9271accc50a0e5fd1de4f8cf17724ed40366241ef3cb92275cc181

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._conversion_rule_applies(p_product_id text, p_event_name text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
    SELECT shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED') AND EXISTS (
        SELECT 1 FROM shared.applicable_conversion_rule AS r
        WHERE r.product_id = p_product_id AND r.event_name = p_event_name)
$function$;

CREATE OR REPLACE FUNCTION shared._event_enqueue_for_meta()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_rules_on boolean;
    v_sent integer;
BEGIN
    -- GAP-001 is the door to Meta: with it off, events are stored and nothing is queued.
    IF NOT shared.is_enabled('META_CAPI_INGEST_ENABLED') THEN
        RETURN NULL;
    END IF;
    -- Events without an explicit Meta name go through the rules only when GAP-002 is on.
    v_rules_on := shared.is_enabled('SEGMENT_ENGINE_META_CAPI_ENABLED');

    WITH decided AS (
        SELECT n.id,
               coalesce(n.meta_event_name, r.meta_event_name) AS meta_name,
               n.meta_event_name IS NULL AND coalesce(r.first_time_per_person, false)
                   AS first_time_only,
               n.person_id, n.event_name
        FROM new_events AS n
        LEFT JOIN shared.applicable_conversion_rule AS r
               ON v_rules_on AND n.meta_event_name IS NULL
              AND r.product_id = n.product_id AND r.event_name = n.event_name
    ), messages AS (
        SELECT array_agg(jsonb_build_object('event', d.id, 'meta_event_name', d.meta_name)
                         ORDER BY d.id) AS msgs
        FROM decided AS d
        WHERE d.meta_name IS NOT NULL
          AND (NOT d.first_time_only
               OR (d.person_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM shared.event AS earlier
                                   WHERE earlier.person_id = d.person_id
                                     AND earlier.event_name = d.event_name
                                     AND earlier.id < d.id)))
    )
    SELECT count(*) INTO v_sent
    FROM messages AS m, LATERAL pgmq.send_batch('meta_capi', m.msgs) AS sent
    WHERE m.msgs IS NOT NULL;

    IF v_sent > 0 THEN
        -- Wakes idle workers at once (delivered on commit; one per transaction, not per row).
        PERFORM pg_notify('gdp_meta_capi', '');
    END IF;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE VIEW shared.applicable_conversion_rule AS
 SELECT DISTINCT ON (p.product_id, r.event_name) p.product_id,
    r.event_name,
    r.rule_id,
    r.product_id AS rule_product_id,
    r.meta_event_name,
    r.value_property,
    r.currency_property,
    r.default_currency,
    r.first_time_per_person
   FROM (shared.product p
     JOIN shared.conversion_rule r ON ((r.enabled AND ((r.product_id = p.product_id) OR (r.product_id IS NULL)))))
  ORDER BY p.product_id, r.event_name, r.product_id;

CREATE OR REPLACE VIEW shared.gdp_conversions_daily AS
 SELECT a.date,
    a.project,
    count(*) AS conversions,
    (COALESCE(sum(v.value) FILTER (WHERE f.counts_value), (0)::numeric))::numeric(14,2) AS conversion_value
   FROM ((((( SELECT ((x.created_at AT TIME ZONE 'UTC'::text))::date AS date,
            x.product_id AS project,
            x.event_ref,
            min(x.meta_event_name) AS meta_event_name
           FROM shared.attribution_events x
          WHERE ((x.status = 'sent'::text) AND (x.event_ref IS NOT NULL))
          GROUP BY (((x.created_at AT TIME ZONE 'UTC'::text))::date), x.product_id, x.event_ref) a
     JOIN shared.conversion_family f ON (((f.meta_event_name = a.meta_event_name) AND f.enabled)))
     JOIN shared.event e ON ((e.id = a.event_ref)))
     LEFT JOIN shared.applicable_conversion_rule r ON (((r.product_id = e.product_id) AND (r.event_name = e.event_name))))
     LEFT JOIN LATERAL ( SELECT
                CASE
                    WHEN (raw.val ~ '^-?[0-9]+(\.[0-9]+)?$'::text) THEN (raw.val)::numeric
                    ELSE NULL::numeric
                END AS value
           FROM ( SELECT COALESCE((e.properties ->> r.value_property), (e.properties ->> 'value'::text)) AS val) raw) v ON (true))
  GROUP BY a.date, a.project;

REVOKE ALL ON TABLE shared.applicable_conversion_rule FROM PUBLIC, anon, authenticated, service_role;

GRANT DELETE ON TABLE shared.applicable_conversion_rule TO service_role;

GRANT INSERT ON TABLE shared.applicable_conversion_rule TO service_role;

GRANT SELECT ON TABLE shared.applicable_conversion_rule TO service_role;

GRANT UPDATE ON TABLE shared.applicable_conversion_rule TO service_role;

DROP FUNCTION IF EXISTS shared.conversion_rule_for(text, text);

COMMENT ON VIEW shared.applicable_conversion_rule IS 'The conversion rule that applies to each product''s event name: the enabled rule, the product''s own before the any-product one.';

-- migrate:down
