"""`gdp segments ...` and `gdp worker segments` as an admin and an operator run them."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.cli import gdp_in_process
from tests.test_cli import gdp as cli

Conn = psycopg.Connection[dict[str, Any]]


def gdp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`gdp segments ...` in this process (tests/support/cli.py); `gdp worker` as a process.
    The refusal of a leaky query runs `gdp segments create` as a process: the console script's
    own exit code and one-line stderr."""
    if args[:1] == ("worker",):
        return cli(env, *args)
    return gdp_in_process(env, *args)


def seed(db: Conn) -> list[str]:
    ids = [
        str(r["id"])
        for r in db.execute(
            "INSERT INTO shared.person (email) SELECT 'p' || i || '@example.com' "
            "FROM generate_series(1, 3) AS i RETURNING id"
        ).fetchall()
    ]
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id) "
        "SELECT 'snapmix', 'e' || i, 'Signup', p "
        "FROM unnest(%s::uuid[]) WITH ORDINALITY AS t(p, i)",
        (ids,),
    )
    return ids


@pytest.mark.slow
def test_create_preview_edit_list_show_members(
    db: Conn, env: dict[str, str], tmp_path: Path
) -> None:
    ids = seed(db)
    assert gdp("segments", "evaluate", "--full", env=env).returncode == 0
    query = tmp_path / "snap.sql"
    query.write_text(
        "SELECT person_id FROM shared.person_feature\nWHERE 'snapmix' = ANY (products);\n"
    )
    made = gdp(
        "segments",
        "create",
        "snap_users",
        "--file",
        str(query),
        "--description",
        "SnapMix",
        "--audience",
        "SnapMix Users",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    assert "created segment snap_users (audience: SnapMix Users)" in made.stdout

    ran = gdp("segments", "evaluate", "--full", env=env)
    assert ran.returncode == 0, ran.stderr
    assert "snap_users: +3 -0 (3 members)" in ran.stdout

    narrower = tmp_path / "one.sql"
    narrower.write_text(f"SELECT person_id FROM shared.person_feature WHERE person_id = '{ids[0]}'")
    preview = gdp("segments", "preview", "snap_users", "--file", str(narrower), env=env)
    assert preview.returncode == 0, preview.stderr
    assert "1 members; 0 would join, 2 would leave, 1 stay (nothing saved)" in preview.stdout
    assert "members" in gdp("segments", "list", env=env).stdout

    edited = gdp("segments", "edit", "snap_users", "--file", str(narrower), env=env)
    assert edited.returncode == 0, edited.stderr
    assert gdp("segments", "evaluate", "--full", env=env).returncode == 0
    members = gdp("segments", "members", "snap_users", env=env)
    assert [line.split("\t")[0] for line in members.stdout.splitlines()] == [ids[0]]
    shown = gdp("segments", "show", "snap_users", env=env)
    assert "audience_name: SnapMix Users" in shown.stdout
    assert "leave" in shown.stdout and (ids[1] in shown.stdout or ids[2] in shown.stdout)
    listing = gdp("segments", "list", env=env).stdout
    assert "snap_users" in listing and "Power Users" in listing


def test_refusals_are_one_line_naming_the_rule(
    db: Conn, env: dict[str, str], tmp_path: Path
) -> None:
    seed(db)
    bad = tmp_path / "bad.sql"
    bad.write_text("SELECT person_id, email_sha256 FROM shared.erasure")
    out = cli(env, "segments", "create", "leaky", "--file", str(bad), "--description", "x")
    assert out.returncode != 0
    assert "reads shared.erasure" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    missing = gdp("segments", "show", "nope", env=env)
    assert missing.returncode != 0 and "no segment nope" in missing.stderr
    empty = tmp_path / "empty.sql"
    empty.write_text("  \n")
    out = gdp("segments", "edit", "all_leads", "--file", str(empty), env=env)
    assert out.returncode != 0 and "--file" in out.stderr


def test_worker_runs_only_when_enabled_and_never_twice_at_once(
    db: Conn, db_url: str, env: dict[str, str]
) -> None:
    seed(db)
    off = gdp("worker", "segments", "--once", env=env)
    assert off.returncode == 0, off.stderr
    assert "SEGMENT_ENGINE_META_CAPI_ENABLED is off" in off.stderr
    db.execute(
        "UPDATE shared.feature_flag SET enabled = true "
        "WHERE flag_key = 'SEGMENT_ENGINE_META_CAPI_ENABLED'"
    )
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(hashtext('gdp.segment_worker'))")
        busy = gdp("worker", "segments", "--once", env=env)
        assert busy.returncode == 0, busy.stderr
        assert "another session is evaluating" in busy.stderr
    on = gdp("worker", "segments", "--once", env=env)
    assert on.returncode == 0, on.stderr
    assert "segments: 1 evaluation(s), 3 joined" in on.stderr
    run = db.execute("SELECT mode FROM shared.segment_run").fetchall()
    assert [r["mode"] for r in run] == ["full"]  # the first run of the day is a full one


def test_worker_runs_every_interval_until_stopped(db: Conn, env: dict[str, str]) -> None:
    seed(db)
    db.execute(
        "UPDATE shared.feature_flag SET enabled = true "
        "WHERE flag_key = 'SEGMENT_ENGINE_META_CAPI_ENABLED'"
    )
    db.execute(
        "UPDATE shared.setting SET value = '1' WHERE setting_key = 'SEGMENT_ENGINE_CRON_INTERVAL'"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gdp")),
            "worker",
            "segments",
            "--metrics-port",
            str(port),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        from tests.support.waiting import wait_until

        wait_until(
            lambda: (
                (db.execute("SELECT count(*) AS n FROM shared.segment_run").fetchone() or {"n": 0})[
                    "n"
                ]
                >= 3
            ),
            "three evaluations",
            timeout_s=30,
        )
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert 'gdp_segment_members{segment="all_leads"} 3.0' in scraped
        assert 'gdp_segment_runs_total{mode="incremental",result="done"}' in scraped
        assert "@example.com" not in scraped
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    modes = [
        r["mode"]
        for r in db.execute("SELECT mode FROM shared.segment_run ORDER BY run_id").fetchall()
    ]
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}
