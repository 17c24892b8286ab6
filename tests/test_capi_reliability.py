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
    total = 20_000
    for start in range(0, total, 5_000):
        insert_events(
            db,
            [
                {
                    "product_id": "snapmix",
                    "event_id": f"k{i}",
                    "event_name": "Signup",
                    "person_id": person,
                }
                for i in range(start, start + 5_000)
            ],
        )
    kills = 0
    # Sandbox latency keeps each batch in flight long enough for a kill to land mid-send.
    sandbox.faults(latency_ms=250)
    deadline = time.monotonic() + 240
    while queue_left(db) and time.monotonic() < deadline:
        worker = start_worker(db_url, sandbox.url, "--batch-size", "250")
        time.sleep(1.2 + (kills % 3) * 0.35)
        if kills < 8:
            worker.send_signal(signal.SIGKILL)
            kills += 1
            worker.wait(timeout=10)
            continue
        # Enough crashes: let the last worker drain, then stop it cleanly.
        while queue_left(db) and time.monotonic() < deadline:
            time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert queue_left(db) == 0, "the queue did not drain"
    summary = sandbox.summary()[PIXEL]
    assert summary["unique"] == total  # every event reached Meta under its one event_id
    sent_twice = summary["duplicates"]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reliability_sigkill.json").write_text(
        json.dumps(
            {
                "events": total,
                "kills": kills,
                "received": summary["received"],
                "unique": summary["unique"],
                "sent_twice": sent_twice,
            },
            indent=2,
        )
    )
    print(
        f"\nSIGKILL x{kills}: {total} events, {summary['received']} received, "
        f"{sent_twice} sent twice (Meta deduplicates them by event_id)"
    )
    sent = db.execute(
        "SELECT count(DISTINCT event_id) AS n FROM shared.attribution_events WHERE status = 'sent'"
    ).fetchone()
    assert sent == {"n": total}


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
