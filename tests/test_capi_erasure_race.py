"""Erasure and consent withdrawal against the CAPI worker, in both orders, with two sessions.

The worker loads a batch (events and people), builds it, then sends it request by request. An
erasure or a withdrawal can land anywhere in that window:
- before the request's check: the event must not go (the worker's copy of the person is stale);
- while the request is in flight: the erasure (or withdrawal) waits until the request is answered
  and settled, so it never commits while its person's event is on its way to Meta unrecorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import psycopg
import pytest

import workers.capi.worker as worker_module
from tests.capi_helpers import (
    FAST,
    PIXEL,
    add_person,
    drain,
    enable_pipeline,
    insert_events,
    lead_events,
    run_once,
    statuses,
)
from tests.support.sandbox import SandboxControl
from workers.capi.build import BuildConfig, BuiltEvent, Skipped
from workers.capi.outcomes import WorkerConfig

Conn = psycopg.Connection[dict[str, Any]]
LATENCY_S = 2.5


def erase(db_url: str, person: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("SELECT shared.erase_person(%s, 'privacy-team')", (person,))


WITHDRAWALS: dict[str, str] = {
    "record_consent": "SELECT shared.record_consent(%s, 'withdrawn', 'settings')",
    # A plain UPDATE, as an admin tool or the service role might write it.
    "update": "UPDATE shared.person SET consent_status = 'withdrawn' WHERE id = %s",
}


def withdraw(db_url: str, person: str, how: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute(WITHDRAWALS[how], (person,))  # type: ignore[arg-type]


@contextmanager
def after_the_batch_is_loaded(
    monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]
) -> Iterator[None]:
    """Run `action` (in another session) once the worker has loaded its batch and is building
    it: after the load, before any request's check."""
    real_build = worker_module.build_event
    done: list[bool] = []

    def build_then_act(row: Any, name: str, config: BuildConfig) -> BuiltEvent | Skipped:
        built = real_build(row, name, config)
        if not done:
            done.append(True)
            action()
        return built

    monkeypatch.setattr(worker_module, "build_event", build_then_act)
    yield
    assert done, "the worker never built an event"


def in_flight_worker(db_url: str, graph_url: str, config: WorkerConfig = FAST) -> threading.Thread:
    """A worker draining in a thread; returns while its first request is in flight: its
    request's transaction is open, waiting on the sandbox (or, for a worker without such a
    transaction, a second after it leased its batch, well inside the sandbox's latency)."""
    thread = threading.Thread(target=run_once, args=(db_url, graph_url, config), daemon=True)
    thread.start()
    with psycopg.connect(db_url, autocommit=True) as watcher:

        def seen(sql: str, timeout_s: float) -> bool:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                row = watcher.execute(sql).fetchone()  # type: ignore[arg-type]
                if row and row[0]:
                    return True
                time.sleep(0.02)
            return False

        assert seen("SELECT count(*) FROM pgmq.q_meta_capi WHERE read_ct > 0", 10.0)
        if seen(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'gdp-capi-worker' AND state = 'idle in transaction'",
            1.0,
        ):
            time.sleep(0.1)
    return thread


def received_at(sandbox: SandboxControl) -> list[float]:
    return [e["received_at"] for e in sandbox.events(PIXEL)]


def test_an_erasure_before_the_check_keeps_the_event_from_meta(
    db: Conn, db_url: str, sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable_pipeline(db)
    ann = add_person(db, "erased.early@example.com")
    bob = add_person(db, "stays@example.com")
    insert_events(db, lead_events(ann, 3, "ann") + lead_events(bob, 2, "bob"))
    with after_the_batch_is_loaded(monkeypatch, lambda: erase(db_url, ann)):
        run_once(db_url, sandbox.url)
    received = sorted(e["event"]["event_id"] for e in sandbox.events(PIXEL))
    assert received == ["snapmix:bob0", "snapmix:bob1"]
    assert statuses(db) == {"sent": 2}
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}


def test_an_erasure_during_a_request_waits_for_it_to_be_settled(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    ann = add_person(db, "erased.late@example.com")
    insert_events(db, lead_events(ann, 3, "ann"))
    sandbox.faults(latency_ms=int(LATENCY_S * 1000))
    worker = in_flight_worker(db_url, sandbox.url)
    erase(db_url, ann)  # blocks while the request is in flight
    erased_at = time.time()
    worker.join(timeout=30)
    arrived = received_at(sandbox)
    assert len(arrived) == 3  # sent once, whole
    # The erasure committed only after Meta had answered: never while the send was on its way.
    assert erased_at >= max(arrived), (erased_at, arrived)
    # The settlement committed before the erasure, which then cleared its person from the rows.
    rows = db.execute(
        "SELECT status, person_id FROM shared.attribution_events ORDER BY event_id"
    ).fetchall()
    assert rows == [{"status": "sent", "person_id": None}] * 3
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}


@pytest.mark.parametrize("how", sorted(WITHDRAWALS))
def test_a_withdrawal_before_the_check_blocks_the_event(
    db: Conn, db_url: str, sandbox: SandboxControl, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    enable_pipeline(db)
    ann = add_person(db, "withdraws.early@example.com")
    insert_events(db, lead_events(ann, 2, "ann"))
    with after_the_batch_is_loaded(monkeypatch, lambda: withdraw(db_url, ann, how)):
        run_once(db_url, sandbox.url)
    assert sandbox.events(PIXEL) == []
    assert statuses(db) == {"blocked_consent": 2}
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}


@pytest.mark.parametrize("how", sorted(WITHDRAWALS))
def test_a_withdrawal_during_a_request_waits_and_blocks_what_follows(
    db: Conn, db_url: str, sandbox: SandboxControl, how: str
) -> None:
    enable_pipeline(db)
    ann = add_person(db, "withdraws.late@example.com")
    insert_events(db, lead_events(ann, 2, "first"))
    sandbox.faults(latency_ms=int(LATENCY_S * 1000))
    worker = in_flight_worker(db_url, sandbox.url)
    withdraw(db_url, ann, how)  # waits for the request in flight
    withdrawn_at = time.time()
    worker.join(timeout=30)
    arrived = received_at(sandbox)
    assert len(arrived) == 2
    assert withdrawn_at >= max(arrived), (withdrawn_at, arrived)
    assert statuses(db) == {"sent": 2}
    # After the withdrawal nothing more of hers goes.
    sandbox.faults(latency_ms=0)
    insert_events(db, lead_events(ann, 1, "after"))
    run_once(db_url, sandbox.url)
    assert len(sandbox.events(PIXEL)) == 2
    assert statuses(db) == {"sent": 2, "blocked_consent": 1}


def test_an_erasure_waits_for_the_request_in_flight_not_for_the_batch(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    """With three requests to send, the erasure gets in after the one in flight (PostgreSQL
    queues it ahead of the next request's lock); the person's later requests are never sent."""
    enable_pipeline(db)
    ann = add_person(db, "erased.between@example.com")
    insert_events(db, lead_events(ann, 30, "ann"))
    sandbox.faults(latency_ms=int(LATENCY_S * 1000))
    thread = in_flight_worker(db_url, sandbox.url, replace(FAST, events_per_request=10, lanes=1))
    erase(db_url, ann)
    thread.join(timeout=60)
    sent = len(sandbox.events(PIXEL))
    assert sent == 10, f"{sent} events sent: the erasure should have waited for one request only"
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}
    assert statuses(db) == {"sent": 10}


def test_a_person_held_long_by_another_session_delays_the_request_and_loses_nothing(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    """An admin session sits on a person's row (FOR UPDATE, as record_consent takes it): the
    request's check gives up after its lock timeout and the events are tried again later."""
    enable_pipeline(db)
    ann = add_person(db, "held.row@example.com")
    insert_events(db, lead_events(ann, 2, "ann"))
    config = replace(FAST, claim_lock_timeout_s=0.3)
    with psycopg.connect(db_url) as holder:  # one open transaction
        holder.execute("SELECT 1 FROM shared.person WHERE id = %s FOR UPDATE", (ann,))
        report = run_once(db_url, sandbox.url, config)
        assert report.retried == 2 and report.sent == 0
        assert sandbox.events(PIXEL) == []
        holder.rollback()
    drain(db, db_url, sandbox.url, config=config)
    assert sandbox.summary()[PIXEL]["unique"] == 2
    assert statuses(db) == {"retrying": 2, "sent": 2}
