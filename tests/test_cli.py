"""The gdp command as a user runs it: one clear line, non-zero exit on refusal, no traceback."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import psycopg
import pytest

from tests.support.cli import gdp_in_process

Conn = psycopg.Connection[dict[str, Any]]

# Each test runs its first command of a group as the console script runs it, as a process (exit
# code, one-line stderr, no traceback); the follow-up commands of a scenario run in this process
# (tests/support/cli.py), the same command code without a Python start-up each.


def gdp(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli.main", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_flags_list_shows_every_flag_and_the_gates_answer(env: dict[str, str]) -> None:
    done = gdp(env, "flags", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 10
    person = next(line for line in lines if line.startswith("GAP-003  SHARED_PERSON"))
    assert "off   blocked: checklist items not acknowledged" in person


def test_refused_enable_is_one_line_and_exits_non_zero(env: dict[str, str]) -> None:
    done = gdp(env, "flags", "enable", "META_CAPI_INGEST_ENABLED", "--by", "alice")
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        "gdp: META_CAPI_INGEST_ENABLED refused: prerequisites off: "
        "SHARED_PERSON_TABLE_ENABLED (GAP-003)"
    )
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_checklist_ack_then_enable(env: dict[str, str], db: Conn) -> None:
    done = gdp(env, "checklist", "ack", "privacy_policy_updated", "--by", "Dana")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("privacy_policy_updated acknowledged by Dana at ")
    listing = gdp_in_process(env, "checklist", "list").stdout
    assert "[x] Dana" in listing and listing.count("[ ] not acknowledged") == 8
    db.execute(
        "SELECT shared.acknowledge_checklist_item(item_key, 'Dana') "
        "FROM shared.deploy_checklist_item"
    )
    done = gdp_in_process(env, "flags", "enable", "SHARED_PERSON_TABLE_ENABLED", "--by", "Dana")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SHARED_PERSON_TABLE_ENABLED is on (by Dana)"
    done = gdp(env, "settings", "set", "META_PIXEL_ID", "1234567890", "--by", "Dana")
    assert done.returncode == 0, done.stderr
    env_with_token = {**env, "META_CAPI_ACCESS_TOKEN": "sandbox-token"}
    done = gdp_in_process(
        env_with_token, "flags", "enable", "META_CAPI_INGEST_ENABLED", "--by", "Dana"
    )
    assert done.returncode == 0, done.stderr
    done = gdp_in_process(env, "flags", "disable", "SHARED_PERSON_TABLE_ENABLED", "--by", "Dana")
    assert done.returncode == 3 and "META_CAPI_INGEST_ENABLED depend on it" in done.stderr
    done = gdp_in_process(
        env, "flags", "disable", "SHARED_PERSON_TABLE_ENABLED", "--by", "Dana", "--cascade"
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_keys_create_prints_the_key_once_and_revoke_ends_it(env: dict[str, str], db: Conn) -> None:
    done = gdp(env, "keys", "create", "snapmix", "--label", "prod")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("gdp_sk_snapmix_")
    assert "cannot be shown again" in done.stderr
    listing = gdp_in_process(env, "keys", "list").stdout
    assert key not in listing and "snapmix" in listing and "active" in listing
    key_id = listing.split()[0]
    ok = db.execute("SELECT shared.authenticate_service_key(%s) AS p", (key,)).fetchone()
    assert ok == {"p": "snapmix"}
    done = gdp_in_process(env, "keys", "revoke", key_id)
    assert done.returncode == 0, done.stderr
    gone = db.execute("SELECT shared.authenticate_service_key(%s) AS p", (key,)).fetchone()
    assert gone == {"p": None}
    bad = gdp_in_process(env, "keys", "revoke", "not-a-uuid")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    bad = gdp_in_process(env, "keys", "create", "nope")
    assert bad.returncode == 2 and bad.stderr.strip() == "gdp: product: nope is not a known product"


@pytest.mark.slow
def test_people_import_reports_bad_lines_clearly(env: dict[str, str], db: Conn) -> None:
    done = gdp(
        env,
        "people",
        "import",
        "-",
        stdin='{"email": "A@example.com", "source_product": "snapmix"}\n'
        '{"email": "a@example.com", "first_name": "A"}\n',
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2 records upserted into 1 people (1 new)"
    bad = gdp_in_process(
        env, "people", "import", "-", stdin='{"email": "x@example.com"}\n{oops\n'
    )
    assert bad.returncode == 2 and bad.stderr.startswith("gdp: line 2: not valid JSON")
    invalid = gdp_in_process(env, "people", "import", "-", stdin='{"email": "broken"}\n')
    assert invalid.returncode == 2
    assert invalid.stderr.strip() == "gdp: email: is not a valid email address (entry 1)"
    n = db.execute("SELECT count(*) AS n FROM shared.person").fetchone()
    assert n == {"n": 1}


def test_unreachable_database_is_one_line(env: dict[str, str]) -> None:
    env = {**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/gdp"}
    done = gdp(env, "flags", "list")
    assert done.returncode == 4
    assert done.stderr.startswith(
        "gdp: cannot connect to the database (postgresql://postgres@127.0.0.1:1/gdp)"
    )
    assert done.stderr.count("\n") == 1
