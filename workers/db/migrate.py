"""`gdp db up`: create the database, install pgmq, run dbmate, re-apply functions and policies.

Order matters and every step is idempotent, so running it twice changes nothing:
  1. the database named in DATABASE_URL is created if missing;
  2. pgmq: CREATE EXTENSION where the server has it (Supabase Queues), else the SQL-only install
     that the pgmq PyPI package bundles, once;
  3. dbmate applies db/migrations (forward-only);
  4. every file in db/functions/ then db/policies/ is applied in name order, in one transaction.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from workers.db.connection import connect, database_url, redact_url
from workers.errors import GdpError

# The repository's db/ folder; GDP_DB_DIR points elsewhere for an installed (non-editable) copy.
DB_DIR = Path(os.environ.get("GDP_DB_DIR", Path(__file__).resolve().parents[2] / "db"))


@dataclass(frozen=True)
class UpResult:
    database_created: bool
    pgmq_installed: str | None
    migrations_applied: list[str]
    files_applied: list[str]


def ensure_database(url: str) -> bool:
    """Create the target database if it does not exist; True when it was created."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    dbname = info.get("dbname") or "postgres"
    maintenance = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(dbname))))
        return True


def ensure_pgmq(url: str) -> str | None:
    """Install pgmq if missing; returns how it was installed, or None when already there."""
    with connect(url) as conn:
        installed = conn.execute(
            "SELECT to_regclass('pgmq.meta') IS NOT NULL AS present"
        ).fetchone()
        if installed and installed["present"]:
            return None
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pgmq'"
        ).fetchone()
        if available:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgmq")
            return "extension"
        from pgmq.install import get_embedded_install_sql  # the SQL-only install, pgmq 1.x

        with conn.transaction():
            conn.execute("SET LOCAL client_min_messages = warning")
            conn.execute(get_embedded_install_sql())
        return "sql-only"


def dbmate_url(url: str) -> str:
    """dbmate wants a URL; local servers without TLS need sslmode=disable spelled out."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        query.setdefault(
            "sslmode",
            "disable" if info.get("host") in (None, "", "127.0.0.1", "localhost") else "prefer",
        )
        return urlunsplit(("postgres", parts.netloc, parts.path, urlencode(query), ""))
    user = info.get("user") or "postgres"
    password = info.get("password")
    auth = f"{user}:{password}" if password else user
    host = info.get("host") or "127.0.0.1"
    return (
        f"postgres://{auth}@{host}:{info.get('port') or 5432}/{info.get('dbname')}?sslmode=disable"
    )


def _dbmate(*args: str, url: str, schema_file: Path | None = None) -> str:
    binary = shutil.which("dbmate") or str(Path(sys.executable).with_name("dbmate"))
    command = [
        binary,
        "--url",
        dbmate_url(url),
        "--migrations-dir",
        str(DB_DIR / "migrations"),
        "--schema-file",
        str(schema_file or DB_DIR / "schema.sql"),
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise GdpError(f"dbmate {args[-1]} failed: {detail[-1] if detail else 'no output'}")
    return done.stdout


def run_migrations(url: str) -> list[str]:
    out = _dbmate("--no-dump-schema", "up", url=url)
    return [
        line.split(":", 1)[1].strip().split(" in ")[0]
        for line in out.splitlines()
        if line.startswith("Applied:")
    ]


def sql_files() -> list[Path]:
    return [
        *sorted((DB_DIR / "functions").glob("*.sql")),
        *sorted((DB_DIR / "policies").glob("*.sql")),
    ]


def apply_sql_files(url: str) -> list[str]:
    """Re-apply functions then policies, all or nothing."""
    applied: list[str] = []
    with connect(url) as conn, conn.transaction():
        conn.execute("SET LOCAL client_min_messages = warning")
        for path in sql_files():
            try:
                conn.execute(path.read_text(encoding="utf-8"))
            except psycopg.Error as exc:
                raise GdpError(
                    f"{path.relative_to(DB_DIR.parent)}: {exc.diag.message_primary}"
                ) from exc
            applied.append(str(path.relative_to(DB_DIR.parent)))
    return applied


def up(url: str | None = None) -> UpResult:
    target = database_url(url)
    created = ensure_database(target)
    pgmq = ensure_pgmq(target)
    migrations = run_migrations(target)
    files = apply_sql_files(target)
    return UpResult(created, pgmq, migrations, files)


def dump_schema(url: str | None = None, path: Path | None = None) -> Path:
    """Write db/schema.sql (or `path`) from the database (dbmate dump = pg_dump --schema-only)."""
    target = path or DB_DIR / "schema.sql"
    _dbmate("dump", url=database_url(url), schema_file=target)
    return target


__all__ = [
    "DB_DIR",
    "UpResult",
    "apply_sql_files",
    "dump_schema",
    "ensure_database",
    "ensure_pgmq",
    "redact_url",
    "run_migrations",
    "up",
]


def dump_fresh_schema(url: str | None = None) -> Path:
    """Build a throwaway database from scratch and dump it to db/schema.sql.

    The committed dump must be what the migrations, functions and policies produce on an empty
    database, not whatever a long-lived database has accumulated.
    """
    base = database_url(url)
    info = psycopg.conninfo.conninfo_to_dict(base)
    scratch = f"{info.get('dbname') or 'gdp'}_schema_dump"
    scratch_url = psycopg.conninfo.make_conninfo(base, dbname=scratch)
    maintenance = psycopg.conninfo.make_conninfo(base, dbname="postgres")
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
    with connect(maintenance, autocommit=True) as conn:
        conn.execute(drop)
    try:
        up(scratch_url)
        return dump_schema(scratch_url)
    finally:
        with connect(maintenance, autocommit=True) as conn:
            conn.execute(drop)
