"""GDP's own processes as least-privilege roles, and `gdp db roles` making their logins."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.waiting import wait_until
from workers.db.connection import role_options

Conn = psycopg.Connection[dict[str, Any]]


def gdp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def login(db: Conn) -> Iterator[str]:
    name = f"gdp_test_login_{uuid.uuid4().hex[:10]}"
    yield name
    # Roles are cluster-wide: leave none behind for the other tests' databases.
    db.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def test_db_roles_lists_every_process_role(env: dict[str, str]) -> None:
    done = gdp(env, "db", "roles")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert names == [
        "gdp_api", "gdp_capi_worker", "gdp_insights_worker", "gdp_lead_worker",
        "gdp_segment_worker", "gdp_audience_worker", "gdp_maintenance", "gdp_dashboard",
        "gdp_admin",
    ]  # fmt: skip
    assert "missing" not in done.stdout


def test_a_login_made_by_db_roles_works_only_through_its_roles(
    env: dict[str, str], db_url: str, login: str
) -> None:
    done = gdp(env, "db", "roles", "--login", login, "--role", "gdp_capi_worker")
    assert done.returncode == 0, done.stderr
    password = done.stdout.strip()
    assert len(password) >= 40 and f"login {login} created" in done.stderr
    assert password not in done.stderr
    url = make_conninfo(db_url, user=login, password=password)
    # NOINHERIT: the login alone holds nothing.
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM shared.event")
    # As its role (how the worker connects), it reads what the worker reads and no more.
    with psycopg.connect(make_conninfo(url, **role_options("gdp_capi_worker"))) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("gdp_capi_worker",)
        conn.execute("SELECT count(*) FROM shared.event")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET ROLE gdp_admin")
    listed = gdp(env, "db", "roles").stdout
    assert any(line.startswith("gdp_capi_worker") and login in line for line in listed.splitlines())
    again = gdp(env, "db", "roles", "--login", login, "--role", "gdp_lead_worker", "--no-password")
    assert again.returncode == 0 and again.stdout == ""
    assert f"login {login} updated; member of: gdp_capi_worker, gdp_lead_worker" in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--login", "Bad Name", "--role", "gdp_api"], "gdp: login: must be a lowercase name"),
        (["--login", "gdp_x_login"], "gdp: roles: name at least one process role"),
        (["--login", "gdp_x_login", "--role", "service_role"], "gdp: roles: service_role is not"),
        (["--login", "gdp_product", "--role", "gdp_api"], "gdp: login: gdp_product is a role"),
    ],
)
def test_db_roles_refuses_bad_input_naming_the_field(
    env: dict[str, str], db: Conn, args: list[str], message: str
) -> None:
    done = gdp(env, "db", "roles", *args)
    assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
    assert "Traceback" not in done.stderr
    made = db.execute("SELECT count(*) AS n FROM pg_roles WHERE rolname = 'gdp_x_login'")
    assert made.fetchone() == {"n": 0}


PROCESS_REFUSALS = {
    # role: statements it must never be able to run
    "gdp_capi_worker": [
        "UPDATE shared.event SET event_name = 'x'",
        "DELETE FROM shared.person",
        "UPDATE shared.feature_flag SET enabled = true",
        "SELECT * FROM shared.service_key",
        "SELECT * FROM shared.product_credential",
        "SELECT shared.enable_flag('SHARED_PERSON_TABLE_ENABLED', 'me')",
    ],
    "gdp_admin": [
        "SELECT email FROM shared.person",
        "SELECT * FROM shared.event",
        "UPDATE shared.feature_flag SET enabled = true",
        "INSERT INTO shared.gate_audit (subject_kind, subject_key, actor) "
        "VALUES ('flag', 'X', 'a')",
    ],
    "gdp_api": [
        "SELECT email FROM shared.person",
        "SELECT * FROM shared.service_key",
        "UPDATE shared.feature_flag SET enabled = true",
        "UPDATE shared.event SET event_name = 'x'",
        "DELETE FROM shared.attribution_events",
        "SELECT * FROM pgmq.read('meta_capi', 30, 1)",
        "SELECT * FROM shared.create_service_key('snapmix', 'me')",
    ],
    "gdp_product": [
        "UPDATE shared.event SET event_name = 'x'",
        "DELETE FROM shared.event",
        "SELECT * FROM shared.capi_dead_letter",
        "SELECT * FROM pgmq.read('meta_capi', 30, 1)",
    ],
}


@pytest.mark.parametrize("role", sorted(PROCESS_REFUSALS))
def test_each_role_is_refused_what_it_does_not_do(db_url: str, role: str) -> None:
    with psycopg.connect(make_conninfo(db_url, **role_options(role)), autocommit=True) as conn:
        assert conninfo_to_dict(make_conninfo(db_url, **role_options(role)))["options"]
        for statement in PROCESS_REFUSALS[role]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_two_deployers_making_one_login_at_once_both_succeed(
    db: Conn, db_url: str, login: str
) -> None:
    """Two sessions: the second waits for the first's transaction (advisory lock), then finds
    the login made instead of failing on pg_authid's unique index."""
    make = "SELECT created FROM shared.make_process_login(%s, %s, NULL)"
    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second:
        assert first.execute(make, (login, ["gdp_api"])).fetchone() == (True,)
        results: list[Any] = []
        worker = threading.Thread(
            target=lambda: results.append(
                second.execute(make, (login, ["gdp_capi_worker"])).fetchone()
            )
        )
        worker.start()
        wait_until(
            lambda: (
                db.execute(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = %s "
                    "AND wait_event_type = 'Lock'",
                    (second.info.backend_pid,),
                ).fetchone()
                == {"n": 1}
            ),
            "the second make_process_login waiting for the first",
        )
        first.commit()
        worker.join(timeout=30)
        second.commit()
    assert results == [(False,)]
    roles = db.execute(
        "SELECT logins FROM shared.process_roles() WHERE role_name IN ('gdp_api', "
        "'gdp_capi_worker') ORDER BY role_name"
    ).fetchall()
    assert all(login in r["logins"] for r in roles)
