"""The three ways to deploy, each from an empty Supabase-like database, as a role that is not a
superuser: `gdp db up`, plain `dbmate up` on db/, and `supabase db push` from supabase/migrations
(tests/deploy_support.py builds the database and does what the Supabase CLI does)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql
from typer.testing import CliRunner

from tests import deploy_support as supa
from tests.conftest import make_url
from workers.cli.main import app
from workers.db import migrate, release
from workers.settings import get_settings

ROOT = Path(__file__).resolve().parents[1]
PREFIX = f"gdp_t{os.getpid()}_deploy"
# Bookkeeping that differs by path on purpose: each tool keeps its own history table.
HISTORY_SCHEMAS = ("gdp_migrations", "supabase_migrations")
# The Supabase CLI version `make supabase-cli` installs (npm's `supabase`).
SUPABASE_CLI_VERSION = "3.1.0"


def _drop(name: str) -> None:
    with psycopg.connect(make_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def supabase_template() -> Iterator[str]:
    """An empty Supabase-like database (roles, auth, extensions, pgmq), used as a template."""
    name = f"{PREFIX}_base"
    _drop(name)
    with psycopg.connect(make_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    supa.build_supabase_like(make_url(name))
    yield name
    _drop(name)


def dbmate_up(url: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Plain dbmate, as a user runs it from the repository (db/migrations is dbmate's default)."""
    command = migrate.dbmate_command(url, "--no-dump-schema", "up")
    plain = [
        command[0],
        "--url",
        command[2],
        "--migrations-table",
        migrate.MIGRATIONS_TABLE,
        "--no-dump-schema",
        "up",
    ]
    return subprocess.run(plain, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def deployed(supabase_template: str) -> Iterator[dict[str, str]]:
    """The three paths, each on its own copy of the empty Supabase-like database, as MIGRATOR."""
    supa.require_released()
    urls = {}
    for path in ("gdp", "dbmate", "supabase"):
        admin = supa.copy_database(make_url("postgres"), supabase_template, f"{PREFIX}_{path}")
        urls[path] = supa.as_role(admin, supa.MIGRATOR)
    result = migrate.up(urls["gdp"], release_only=True)
    assert result.files_applied == []
    done = dbmate_up(urls["dbmate"])
    assert done.returncode == 0, done.stderr
    cli = supa.supabase_cli()
    if cli:
        pushed = supa.run_cli(cli, "push", urls["supabase"])
        assert pushed.returncode == 0, pushed.stderr + pushed.stdout
    else:
        supa.push(urls["supabase"], ROOT / "supabase" / "migrations")
    yield urls
    for path in urls:
        _drop(f"{PREFIX}_{path}")


def test_three_paths_build_the_same_database(deployed: dict[str, str]) -> None:
    dumps = {path: release.schema_dump(url, *HISTORY_SCHEMAS) for path, url in deployed.items()}
    assert (
        "CREATE POLICY" in dumps["gdp"] and "CREATE FUNCTION shared.upsert_people" in dumps["gdp"]
    )
    assert dumps["dbmate"] == dumps["gdp"]
    assert dumps["supabase"] == dumps["gdp"]


def test_supabase_like_build_matches_the_plain_postgres_build(
    deployed: dict[str, str], db_url: str
) -> None:
    """The shared schema is the same whether a superuser or Supabase's postgres deployed it."""
    ours = ("shared", "segments")
    supabase_like = release.schema_dump(deployed["dbmate"], only=ours)
    plain = release.schema_dump(db_url, only=ours)
    assert "CREATE POLICY" in plain
    assert supabase_like == plain


def test_every_table_in_shared_has_row_security(deployed: dict[str, str]) -> None:
    for url in deployed.values():
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT c.relname, c.relrowsecurity, "
                "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies "
                "FROM pg_class c WHERE c.relnamespace = 'shared'::regnamespace "
                "AND c.relkind IN ('r', 'p') ORDER BY 1"
            ).fetchall()
        assert len(rows) >= 19
        assert [r for r in rows if not r[1] or r[2] == 0] == []


def test_no_function_in_shared_is_executable_by_public(deployed: dict[str, str]) -> None:
    for url in deployed.values():
        with psycopg.connect(url) as conn:
            public = conn.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p "
                "WHERE p.pronamespace = 'shared'::regnamespace "
                "AND has_function_privilege('public', p.oid, 'EXECUTE')"
            ).fetchall()
        assert public == []


def test_functions_the_migrating_role_creates_later_are_not_public(
    deployed: dict[str, str],
) -> None:
    """As on Supabase: a function a later migration or a Studio session adds to shared."""
    with psycopg.connect(deployed["supabase"]) as conn:
        conn.execute("CREATE FUNCTION shared.added_later() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        row = conn.execute(
            "SELECT has_function_privilege('public', 'shared.added_later()', 'EXECUTE'), "
            "has_function_privilege('anon', 'shared.added_later()', 'EXECUTE'), "
            "pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'added_later'"
        ).fetchone()
        conn.rollback()
    assert row == (False, False, supa.MIGRATOR)


@pytest.mark.parametrize("role", ["anon", "authenticated"])
@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("gdp", "gdp_migrations.schema_migrations"),
        ("dbmate", "gdp_migrations.schema_migrations"),
        ("supabase", "supabase_migrations.schema_migrations"),
    ],
)
def test_migration_history_is_out_of_reach_of_the_api_roles(
    deployed: dict[str, str], role: str, path: str, table: str
) -> None:
    with psycopg.connect(deployed[path]) as conn:
        assert conn.execute("SELECT to_regclass('public.schema_migrations')").fetchone() == (None,)
        for statement in (
            f"SELECT version FROM {table}",
            f"INSERT INTO {table} (version) VALUES ('99999999999999')",
            f"DELETE FROM {table}",
        ):
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute(statement)


def test_no_release_is_due(deployed: dict[str, str]) -> None:
    """db/functions and db/policies are what the migrations produce (else: `gdp db release`)."""
    with psycopg.connect(deployed["dbmate"], row_factory=psycopg.rows.dict_row) as conn:
        planned = release.plan(conn)
    assert planned.statements() == [], "a release is due: run `gdp db release`"


def test_the_last_release_carries_the_files_and_supabase_has_a_copy() -> None:
    assert not release.release_due(), "db/functions or db/policies changed: run `gdp db release`"
    assert release.supabase_out_of_step() == [], "run `gdp db release` to sync supabase/migrations"


def test_gdp_db_up_after_supabase_push_reruns_nothing(deployed: dict[str, str]) -> None:
    with psycopg.connect(deployed["supabase"]) as conn:
        pushed = conn.execute(
            "SELECT count(*) FROM supabase_migrations.schema_migrations"
        ).fetchone()
    result = migrate.up(deployed["supabase"], release_only=True)
    assert result.migrations_applied == []
    assert (
        result.history_adopted
        == f"took {pushed[0] if pushed else 0} versions applied by the Supabase CLI"
    )


def test_the_supabase_cli_itself_deploys() -> None:
    """The paths above ran the Supabase CLI binary (else its emulation in deploy_support)."""
    cli = supa.supabase_cli()
    if cli is None:
        pytest.skip("the Supabase CLI is not installed (make supabase-cli): its emulation ran")
    package = ROOT / ".tools" / "node_modules" / "supabase" / "package.json"
    if Path(cli).is_relative_to(ROOT / ".tools"):
        assert json.loads(package.read_text())["version"] == SUPABASE_CLI_VERSION


def test_supabase_db_reset_and_push_again(supabase_template: str, deployed: dict[str, str]) -> None:
    """`supabase db reset` drops what the migrations made and runs them all again; a second
    push then has nothing to do. With the CLI: its remote reset, which keeps Supabase's own
    schemas (auth, extensions, pgmq and its queues); without it: a database made anew."""
    name = f"{PREFIX}_reset"
    cli = supa.supabase_cli()
    pushed = psycopg.conninfo.conninfo_to_dict(deployed["supabase"])["dbname"]
    admin = supa.copy_database(
        make_url("postgres"), str(pushed) if cli else supabase_template, name
    )
    url = supa.as_role(admin, supa.MIGRATOR)
    try:
        if cli:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "INSERT INTO shared.event (product_id, event_id, event_name) "
                    "VALUES ('snapmix', 'before-reset', 'PageView')"
                )
            done = supa.run_cli(cli, "reset", url)
            assert done.returncode == 0, done.stderr + done.stdout
            again = supa.run_cli(cli, "push", url)
            assert again.returncode == 0, again.stderr + again.stdout
            assert "Applying migration" not in again.stdout + again.stderr
        else:
            applied = supa.reset(admin, supabase_template, ROOT / "supabase" / "migrations")
            assert len(applied) == len(list((ROOT / "db" / "migrations").glob("*.sql")))
            assert supa.push(url, ROOT / "supabase" / "migrations") == []
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM shared.event").fetchone() == (0,)
        assert release.schema_dump(url, *HISTORY_SCHEMAS) == release.schema_dump(
            deployed["gdp"], *HISTORY_SCHEMAS
        )
    finally:
        _drop(name)


def test_plain_dbmate_without_pgmq_stops_before_creating_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a server without the pgmq extension, the first migration names the missing step."""
    name = f"{PREFIX}_nopgmq"
    _drop(name)
    with psycopg.connect(make_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        done = dbmate_up(make_url(name))
        assert done.returncode != 0
        assert "gdp db pgmq" in done.stderr
        with psycopg.connect(make_url(name)) as conn:
            assert conn.execute("SELECT to_regnamespace('shared')").fetchone() == (None,)
        monkeypatch.setenv("DATABASE_URL", make_url(name))
        get_settings.cache_clear()
        step = CliRunner().invoke(app, ["db", "pgmq"])
        get_settings.cache_clear()
        assert step.exit_code == 0, step.output
        assert step.stdout == "pgmq installed (sql-only)\n"
        done = dbmate_up(make_url(name))
        assert done.returncode == 0, done.stderr
    finally:
        _drop(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        (
            "DO $$ BEGIN PERFORM 1; END $$;\nSELECT ';'",
            ["DO $$ BEGIN PERFORM 1; END $$", "SELECT ';'"],
        ),
        (
            "CREATE FUNCTION f() AS $fn$ SELECT $$;$$ $fn$; -- a comment; with ;\nSELECT 'it''s'",
            [
                "CREATE FUNCTION f() AS $fn$ SELECT $$;$$ $fn$",
                "-- a comment; with ;\nSELECT 'it''s'",
            ],
        ),
        ("/* one; /* nested; */ */ SELECT (1;2)", ["/* one; /* nested; */ */ SELECT (1;2)"]),
        (
            "CREATE FUNCTION g() BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3",
            ["CREATE FUNCTION g() BEGIN ATOMIC SELECT 1; SELECT 2; END", "SELECT 3"],
        ),
    ],
)
def test_statements_split_as_the_supabase_cli_splits_them(text: str, expected: list[str]) -> None:
    assert supa.split_statements(text) == expected


_FRAGMENTS = st.sampled_from(
    [
        "SELECT 1",
        "'a;b'",
        "'it''s; fine'",
        '"odd;name"',
        "$$ x; y $$",
        "$fn$ BEGIN PERFORM 1; END $fn$",
        "$fn$ $$;$$ $fn$",
        "-- c; d\n",
        "/* e; /* f; */ g; */",
        "(1; 2)",
        "(SELECT ';')",
        "E'\\n'",
        "x",
        "\n",
    ]
)


@given(st.lists(st.lists(_FRAGMENTS, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=5))
@settings(max_examples=300, deadline=None)
def test_splitting_keeps_every_statement_whole(statements: list[str]) -> None:
    """Semicolons inside quotes, dollar quotes, comments and parentheses never split."""
    text = ";\n".join(statements)
    expected = [s.strip() for s in statements if s.strip()]
    assert supa.split_statements(text) == expected
