"""`gdp db up`: create the database, install pgmq, apply the migrations (see db/README.md).

Every step is idempotent, so running it twice changes nothing:
  1. the database named in DATABASE_URL is created if missing;
  2. pgmq: CREATE EXTENSION where the server has it (Supabase Queues), else the SQL-only install
     that the pgmq PyPI package bundles, once (`gdp db pgmq` alone does this step);
  3. migration history lives in gdp_migrations.schema_migrations, out of reach of the API roles;
     a database deployed before (history in public.schema_migrations) or by the Supabase CLI
     (supabase_migrations.schema_migrations) has its history carried over, nothing re-run;
  4. dbmate applies db/migrations, each in its own transaction; db/functions and db/policies
     reach the database through the release migrations `gdp db release` writes. A migration
     that gives up waiting for a lock (lock_timeout) is rolled back and tried again;
  5. only while developing: when db/functions or db/policies changed since the last release,
     they are applied directly on top (never with GDP_ENV=production or --release-only).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from workers.db.connection import connect, database_url, redact_url
from workers.db.files import DB_DIR, default_db_dir, release_due, sql_files
from workers.db.queries import query
from workers.errors import GdpError, InvalidInput
from workers.settings import get_settings

# dbmate's history table: in a schema of its own, which no API role can use (dbmate's default,
# public.schema_migrations, is readable and writable by anon under Supabase's default privileges).
MIGRATIONS_TABLE = "gdp_migrations.schema_migrations"

# How often a migration that timed out waiting for a lock is tried again, and the pause before
# the first retry (doubling each time).
LOCK_RETRIES = 5
LOCK_RETRY_PAUSE = 1.0
# How often a deploy waiting for another one to finish asks again (seconds).
DEPLOY_LOCK_POLL = 0.25


@dataclass(frozen=True)
class UpResult:
    database_created: bool
    pgmq_installed: str | None
    migrations_applied: list[str]
    files_applied: list[str]
    history_adopted: str | None = None
    lock_retries: int = 0
    notes: list[str] = field(default_factory=list)


def parse_url(url: str) -> dict[str, Any]:
    """The connection parameters of `url`; one clear error for something that is not a URL."""
    try:
        return psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise InvalidInput(
            f"DATABASE_URL: must be a PostgreSQL URL (postgresql://user@host:5432/db) or key=value "
            f"connection string ({first})",
            field="DATABASE_URL",
        ) from None


def ensure_database(url: str) -> bool:
    """Create the target database if it does not exist; True when it was created."""
    info = parse_url(url)
    dbname = info.get("dbname") or "postgres"
    maintenance = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(dbname))))
        except psycopg.errors.DuplicateDatabase:
            return False  # another deploy created it first
        except psycopg.errors.UniqueViolation:
            return False
        except psycopg.Error as exc:
            raise GdpError(
                f"database {dbname} does not exist and cannot be created "
                f"({exc.diag.message_primary}): create it, or deploy as a role with CREATEDB"
            ) from exc
        return True


def ensure_pgmq(url: str) -> str | None:
    """Install pgmq if missing; returns how it was installed, or None when already there."""
    with connect(url) as conn:
        installed = conn.execute(query("pgmq_installed")).fetchone()
        if installed and installed["present"]:
            return None
        if conn.execute(query("pgmq_available")).fetchone():
            try:
                conn.execute(query("create_pgmq_extension"))
            except psycopg.Error as exc:
                raise GdpError(
                    f"pgmq: CREATE EXTENSION pgmq failed ({exc.diag.message_primary}); on "
                    "Supabase enable Queues (Integrations), elsewhere ask a superuser to run it"
                ) from exc
            return "extension"
        from pgmq.install import get_embedded_install_sql  # the SQL-only install, pgmq 1.x

        with conn.transaction():
            conn.execute("SET LOCAL client_min_messages = warning")
            try:
                conn.execute(get_embedded_install_sql())
            except psycopg.Error as exc:
                raise GdpError(
                    f"pgmq could not be installed ({exc.diag.message_primary}): install it as a "
                    "role that may create schemas in the database, or CREATE EXTENSION pgmq"
                ) from exc
        return "sql-only"


def known_versions(db_dir: Path = DB_DIR) -> list[str]:
    return sorted(p.name.split("_", 1)[0] for p in (db_dir / "migrations").glob("*_*.sql"))


def adopt_history(url: str, db_dir: Path = DB_DIR) -> str | None:
    """Carry migration history over to gdp_migrations.schema_migrations; what was done, or None.

    Nothing is re-run: dbmate then finds the versions it applied before. A public table that
    holds GDP's versions only is moved whole; one that other tools share keeps their rows.
    """
    ours = set(known_versions(db_dir))
    with connect(url) as conn, conn.transaction():
        conn.execute(query("lock_timeout_local"), {"timeout": "5s"})
        tables = conn.execute(query("migrations_tables")).fetchone()
        assert tables is not None
        if tables["private"]:
            return None
        if tables["legacy"]:
            legacy = [r["version"] for r in conn.execute(query("legacy_versions")).fetchall()]
            if legacy and set(legacy) <= ours:
                conn.execute(query("create_private_schema"))
                conn.execute(query("move_legacy_table"))
                return (
                    f"moved public.schema_migrations ({len(legacy)} versions) to {MIGRATIONS_TABLE}"
                )
            shared = sorted(set(legacy) & ours)
            if shared:
                conn.execute(query("create_private_schema"))
                conn.execute(query("create_private_table"))
                conn.execute(query("copy_versions"), {"versions": shared})
                conn.execute(query("delete_legacy_versions"), {"versions": shared})
                return f"moved {len(shared)} GDP versions from public.schema_migrations"
        if tables["supabase_cli"]:
            pushed = [r["version"] for r in conn.execute(query("supabase_cli_versions")).fetchall()]
            shared = sorted(set(pushed) & ours)
            if shared:
                conn.execute(query("create_private_schema"))
                conn.execute(query("create_private_table"))
                conn.execute(query("copy_versions"), {"versions": shared})
                return f"took {len(shared)} versions applied by the Supabase CLI"
    return None


def dbmate_url(url: str) -> str:
    """dbmate wants a URL; local servers without TLS need sslmode=disable spelled out."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query))
        params.setdefault(
            "sslmode",
            "disable" if info.get("host") in (None, "", "127.0.0.1", "localhost") else "prefer",
        )
        return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(params), ""))
    user = info.get("user") or "postgres"
    password = info.get("password")
    auth = f"{user}:{password}" if password else user
    host = info.get("host") or "127.0.0.1"
    return (
        f"postgres://{auth}@{host}:{info.get('port') or 5432}/{info.get('dbname')}?sslmode=disable"
    )


def dbmate_command(
    url: str, *args: str, db_dir: Path = DB_DIR, schema_file: Path | None = None
) -> list[str]:
    binary = shutil.which("dbmate") or str(Path(sys.executable).with_name("dbmate"))
    return [
        binary,
        "--url",
        dbmate_url(url),
        "--migrations-dir",
        str(db_dir / "migrations"),
        "--migrations-table",
        MIGRATIONS_TABLE,
        "--schema-file",
        str(schema_file or db_dir / "schema.sql"),
        *args,
    ]


class DbmateFailed(GdpError):
    def __init__(self, command: str, detail: str) -> None:
        super().__init__(f"dbmate {command} failed: {detail}")
        self.detail = detail


def _dbmate(*args: str, url: str, db_dir: Path = DB_DIR, schema_file: Path | None = None) -> str:
    command = dbmate_command(url, *args, db_dir=db_dir, schema_file=schema_file)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise DbmateFailed(args[-1], lines[-1] if lines else "no output")
    return done.stdout


def run_migrations(url: str, db_dir: Path = DB_DIR) -> tuple[list[str], int]:
    """dbmate up; a migration that timed out on a lock is retried. (applied, retries)."""
    applied: list[str] = []
    pause = LOCK_RETRY_PAUSE
    for attempt in range(LOCK_RETRIES + 1):
        try:
            out = _dbmate("--no-dump-schema", "up", url=url, db_dir=db_dir)
        except DbmateFailed as exc:
            if "lock timeout" not in exc.detail or attempt == LOCK_RETRIES:
                raise
            time.sleep(pause)
            pause *= 2
            continue
        applied += [
            line.split(":", 1)[1].strip().split(" in ")[0]
            for line in out.splitlines()
            if line.startswith("Applied:")
        ]
        return applied, attempt
    raise AssertionError("unreachable")


def status(url: str, db_dir: Path = DB_DIR) -> tuple[list[str], list[str]]:
    """(applied, pending) migration files of the database, as dbmate sees them."""
    parse_url(url)
    done = subprocess.run(
        dbmate_command(url, "status", db_dir=db_dir), capture_output=True, text=True, check=False
    )
    lines = done.stdout.splitlines()
    if not any(line.startswith("Applied:") for line in lines):
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DbmateFailed("status", detail[-1] if detail else "no output")
    applied = [line[4:] for line in lines if line.startswith("[X] ")]
    pending = [line[4:] for line in lines if line.startswith("[ ] ")]
    return applied, pending


def apply_files(conn: psycopg.Connection[psycopg.rows.DictRow], db_dir: Path = DB_DIR) -> list[str]:
    """Run every function and policy file, in name order, on `conn` (in its transaction)."""
    applied: list[str] = []
    conn.execute("SET LOCAL client_min_messages = warning")
    for path in sql_files(db_dir):
        name = str(path.relative_to(db_dir.parent))
        try:
            conn.execute(path.read_text(encoding="utf-8"))
        except psycopg.Error as exc:
            raise GdpError(f"{name}: {exc.diag.message_primary}") from exc
        applied.append(name)
    return applied


def apply_sql_files(url: str, db_dir: Path = DB_DIR) -> list[str]:
    """Apply functions then policies directly, all or nothing (development only: it locks every
    table the files touch; deploys go through release migrations)."""
    with connect(url) as conn, conn.transaction():
        return apply_files(conn, db_dir)


def production() -> bool:
    return get_settings().production


def up(
    url: str | None = None, *, db_dir: Path = DB_DIR, release_only: bool | None = None
) -> UpResult:
    target = database_url(url)
    parse_url(target)
    refuse_unreleased = production() if release_only is None else release_only
    due = release_due(db_dir)
    if due and refuse_unreleased:
        raise GdpError(
            "db/functions or db/policies changed since the last release migration: run "
            "`gdp db release` and deploy the migration it writes"
        )
    created = ensure_database(target)
    with deploy_lock(target):
        pgmq = ensure_pgmq(target)
        try:
            adopted = adopt_history(target, db_dir)
        except psycopg.Error as exc:
            raise GdpError(
                f"moving migration history to {MIGRATIONS_TABLE} failed: {exc.diag.message_primary}"
            ) from exc
        migrations, retries = run_migrations(target, db_dir)
        files: list[str] = []
        notes: list[str] = []
        if due:
            files = apply_sql_files(target, db_dir)
            notes.append(
                "db/functions or db/policies changed since the last release: applied directly "
                "(development); `gdp db release` writes the migration that deploys them"
            )
    return UpResult(created, pgmq, migrations, files, adopted, retries, notes)


@contextmanager
def deploy_lock(url: str) -> Iterator[None]:
    """Hold the database's deploy lock (a session advisory lock) for the block: two deploys of
    one database run one after the other, never interleaved."""
    with connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(query("deploy_try_lock")).fetchone()
            if row and row["locked"]:
                break
            time.sleep(DEPLOY_LOCK_POLL)
        try:
            yield
        finally:
            conn.execute(query("deploy_unlock"))


def dump_schema(url: str | None = None, path: Path | None = None, db_dir: Path = DB_DIR) -> Path:
    """Write db/schema.sql (or `path`) from the database (dbmate dump = pg_dump --schema-only)."""
    target = path or db_dir / "schema.sql"
    _dbmate("dump", url=database_url(url), db_dir=db_dir, schema_file=target)
    return target


@contextmanager
def scratch_database(base_url: str, suffix: str) -> Iterator[str]:
    """A database that exists for the block only (named after the base database and `suffix`)."""
    info = psycopg.conninfo.conninfo_to_dict(base_url)
    name = f"{info.get('dbname') or 'gdp'}_{suffix}"[:63]
    maintenance = psycopg.conninfo.make_conninfo(base_url, dbname="postgres")
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with connect(maintenance, autocommit=True) as conn:
        conn.execute(drop)
    try:
        yield psycopg.conninfo.make_conninfo(base_url, dbname=name)
    finally:
        with connect(maintenance, autocommit=True) as conn:
            conn.execute(drop)


def dump_fresh_schema(url: str | None = None, db_dir: Path = DB_DIR) -> Path:
    """Build a throwaway database from scratch and dump it to db/schema.sql.

    The committed dump must be what the migrations produce on an empty database, not whatever a
    long-lived database has accumulated.
    """
    with scratch_database(database_url(url), "schema_dump") as scratch_url:
        up(scratch_url, db_dir=db_dir)
        return dump_schema(scratch_url, db_dir=db_dir)


__all__ = [
    "DB_DIR",
    "MIGRATIONS_TABLE",
    "UpResult",
    "adopt_history",
    "apply_files",
    "apply_sql_files",
    "default_db_dir",
    "dump_schema",
    "ensure_database",
    "ensure_pgmq",
    "redact_url",
    "run_migrations",
    "scratch_database",
    "sql_files",
    "up",
]
