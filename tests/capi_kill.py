"""The kill test: drain a queue with real `gdp worker capi` processes, SIGKILL them at random
points, restart, and count at the sandbox what was sent twice and what never arrived.

Shared by tests/test_capi_kill.py (a size that fits `make test`) and bench/bench_capi_kill.py
(the 30,000-event run, with today's worker as the baseline). A worker may be run from another
checkout of the project (`code_dir`) to measure an earlier version in the same run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.support.sandbox import TOKEN

# An adversarial run's faults: Meta failing 30% of requests with a 5xx and throttling
# 10%, and latency, so that requests are in flight long enough for a kill to land in one.
FAULTS: dict[str, Any] = {"fail_5xx": 0.3, "throttle": 0.1, "latency_ms": 200}


@dataclass
class KillRun:
    events: int
    kills: int
    received: int = 0
    unique: int = 0
    sent_twice: int = 0  # deliveries beyond the first, summed over events
    lost: int = 0  # events that never reached the sandbox
    requests: int = 0
    seconds: float = 0.0
    # Per kill: the sandbox requests whose events came again after it (their settlement never
    # committed: in flight at the kill) and how many events they carried.
    resent_requests: list[int] = field(default_factory=list)
    resent_request_sizes: list[int] = field(default_factory=list)
    kill_times: list[float] = field(default_factory=list)
    # Per kill: events sent again whose first copy Meta stored nearest that kill: what it cost.
    sent_twice_per_kill: list[int] = field(default_factory=list)


def worker_command(code_dir: Path | None, *args: str) -> tuple[list[str], dict[str, str], str]:
    cwd = str(code_dir or Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": cwd}
    return [sys.executable, "-m", "workers.cli.worker_cmd", "capi", *args], env, cwd


def start_worker(
    db_url: str,
    graph_url: str,
    *args: str,
    code_dir: Path | None = None,
) -> subprocess.Popen[bytes]:
    command, env, cwd = worker_command(code_dir, *args)
    env.update(
        {
            "DATABASE_URL": db_url,
            "META_GRAPH_URL": graph_url,
            "META_CAPI_ACCESS_TOKEN": TOKEN,
            "GDP_LOG_LEVEL": "ERROR",
        }
    )
    return subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def requests_answered(graph_url: str) -> int:
    """Conversions API requests the sandbox has processed (faulted ones not counted)."""
    pixels = httpx.get(f"{graph_url}/_sandbox/events/summary", timeout=30).json()["pixels"]
    return int(sum(p.get("requests", 0) for p in pixels.values()))


def queue_left(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pgmq.q_meta_capi").fetchone()
    assert row is not None
    return int(row[0])


def kill_drain(
    db_url: str,
    graph_url: str,
    pixel_id: str | None,
    total: int,
    *,
    kills: int,
    seed: int,
    worker_args: tuple[str, ...] = (),
    code_dir: Path | None = None,
    alive_s: tuple[float, float] = (0.2, 2.5),
    visibility_timeout_s: int = 3,
    timeout_s: float = 300.0,
    progress: Callable[[str], None] | None = None,
) -> KillRun:
    """Drain `total` queued events, SIGKILLing `kills` workers, each a random `alive_s` after the
    sandbox answered its first request (so that the kill lands in the drain however long a loaded
    machine takes to start a process); the last worker drains what is left and stops cleanly.
    Faults are the caller's to set.
    `pixel_id` None: count over every pixel."""
    rng = random.Random(seed)
    run = KillRun(events=total, kills=0)
    args = (
        "--no-pacing",
        "--visibility-timeout",
        str(visibility_timeout_s),
        "--retry-base",
        "1",
        *worker_args,
    )
    started = time.monotonic()
    deadline = started + timeout_s
    while run.kills < kills and queue_left(db_url) and time.monotonic() < deadline:
        answered = requests_answered(graph_url)
        worker = start_worker(db_url, graph_url, *args, code_dir=code_dir)
        working_by = time.monotonic() + 60
        while requests_answered(graph_url) == answered and time.monotonic() < working_by:
            time.sleep(0.05)
        time.sleep(rng.uniform(*alive_s))
        worker.send_signal(signal.SIGKILL)
        run.kill_times.append(time.time())
        worker.wait(timeout=10)
        run.kills += 1
        if progress:
            progress(f"kill {run.kills}: {queue_left(db_url)} messages left")
    worker = start_worker(db_url, graph_url, *args, code_dir=code_dir)
    try:
        while queue_left(db_url) and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    run.seconds = time.monotonic() - started
    left = queue_left(db_url)
    if left:
        raise AssertionError(f"the queue did not drain in {timeout_s:.0f} s: {left} left")
    count(run, graph_url, pixel_id)
    return run


def count(run: KillRun, graph_url: str, pixel_id: str | None) -> None:
    """Duplicates and losses at the sandbox, and which requests' events were sent again."""
    params: dict[str, Any] = {"limit": 10_000_000}
    if pixel_id:
        params["pixel_id"] = pixel_id
    with httpx.Client(base_url=graph_url, timeout=120) as http:
        events = http.get("/_sandbox/events", params=params).json()["events"]
        pixels = http.get("/_sandbox/events/summary").json()["pixels"]
    requests = [p.get("requests", 0) for k, p in pixels.items() if pixel_id in (None, k)]
    per_event = Counter(e["event_id"] for e in events)
    run.received = len(events)
    run.unique = len(per_event)
    run.sent_twice = sum(n - 1 for n in per_event.values())
    run.lost = run.events - run.unique
    run.requests = int(sum(requests))
    request_sizes = Counter(e["request_id"] for e in events)
    first_request: dict[str, int] = {}
    for e in sorted(events, key=lambda e: (e["request_id"], e["index"])):
        first_request.setdefault(e["event_id"], e["request_id"])
    resent = sorted({first_request[eid] for eid, n in per_event.items() if n > 1})
    run.resent_requests = resent
    run.resent_request_sizes = [request_sizes[r] for r in resent]
    first_seen: dict[str, float] = {}
    for e in events:
        first_seen[e["event_id"]] = min(first_seen.get(e["event_id"], e["received_at"]),
                                        e["received_at"])  # fmt: skip
    run.sent_twice_per_kill = [0] * len(run.kill_times)
    for event_id, n in per_event.items():
        if n > 1 and run.kill_times:
            # The kill that caught its request in flight: the one nearest to when Meta stored
            # the first copy (a request stored just after the kill, its latency outliving the
            # process, belongs to that kill; the sandbox's clock is the wall clock).
            at = first_seen[event_id]
            kill = min(range(len(run.kill_times)), key=lambda i: abs(run.kill_times[i] - at))
            run.sent_twice_per_kill[kill] += n - 1
