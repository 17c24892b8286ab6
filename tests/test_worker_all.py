"""`gdp worker all --metrics-port`: one listener serves every worker kind's metrics, each
family once (workers/cli/worker_cmd.py)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.edge_support import Conn
from tests.support.metrics import scrape_until
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
        text = scrape_until(
            process, port,
            # The first retention run done: the workers' loop (and its SIGTERM handler) runs.
            lambda text: 'gdp_retention_runs_total{result="done"}' in text
            and all(f"# HELP {family} " in text for family in FAMILIES),
            "every worker kind's metrics on the one listener",
        )  # fmt: skip
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert process.returncode == 0  # SIGTERM ends every worker cleanly
    helps = Counter(line.split()[2] for line in text.splitlines() if line.startswith("# HELP "))
    assert [name for name, n in helps.items() if n > 1] == []
