"""Crash safety of the CAPI path: SIGKILLed workers and lost database connections lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.capi_helpers import PIXEL, add_person, enable_pipeline, insert_events
from tests.capi_kill import kill_drain
from tests.support.sandbox import TOKEN, SandboxControl

Conn = psycopg.Connection[dict[str, Any]]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def start_worker(db_url: str, graph_url: str, *extra: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "META_GRAPH_URL": graph_url,
        "META_CAPI_ACCESS_TOKEN": TOKEN,
        "GDP_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workers.cli.worker_cmd",
            "capi",
            "--no-pacing",
            "--visibility-timeout",
            "3",
            "--retry-base",
            "1",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def queue_left(db: Conn) -> int:
    row = db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.slow
def test_sigkilled_workers_lose_nothing(db: Conn, db_url: str, sandbox: SandboxControl) -> None:
    enable_pipeline(db)
    person = add_person(db, "crash@example.com")
    total = 8_000
    insert_events(
        db,
        [
            {
                "product_id": "snapmix",
                "event_id": f"k{i}",
                "event_name": "Signup",
                "person_id": person,
            }
            for i in range(total)
        ],
    )
    # Sandbox latency keeps each batch in flight long enough for a kill to land mid-send. Each
    # worker is killed a random moment (up to half a second) after the sandbox answered its
    # first request, so every kill lands in the drain however slowly a loaded machine starts a
    # process; eight kills of a few batches each leave the last worker thousands to drain.
    sandbox.faults(latency_ms=250)
    run = kill_drain(
        db_url, sandbox.url, PIXEL, total, kills=8, seed=20261130,
        worker_args=("--batch-size", "250"), alive_s=(0.0, 0.5), timeout_s=240,
    )  # fmt: skip
    assert run.kills == 8, "the queue drained before the eighth kill"
    assert run.lost == 0 and run.unique == total  # every event reached Meta under its event_id
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reliability_sigkill.json").write_text(
        json.dumps(
            {
                "events": total,
                "kills": run.kills,
                "received": run.received,
                "unique": run.unique,
                "sent_twice": run.sent_twice,
            },
            indent=2,
        )
    )
    print(
        f"\nSIGKILL x{run.kills}: {total} events, {run.received} received, "
        f"{run.sent_twice} sent twice (Meta deduplicates them by event_id)"
    )
    sent = db.execute(
        "SELECT count(DISTINCT event_id) AS n FROM shared.attribution_events WHERE status = 'sent'"
    ).fetchone()
    assert sent == {"n": total}


@pytest.mark.slow
def test_worker_reconnects_when_the_database_drops_it(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "reconnect@example.com")
    insert_events(
        db,
        [
            {
                "product_id": "softwarehub",
                "event_id": f"d{i}",
                "event_name": "Signup",
                "person_id": person,
            }
            for i in range(3_000)
        ],
    )
    sandbox.faults(latency_ms=30)
    worker = start_worker(db_url, sandbox.url, "--batch-size", "200")
    dbname = db.info.dbname
    stop = threading.Event()

    def drop_connections() -> None:
        # What a PostgreSQL restart looks like from the worker: every backend is terminated.
        for _ in range(4):
            if stop.wait(1.0):
                return
            db_kill = psycopg.connect(db_url, autocommit=True)
            db_kill.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() "
                "AND application_name = 'gdp-capi-worker'",
                (dbname,),
            )
            db_kill.close()

    dropper = threading.Thread(target=drop_connections)
    dropper.start()
    try:
        deadline = time.monotonic() + 120
        while queue_left(db) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        dropper.join()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    errors = worker.stderr.read() if worker.stderr else ""
    assert queue_left(db) == 0, errors[-3000:]
    assert sandbox.summary()[PIXEL]["unique"] == 3_000
    assert worker.returncode == 0, errors[-3000:]
