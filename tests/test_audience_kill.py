"""SIGKILL mid-run: `gdp worker audiences` killed while requests are in flight loses nothing and
doubles nothing; at most the request in flight is sent again (counted at the sandbox)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.insights_helpers import ServedSandbox
from tests.test_audience_support import (
    TOKEN,
    Conn,
    add_people,
    audience_id,
    configure,
    expected_members,
    join,
    make_segment,
    meta_members,
    same_people,
    sync,
)
from workers.audiences.rows import SCHEMA, hash_people

SEG = "all_leads"
# Seven requests of at most ROWS rows. The property (a kill with a request in flight loses and
# doubles nothing) is about requests, not their size, so the worker is told to send requests of
# 500 rows (META_AUDIENCE_ROWS_PER_REQUEST) instead of Meta's 10,000: a tenth of the people to
# make, hash and send, and more requests still to go (each held 400 ms at the sandbox) when the
# kill lands after the first.
ROWS = 500
PEOPLE = 3_200
PROGRESS = {
    "rows_added": "SELECT coalesce(max(rows_added), 0) AS n FROM shared.audience_sync_run",
    "batch_seq": "SELECT coalesce(max(batch_seq), 0) AS n FROM shared.audience_sync_run",
}


def start(db_url: str, graph_url: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url, "META_GRAPH_URL": graph_url,
           "META_CAPI_ACCESS_TOKEN": TOKEN,
           "META_AUDIENCE_ROWS_PER_REQUEST": str(ROWS)}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli.main", *args], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def kill_after(db: Conn, process: subprocess.Popen[bytes], column: str, at_least: int) -> None:
    """SIGKILL once the run recorded `at_least` in `column` (a request is then in flight)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        row = db.execute(PROGRESS[column]).fetchone()
        if row is not None and row["n"] >= at_least:
            break
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.05)
    else:
        pytest.fail(f"the run never recorded {column} >= {at_least}")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def received(meta: ServedSandbox, audience: str) -> int:
    with meta.sandbox.lock:
        return meta.sandbox.audiences[audience].rows_added


@pytest.mark.slow
def test_sigkill_mid_diff_run_resumes_without_lost_or_doubled_rows(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, PEOPLE))
    meta.faults(latency_ms=400)  # requests stay in flight long enough for the kill to land
    worker = start(db_url, meta.url, "worker", "audiences", "--once")
    kill_after(db, worker, "rows_added", ROWS)
    meta.faults(latency_ms=0)
    audience = audience_id(db, SEG)
    first = received(meta, audience)
    assert ROWS <= first < PEOPLE
    done = start(db_url, meta.url, "worker", "audiences", "--once")
    assert done.wait(timeout=300) == 0, done.stderr.read() if done.stderr else ""
    runs = db.execute("SELECT status FROM shared.audience_sync_run ORDER BY id").fetchall()
    assert [r["status"] for r in runs] == ["interrupted", "succeeded"]
    with meta.sandbox.lock:
        assert len(meta.sandbox.audiences[audience].members) == PEOPLE
    # Nothing lost; sent twice at most: the one request in flight at the kill.
    assert PEOPLE <= received(meta, audience) <= PEOPLE + ROWS
    acked = db.execute("SELECT count(*) AS n FROM shared.audience_ack").fetchone()
    assert acked is not None and acked["n"] == PEOPLE
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))


@pytest.mark.slow
def test_sigkill_mid_replace_resumes_the_same_session(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, PEOPLE))
    meta.faults(latency_ms=400)
    process = start(db_url, meta.url, "audiences", "replace", SEG)
    kill_after(db, process, "batch_seq", 1)
    meta.faults(latency_ms=0)
    session = db.execute("SELECT session_id FROM shared.audience_sync_run").fetchone()
    assert session is not None and session["session_id"]
    done = start(db_url, meta.url, "audiences", "replace", SEG)
    assert done.wait(timeout=300) == 0, done.stderr.read() if done.stderr else ""
    runs = db.execute("SELECT status, session_id FROM shared.audience_sync_run").fetchall()
    assert [(r["status"], r["session_id"]) for r in runs] == [
        ("succeeded", session["session_id"])
    ]
    audience = audience_id(db, SEG)
    with meta.sandbox.lock:
        state = meta.sandbox.audiences[audience]
        assert state.finished_sessions == {session["session_id"]: "completed"}
        assert len(state.members) == PEOPLE
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))


def test_a_request_meta_took_before_the_kill_is_not_drift(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    """The race the kill test can lose: the request in flight reached Meta, the worker died
    before recording it. Meta then holds one request more than acknowledged; the next run is a
    diff that re-sends those rows, not a replace of everyone (drift)."""
    make_segment(db, SEG)
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, 100))
    assert sync(db_url, meta.url, rows_per_request=200).status == "succeeded"
    audience = audience_id(db, SEG)
    joining = add_people(db, 200, "q", start=100)
    join(db, SEG, joining)
    # The cut-off run: started, its one request (the 200 joining) taken by Meta, no record.
    db.execute("SELECT * FROM shared.audience_start_run(%s, 'diff', false, NULL)", (SEG,))
    people = db.execute(
        "SELECT id AS person_id, email, phone, first_name, last_name, city, state, zip, "
        "country, date_of_birth, gender, updated_at AS person_updated_at "
        "FROM shared.person WHERE id = ANY(%s::uuid[])", (joining,),
    ).fetchall()  # fmt: skip
    payload = {"schema": list(SCHEMA), "data": [list(r.cells) for r in hash_people(people)]}
    taken = meta.http.post(f"/v25.0/{audience}/users",
                           data={"access_token": TOKEN, "payload": json.dumps(payload)})
    assert taken.status_code == 200, taken.text
    report = sync(db_url, meta.url, rows_per_request=200)
    assert (report.kind, report.status, report.rows_added) == ("diff", "succeeded", 200), report
    runs = db.execute("SELECT status, reason FROM shared.audience_sync_run ORDER BY id").fetchall()
    assert [(r["status"], r["reason"]) for r in runs] == [
        ("succeeded", None), ("interrupted", None), ("succeeded", None)
    ]
    # 100 + the 200 taken unrecorded + those 200 once more: nothing else was sent.
    assert received(meta, audience) == 500
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))
    drift = db.execute("SELECT drift_detected_at FROM shared.meta_audience").fetchone()
    assert drift is not None and drift["drift_detected_at"] is None
