"""Erase while an insert for that person is in flight: two connections, both orders.

Issue 12 §3: the event -> person foreign key was dropped for speed and the check that replaced it
took no lock, so an insert that committed after an erasure left its event (and queue message)
for a person who no longer existed, and it was sent. The insert path now takes FOR KEY SHARE on
the people it references (shared._lock_people, as a foreign key does): whichever transaction
comes second waits for the first, and no event of an erased person survives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.capi_helpers import PIXEL, add_person, enable_pipeline, run_once
from tests.support.sandbox import SandboxControl
from tests.support.waiting import wait_until

Conn = psycopg.Connection[dict[str, Any]]

INSERT = (
    "INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name, person_id)"
    " VALUES ('snapmix', %s, 'Signup', 'Lead', %s)"
)


def connect(db_url: str) -> Conn:
    return psycopg.connect(db_url, row_factory=dict_row)


def waiting_on_lock(db: Conn, pid: int) -> bool:
    row = db.execute(
        "SELECT wait_event_type = 'Lock' AS waiting FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone()
    return bool(row and row["waiting"])


class Background:
    """Run one call on its own connection in a thread; keep its result or error."""

    def __init__(self, db_url: str, call: Callable[[Conn], Any]) -> None:
        self.conn = connect(db_url)
        self.pid = self.conn.info.backend_pid
        self.result: Any = None
        self.error: BaseException | None = None

        def run() -> None:
            try:
                with self.conn.transaction():
                    self.result = call(self.conn)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        self.conn.close()


def orphans(db: Conn) -> int:
    row = db.execute(
        "SELECT count(*) AS n FROM shared.event AS e WHERE e.person_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM shared.person AS p WHERE p.id = e.person_id)"
    ).fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize("path", ["insert", "ingest_events"])
def test_insert_first_then_erasure_waits_and_takes_the_event(
    db: Conn, db_url: str, sandbox: SandboxControl, path: str
) -> None:
    enable_pipeline(db, rules=False)
    person = add_person(db, "race@example.com")
    writer = connect(db_url)
    try:
        with writer.transaction():
            if path == "insert":
                writer.execute(INSERT, ("e1", person))
            else:
                rows = writer.execute(
                    "SELECT outcome FROM shared.ingest_events('snapmix', %s::jsonb)",
                    (json.dumps([{"event_id": "e1", "event_name": "Signup",
                                  "meta_event_name": "Lead", "person_id": person}]),),
                ).fetchall()  # fmt: skip
                assert [r["outcome"] for r in rows] == ["accepted"]
            eraser = Background(
                db_url, lambda c: c.execute("SELECT shared.erase_person(%s, 'test')", (person,))
            )
            wait_until(lambda: waiting_on_lock(db, eraser.pid), what="the erasure to wait")
        eraser.join()
    finally:
        writer.close()
    assert eraser.error is None
    assert orphans(db) == 0
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}
    # The message queued by the insert finds its event gone: nothing reaches Meta.
    run_once(db_url, sandbox.url)
    assert sandbox.events(PIXEL) == []


@pytest.mark.parametrize("path", ["insert", "ingest_events"])
def test_erasure_first_then_insert_waits_and_finds_nobody(
    db: Conn, db_url: str, sandbox: SandboxControl, path: str
) -> None:
    enable_pipeline(db, rules=False)
    person = add_person(db, "race@example.com")
    eraser = connect(db_url)

    def insert(c: Conn) -> Any:
        if path == "insert":
            return c.execute(INSERT, ("e1", person)).rowcount
        return c.execute(
            "SELECT outcome FROM shared.ingest_events('snapmix', %s::jsonb)",
            (json.dumps([{"event_id": "e1", "event_name": "Signup", "meta_event_name": "Lead",
                          "person_id": person}]),),
        ).fetchall()  # fmt: skip

    try:
        with eraser.transaction():
            eraser.execute("SELECT shared.erase_person(%s, 'test')", (person,))
            writer = Background(db_url, insert)
            wait_until(lambda: waiting_on_lock(db, writer.pid), what="the insert to wait")
        writer.join()
    finally:
        eraser.close()
    if path == "insert":
        # As a foreign key would: the statement fails, naming the field.
        assert isinstance(writer.error, psycopg.Error)
        assert writer.error.sqlstate == "GD400"
        assert "person_id" in str(writer.error)
    else:
        assert writer.error is None
        assert [r["outcome"] for r in writer.result] == ["unknown_person"]
    assert orphans(db) == 0
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}
    run_once(db_url, sandbox.url)
    assert sandbox.events(PIXEL) == []


def test_concurrent_inserts_for_one_person_do_not_wait_for_each_other(
    db: Conn, db_url: str
) -> None:
    """KEY SHARE does not conflict with KEY SHARE: two writers of one person's events both go."""
    person = add_person(db, "busy@example.com")
    first = connect(db_url)
    try:
        with first.transaction():
            first.execute(INSERT, ("a", person))
            second = Background(db_url, lambda c: c.execute(INSERT, ("b", person)).rowcount)
            second.join()  # finishes while the first still holds its lock
            assert second.error is None and second.result == 1
    finally:
        first.close()
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 2}
