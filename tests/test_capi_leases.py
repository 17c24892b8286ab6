"""Leases: short, and kept alive while the batch holding them is at work."""

from __future__ import annotations

import asyncio
from dataclasses import replace
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
    settings,
)
from tests.support.sandbox import SandboxControl
from workers.capi.worker import CapiWorker

Conn = psycopg.Connection[dict[str, Any]]


def test_a_batch_waiting_out_a_pause_longer_than_its_lease_keeps_its_messages(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    """Meta asks the pixel to pause 5 s; the lease is 2 s. Another lane polling meanwhile must
    never get the messages, so nothing is sent twice."""
    enable_pipeline(db)
    person = add_person(db, "patient@example.com")
    insert_events(db, lead_events(person, 5, "lease"))
    config = replace(FAST, visibility_timeout_s=2)

    async def go() -> list[int]:
        worker = CapiWorker(settings(db_url, sandbox.url), config)
        other = CapiWorker(settings(db_url, sandbox.url), config)
        stolen: list[int] = []
        try:
            async with (
                await psycopg.AsyncConnection.connect(
                    db_url, autocommit=True, row_factory=dict_row
                ) as lane_a,
                await psycopg.AsyncConnection.connect(
                    db_url, autocommit=True, row_factory=dict_row
                ) as lane_b,
            ):
                await worker._load_config(lane_a)
                await other._load_config(lane_b)
                worker.pacer.observe(PIXEL, usage_pct=100.0, regain_access_s=5)
                holding = asyncio.create_task(worker.process_batch(lane_a))
                while True:  # until the first worker holds the batch
                    cursor = await lane_b.execute(
                        "SELECT 1 FROM pgmq.q_meta_capi WHERE read_ct > 0"
                    )
                    if await cursor.fetchone():
                        break
                    await asyncio.sleep(0.02)
                while not holding.done():  # the other worker keeps trying
                    report = await other.process_batch(lane_b)
                    stolen.append(report.messages)
                    await asyncio.sleep(0.25)
                await holding
        finally:
            await worker.close()
            await other.close()
        return stolen

    stolen = asyncio.run(go())
    assert sum(stolen) == 0, stolen
    summary = sandbox.summary()[PIXEL]
    assert summary["unique"] == 5 and summary["duplicates"] == 0
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}
