"""usersreplace sessions, drift, Meta's busy answers, errors by code, two workers at once."""

from __future__ import annotations

import asyncio

import psycopg

from tests.insights_helpers import ServedSandbox
from tests.test_audience_support import (
    Conn,
    add_people,
    audience_id,
    configure,
    expected_members,
    join,
    leave,
    make_segment,
    meta_members,
    same_people,
    sync,
    worker,
)

SEG = "all_customers"


def run_row(db: Conn, run_id: int | None) -> dict[str, object]:
    row = db.execute("SELECT * FROM shared.audience_sync_run WHERE id = %s", (run_id,)).fetchone()
    assert row is not None
    return dict(row)


def test_replace_sends_one_session_and_swaps_what_was_acknowledged(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG, "All Customers")
    configure(db, {SEG: None})
    people = add_people(db, 25)
    join(db, SEG, people[:20])
    assert sync(db_url, meta.url).status == "succeeded"
    leave(db, SEG, people[:3])
    join(db, SEG, people[20:])
    report = sync(db_url, meta.url, SEG, mode="replace", rows_per_request=10)
    assert (report.kind, report.status) == ("replace", "succeeded"), report
    run = run_row(db, report.run_id)
    assert run["session_id"] and run["batch_seq"] == 3 and run["estimated_num_total"] == 22
    assert (run["rows_added"], run["rows_removed"], run["num_received"]) == (22, 3, 22)
    audience = audience_id(db, SEG)
    with meta.sandbox.lock:
        finished = meta.sandbox.audiences[audience].finished_sessions
    assert finished == {run["session_id"]: "completed"}
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))
    # What the replace acknowledged carries no EXTERN_ID; the next diff sees nothing to send.
    after = sync(db_url, meta.url)
    assert (after.status, after.upload_requests) == ("succeeded", 0)
    vias = db.execute("SELECT DISTINCT via FROM shared.audience_ack").fetchall()
    assert [v["via"] for v in vias] == ["replace"]


def test_a_replace_in_progress_at_meta_makes_the_run_wait(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    people = add_people(db, 10)
    join(db, SEG, people[:5])
    assert sync(db_url, meta.url).status == "succeeded"
    audience = audience_id(db, SEG)
    # Someone else's replace session is running on the audience.
    started = meta.http.post(f"/v25.0/{audience}/usersreplace", data={
        "access_token": "sandbox-token",
        "payload": '{"schema": ["EMAIL"], "data": [["' + "a" * 64 + '"]]}',
        "session": '{"session_id": 99, "batch_seq": 1}',
    })  # fmt: skip
    assert started.status_code == 200, started.text
    join(db, SEG, people[5:])
    waiting = sync(db_url, meta.url)
    assert waiting.status == "waiting" and "414" in (waiting.message or "")
    replace = sync(db_url, meta.url, SEG, mode="replace")
    assert replace.status == "waiting" and "414" in (replace.message or "")
    # Their session ends; ours goes through.
    done = meta.http.post(f"/v25.0/{audience}/usersreplace", data={
        "access_token": "sandbox-token",
        "payload": '{"schema": ["EMAIL"], "data": [["' + "b" * 64 + '"]]}',
        "session": '{"session_id": 99, "batch_seq": 2, "last_batch_flag": true}',
    })  # fmt: skip
    assert done.status_code == 200
    # Meta now holds only their two rows; a replace puts it right.
    fixed = sync(db_url, meta.url, SEG, mode="replace")
    assert fixed.status == "succeeded", fixed
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))


def test_drift_found_in_meta_counts_triggers_a_replace(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, 10))
    assert sync(db_url, meta.url).status == "succeeded"
    audience = audience_id(db, SEG)
    # 300 people uploaded by someone else: Meta counts far more than GDP acknowledged.
    rows = ",".join(f'["{i:064x}"]' for i in range(1, 301))
    extra = meta.http.post(f"/v25.0/{audience}/users", data={
        "access_token": "sandbox-token", "payload": '{"schema": ["EMAIL"], "data": [' + rows + "]}",
    })  # fmt: skip
    assert extra.status_code == 200
    report = sync(db_url, meta.url)
    assert (report.kind, report.status) == ("replace", "succeeded"), report
    assert run_row(db, report.run_id)["reason"] == "drift"
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))
    drift = db.execute("SELECT drift_detected_at FROM shared.meta_audience").fetchone()
    assert drift is not None and drift["drift_detected_at"] is None


def test_errors_are_counted_by_graph_code_and_retried(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, 30))
    meta.faults(fail_5xx=0.4, throttle=0.2, throttle_codes=[17, 613], seed=7)
    report = sync(db_url, meta.url, rows_per_request=5)
    meta.faults(fail_5xx=0.0, throttle=0.0)
    assert report.status == "succeeded", report
    run = run_row(db, report.run_id)
    errors = run["errors"]
    assert isinstance(errors, dict) and errors and set(errors) <= {"1", "2", "17", "613"}
    assert run["retries"] == sum(errors.values())
    assert same_people(meta_members(meta.sandbox, audience_id(db, SEG)),
                       expected_members(db, SEG))  # fmt: skip


def test_a_permanent_error_fails_the_run_and_the_next_run_resumes(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, 12))
    assert sync(db_url, meta.url).status == "succeeded"
    meta.faults(token_expired=True)
    join(db, SEG, add_people(db, 4, "q"))
    failed = sync(db_url, meta.url)
    assert failed.status == "failed" and "190" in (failed.message or "")
    assert "sandbox-token" not in (failed.message or "")
    meta.faults(token_expired=False)
    again = sync(db_url, meta.url)
    assert (again.status, again.rows_added) == ("succeeded", 4)


def test_two_sessions_never_sync_one_segment_at_once(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, 5))
    with psycopg.connect(db_url, autocommit=True) as other:
        locked = other.execute("SELECT shared.audience_try_lock(%s)", (SEG,)).fetchone()
        assert locked == (True,)
        skipped = sync(db_url, meta.url)
        assert skipped.status == "skipped" and skipped.run_id is None
    # Two workers started together: one syncs, the other skips; nothing is sent twice.
    w1, w2 = worker(db_url, meta.url), worker(db_url, meta.url)

    async def both() -> list[str]:
        first, second = await asyncio.gather(w1.sync(), w2.sync())
        return sorted(r.status for r in first + second)

    statuses = asyncio.run(both())
    assert statuses in (["skipped", "succeeded"], ["succeeded", "succeeded"])
    added = db.execute("SELECT sum(rows_added) AS n FROM shared.audience_sync_run").fetchone()
    assert added is not None and added["n"] == 5
