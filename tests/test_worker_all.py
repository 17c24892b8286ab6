"""`gdp worker all --metrics-port`: one listener serves every worker kind's metrics, each
family once (workers/cli/worker_cmd.py)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx

from tests.edge_support import Conn
from tests.support.waiting import wait_until
from workers.processes import free_port

ROOT = Path(__file__).resolve().parents[1]

# One family of each worker kind that keeps metrics (insights and leads keep none).
FAMILIES = (
    "gdp_capi_events_total",  # capi
    "gdp_retention_runs_total",  # maintenance
    "gdp_segment_runs_total",  # segments
    "gdp_audience_runs_total",  # audiences: this process's counters
    "gdp_audience_members",  # audiences: read from the database at scrape time
)


def test_worker_all_serves_every_kinds_metrics_once(env: dict[str, str], db: Conn) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "workers.cli.main", "worker", "all", "--metrics-port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def scrape() -> str | None:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            with contextlib.suppress(httpx.TransportError):
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
                # The first retention run done: the workers' loop (and its SIGTERM handler) runs.
                if 'gdp_retention_runs_total{result="done"}' in text and all(
                    f"# HELP {family} " in text for family in FAMILIES
                ):
                    return text
            return None

        text = wait_until(scrape, "every worker kind's metrics on the one listener")
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 0  # SIGTERM ends every worker cleanly
    assert text is not None
    helps = Counter(line.split()[2] for line in text.splitlines() if line.startswith("# HELP "))
    assert [name for name, n in helps.items() if n > 1] == []
