-- migrate:up
-- gdp:release sources=sha256:a9043db0f199b464c90aeb491e49db1bf4e58870b936c2ae121163db3103362a

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared._segment_view_problem(p_segment_id text, p_check_duplicates boolean)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
DECLARE
    v_view regclass := to_regclass(format('segments.%I', p_segment_id));
    v_type text;
    v_bad text;
    v_dup uuid;
BEGIN
    IF v_view IS NULL OR (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = v_view) <> 'v' THEN
        RETURN format('there is no view segments.%s', p_segment_id);
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO v_type
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = v_view AND a.attname = 'person_id' AND NOT a.attisdropped;
    IF v_type IS NULL THEN
        RETURN 'a segment view must return a person_id column';
    ELSIF v_type <> 'uuid' THEN
        RETURN format('person_id must be a uuid (shared.person.id), not %s', v_type);
    END IF;

    -- Every relation the view reads, through the views it reads (pg_depend of their rules).
    WITH RECURSIVE reads(rel) AS (
        SELECT d.refobjid
        FROM pg_catalog.pg_rewrite AS r
        JOIN pg_catalog.pg_depend AS d
          ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> v_view
        WHERE r.ev_class = v_view
        UNION
        SELECT d.refobjid
        FROM reads AS s
        JOIN pg_catalog.pg_class AS c ON c.oid = s.rel AND c.relkind IN ('v', 'm')
        JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace AND ns.nspname = 'segments'
        JOIN pg_catalog.pg_rewrite AS r ON r.ev_class = c.oid
        JOIN pg_catalog.pg_depend AS d
          ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> c.oid
    )
    SELECT s.rel::regclass::text INTO v_bad
    FROM reads AS s
    JOIN pg_catalog.pg_class AS c ON c.oid = s.rel
    JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace
    WHERE NOT (ns.nspname = 'segments' AND c.relkind IN ('v', 'm'))
      AND (ns.nspname, c.relname) NOT IN (
          ('shared', 'person'), ('shared', 'person_feature'), ('shared', 'person_activity_daily'),
          ('shared', 'person_product_feature'), ('shared', 'person_event_count'),
          ('shared', 'event'), ('shared', 'identity_link'), ('shared', 'product'),
          ('shared', 'segment'), ('shared', 'segment_member'), ('shared', 'feature_event_kind'))
    ORDER BY 1
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN format('reads %s; a segment may read only shared.person (the one place raw PII '
                      'may come from), the feature tables (shared.person_feature, '
                      'person_activity_daily, person_product_feature, person_event_count), '
                      'shared.event, identity_link, product, segment, segment_member and other '
                      'segment views', v_bad);
    END IF;

    -- The functions and operators it calls (in its query tree and in the segment views it
    -- reads): a function that runs a query of its own, reads a file or large object, or is
    -- not built in reads what the view names nowhere (and runs with the evaluation's rights).
    -- Built-ins, and the immutable helpers in shared, are allowed. Operators appear in stored
    -- rules by operator id (their function is looked up when the rule runs).
    WITH RECURSIVE views(oid) AS (
        SELECT v_view::oid
        UNION
        SELECT d.refobjid
        FROM views AS w
        JOIN pg_catalog.pg_rewrite AS r ON r.ev_class = w.oid
        JOIN pg_catalog.pg_depend AS d
          ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> w.oid
        JOIN pg_catalog.pg_class AS c ON c.oid = d.refobjid AND c.relkind IN ('v', 'm')
        JOIN pg_catalog.pg_namespace AS ns ON ns.oid = c.relnamespace AND ns.nspname = 'segments'
    ), called AS (
        SELECT m[1] AS kind, m[2]::oid AS id
        FROM views AS w
        JOIN pg_catalog.pg_rewrite AS r ON r.ev_class = w.oid,
             regexp_matches(r.ev_action::text, ':(funcid|aggfnoid|winfnoid|opno) (\d+)', 'g') AS m
    )
    SELECT p.oid::regprocedure::text INTO v_bad
    FROM called AS k
    LEFT JOIN pg_catalog.pg_operator AS o ON k.kind = 'opno' AND o.oid = k.id
    JOIN pg_catalog.pg_proc AS p ON p.oid = CASE WHEN k.kind = 'opno' THEN o.oprcode::oid ELSE k.id END
    JOIN pg_catalog.pg_namespace AS ns ON ns.oid = p.pronamespace
    WHERE p.proname ~ '^(query|cursor|table|schema|database)_to_xml'
       OR p.proname ~ '^(pg_read_file|pg_read_binary_file|pg_ls_|pg_stat_file|lo_)'
       OR NOT (ns.nspname = 'pg_catalog'
               OR (ns.nspname = 'shared' AND p.provolatile = 'i' AND NOT p.prosecdef))
    ORDER BY 1
    LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN format('calls %s; a segment may call only built-in functions that read nothing '
                      'but their arguments (no query_to_xml and the like, no file or large '
                      'object reads) and the immutable helpers in shared', v_bad);
    END IF;

    IF p_check_duplicates THEN
        EXECUTE format('SELECT v.person_id FROM segments.%I AS v GROUP BY v.person_id '
                       'HAVING count(*) > 1 LIMIT 1', p_segment_id) INTO v_dup;
        IF v_dup IS NOT NULL THEN
            RETURN format('returns person %s more than once; a segment returns each person once '
                          '(use DISTINCT or GROUP BY person_id)', v_dup);
        END IF;
    END IF;
    RETURN NULL;
END
$function$;

-- migrate:down
