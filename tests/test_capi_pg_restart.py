"""A real PostgreSQL restart in the middle of a drain: the worker waits through "connection
refused" and "the database system is starting up", reconnects, and delivers everything once.

It restarts the tests' own cluster (tests/cluster.sh), so it runs on every `make test`: nothing
else uses that server. It is marked `restarts_server` so that `make test` runs it apart from the
other tests, at the same time as them but on a second cluster of its own (the Makefile's
RESTART_PG_PORT): the other pytest workers never feel the restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.capi_helpers import PIXEL, add_person, enable_pipeline, insert_events, lead_events
from tests.conftest import CLUSTER_SCRIPT, PG_PORT
from tests.support.sandbox import SandboxControl
from tests.support.waiting import wait_until
from tests.test_capi_reliability import start_worker

Conn = psycopg.Connection[dict[str, Any]]

pytestmark = [pytest.mark.slow, pytest.mark.restarts_server]


def cluster_env() -> dict[str, str]:
    return {**os.environ, "GDP_TEST_PGPORT": str(PG_PORT)}


def restart_postgres() -> None:
    subprocess.run(
        [str(CLUSTER_SCRIPT), "restart"], check=True, capture_output=True, timeout=120,
        env=cluster_env(),
    )  # fmt: skip


def queue_left(db_url: str) -> int | None:
    """Messages left, on a fresh connection; None while the server is coming back."""
    try:
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
            row = conn.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone()
            assert row is not None
            return int(row["n"])
    except psycopg.OperationalError:
        return None


def test_the_server_is_the_tests_own_cluster(db: Conn) -> None:
    """The restart below must never hit a server anything else uses."""
    data_directory = db.execute("SHOW data_directory").fetchone()
    expected = subprocess.run(
        [str(CLUSTER_SCRIPT), "datadir"], env=cluster_env(), capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    assert data_directory == {"data_directory": str(Path(expected))}, (
        "the tests are pointed at a server they do not own (GDP_TEST_PGPORT); "
        "run them through make test or tests/cluster.sh"
    )


def test_worker_survives_a_real_postgres_restart(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    test_the_server_is_the_tests_own_cluster(db)
    enable_pipeline(db)
    person = add_person(db, "restart@example.com")
    insert_events(db, lead_events(person, 3_000, "pr", product="softwarehub",
                                  event_name="Signup", meta_event_name=None))
    db.close()  # the restart ends every session; the test reads on fresh connections
    sandbox.faults(latency_ms=30)
    worker = start_worker(db_url, sandbox.url, "--batch-size", "200")
    try:
        wait_until(lambda: (queue_left(db_url) or 3_000) < 3_000, "the drain to begin")
        left = queue_left(db_url)
        assert left, "the drain is already over: the restart would not be mid-drain"
        restart_postgres()
        wait_until(lambda: queue_left(db_url) == 0, "the queue to drain after the restart",
                   timeout_s=180, interval_s=0.5)  # fmt: skip
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    errors = worker.stderr.read() if worker.stderr else ""
    assert sandbox.summary()[PIXEL]["unique"] == 3_000
    assert "database connection lost; reconnecting" in errors
    assert worker.returncode == 0, errors[-3000:]
