-- migrate:up
-- gdp:release sources=sha256:d3d30da5d7b506635799ad8937369e50baba268e9a5e238dd701e0afc0ef8bfe

/**
 * Written by `gdp db release` from db/functions and db/policies (edit those, not this).
 * Table-locking statements come last and wait at most lock_timeout for their lock;
 * a deploy that times out is rolled back and tried again. See db/README.md, Releases.
 */

SELECT pg_catalog.set_config('lock_timeout', '2s', true);
SELECT pg_catalog.set_config('check_function_bodies', 'off', true);

CREATE OR REPLACE FUNCTION shared.audience_set_guards(p_segment_id text, p_min_size_first_upload integer DEFAULT NULL::integer, p_max_removed_share numeric DEFAULT NULL::numeric)
 RETURNS TABLE(segment_id text, min_size_first_upload integer, max_removed_share numeric)
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
#variable_conflict use_column
BEGIN
    IF p_min_size_first_upload IS NOT NULL
       AND NOT p_min_size_first_upload BETWEEN 0 AND 100000000 THEN
        PERFORM shared._raise('GD400', 'min_size_first_upload',
                              'must be a whole number from 0 to 100,000,000');
    END IF;
    IF p_max_removed_share IS NOT NULL AND NOT p_max_removed_share BETWEEN 0 AND 1 THEN
        PERFORM shared._raise('GD400', 'max_removed_share',
                              'must be a share from 0 to 1 (0.2: a fifth of the audience)');
    END IF;
    IF p_min_size_first_upload IS NULL AND p_max_removed_share IS NULL THEN
        RETURN QUERY
        SELECT a.segment_id, a.min_size_first_upload, a.max_removed_share
        FROM shared.meta_audience AS a WHERE a.segment_id = p_segment_id;
    ELSE
        RETURN QUERY
        UPDATE shared.meta_audience AS a SET
            min_size_first_upload = coalesce(p_min_size_first_upload, a.min_size_first_upload),
            max_removed_share = coalesce(round(p_max_removed_share, 3), a.max_removed_share),
            updated_at = now()
        WHERE a.segment_id = p_segment_id
        RETURNING a.segment_id, a.min_size_first_upload, a.max_removed_share;
    END IF;
    IF NOT FOUND THEN
        PERFORM shared._raise('GD404', 'segment', format('%s is not mapped to an audience',
                                                        p_segment_id));
    END IF;
END
$function$;

REVOKE ALL ON FUNCTION shared.audience_set_guards(text, integer, numeric) FROM PUBLIC, anon, authenticated, service_role;

GRANT EXECUTE ON FUNCTION shared.audience_set_guards(text, integer, numeric) TO service_role;

COMMENT ON FUNCTION shared.audience_set_guards(text, integer, numeric) IS 'Set a mapped segment''s guards (minimum size before the first upload, largest share removed in one run; NULL: unchanged) and return them.';

-- migrate:down
