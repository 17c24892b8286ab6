"""RLS and grants on every table in shared, acting as each Supabase role the way PostgREST does.

The table list is read from the catalog, so a table added later is covered without editing this.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

Conn = psycopg.Connection[dict[str, Any]]


def shared_tables(db: Conn) -> list[str]:
    rows = db.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'shared'::regnamespace "
        "AND relkind IN ('r', 'p') ORDER BY relname"
    ).fetchall()
    return [r["relname"] for r in rows]


def act_as(db: Conn, role: str) -> None:
    claims = (
        None
        if role == "anon"
        else f'{{"role": "{role}", "sub": "{"0" * 8}-0000-0000-0000-{"0" * 12}"}}'
    )
    db.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
    db.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_api_roles_get_permission_denied_on_every_table(db: Conn, role: str) -> None:
    tables = shared_tables(db)
    assert len(tables) >= 15
    for table in tables:
        for statement in (
            sql.SQL("SELECT * FROM shared.{} LIMIT 1"),
            sql.SQL("DELETE FROM shared.{}"),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
                act_as(db, role)
                db.execute(statement.format(sql.Identifier(table)))


def test_with_a_leaked_grant_rls_still_shows_zero_rows_and_changes_nothing(db: Conn) -> None:
    db.execute("INSERT INTO shared.person (email) VALUES ('seen@example.com')")
    tables = shared_tables(db)
    with db.transaction(force_rollback=True):
        db.execute("GRANT USAGE ON SCHEMA shared TO authenticated")
        db.execute("GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shared TO authenticated")
        act_as(db, "authenticated")
        for table in tables:
            count = db.execute(
                sql.SQL("SELECT count(*) AS n FROM shared.{}").format(sql.Identifier(table))
            ).fetchone()
            assert count == {"n": 0}, table
        deleted = db.execute("DELETE FROM shared.feature_flag")
        assert deleted.rowcount == 0
        db.execute("RESET ROLE")
        still = db.execute("SELECT count(*) AS n FROM shared.feature_flag").fetchone()
        assert still == {"n": 10}


def test_service_role_reads_and_writes_every_table(db: Conn) -> None:
    with db.transaction(force_rollback=True):
        act_as(db, "service_role")
        for table in shared_tables(db):
            db.execute(sql.SQL("SELECT * FROM shared.{} LIMIT 1").format(sql.Identifier(table)))
        row = db.execute("SELECT shared.upsert_person('svc@example.com') AS id").fetchone()
        assert row is not None and row["id"] is not None
        db.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name) "
            "VALUES ('snapmix', 'svc-1', 'Signup')"
        )
