"""A real PostgreSQL restart in the middle of a drain: the worker waits through "connection
refused" and "the database system is starting up", reconnects, and delivers everything once.

It restarts the machine's PostgreSQL server, which every other client of that server feels, so
it runs only when GDP_TEST_PG_RESTART=1 (`.ci/run` sets it; `make test` on a shared machine does
not) and the cluster can be restarted from here (pg_ctlcluster, as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.capi_helpers import PIXEL, add_person, enable_pipeline, insert_events, lead_events
from tests.support.sandbox import SandboxControl
from tests.test_capi_reliability import start_worker

Conn = psycopg.Connection[dict[str, Any]]
def _default_cluster() -> str:
    """"<version> main" of the machine's cluster, as the Makefile finds it."""
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*") if p.is_dir())
    return f"{versions[0] if versions else '15'} main"


CLUSTER = os.environ.get("GDP_TEST_PG_CLUSTER") or _default_cluster()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("GDP_TEST_PG_RESTART") != "1"
        or shutil.which("pg_ctlcluster") is None
        or os.geteuid() != 0,  # restarting the cluster from here needs root
        reason="restarts the PostgreSQL server: set GDP_TEST_PG_RESTART=1 (CI does)",
    ),
]


def restart_postgres() -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *CLUSTER.split(), "restart", "-m", "fast"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def queue_left(db_url: str, deadline: float) -> int:
    """Messages left, on a fresh connection (the server may still be coming back)."""
    while True:
        try:
            with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
                row = conn.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone()
                assert row is not None
                return int(row["n"])
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_worker_survives_a_real_postgres_restart(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "restart@example.com")
    insert_events(db, lead_events(person, 3_000, "pr", product="softwarehub",
                                  event_name="Signup", meta_event_name=None))
    sandbox.faults(latency_ms=30)
    worker = start_worker(db_url, sandbox.url, "--batch-size", "200")
    try:
        deadline = time.monotonic() + 30
        while queue_left(db_url, deadline) == 3_000 and time.monotonic() < deadline:
            time.sleep(0.1)  # the drain has begun
        assert queue_left(db_url, deadline) > 0  # and is not over: the restart is mid-drain
        restart_postgres()
        deadline = time.monotonic() + 120
        while queue_left(db_url, deadline) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = queue_left(db_url, deadline)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    errors = worker.stderr.read() if worker.stderr else ""
    assert left == 0, errors[-3000:]
    assert sandbox.summary()[PIXEL]["unique"] == 3_000
    assert "database connection lost; reconnecting" in errors
    assert worker.returncode == 0, errors[-3000:]
