"""A long token outage: the breaker probes once per interval and does not flood the records."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import psycopg

from tests.capi_helpers import FAST, PIXEL, add_person, enable_pipeline, insert_events, settings
from tests.support.sandbox import SandboxControl
from workers.capi.worker import CapiWorker

Conn = psycopg.Connection[dict[str, Any]]


def run_for(db_url: str, graph_url: str, seconds: float) -> None:
    config = replace(FAST, breaker_probe_interval_s=0.5)

    async def go() -> None:
        worker = CapiWorker(settings(db_url, graph_url), config)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        try:
            await worker.run(stop)
        finally:
            await worker.close()

    asyncio.run(go())


def test_held_events_are_recorded_once_per_outage_not_once_per_probe(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "outage@example.com")
    insert_events(db, [{"product_id": "gapradar", "event_id": f"o{i}", "event_name": "Signup",
                        "person_id": person} for i in range(20)])  # fmt: skip
    sandbox.faults(token_expired=True)
    run_for(db_url, sandbox.url, 4.5)  # messages come back every second: several rounds held
    probes = len(sandbox.requests())
    assert 3 <= probes <= 12, probes  # about one per interval, never one per event
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
    run_for(db_url, sandbox.url, 3.0)
    assert sandbox.summary()[PIXEL]["unique"] == 20
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}
