-- Catalog snapshots for `gdp db release` (workers/db/release.py): what db/functions and
-- db/policies define, read back from a database so that two states can be compared and the
-- difference written as a migration. Names come back quoted (format %I), ready for DDL.
-- %(schemas)s: the schemas whose functions, views, triggers and policies the files own.

-- name: catalog_functions
SELECT format('%%I.%%I', n.nspname, p.proname) AS name,
       pg_catalog.oidvectortypes(p.proargtypes) AS arg_types,
       p.prokind::text AS kind,
       CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END AS definition,
       pg_catalog.pg_get_function_result(p.oid) AS result,
       -- Names of the input arguments (CREATE OR REPLACE cannot rename them).
       CASE WHEN p.proargnames IS NULL THEN '{}'::text[]
            WHEN p.proargmodes IS NULL THEN p.proargnames
            ELSE ARRAY(SELECT a.name FROM unnest(p.proargnames, p.proargmodes::text[]) AS a(name, mode)
                       WHERE a.mode IN ('i', 'b', 'v')) END AS input_names,
       p.pronargdefaults AS n_defaults,
       a.aggtransfn::regprocedure::text AS agg_sfunc,
       pg_catalog.format_type(a.aggtranstype, NULL) AS agg_stype,
       a.agginitval AS agg_initcond,
       nullif(a.aggfinalfn::oid, 0)::regproc::text AS agg_finalfunc,
       nullif(a.aggcombinefn::oid, 0)::regproc::text AS agg_combinefunc,
       (a.aggkind IS NOT NULL AND (a.aggkind <> 'n' OR a.aggmtransfn::oid <> 0
            OR a.aggserialfn::oid <> 0 OR a.aggsortop <> 0)) AS agg_unsupported,
       p.proparallel::text AS parallel
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
LEFT JOIN pg_catalog.pg_aggregate AS a ON a.aggfnoid = p.oid
WHERE n.nspname = ANY (%(schemas)s::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                  WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                    AND d.deptype = 'e')
ORDER BY 1, 2;

-- name: catalog_views
SELECT format('%%I.%%I', n.nspname, c.relname) AS name,
       pg_catalog.pg_get_viewdef(c.oid) AS definition,
       coalesce(c.reloptions::text[], '{}') AS options,
       ARRAY(SELECT format('%%I %%s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod))
             FROM pg_catalog.pg_attribute AS a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS columns
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND n.nspname = ANY (%(schemas)s::text[])
ORDER BY 1;

-- name: catalog_triggers
SELECT format('%%I.%%I', n.nspname, c.relname) AS table_name,
       t.tgname AS name,
       pg_catalog.pg_get_triggerdef(t.oid) AS definition,
       t.tgenabled::text AS enabled,
       t.tgconstraint <> 0 AS is_constraint
FROM pg_catalog.pg_trigger AS t
JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE NOT t.tgisinternal AND n.nspname = ANY (%(schemas)s::text[])
ORDER BY 1, 2;

-- name: catalog_policies
SELECT format('%%I.%%I', n.nspname, c.relname) AS table_name,
       p.polname AS name,
       p.polcmd::text AS command,
       p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC'
                         ELSE quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END
             FROM unnest(p.polroles) AS r(oid) ORDER BY 1) AS roles,
       pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
FROM pg_catalog.pg_policy AS p
JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (%(schemas)s::text[])
ORDER BY 1, 2;

-- name: catalog_row_security
SELECT format('%%I.%%I', n.nspname, c.relname) AS table_name,
       c.relrowsecurity AS enabled,
       c.relforcerowsecurity AS forced
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY (%(schemas)s::text[])
ORDER BY 1;

-- name: catalog_privileges
-- Every privilege granted to someone other than the owner, on every object outside the system
-- schemas (the files grant on pgmq and auth too). An object with no such grant still has one
-- row (grantee NULL), so that objects can be told apart from grants.
WITH user_schema AS (
    SELECT n.oid, n.nspname, n.nspowner, n.nspacl
    FROM pg_catalog.pg_namespace AS n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp\_%%'
), object AS (
    SELECT 'SCHEMA' AS kind, quote_ident(s.nspname) AS name, NULL::text AS column_name,
           s.nspowner AS owner, coalesce(s.nspacl, acldefault('n', s.nspowner)) AS acl
    FROM user_schema AS s
    UNION ALL
    SELECT CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
           format('%%I.%%I', s.nspname, c.relname), NULL, c.relowner,
           coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                         c.relowner))
    FROM pg_catalog.pg_class AS c JOIN user_schema AS s ON s.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
    UNION ALL
    SELECT 'COLUMN', format('%%I.%%I', s.nspname, c.relname), quote_ident(a.attname),
           c.relowner, a.attacl
    FROM pg_catalog.pg_attribute AS a
    JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid
    JOIN user_schema AS s ON s.oid = c.relnamespace
    WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT CASE WHEN p.prokind = 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END,
           format('%%I.%%I(%%s)', s.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)),
           NULL, p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
    FROM pg_catalog.pg_proc AS p JOIN user_schema AS s ON s.oid = p.pronamespace
)
SELECT o.kind, o.name, o.column_name, g.grantee, g.privilege, g.grantable
FROM object AS o
LEFT JOIN LATERAL (
    SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC'
                ELSE quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END AS grantee,
           x.privilege_type AS privilege, x.is_grantable AS grantable
    FROM aclexplode(o.acl) AS x
    WHERE x.grantee <> o.owner
) AS g ON true
ORDER BY 1, 2, 3, 4, 5;

-- name: catalog_default_privileges
-- Default privileges set in the files (ALTER DEFAULT PRIVILEGES [FOR ROLE r] IN SCHEMA s). The
-- migrating role's own are named '' (it has another name on each server); others by name.
SELECT CASE WHEN d.defaclrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
            THEN '' ELSE quote_ident(pg_catalog.pg_get_userbyid(d.defaclrole)) END AS role_name,
       coalesce(quote_ident(n.nspname), '') AS schema_name,
       d.defaclobjtype::text AS object_type,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC'
            ELSE quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END AS grantee,
       x.privilege_type AS privilege, x.is_grantable AS grantable
FROM pg_catalog.pg_default_acl AS d
LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) AS x
ORDER BY 1, 2, 3, 4, 5;

-- name: catalog_comments
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END
           AS kind,
       format('%%I.%%I', n.nspname, c.relname) AS target, d.description AS comment
FROM pg_catalog.pg_description AS d
JOIN pg_catalog.pg_class AS c ON d.classoid = 'pg_catalog.pg_class'::regclass AND c.oid = d.objoid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE d.objsubid = 0 AND n.nspname = ANY (%(schemas)s::text[])
UNION ALL
SELECT 'COLUMN', format('%%I.%%I.%%I', n.nspname, c.relname, a.attname), d.description
FROM pg_catalog.pg_description AS d
JOIN pg_catalog.pg_class AS c ON d.classoid = 'pg_catalog.pg_class'::regclass AND c.oid = d.objoid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = d.objsubid
WHERE d.objsubid > 0 AND n.nspname = ANY (%(schemas)s::text[])
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
       format('%%I.%%I(%%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)),
       d.description
FROM pg_catalog.pg_description AS d
JOIN pg_catalog.pg_proc AS p ON d.classoid = 'pg_catalog.pg_proc'::regclass AND p.oid = d.objoid
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = ANY (%(schemas)s::text[])
UNION ALL
SELECT 'TRIGGER', format('%%I ON %%I.%%I', t.tgname, n.nspname, c.relname), d.description
FROM pg_catalog.pg_description AS d
JOIN pg_catalog.pg_trigger AS t ON d.classoid = 'pg_catalog.pg_trigger'::regclass AND t.oid = d.objoid
JOIN pg_catalog.pg_class AS c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (%(schemas)s::text[])
UNION ALL
SELECT 'POLICY', format('%%I ON %%I.%%I', p.polname, n.nspname, c.relname), d.description
FROM pg_catalog.pg_description AS d
JOIN pg_catalog.pg_policy AS p ON d.classoid = 'pg_catalog.pg_policy'::regclass AND p.oid = d.objoid
JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (%(schemas)s::text[])
ORDER BY 1, 2;

-- name: catalog_create_dependencies
-- Which functions and views need which others to exist first: a view's query reads views and
-- calls functions; a function returning a view's row type needs the view; an aggregate needs
-- its state function. Pairs of (dependent, referenced), keyed as in workers/db/catalog.py.
WITH managed AS (
    SELECT 'pg_catalog.pg_proc'::regclass AS classid, p.oid,
           'F:' || format('%%I.%%I(%%s)', n.nspname, p.proname,
                          pg_catalog.oidvectortypes(p.proargtypes)) AS key
    FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    WHERE n.nspname = ANY (%(schemas)s::text[])
    UNION ALL
    SELECT 'pg_catalog.pg_class'::regclass, c.oid, 'V:' || format('%%I.%%I', n.nspname, c.relname)
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relkind = 'v' AND n.nspname = ANY (%(schemas)s::text[])
), edge AS (
    -- view -> view/function, through the view's rewrite rule
    SELECT r.ev_class AS dep_oid, 'pg_catalog.pg_class'::regclass AS dep_class,
           d.refobjid AS ref_oid, d.refclassid AS ref_class
    FROM pg_catalog.pg_rewrite AS r
    JOIN pg_catalog.pg_depend AS d
      ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
    UNION ALL
    -- function -> view, through the view's row type
    SELECT d.objid, d.classid, t.typrelid, 'pg_catalog.pg_class'::regclass
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_type AS t ON d.refclassid = 'pg_catalog.pg_type'::regclass
                                AND t.oid = d.refobjid AND t.typrelid <> 0
    WHERE d.classid = 'pg_catalog.pg_proc'::regclass
    UNION ALL
    -- function -> function (aggregates, SQL-standard bodies)
    SELECT d.objid, d.classid, d.refobjid, d.refclassid
    FROM pg_catalog.pg_depend AS d
    WHERE d.classid = 'pg_catalog.pg_proc'::regclass
      AND d.refclassid = 'pg_catalog.pg_proc'::regclass
)
SELECT DISTINCT a.key AS dependent, b.key AS referenced
FROM edge AS e
JOIN managed AS a ON a.classid = e.dep_class AND a.oid = e.dep_oid
JOIN managed AS b ON b.classid = e.ref_class AND b.oid = e.ref_oid
WHERE a.key <> b.key
ORDER BY 1, 2;
