"""A Supabase-like database, and the Supabase CLI's `db push` / `db reset` on it, for deploy tests.

Supabase's hosted databases differ from this machine's PostgreSQL in ways that break deploys:
the migrating role (`postgres`) is not a superuser but has CREATEROLE, CREATEDB and BYPASSRLS;
the API roles, the `auth` schema and its functions, and extensions (pgmq among them) already
exist and belong to `supabase_admin`; `public` has default privileges that grant anon,
authenticated and service_role everything on new tables, functions and sequences. The builder
below reproduces that (after supabase/postgres' init scripts: initial schema, auth schema, the
"demote postgres" migration), with a NOLOGIN superuser named supabase_admin owning what
Supabase's owns.

The deploy tests run the Supabase CLI itself: npm's `supabase` package, whose platform package
carries the CLI binary (`make supabase-cli` installs a pinned version under .tools/). Where it is
not installed, `push` and `reset` below do what it does, after the CLI's own source
(pkg/migration, pkg/parser): each file is split into statements by the CLI's splitter rules, the
statements are sent one by one with the extended protocol in one pipeline (one implicit
transaction per file, after RESET ALL), and the version, name and statements are recorded in
supabase_migrations.schema_migrations in the same transaction. Local files older than the newest
applied version are refused, as the CLI refuses them without --include-all.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

# Supabase's `postgres`: not a superuser. Roles are cluster-wide; the test sessions share it.
MIGRATOR = "gdp_supa_migrator"

_ROLES = f"""
DO $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('gdp deploy tests: supabase roles'));
    -- Owns what Supabase owns (auth, extensions, pgmq); the Supabase CLI's remote reset keeps
    -- the schemas it owns. NOLOGIN: only this server's superuser can act as it.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_admin') THEN
        CREATE ROLE supabase_admin NOLOGIN SUPERUSER;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{MIGRATOR}') THEN
        CREATE ROLE {MIGRATOR} LOGIN NOSUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
    GRANT anon, authenticated, service_role TO authenticator;
    GRANT anon, authenticated, service_role TO {MIGRATOR};
END
$$;
"""

# Run as the superuser (supabase_admin) in the new database.
_SUPABASE_SCHEMA = f"""
CREATE SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;
GRANT USAGE ON SCHEMA extensions TO {MIGRATOR}, anon, authenticated, service_role;
GRANT ALL ON SCHEMA extensions TO {MIGRATOR};

GRANT USAGE ON SCHEMA public TO {MIGRATOR}, anon, authenticated, service_role;
GRANT ALL ON SCHEMA public TO {MIGRATOR};
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT ALL ON TABLES TO {MIGRATOR}, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO {MIGRATOR}, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT ALL ON SEQUENCES TO {MIGRATOR}, anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATOR} IN SCHEMA public
    GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATOR} IN SCHEMA public
    GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE {MIGRATOR} IN SCHEMA public
    GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;

CREATE SCHEMA auth;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
    )::text
$$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT ALL ON SCHEMA auth TO {MIGRATOR};
GRANT ALL ON ALL ROUTINES IN SCHEMA auth TO {MIGRATOR};

-- Supabase Queues: the schema first, then pgmq, all owned by supabase_admin.
CREATE SCHEMA pgmq;
"""

_PGMQ_GRANTS = f"""
GRANT USAGE, CREATE ON SCHEMA pgmq TO {MIGRATOR};
GRANT ALL ON ALL TABLES IN SCHEMA pgmq TO {MIGRATOR};
GRANT ALL ON ALL SEQUENCES IN SCHEMA pgmq TO {MIGRATOR};
"""


def require_released() -> None:
    """Deploy tests compare the three paths, which only agree once the files are released."""
    import pytest

    from workers.db import release

    problems = []
    if release.release_due():
        problems.append("db/functions or db/policies changed since the last release")
    if release.supabase_out_of_step():
        problems.append("supabase/migrations differs from db/migrations")
    if problems:
        pytest.fail("; ".join(problems) + ": run `gdp db release` (or `make release`)")


def as_role(url: str, role: str) -> str:
    return psycopg.conninfo.make_conninfo(url, user=role)


def build_supabase_like(admin_url: str) -> None:
    """Turn the empty database at `admin_url` (connected as the superuser) into a Supabase-like
    one: roles, extensions, auth, pgmq, public's default privileges."""
    from pgmq.install import get_embedded_install_sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(_ROLES)
        dbname = conn.info.dbname
        conn.execute(
            sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(
                sql.Identifier(dbname), sql.Identifier(MIGRATOR)
            )
        )
        conn.execute("SET client_min_messages = warning")
        conn.execute("SET ROLE supabase_admin")
        conn.execute(_SUPABASE_SCHEMA)
        conn.execute(get_embedded_install_sql())
        conn.execute(_PGMQ_GRANTS)
        conn.execute("RESET ROLE")


def copy_database(admin_url: str, template: str, name: str) -> str:
    """A copy of `template` named `name` (its database-level grants redone); its admin URL."""
    maintenance = psycopg.conninfo.make_conninfo(admin_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        conn.execute(
            sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(
                sql.Identifier(name), sql.Identifier(MIGRATOR)
            )
        )
    return psycopg.conninfo.make_conninfo(admin_url, dbname=name)


# Section - the Supabase CLI's statement splitter (pkg/parser), state by state


class _Ready:
    def next(self, ch: str, data: str) -> Any:
        if ch == "$":
            return _Tag(len(data) - 1)
        if ch in "'\"":
            return _Quote(ch)
        if ch == "-":
            return _Comment()
        if ch == "/":
            return _Block()
        if ch == "\\":
            return _Escape()
        if ch == ";":
            return None
        if ch == "(":
            return _Atomic(self, ")")
        if ch in "cC" and _begin_atomic(data):
            return _Atomic(self, "END")
        return self


def _identifier_char(ch: str) -> bool:
    return ch.isalpha() or ch.isdigit() or ch in "_$"


def _begin_atomic(data: str) -> bool:
    if not data.upper().endswith("ATOMIC"):
        return False
    head = data[: -len("ATOMIC")]
    if head and _identifier_char(head[-1]):
        return False
    head = head.rstrip()
    if not head.upper().endswith("BEGIN"):
        return False
    head = head[: -len("BEGIN")]
    return not head or not _identifier_char(head[-1])


class _Comment:
    def next(self, ch: str, data: str) -> Any:
        if ch == "-":
            return _Dollar("\n")
        return _Ready().next(ch, data)


class _Block:
    def __init__(self) -> None:
        self.depth = 0

    def next(self, ch: str, data: str) -> Any:
        window = data[-2:]
        if window == "/*":
            self.depth += 1
            return self
        if self.depth == 0:
            return _Ready().next(ch, data)
        if window == "*/":
            self.depth -= 1
            if self.depth == 0:
                return _Ready()
        return self


class _Quote:
    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.closing = False

    def next(self, ch: str, data: str) -> Any:
        if self.closing:
            if ch == self.delimiter:  # a doubled quote stays inside
                self.closing = False
                return self
            return _Ready().next(ch, data)
        if ch == self.delimiter:
            self.closing = True
        return self


class _Dollar:
    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter

    def next(self, ch: str, data: str) -> Any:
        return _Ready() if data.endswith(self.delimiter) else self


class _Tag:
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def next(self, ch: str, data: str) -> Any:
        if ch == "$":
            return _Dollar(data[self.offset :])
        if ch.isalpha() or ch.isdigit() or ch == "_":
            return self
        return _Ready().next(ch, data)


class _Escape:
    def next(self, ch: str, data: str) -> Any:
        return _Ready()


class _Atomic:
    def __init__(self, prev: Any, delimiter: str) -> None:
        self.prev = prev
        self.delimiter = delimiter

    def next(self, ch: str, data: str) -> Any:
        current = self.prev.next(ch, data)
        if current is not None:
            self.prev = current
        if isinstance(self.prev, _Ready) and data[-len(self.delimiter) :].upper() == self.delimiter:
            return _Ready()
        return self


def split_statements(text: str) -> list[str]:
    """Statements as the Supabase CLI splits a migration file (trailing ';' and space trimmed)."""
    tokens: list[str] = []
    state: Any = _Ready()
    start = 0
    for index, ch in enumerate(text):
        state = state.next(ch, text[start : index + 1])
        if state is None:
            tokens.append(text[start : index + 1])
            start = index + 1
            state = _Ready()
    tokens.append(text[start:])
    return [t for t in (token.rstrip(";").strip() for token in tokens) if t]


# Section - the Supabase CLI itself (npm's `supabase`, installed by `make supabase-cli`)

ROOT = Path(__file__).resolve().parents[1]


def supabase_cli() -> str | None:
    """The Supabase CLI binary: GDP_SUPABASE_CLI, else the one `make supabase-cli` installs;
    None (the emulation runs) when there is none, or GDP_SUPABASE_CLI=emulate."""
    if os.environ.get("GDP_SUPABASE_CLI") == "emulate":
        return None
    for candidate in (
        os.environ.get("GDP_SUPABASE_CLI"),
        ROOT / ".tools/node_modules/.bin/supabase",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def cli_url(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return (
        f"postgresql://{info.get('user')}@{info.get('host') or '127.0.0.1'}:"
        f"{info.get('port') or 5432}/{info.get('dbname')}?sslmode=disable"
    )


def run_cli(binary: str, command: str, url: str) -> subprocess.CompletedProcess[str]:
    """`supabase db <command> --db-url URL --yes` from the repository root, as a user runs it."""
    done = subprocess.run(
        [binary, "db", command, "--db-url", cli_url(url), "--yes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "DO_NOT_TRACK": "1", "SUPABASE_TELEMETRY_DISABLED": "1"},
    )
    # The CLI keeps supabase/.temp/cli-latest (ignored by git): with it, later runs skip the
    # release check that would wait for the network.
    return done


# Section - what supabase db push / db reset do, where the CLI is not installed

_MIGRATION_FILE = re.compile(r"^([0-9]+)_(.*)\.sql$")
_HISTORY_TABLE = (
    "SET lock_timeout = '4s'",
    "CREATE SCHEMA IF NOT EXISTS supabase_migrations",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations "
    "(version text NOT NULL PRIMARY KEY)",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text",
)


class PushRefused(Exception):
    pass


def push(url: str, migrations_dir: Path) -> list[str]:
    """`supabase db push` against `url`: applies the pending files; returns their versions."""
    local = sorted(
        (m.group(1), m.group(2), path)
        for path in migrations_dir.glob("*.sql")
        if (m := _MIGRATION_FILE.match(path.name))
    )
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL"
        ).fetchone()
        remote: list[str] = []
        if exists and exists[0]:
            rows = conn.execute(
                "SELECT version FROM supabase_migrations.schema_migrations ORDER BY version"
            ).fetchall()
            remote = [r[0] for r in rows]
        versions = [v for v, _, _ in local]
        missing = [v for v in remote if v not in versions]
        if missing:
            raise PushRefused(f"remote migration versions not found locally: {missing}")
        unapplied = [v for v in versions if v not in remote and remote and v < remote[-1]]
        if unapplied:
            raise PushRefused(f"local migrations before the last remote one: {unapplied}")
        pending = [(v, n, p) for v, n, p in local if v not in remote]
        if pending:
            with conn.pipeline():
                for statement in _HISTORY_TABLE:
                    conn.execute(statement, prepare=False)
        for version, name, path in pending:
            conn.execute("RESET ALL")
            statements = split_statements(path.read_text(encoding="utf-8"))
            with conn.pipeline():
                for statement in statements:
                    conn.execute(statement, prepare=False)
                conn.execute(
                    "INSERT INTO supabase_migrations.schema_migrations(version, name, statements) "
                    "VALUES (%s, %s, %s)",
                    (version, name, statements),
                )
        return [v for v, _, _ in pending]


def reset(admin_url: str, template: str, migrations_dir: Path, role: str = MIGRATOR) -> list[str]:
    """`supabase db reset`: the database recreated as Supabase starts it, then every migration."""
    name = psycopg.conninfo.conninfo_to_dict(admin_url)["dbname"]
    copy_database(admin_url, template, str(name))
    return push(as_role(admin_url, role), migrations_dir)
