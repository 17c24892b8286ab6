"""A snapshot of what db/functions and db/policies define, read back from a database.

`gdp db release` compares two snapshots (what the migrations produce, and what the files
produce on top of that) and writes the difference as a migration (workers/db/release.py). The
objects the files own are the functions, views, triggers and policies of the managed schemas;
privileges, row security, comments and per-schema default privileges are compared wherever the
files may have set them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from workers.db.queries import query

# The schemas whose functions, views, triggers and policies come from db/functions and
# db/policies alone: one of these that the files no longer define is dropped by the next release.
MANAGED_SCHEMAS = ("shared",)


@dataclass(frozen=True)
class Function:
    name: str
    arg_types: str
    kind: str  # f function, p procedure, a aggregate, w window
    definition: str | None
    result: str | None
    input_names: tuple[str, ...]
    n_defaults: int
    agg_sfunc: str | None
    agg_stype: str | None
    agg_initcond: str | None
    agg_finalfunc: str | None
    agg_combinefunc: str | None
    agg_unsupported: bool
    parallel: str

    @property
    def key(self) -> str:
        return f"F:{self.signature}"

    @property
    def signature(self) -> str:
        return f"{self.name}({self.arg_types})"

    @property
    def keyword(self) -> str:
        return {"p": "PROCEDURE", "a": "AGGREGATE"}.get(self.kind, "FUNCTION")


@dataclass(frozen=True)
class View:
    name: str
    definition: str
    options: tuple[str, ...]
    columns: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"V:{self.name}"


@dataclass(frozen=True)
class Trigger:
    table_name: str
    name: str
    definition: str
    enabled: str
    is_constraint: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.table_name, self.name)


@dataclass(frozen=True)
class Policy:
    table_name: str
    name: str
    command: str
    permissive: bool
    roles: tuple[str, ...]
    using_expr: str | None
    check_expr: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.table_name, self.name)


# (kind, name, column or None) -> {(grantee, privilege, grantable)}
Privileges = dict[tuple[str, str, str | None], frozenset[tuple[str, str, bool]]]


@dataclass
class Snapshot:
    functions: dict[str, Function] = field(default_factory=dict)
    views: dict[str, View] = field(default_factory=dict)
    triggers: dict[tuple[str, str], Trigger] = field(default_factory=dict)
    policies: dict[tuple[str, str], Policy] = field(default_factory=dict)
    row_security: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    privileges: Privileges = field(default_factory=dict)
    # (role or '' for the migrating role, schema, object type, grantee, privilege, grantable)
    default_privileges: frozenset[tuple[str, str, str, str, str, bool]] = frozenset()
    comments: dict[tuple[str, str], str] = field(default_factory=dict)
    # dependent key -> keys it needs first (functions "F:...", views "V:...")
    dependencies: dict[str, set[str]] = field(default_factory=dict)

    def comparable(self) -> tuple[Any, ...]:
        """Everything a release reproduces, for equality checks (dependencies excluded)."""
        return (
            self.functions,
            self.views,
            self.triggers,
            self.policies,
            self.row_security,
            self.privileges,
            self.default_privileges,
            self.comments,
        )


def _rows(conn: psycopg.Connection[Any], name: str, schemas: tuple[str, ...]) -> list[Any]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    return cur.execute(query(name), {"schemas": list(schemas)}).fetchall()


def snapshot(conn: psycopg.Connection[Any], schemas: tuple[str, ...] = MANAGED_SCHEMAS) -> Snapshot:
    """Read the managed objects of the database `conn` is connected to (in its transaction)."""
    snap = Snapshot()
    for row in _rows(conn, "catalog_functions", schemas):
        function = Function(**{**row, "input_names": tuple(row["input_names"])})
        snap.functions[function.key] = function
    for row in _rows(conn, "catalog_views", schemas):
        view = View(row["name"], row["definition"], tuple(row["options"]), tuple(row["columns"]))
        snap.views[view.key] = view
    for row in _rows(conn, "catalog_triggers", schemas):
        trigger = Trigger(**row)
        snap.triggers[trigger.key] = trigger
    for row in _rows(conn, "catalog_policies", schemas):
        policy = Policy(**{**row, "roles": tuple(row["roles"])})
        snap.policies[policy.key] = policy
    for row in _rows(conn, "catalog_row_security", schemas):
        snap.row_security[row["table_name"]] = (row["enabled"], row["forced"])
    grants: dict[tuple[str, str, str | None], set[tuple[str, str, bool]]] = {}
    for row in _rows(conn, "catalog_privileges", schemas):
        entries = grants.setdefault((row["kind"], row["name"], row["column_name"]), set())
        if row["grantee"] is not None:
            entries.add((row["grantee"], row["privilege"], row["grantable"]))
    snap.privileges = {target: frozenset(entries) for target, entries in grants.items()}
    snap.default_privileges = frozenset(
        (
            r["role_name"],
            r["schema_name"],
            r["object_type"],
            r["grantee"],
            r["privilege"],
            r["grantable"],
        )
        for r in _rows(conn, "catalog_default_privileges", schemas)
    )
    for row in _rows(conn, "catalog_comments", schemas):
        snap.comments[(row["kind"], row["target"])] = row["comment"]
    for row in _rows(conn, "catalog_create_dependencies", schemas):
        snap.dependencies.setdefault(row["dependent"], set()).add(row["referenced"])
    return snap
