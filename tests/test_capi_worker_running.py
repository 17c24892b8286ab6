"""A worker left running: a long token outage (one probe per interval, no flood of records), a
token fixed in its file, waking at once when idle, and ?wait= answered from its acknowledgement."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.capi_helpers import (
    FAST,
    PIXEL,
    add_person,
    enable_pipeline,
    insert_events,
    lead_events,
    running_worker,
    settings,
)
from tests.edge_support import INGEST, event, running_edge
from tests.support.sandbox import TOKEN, SandboxControl
from tests.support.waiting import wait_until
from workers.capi.worker import CapiWorker

Conn = psycopg.Connection[dict[str, Any]]


PROBE_INTERVAL_S = 0.5


def test_held_events_are_recorded_once_per_outage_not_once_per_probe(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "outage@example.com")
    insert_events(db, lead_events(person, 20, "o", product="gapradar", event_name="Signup",
                                  meta_event_name=None))
    sandbox.faults(token_expired=True)
    config = replace(FAST, breaker_probe_interval_s=PROBE_INTERVAL_S)
    started = time.monotonic()
    with running_worker(db_url, sandbox.url, config):
        # Messages come back every second: wait for several rounds of holding and probing.
        wait_until(lambda: len(sandbox.requests()) >= 3, "three probes of the open breaker")
    ran_s = time.monotonic() - started
    probes = len(sandbox.requests())
    # At most one probe per interval (never one per event): load can only lower the count.
    assert probes <= ran_s / PROBE_INTERVAL_S + 2, (probes, ran_s)
    rows = db.execute(
        "SELECT event_id, count(*) AS n FROM shared.attribution_events "
        "WHERE status = 'held_auth' GROUP BY event_id"
    ).fetchall()
    assert len(rows) == 20
    # One record when first held and, for the few events used as probes, one per failed probe.
    assert sum(r["n"] for r in rows) <= 20 + probes, rows
    assert db.execute("SELECT breaker FROM shared.capi_pixel_state").fetchone() == {
        "breaker": "open"
    }

    sandbox.faults(token_expired=False)
    with running_worker(db_url, sandbox.url, config):
        wait_until(
            lambda: db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone()
            == {"n": 0},
            "the held events to be delivered once the token works",
        )
    assert sandbox.summary()[PIXEL]["unique"] == 20


def test_an_idle_worker_wakes_on_new_work_not_at_the_poll_interval(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    """LISTEN/NOTIFY, not polling: the poll interval here is ten minutes, so an event delivered
    well before that was woken for (a bound no slow machine comes near)."""
    enable_pipeline(db)
    person = add_person(db, "wake@example.com")
    config = replace(FAST, poll_interval_s=600.0)
    with running_worker(db_url, sandbox.url, config):
        # Connected, the queue found empty, and now waiting: no request has been made yet.
        wait_until(
            lambda: db.execute(
                "SELECT count(*) AS n FROM pg_stat_activity "
                "WHERE application_name = 'gdp-capi-worker' AND datname = current_database() "
                "AND query = 'LISTEN gdp_meta_capi'"
            ).fetchone()
            == {"n": 1},
            "the worker to listen",
        )
        for i in range(3):
            insert_events(db, lead_events(person, 1, f"w{i}-"))
            # Two minutes at most, against a ten-minute poll: only NOTIFY can explain it.
            wait_until(lambda i=i: len(sandbox.events(PIXEL)) > i, f"event {i} to reach Meta",
                       timeout_s=120)  # fmt: skip
        assert len(sandbox.events(PIXEL)) == 3


def test_a_token_fixed_in_the_token_file_is_used_without_a_restart(
    db: Conn, db_url: str, sandbox: SandboxControl, tmp_path: Path
) -> None:
    enable_pipeline(db)
    person = add_person(db, "rotate@example.com")
    insert_events(db, lead_events(person, 10, "r", product="vellopad", event_name="Signup",
                                  meta_event_name=None))
    token_file = tmp_path / "token"
    token_file.write_text("not-the-token\n")
    # Held messages come back every 2 s; the worker re-reads the file while idle in between.
    config = replace(FAST, breaker_probe_interval_s=2.0)
    with running_worker(db_url, sandbox.url, config, meta_capi_access_token_file=token_file):

        def breaker() -> dict[str, Any] | None:
            return db.execute("SELECT breaker FROM shared.capi_pixel_state").fetchone()

        wait_until(lambda: breaker() == {"breaker": "open"}, "the breaker to open")
        assert sandbox.summary().get(PIXEL, {}).get("unique", 0) == 0
        token_file.write_text(TOKEN)  # the same worker keeps running
        wait_until(lambda: sandbox.summary().get(PIXEL, {}).get("unique", 0) >= 10,
                   "the held events to reach Meta with the fixed token")  # fmt: skip
        assert sandbox.summary()[PIXEL]["unique"] == 10
        # Meta has the events before the worker records the outcome and closes the breaker.
        wait_until(lambda: breaker() == {"breaker": "closed"}, "the breaker to close")
    assert db.execute("SELECT breaker FROM shared.capi_pixel_state").fetchone() == {
        "breaker": "closed"
    }


def test_wait_answers_with_meta_response_from_the_real_worker(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    """POST ?wait= returns once the worker's batch carrying the event is acknowledged."""
    enable_pipeline(db)
    with running_edge(db_url, db, INGEST) as edge, running_worker(db_url, sandbox.url):
        started = time.monotonic()
        response = edge.post(event(event_id="w-real"), params={"wait": 5})
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "sent" and body["meta_response"]["events_received"] >= 1
    [received] = sandbox.events(PIXEL)
    assert received["event"]["event_id"] == "snapmix:w-real"
    assert body["meta_response"]["fbtrace_id"]
    assert elapsed < 5, elapsed  # answered on delivery, before the wait ran out


def test_a_probe_that_gets_no_answer_about_the_token_keeps_the_breaker_open(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    """A probe held back by a long Meta pause proves nothing: the breaker must stay open."""
    enable_pipeline(db)
    person = add_person(db, "pause@example.com")
    db.execute("SELECT shared.capi_set_breaker(%s, 'open', 190, 'expired')", (PIXEL,))
    rows = lead_events(person, 3, "h")
    insert_events(db, rows)

    async def go() -> None:
        worker = CapiWorker(settings(db_url, sandbox.url), FAST)
        try:
            async with await psycopg.AsyncConnection.connect(
                db_url, autocommit=True, row_factory=dict_row
            ) as conn:
                await worker._load_config(conn)
                worker._probe_now = {PIXEL}
                worker.pacer.observe(PIXEL, usage_pct=100.0, regain_access_s=600)
                await worker.process_batch(conn)
        finally:
            await worker.close()

    asyncio.run(go())
    assert sandbox.requests() == []
    assert db.execute("SELECT breaker FROM shared.capi_pixel_state").fetchone() == {
        "breaker": "open"
    }
