"""The statements that take a database from one catalog snapshot to another (`gdp db release`).

Written for online deploys (see db/README.md, "Releases"):
  - functions, views, privileges and comments first: they take no lock that blocks writes;
  - statements that lock a table (triggers, policies, row security) last, so the lock is held
    only for the rest of the transaction, each guarded so that it runs only when the table's
    catalog differs from the target (a database deployed by an older path converges without
    locking anything it already has right);
  - objects the files no longer define are dropped (IF EXISTS, never CASCADE).
"""

from __future__ import annotations

from workers.db.catalog import Function, Policy, Snapshot, Trigger, View
from workers.errors import GdpError

_POLICY_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}
_PARALLEL = {"s": "SAFE", "r": "RESTRICTED", "u": "UNSAFE"}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str | None) -> str:
    if text is None:
        return "NULL"
    if "\\" in text:
        return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + text.replace("'", "''") + "'"


def _guarded(condition: str, *statements: str) -> str:
    """A DO block that runs `statements` only when `condition` holds (plpgsql runs DDL as is)."""
    body = "\n".join(f"        {s};" for s in statements)
    return f"DO $release$\nBEGIN\n    IF {condition} THEN\n{body}\n    END IF;\nEND\n$release$"


def _regclass(table_name: str) -> str:
    return f"{literal(table_name)}::regclass"


# Section - functions and views


def create_function(fn: Function) -> str:
    if fn.kind != "a":
        assert fn.definition is not None
        return fn.definition.rstrip().rstrip(";")
    if fn.agg_unsupported:
        raise GdpError(
            f"{fn.signature}: aggregates with moving, serial or ordered-set options are not "
            "supported by gdp db release; create it in a migration"
        )
    options = [
        f"SFUNC = {fn.agg_sfunc.split('(')[0] if fn.agg_sfunc else ''}",
        f"STYPE = {fn.agg_stype}",
    ]
    if fn.agg_finalfunc:
        options.append(f"FINALFUNC = {fn.agg_finalfunc}")
    if fn.agg_combinefunc:
        options.append(f"COMBINEFUNC = {fn.agg_combinefunc}")
    if fn.agg_initcond is not None:
        options.append(f"INITCOND = {literal(fn.agg_initcond)}")
    if fn.parallel != "u":
        options.append(f"PARALLEL = {_PARALLEL[fn.parallel]}")
    joined = ",\n    ".join(options)
    return f"CREATE OR REPLACE AGGREGATE {fn.signature} (\n    {joined}\n)"


def function_needs_drop(old: Function, new: Function) -> bool:
    """CREATE OR REPLACE cannot change these: the function must be dropped and created."""
    return (
        old.kind != new.kind
        or old.result != new.result
        or old.input_names != new.input_names
        or new.n_defaults < old.n_defaults
    )


def drop_function(fn: Function) -> str:
    return f"DROP {fn.keyword} IF EXISTS {fn.signature}"


def create_view(view: View) -> str:
    options = f" WITH ({', '.join(view.options)})" if view.options else ""
    return f"CREATE OR REPLACE VIEW {view.name}{options} AS\n{view.definition.rstrip().rstrip(';')}"


def view_needs_drop(old: View, new: View) -> bool:
    """CREATE OR REPLACE VIEW may only add columns at the end."""
    return tuple(new.columns[: len(old.columns)]) != tuple(old.columns)


def drop_view(view: View) -> str:
    return f"DROP VIEW IF EXISTS {view.name}"


# Section - triggers, policies, row security (they lock their table)


def _trigger_exists(trigger: Trigger) -> str:
    return (
        "EXISTS (SELECT 1 FROM pg_catalog.pg_trigger "
        f"WHERE tgrelid = {_regclass(trigger.table_name)} "
        f"AND tgname = {literal(trigger.name)} AND NOT tgisinternal"
    )


def replace_trigger(trigger: Trigger) -> str:
    if trigger.enabled != "O":
        raise GdpError(
            f"trigger {trigger.name} on {trigger.table_name}: disabled or replica triggers are "
            "not supported by gdp db release; change it in a migration"
        )
    definition = trigger.definition
    if trigger.is_constraint:
        statements = [
            f"DROP TRIGGER IF EXISTS {quote_ident(trigger.name)} ON {trigger.table_name}",
            definition,
        ]
    else:
        statements = [definition.replace("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", 1)]
    same = (
        f"{_trigger_exists(trigger)} AND pg_catalog.pg_get_triggerdef(oid) = {literal(definition)})"
    )
    return _guarded(f"NOT {same}", *statements)


def drop_trigger(trigger: Trigger) -> str:
    return _guarded(
        _trigger_exists(trigger) + ")",
        f"DROP TRIGGER {quote_ident(trigger.name)} ON {trigger.table_name}",
    )


def _policy_clauses(policy: Policy) -> str:
    clauses = f"TO {', '.join(policy.roles)}"
    if policy.using_expr is not None:
        clauses += f"\n            USING ({policy.using_expr})"
    if policy.check_expr is not None:
        clauses += f"\n            WITH CHECK ({policy.check_expr})"
    return clauses


def _policy_exists(policy: Policy) -> str:
    return (
        "EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p "
        f"WHERE p.polrelid = {_regclass(policy.table_name)} "
        f"AND p.polname = {literal(policy.name)}"
    )


def replace_policy(policy: Policy, old: Policy | None) -> str:
    """Create or change a policy, only where the table does not already have it exactly."""
    target = f"{quote_ident(policy.name)} ON {policy.table_name}"
    roles = "ARRAY[" + ", ".join(literal(r) for r in policy.roles) + "]::text[]"
    same = (
        f"{_policy_exists(policy)}\n"
        f"                AND p.polcmd = {literal(policy.command)}\n"
        f"                AND p.polpermissive = {str(policy.permissive).lower()}\n"
        "                AND pg_catalog.pg_get_expr(p.polqual, p.polrelid) IS NOT DISTINCT FROM "
        f"{literal(policy.using_expr)}\n"
        "                AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) IS NOT DISTINCT "
        f"FROM {literal(policy.check_expr)}\n"
        "                AND ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE "
        "quote_ident(pg_catalog.pg_get_userbyid(r.oid)) END\n"
        f"                          FROM unnest(p.polroles) AS r(oid) ORDER BY 1) = {roles})"
    )
    create = (
        f"CREATE POLICY {target}\n"
        f"            AS {'PERMISSIVE' if policy.permissive else 'RESTRICTIVE'} "
        f"FOR {_POLICY_COMMANDS[policy.command]}\n            {_policy_clauses(policy)}"
    )
    removes_clause = old is not None and (
        (policy.using_expr is None and old.using_expr is not None)
        or (policy.check_expr is None and old.check_expr is not None)
    )
    if (
        old is not None
        and old.command == policy.command
        and old.permissive == policy.permissive
        and not removes_clause
    ):
        # ALTER POLICY changes it in place; a database deployed by an older path may lack it.
        alter = f"ALTER POLICY {target}\n            {_policy_clauses(policy)}"
        return _guarded_alter(same, policy, alter, create)
    return _guarded(f"NOT {same}", f"DROP POLICY IF EXISTS {target}", create)


def _guarded_alter(same: str, policy: Policy, alter: str, create: str) -> str:
    exists = _policy_exists(policy) + ")"
    return (
        "DO $release$\nBEGIN\n"
        f"    IF NOT {same} THEN\n"
        f"        IF {exists} THEN\n            {alter};\n"
        f"        ELSE\n            {create};\n        END IF;\n"
        "    END IF;\nEND\n$release$"
    )


def drop_policy(policy: Policy) -> str:
    return _guarded(
        _policy_exists(policy) + ")",
        f"DROP POLICY {quote_ident(policy.name)} ON {policy.table_name}",
    )


def row_security(
    table_name: str, old: tuple[bool, bool] | None, new: tuple[bool, bool]
) -> list[str]:
    statements = []
    checks = [
        (0, "relrowsecurity", "ENABLE ROW LEVEL SECURITY", "DISABLE ROW LEVEL SECURITY"),
        (1, "relforcerowsecurity", "FORCE ROW LEVEL SECURITY", "NO FORCE ROW LEVEL SECURITY"),
    ]
    for index, column, on, off in checks:
        if old is not None and old[index] == new[index]:
            continue
        wanted = "true" if new[index] else "false"
        statements.append(
            _guarded(
                f"(SELECT {column} FROM pg_catalog.pg_class "
                f"WHERE oid = {_regclass(table_name)}) IS DISTINCT FROM {wanted}",
                f"ALTER TABLE {table_name} {on if new[index] else off}",
            )
        )
    return statements


# Section - privileges, comments, default privileges


def privileges(
    target: tuple[str, str, str | None],
    old: frozenset[tuple[str, str, bool]] | None,
    new: frozenset[tuple[str, str, bool]],
) -> list[str]:
    """GRANT/REVOKE from `old` to `new`; `old` None: an object this release creates, whose
    default privileges on the target are unknown (Supabase grants anon and authenticated on
    some schemas by default), so every API role is revoked first."""
    kind, name, column = target
    on = f"{kind} {name}" if column is None else f"TABLE {name}"
    cols = f" ({column})" if column is not None else ""
    statements: list[str] = []
    if old is None:
        statements.append(
            f"REVOKE ALL{cols} ON {on} FROM PUBLIC, anon, authenticated, service_role"
        )
        old = frozenset()
    for grantee, privilege, grantable in sorted(old - new):
        if (grantee, privilege, not grantable) in new and grantable:
            statements.append(f"REVOKE GRANT OPTION FOR {privilege}{cols} ON {on} FROM {grantee}")
        elif (grantee, privilege, not grantable) not in new:
            statements.append(f"REVOKE {privilege}{cols} ON {on} FROM {grantee}")
    for grantee, privilege, grantable in sorted(new - old):
        if (grantee, privilege, not grantable) in old and not grantable:
            continue
        option = " WITH GRANT OPTION" if grantable else ""
        statements.append(f"GRANT {privilege}{cols} ON {on} TO {grantee}{option}")
    return statements


def comment(kind: str, target: str, text: str | None) -> str:
    return f"COMMENT ON {kind} {target} IS {literal(text)}"


_DEFAULT_OBJECTS = {"r": "TABLES", "S": "SEQUENCES", "f": "FUNCTIONS", "T": "TYPES", "n": "SCHEMAS"}


def default_privileges(old: Snapshot, new: Snapshot) -> list[str]:
    """Per-schema default privileges, for the migrating role or FOR ROLE another one."""
    statements = []
    for entries, verb, word in (
        (old.default_privileges - new.default_privileges, "REVOKE", "FROM"),
        (new.default_privileges - old.default_privileges, "GRANT", "TO"),
    ):
        for role, schema, object_type, grantee, privilege, grantable in sorted(entries):
            if not schema:
                raise GdpError(
                    "db/functions or db/policies change default privileges for all schemas; "
                    "put ALTER DEFAULT PRIVILEGES without IN SCHEMA in a migration"
                )
            for_role = f"FOR ROLE {role} " if role else ""
            option = " WITH GRANT OPTION" if grantable and verb == "GRANT" else ""
            statements.append(
                f"ALTER DEFAULT PRIVILEGES {for_role}IN SCHEMA {schema} {verb} {privilege} "
                f"ON {_DEFAULT_OBJECTS[object_type]} {word} {grantee}{option}"
            )
    return statements
