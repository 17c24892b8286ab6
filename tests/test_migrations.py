"""`gdp db up`: idempotent, dumps to db/schema.sql, leaves Supabase's own objects alone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from tests.conftest import make_url
from workers.db import migrate

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "db" / "schema.sql"


def dump(url: str) -> str:
    """pg_dump --schema-only as dbmate writes it, without the random \\restrict key."""
    done = subprocess.run(
        [
            "pg_dump",
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--format=plain",
            "--encoding=UTF8",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return normalize_dump(done.stdout)


def normalize_dump(text: str) -> str:
    text = re.sub(r"^\\(un)?restrict .*$", "", text, flags=re.MULTILINE)
    return "\n".join(line for line in text.splitlines() if not line.startswith("-- Dumped")).strip()


def test_up_twice_changes_nothing(db_url: str) -> None:
    before = dump(db_url)
    result = migrate.up(db_url)
    assert result.database_created is False
    assert result.pgmq_installed is None
    assert result.migrations_applied == []
    assert dump(db_url) == before


def test_committed_schema_matches_the_migrations(db_url: str, tmp_path: Path) -> None:
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    fresh = migrate.dump_schema(db_url, tmp_path / "schema.sql").read_text(encoding="utf-8")
    assert normalize_dump(committed) == normalize_dump(fresh), (
        "db/schema.sql drifted from db/migrations + functions + policies: "
        "run `make schema` (gdp db dump) and commit db/schema.sql"
    )
    applied = {p.name.split("_")[0] for p in (migrate.DB_DIR / "migrations").glob("*.sql")}
    listed = set(re.findall(r"\('(\d{14})'\)", committed))
    assert listed == applied


def test_supabase_objects_that_exist_are_left_alone(gdp_database: psycopg.Connection[Any]) -> None:
    name = f"{gdp_database.info.dbname}_supa"
    maintenance = make_url("postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_url(name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA auth")
            conn.execute(
                "CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE "
                "AS $$ SELECT '00000000-0000-0000-0000-00000000abcd'::uuid $$"
            )
        migrate.up(url)
        with psycopg.connect(url) as conn:
            uid = conn.execute("SELECT auth.uid()").fetchone()
            role_fn = conn.execute("SELECT to_regprocedure('auth.role()') IS NOT NULL").fetchone()
        assert uid == (UUID("00000000-0000-0000-0000-00000000abcd"),)  # Supabase's own, kept
        assert role_fn == (True,)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_roles_exist_as_supabase_defines_them(db: psycopg.Connection[dict[str, Any]]) -> None:
    rows = db.execute(
        "SELECT rolname, rolbypassrls, rolcanlogin FROM pg_roles "
        "WHERE rolname IN ('anon', 'authenticated', 'service_role') "
        "ORDER BY rolname"
    ).fetchall()
    assert rows == [
        {"rolname": "anon", "rolbypassrls": False, "rolcanlogin": False},
        {"rolname": "authenticated", "rolbypassrls": False, "rolcanlogin": False},
        {"rolname": "service_role", "rolbypassrls": True, "rolcanlogin": False},
    ]


def test_auth_functions_read_jwt_claims(db: psycopg.Connection[dict[str, Any]]) -> None:
    with db.transaction():
        db.execute(
            "SELECT set_config('request.jwt.claims', %s, true)",
            ('{"sub": "7d1c1d3e-2f5c-4b9e-9a3a-0d4f2b6c8e11", "role": "authenticated"}',),
        )
        row = db.execute(
            "SELECT auth.uid()::text AS uid, auth.role() AS role, auth.jwt() ->> 'role' AS jwt_role"
        ).fetchone()
    assert row == {
        "uid": "7d1c1d3e-2f5c-4b9e-9a3a-0d4f2b6c8e11",
        "role": "authenticated",
        "jwt_role": "authenticated",
    }


def test_pgmq_is_installed(db: psycopg.Connection[dict[str, Any]]) -> None:
    db.execute("SELECT pgmq.create('probe')")
    db.execute("SELECT pgmq.send('probe', '{\"id\": 1}'::jsonb)")
    row = db.execute("SELECT message FROM pgmq.read('probe', 30, 1)").fetchone()
    assert row == {"message": {"id": 1}}


def test_a_view_on_the_daily_table_reads_every_day_after_the_split(
    db_url: str, tmp_path: Path
) -> None:
    """An admin's segment view that read shared.person_activity_daily when it was a table reads
    the view of that name after 20261204000002 (which renamed the table): today's rows too."""
    before = tmp_path / "db"
    (before / "migrations").mkdir(parents=True)
    for path in sorted((migrate.DB_DIR / "migrations").glob("*.sql")):
        if path.name < "20261204000002":
            (before / "migrations" / path.name).write_text(path.read_text(encoding="utf-8"))
    with migrate.scratch_database(db_url, "split") as url:
        migrate.ensure_database(url)
        migrate.ensure_pgmq(url)
        migrate.run_migrations(url, before)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE VIEW segments.busy_days WITH (security_invoker = true) AS "
                "SELECT d.person_id FROM shared.person_activity_daily AS d "
                "GROUP BY d.person_id HAVING count(*) > 1"
            )
            # A materialized view keeps its rows (and reads the settled days) without
            # stopping the deploy.
            conn.execute(
                "CREATE MATERIALIZED VIEW public.daily_count AS "
                "SELECT count(*) AS n FROM shared.person_activity_daily"
            )
        migrate.up(url, release_only=False)
        with psycopg.connect(url, autocommit=True) as conn:
            reads = conn.execute(
                "SELECT DISTINCT d.refobjid::regclass::text FROM pg_depend AS d "
                "JOIN pg_rewrite AS r ON r.oid = d.objid "
                "WHERE r.ev_class = 'segments.busy_days'::regclass "
                "AND d.refobjid <> 'segments.busy_days'::regclass"
            ).fetchall()
            assert reads == [("shared.person_activity_daily",)]
            kind = conn.execute(
                "SELECT relkind FROM pg_class WHERE oid = 'shared.person_activity_daily'::regclass"
            ).fetchone()
            assert kind == ("v",)
            options = conn.execute(
                "SELECT reloptions FROM pg_class WHERE oid = 'segments.busy_days'::regclass"
            ).fetchone()
            assert options == (["security_invoker=true"],)
