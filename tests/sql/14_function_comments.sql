-- Every public function of the SQL API (schema shared, name not starting with `_`) documents
-- itself in the catalog (COMMENT ON FUNCTION), so its doc reaches psql's \df+ and Supabase
-- Studio. Private helpers (`_name`) are exempt. A function listed below lacks its comment: add
-- `COMMENT ON FUNCTION ... IS '...';` right after it in db/functions/.
BEGIN;
SELECT plan(2);

SELECT is_empty(
    $$SELECT p.oid::regprocedure::text
      FROM pg_catalog.pg_proc AS p
      JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
      WHERE n.nspname = 'shared' AND p.proname NOT LIKE '\_%'
        AND coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''
      ORDER BY 1$$,
    'every public function in shared has a COMMENT');

-- The check sees a function without one (and does not see a private helper).
CREATE FUNCTION shared.undocumented_for_this_test() RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION shared._private_for_this_test() RETURNS integer LANGUAGE sql AS 'SELECT 1';
SELECT results_eq(
    $$SELECT p.proname::text COLLATE "default"
      FROM pg_catalog.pg_proc AS p
      JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
      WHERE n.nspname = 'shared' AND p.proname NOT LIKE '\_%'
        AND coalesce(btrim(obj_description(p.oid, 'pg_proc')), '') = ''$$,
    $$VALUES ('undocumented_for_this_test')$$,
    'an undocumented public function is found; a private one is not');

SELECT * FROM finish();
ROLLBACK;
