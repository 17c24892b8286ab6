"""`gdp db release`: turn db/functions and db/policies into a versioned migration.

db/functions/NN_area.sql and db/policies/NN_area.sql are where a developer edits a function or a
policy. dbmate and the Supabase CLI only run migrations, so a release migration carries them:

  1. a scratch database is built from db/migrations alone (what every deployed database has);
  2. a copy of it gets the files applied, and the managed objects (functions, views, triggers and
     policies of the managed schemas) that the files no longer define are dropped;
  3. the catalogs of the two are compared, and the difference is written as
     db/migrations/<version>_release.sql (workers/db/ddl.py: lock-taking statements last,
     guarded, behind lock_timeout), with the fingerprint of the files it was made from;
  4. a third database built from the migrations including the new one must dump exactly like the
     second (pg_dump --schema-only, privileges included), or the file is removed and the
     difference reported;
  5. supabase/migrations/ is made a copy of db/migrations/ for `supabase db push`.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from workers.db import ddl
from workers.db.catalog import Snapshot, snapshot
from workers.db.connection import connect, database_url
from workers.db.files import fingerprint as fingerprint
from workers.db.files import latest_release as latest_release
from workers.db.files import release_due as release_due
from workers.db.migrate import (
    DB_DIR,
    apply_files,
    ensure_database,
    ensure_pgmq,
    run_migrations,
    scratch_database,
)
from workers.db.release_render import render
from workers.errors import GdpError

# How long a release waits for a table lock before giving up (the deploy then retries): inserts
# queue behind a waiting ACCESS EXCLUSIVE request, so this bounds how long they can stall.
LOCK_TIMEOUT = "2s"


# Section - planning: what the files define, on top of what the migrations produce


@dataclass(frozen=True)
class Plan:
    old: Snapshot
    new: Snapshot
    dropped: list[str]

    def statements(self) -> list[str]:
        return render(self.old, self.new)


def _drop_everything_managed(
    conn: psycopg.Connection[psycopg.rows.DictRow], snap: Snapshot
) -> None:
    for policy in snap.policies.values():
        conn.execute(f"DROP POLICY IF EXISTS {ddl.quote_ident(policy.name)} ON {policy.table_name}")
    for trigger in snap.triggers.values():
        conn.execute(
            f"DROP TRIGGER IF EXISTS {ddl.quote_ident(trigger.name)} ON {trigger.table_name}"
        )
    for view in snap.views.values():
        conn.execute(f"DROP VIEW IF EXISTS {view.name} CASCADE")
    for function in snap.functions.values():
        conn.execute(f"DROP {function.keyword} IF EXISTS {function.signature} CASCADE")


def _keys(snap: Snapshot) -> set[object]:
    return {*snap.functions, *snap.views, *snap.triggers, *snap.policies}


def _drop_leftovers(
    conn: psycopg.Connection[psycopg.rows.DictRow], snap: Snapshot, defined: set[object]
) -> list[str]:
    """Drop managed objects the files do not define; dependents first, never CASCADE."""
    pending: list[tuple[str, str]] = []
    for pkey, policy in snap.policies.items():
        if pkey not in defined:
            pending.append(
                (
                    f"policy {policy.name} on {policy.table_name}",
                    f"DROP POLICY {ddl.quote_ident(policy.name)} ON {policy.table_name}",
                )
            )
    for tkey, trigger in snap.triggers.items():
        if tkey not in defined:
            pending.append(
                (
                    f"trigger {trigger.name} on {trigger.table_name}",
                    f"DROP TRIGGER {ddl.quote_ident(trigger.name)} ON {trigger.table_name}",
                )
            )
    for vkey, view in snap.views.items():
        if vkey not in defined:
            pending.append((f"view {view.name}", ddl.drop_view(view)))
    for fkey, function in snap.functions.items():
        if fkey not in defined:
            pending.append(
                (f"{function.keyword.lower()} {function.signature}", ddl.drop_function(function))
            )
    dropped: list[str] = []
    while pending:
        failures: list[tuple[str, str, str]] = []
        for label, statement in pending:
            try:
                with conn.transaction():
                    conn.execute(statement)
                dropped.append(label)
            except psycopg.errors.DependentObjectsStillExist as exc:
                failures.append((label, statement, exc.diag.message_detail or str(exc)))
        if len(failures) == len(pending):
            label, _, detail = failures[0]
            raise GdpError(
                f"{label} is no longer defined in db/functions or db/policies, but "
                f"{detail.splitlines()[0]}"
            )
        pending = [(label, statement) for label, statement, _ in failures]
    return dropped


def plan(
    conn: psycopg.Connection[psycopg.rows.DictRow], db_dir: Path = DB_DIR, *, commit: bool = False
) -> Plan:
    """What the files change on the database `conn` is connected to (not in a transaction).

    With commit=False nothing is kept; with commit=True the database is left as the release
    will leave it (the generator's second scratch database)."""
    old = snapshot(conn)
    conn.rollback()
    with conn.transaction(force_rollback=True):
        _drop_everything_managed(conn, old)
        apply_files(conn, db_dir)
        defined = _keys(snapshot(conn))
    with conn.transaction(force_rollback=not commit):
        apply_files(conn, db_dir)
        dropped = _drop_leftovers(conn, snapshot(conn), defined)
        new = snapshot(conn)
    return Plan(old, new, dropped)


# Section - writing and checking a release


def migrations_only(url: str, db_dir: Path = DB_DIR) -> None:
    """Build `url` as dbmate does from db/migrations alone (no files applied on top)."""
    ensure_database(url)
    ensure_pgmq(url)
    run_migrations(url, db_dir)


def next_version(db_dir: Path = DB_DIR, now: datetime | None = None) -> str:
    """Now (UTC), or one past the newest migration: a release must run after every migration."""
    stamp = int((now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S"))
    versions = [
        int(v)
        for v in (p.name.split("_", 1)[0] for p in (db_dir / "migrations").glob("*_*.sql"))
        if v.isdigit()
    ]
    return str(max([stamp, *(v + 1 for v in versions)]))


def release_text(statements: list[str], source_fingerprint: str) -> str:
    header = [
        "-- migrate:up",
        f"-- gdp:release sources=sha256:{source_fingerprint}",
        "",
        "/**",
        " * Written by `gdp db release` from db/functions and db/policies (edit those, not this).",
        " * Table-locking statements come last and wait at most lock_timeout for their lock;",
        " * a deploy that times out is rolled back and tried again. See db/README.md, Releases.",
        " */",
        "",
        f"SELECT pg_catalog.set_config('lock_timeout', '{LOCK_TIMEOUT}', true);",
        "SELECT pg_catalog.set_config('check_function_bodies', 'off', true);",
        "",
    ]
    if not statements:
        header.append("-- No catalog change: the files changed in comments or layout only.\n")
    body = "".join(f"{statement};\n\n" for statement in statements)
    return "\n".join(header) + "\n" + body + "-- migrate:down\n"


def schema_dump(url: str, *exclude_schemas: str, only: tuple[str, ...] = ()) -> str:
    """pg_dump --schema-only with privileges, normalized so that equal catalogs compare equal:
    entries sorted, grant lines sorted, the random \\restrict key and timestamps removed."""
    command = ["pg_dump", "--schema-only", "--no-owner", "--format=plain", "--encoding=UTF8"]
    command += [f"--exclude-schema={schema}" for schema in exclude_schemas]
    command += [f"--schema={schema}" for schema in only]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GdpError(f"pg_dump failed: {done.stderr.strip().splitlines()[-1]}")
    text = re.sub(r"^\\(un)?restrict .*$", "", done.stdout, flags=re.MULTILINE)
    entries = re.split(r"^--\n-- (?=Name: )", text, flags=re.MULTILINE)
    normalized = []
    for entry in entries[1:]:
        lines = [line for line in entry.splitlines() if line.strip() and line != "--"]
        if "; Type: ACL;" in lines[0]:
            lines = [lines[0], *sorted(lines[1:])]
        normalized.append("\n".join(lines))
    return "\n\n".join(sorted(normalized)) + "\n"


def sync_supabase(db_dir: Path = DB_DIR, supabase_dir: Path | None = None) -> list[str]:
    """Make supabase/migrations/ an exact copy of db/migrations/; the files changed."""
    target = (supabase_dir or db_dir.parent / "supabase") / "migrations"
    target.mkdir(parents=True, exist_ok=True)
    changed: list[str] = []
    sources = {p.name: p for p in (db_dir / "migrations").glob("*.sql")}
    for name, source in sorted(sources.items()):
        copy = target / name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            copy.write_bytes(source.read_bytes())
            changed.append(str(copy))
    for stale in sorted(target.glob("*.sql")):
        if stale.name not in sources:
            stale.unlink()
            changed.append(str(stale))
    return changed


def supabase_out_of_step(db_dir: Path = DB_DIR, supabase_dir: Path | None = None) -> list[str]:
    """Names that differ between db/migrations and supabase/migrations (empty: in step)."""
    target = (supabase_dir or db_dir.parent / "supabase") / "migrations"
    ours = {p.name: p.read_bytes() for p in (db_dir / "migrations").glob("*.sql")}
    theirs = {p.name: p.read_bytes() for p in target.glob("*.sql")} if target.is_dir() else {}
    return sorted(n for n in ours.keys() | theirs.keys() if ours.get(n) != theirs.get(n))


@dataclass(frozen=True)
class ReleaseResult:
    path: Path | None
    statements: int
    dropped: list[str]
    mirrored: list[str]
    # schema_dump() of the database the migrations now build (empty when nothing was written)
    schema: str = ""


def _clone(base_url: str, source_url: str, target_url: str) -> None:
    source = psycopg.conninfo.conninfo_to_dict(source_url)["dbname"]
    target = psycopg.conninfo.conninfo_to_dict(target_url)["dbname"]
    maintenance = psycopg.conninfo.make_conninfo(base_url, dbname="postgres")
    with connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(str(target)), sql.Identifier(str(source))
            )
        )


def generate(
    url: str | None = None,
    db_dir: Path = DB_DIR,
    supabase_dir: Path | None = None,
    now: datetime | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> ReleaseResult:
    """Write the next release migration if the files changed; always sync supabase/migrations.
    `say` hears each step (the CLI prints them: a release takes a few seconds)."""
    if not release_due(db_dir):
        return ReleaseResult(None, 0, [], sync_supabase(db_dir, supabase_dir))
    base = database_url(url)
    tag = f"release_{os.getpid()}"
    with (
        scratch_database(base, f"{tag}_pgmq") as pgmq_url,
        scratch_database(base, f"{tag}_old") as old_url,
        scratch_database(base, f"{tag}_new") as new_url,
        scratch_database(base, f"{tag}_fresh") as fresh_url,
    ):
        # pgmq's SQL install is the slow part of a build: done once, copied twice.
        say("building what db/migrations make (scratch databases on the DATABASE_URL server)")
        ensure_database(pgmq_url)
        ensure_pgmq(pgmq_url)
        _clone(base, pgmq_url, old_url)
        _clone(base, pgmq_url, fresh_url)
        migrations_only(old_url, db_dir)
        _clone(base, old_url, new_url)
        say("applying db/functions and db/policies on a copy, comparing catalogs")
        with connect(new_url) as conn:
            planned = plan(conn, db_dir, commit=True)
        statements = planned.statements()
        path = db_dir / "migrations" / f"{next_version(db_dir, now)}_release.sql"
        path.write_text(release_text(statements, fingerprint(db_dir)), encoding="utf-8")
        say(f"checking {path.name} against a database built from scratch")
        try:
            migrations_only(fresh_url, db_dir)
            expected, got = schema_dump(new_url), schema_dump(fresh_url)
        except GdpError:
            path.unlink()
            raise
        if expected != got:
            path.unlink()
            diff = list(
                difflib.unified_diff(
                    expected.splitlines(),
                    got.splitlines(),
                    "files applied",
                    "release applied",
                    lineterm="",
                    n=1,
                )
            )
            raise GdpError(
                "the release would not reproduce db/functions and db/policies (write this change "
                "as a migration by hand): " + " | ".join(diff[2:12])
            )
    mirrored = sync_supabase(db_dir, supabase_dir)
    return ReleaseResult(path, len(statements), planned.dropped, mirrored, got)
