"""Helpers for tests that drive the CAPI path end to end against the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from tests.support.sandbox import TOKEN
from tests.support.waiting import wait_until
from workers.capi.outcomes import BatchReport, WorkerConfig
from workers.capi.worker import CapiWorker
from workers.settings import Settings

Conn = psycopg.Connection[dict[str, Any]]
PIXEL = "1234567890"
UA = "Mozilla/5.0 (X11; Linux x86_64)"


def sha(value: str) -> str:
    """What Meta should receive for an already-normalized value."""
    return hashlib.sha256(value.encode()).hexdigest()

FAST = WorkerConfig(
    retry_base_s=0.5,
    retry_max_s=1.0,
    breaker_probe_interval_s=1.0,
    quick_retry_initial_s=0.01,
    pacing=False,
    poll_interval_s=0.2,
)


def enable_pipeline(db: Conn, *, rules: bool = True, pixel: str = PIXEL) -> None:
    """Switch on the CAPI path (tests may bypass the gate) and configure a pixel."""
    flags = ["SHARED_PERSON_TABLE_ENABLED", "META_CAPI_INGEST_ENABLED"]
    if rules:
        flags.append("SEGMENT_ENGINE_META_CAPI_ENABLED")
    db.execute("UPDATE shared.feature_flag SET enabled = true WHERE flag_key = ANY(%s)", (flags,))
    db.execute(
        "SELECT shared.set_setting('META_PIXEL_ID', %s::jsonb, 'test')", (json.dumps(pixel),)
    )


def settings(db_url: str, graph_url: str, token: str | None = TOKEN) -> Settings:
    values: dict[str, Any] = {"DATABASE_URL": db_url, "META_GRAPH_URL": graph_url}
    if token:
        values["META_CAPI_ACCESS_TOKEN"] = token
    return Settings(**values)


def run_once(
    db_url: str, graph_url: str, config: WorkerConfig = FAST, token: str | None = TOKEN
) -> BatchReport:
    async def go() -> BatchReport:
        worker = CapiWorker(settings(db_url, graph_url, token), config)
        try:
            return await worker.run(asyncio.Event(), once=True)
        finally:
            await worker.close()

    return asyncio.run(go())


def drain(
    db: Conn, db_url: str, graph_url: str, *, timeout_s: float = 60, config: WorkerConfig = FAST
) -> None:
    """Run the worker until no message is left in the queue (delayed ones included)."""

    def drained() -> bool:
        run_once(db_url, graph_url, config)
        return db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}

    wait_until(drained, "the CAPI queue to drain", timeout_s=timeout_s, interval_s=0.3)


def add_person(db: Conn, email: str, **fields: Any) -> str:
    row = db.execute(
        "SELECT person_id FROM shared.upsert_people(%s::jsonb)",
        (json.dumps([{"email": email, **fields}]),),
    ).fetchone()
    assert row is not None
    return str(row["person_id"])


def insert_events(db: Conn, rows: list[dict[str, Any]]) -> None:
    """INSERT as a product would through the Supabase client: one statement for all rows."""
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, meta_event_name, person_id, "
        "occurred_at, properties, event_source_url, client_user_agent, client_ip_address, "
        "meta_user_data) "
        "SELECT r.product_id, r.event_id, r.event_name, r.meta_event_name, r.person_id, "
        "coalesce(r.occurred_at, now()), coalesce(r.properties, '{}'), r.event_source_url, "
        "r.client_user_agent, r.client_ip_address, coalesce(r.meta_user_data, '{}') "
        "FROM jsonb_to_recordset(%s::jsonb) AS r(product_id text, event_id text, event_name text, "
        "meta_event_name text, person_id uuid, occurred_at timestamptz, properties jsonb, "
        "event_source_url text, client_user_agent text, client_ip_address inet, "
        "meta_user_data jsonb)",
        (json.dumps(rows),),
    )


def statuses(db: Conn) -> dict[str, int]:
    rows = db.execute(
        "SELECT status, count(*) AS n FROM shared.attribution_events GROUP BY status"
    ).fetchall()
    return {r["status"]: r["n"] for r in rows}


@contextmanager
def running_worker(
    db_url: str, graph_url: str, config: WorkerConfig = FAST, **settings_update: Any
) -> Iterator[None]:
    """A CAPI worker running in a background thread (its own event loop) until the block ends."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def go() -> None:
        worker = CapiWorker(settings(db_url, graph_url).model_copy(update=settings_update), config)
        try:
            await worker.run(stop)
        finally:
            await worker.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(go(),), daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
        loop.close()


def lead_events(
    person: str | None, n: int, prefix: str, *, product: str = "snapmix", **fields: Any
) -> list[dict[str, Any]]:
    """n event rows for insert_events: one person's Leads (sent to Meta as Lead), ids prefix0..."""
    row = {"product_id": product, "event_name": "Lead", "meta_event_name": "Lead",
           "person_id": person, **fields}  # fmt: skip
    return [{**row, "event_id": f"{prefix}{i}"} for i in range(n)]
