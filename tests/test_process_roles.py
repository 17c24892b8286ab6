"""GDP's own processes as least-privilege roles, and `gdp db roles` making their logins."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.cli import gdp_in_process
from tests.support.waiting import wait_until
from workers.db.connection import role_options

Conn = psycopg.Connection[dict[str, Any]]


def gdp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`gdp` as a process, as an operator runs it; the follow-up commands of a scenario and the
    refusals of bad input run in this process (tests/support/cli.py), the same command code
    without a Python start-up each."""
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
    listed = gdp_in_process(env, "db", "roles").stdout
    assert any(line.startswith("gdp_capi_worker") and login in line for line in listed.splitlines())
    again = gdp_in_process(
        env, "db", "roles", "--login", login, "--role", "gdp_lead_worker", "--no-password"
    )
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
    done = gdp_in_process(env, "db", "roles", *args)
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
        "SELECT properties FROM shared.person",  # the people list's columns only
        "DELETE FROM shared.person",
        "SELECT * FROM shared.event",
        "UPDATE shared.capi_dead_letter SET replayed_by = 'x'",
        "UPDATE shared.campaign_project SET project_id = NULL",
        "SELECT * FROM shared.consent_log",
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


def test_admin_commands_work_as_a_login_that_is_only_a_gdp_admin_member(
    env: dict[str, str], db: Conn, db_url: str, login: str, tmp_path: Path
) -> None:
    """gdp dlq / people / insights connect as gdp_admin: a NOINHERIT login that is a member of
    gdp_admin alone runs each of them, and still cannot write a table directly."""
    made = gdp(env, "db", "roles", "--login", login, "--role", "gdp_admin")
    assert made.returncode == 0, made.stderr
    url = make_conninfo(db_url, user=login, password=made.stdout.strip())
    admin_env = {**env, "DATABASE_URL": url}

    def ok(*args: str) -> str:
        done = gdp_in_process(admin_env, *args)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    people = tmp_path / "people.jsonl"
    people.write_text('{"email": "Admin.Role@Example.com", "source_product": "snapmix"}\n')
    assert ok("people", "import", str(people)).startswith("1 records upserted into 1 people")
    assert "admin.role@example.com" in ok("people", "list")
    person = db.execute(
        "SELECT id FROM shared.person WHERE email = 'admin.role@example.com'"
    ).fetchone()
    assert person is not None
    assert ok("people", "consent", str(person["id"]), "granted").strip() == "consent is now granted"

    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id)"
        " VALUES ('snapmix', 'admin-dlq-1', 'purchase', %s)",
        (person["id"],),
    )
    db.execute(
        "INSERT INTO shared.capi_dead_letter (event_ref, product_id, event_id, meta_event_name,"
        " reason) SELECT id, product_id, event_id, 'Purchase', 'expired' FROM shared.event"
        " WHERE event_id = 'admin-dlq-1'"
    )
    assert "admin-dlq-1" in ok("dlq", "list")
    assert ok("dlq", "replay", "--all", "--by", "ops").strip() == "1 dead letters re-queued"
    replayed = db.execute(
        "SELECT replayed_by FROM shared.capi_dead_letter WHERE event_id = 'admin-dlq-1'"
    ).fetchone()
    assert replayed == {"replayed_by": "ops"}

    db.execute(
        "INSERT INTO shared.campaign_project (campaign_id, campaign_name, project_id)"
        " VALUES ('4242', 'Spring sale', NULL)"
    )
    assert "4242  unassigned" in ok("insights", "campaigns")
    ok("insights", "pulls")
    assigned = ok("insights", "assign", "4242", "snapmix", "--by", "ops")
    assert assigned.strip() == "campaign 4242 (Spring sale) -> snapmix"
    mapped = db.execute(
        "SELECT project_id, assigned_by FROM shared.campaign_project WHERE campaign_id = '4242'"
    ).fetchone()
    assert mapped == {"project_id": "snapmix", "assigned_by": "ops"}

    assert ok("people", "erase", "admin.role@example.com", "--by", "ops").startswith("erased")
    gone = db.execute("SELECT count(*) AS n FROM shared.person WHERE id = %s", (person["id"],))
    assert gone.fetchone() == {"n": 0}

    # The same login as gdp_admin: the functions above, never a direct write.
    with psycopg.connect(make_conninfo(url, **role_options("gdp_admin")), autocommit=True) as conn:
        for statement in [
            "UPDATE shared.feature_flag SET enabled = true",
            "UPDATE shared.campaign_project SET project_id = NULL",
            "DELETE FROM shared.capi_dead_letter",
            "SELECT pgmq.send('meta_capi', '{}'::jsonb)",
        ]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
