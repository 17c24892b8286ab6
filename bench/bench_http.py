"""HTTP ingest: single-event and batch requests to POST /api/v1/meta/event, with wrk
(C, so the load generator takes little of the 2 cores), against /healthz as the baseline.

    .venv/bin/python bench/bench_http.py [--seconds 15] [--server-workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import drop_database, fresh_database, machine, write_result
from workers.db.queries import parse_queries

Q = parse_queries((Path(__file__).parent / "sql" / "capi.sql").read_text())
WRK = Path(__file__).parent / "wrk"
DB = "gdp_bench_http"


def wrk(url: str, script: str, seconds: int, env: dict[str, str], connections: int) -> dict[str, float]:
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
         str(WRK / script), url], capture_output=True, text=True, env=env, check=True)
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {"rps": rps, "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
            "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench_http needs wrk (apt-get install wrk; `make bench` installs it)")
    url = fresh_database(DB)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(Q["enable_capi_path"])
        conn.execute(Q["set_pixel"])
        row = conn.execute(Q["create_service_key"]).fetchone()
        assert row is not None
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "DATABASE_URL": url, "GDP_BENCH_KEY": row[0], "GDP_LOG_LEVEL": "WARNING",
           "GDP_BENCH_BATCH": str(args.batch)}
    server = subprocess.Popen([sys.executable, "-m", "workers.cli.serve_cmd", "--port", str(port),
                               "--workers", str(args.server_workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        wrk(base, "healthz.lua", 3, env, 32)  # warm up every server process
        floor = wrk(base, "healthz.lua", args.seconds, env, 64)
        single = wrk(base, "single_event.lua", args.seconds, env, 64)
        batch = wrk(base, "batch_events.lua", args.seconds, env, 16)
        time.sleep(1)  # requests wrk gave up on at its deadline finish server-side
        with psycopg.connect(url, autocommit=True) as conn:
            counts = conn.execute(Q["stored_and_queued"]).fetchone()
            assert counts is not None
            stored, queued = counts
    finally:
        server.terminate()
        server.wait(timeout=20)
        drop_database(DB)
    batch_events = batch["rps"] * args.batch
    report = f"""
## HTTP ingest

`{' '.join(['.venv/bin/python', 'bench/bench_http.py', *sys.argv[1:]])}` — {machine()}

`gdp serve --workers {args.server_workers}` and wrk (2 threads) on the same 2 cores, {args.seconds} s
per run, every request a new event (unique event_id, raw PII upserted into `shared.person`,
the enqueue trigger on, so each stored event is also queued for Meta).

| request | requests/s | events/s | p99 | non-2xx | target |
|---|---:|---:|---:|---:|---|
| `GET /healthz` (baseline: routing + one DB round trip) | {floor['rps']:,.0f} | – | {floor['p99_ms']:.0f} ms | {floor['non2xx']:.0f} | |
| `POST /api/v1/meta/event`, one event | {single['rps']:,.0f} | {single['rps']:,.0f} | {single['p99_ms']:.0f} ms | {single['non2xx']:.0f} | ≥ 1,500 req/s |
| `POST /api/v1/meta/event`, `{{"data": [{args.batch} events]}}` | {batch['rps']:,.0f} | {batch_events:,.0f} | {batch['p99_ms']:.0f} ms | {batch['non2xx']:.0f} | ≥ 20,000 events/s |

Single-event ingest runs at {single['rps'] / floor['rps']:.0%} of the baseline's request rate.
{stored:,} events were stored and {queued:,} queued for Meta.
"""
    print(report)
    print(write_result("http", report))


if __name__ == "__main__":
    main()
