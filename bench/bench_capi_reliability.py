"""The CAPI worker under adversity, today's worker against a baseline version of it,
both run here, in the same run, on the same database and sandbox:

1. the kill test: real `gdp worker capi` processes drain a queue while the sandbox fails 30% of
   requests with a 5xx and throttles 10%; each is SIGKILLed a random 0.2-2.5 s after its first
   request was answered, and a new one started; the last drains the rest. Counted at the sandbox: events sent twice, events
   lost. A control run without kills, for each version.
2. wasted requests: 1% of the events are ones Meta refuses (app events without app_data, a
   currency that is not ISO 4217); requests per 1,000 events and refused requests.

    .venv/bin/python bench/bench_capi_reliability.py [--events 30000] [--kills 5]
        [--baseline-ref 95bc85d]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    CAPI_BASELINE_REF,
    checkout,
    drop_database,
    fresh_database,
    machine,
    write_result,
)
from tests.capi_kill import FAULTS, KillRun, kill_drain
from tests.support.sandbox import running_sandbox
from workers.db.queries import parse_queries

Q = parse_queries((Path(__file__).parent / "sql" / "capi.sql").read_text())
PIXEL = "1234567890"
PRODUCTS = ["snapmix", "softwarehub", "velvethold", "steadyletters", "blogcanvas", "vellopad",
            "gapradar", "waitlistlab"]
# Per process: several checkouts may run this benchmark on one server at once.
DB = f"gdp_bench_capi_reliability_{os.getpid()}"
# Long enough for a batch of the baseline worker (one request and its quick retries), which
# never extends its lease; today's worker extends it while a batch is at work.
VISIBILITY_TIMEOUT_S = 10


def setup(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(Q["enable_capi_path"])
        conn.execute(Q["set_pixel"])
        people = [{"email": f"bench{i}@example.com", "phone": f"+1415555{i:04d}",
                   "first_name": "Bench", "country": "US"} for i in range(2000)]
        conn.execute(Q["make_people"], {"people": json.dumps(people)})
        row = conn.execute(Q["person_ids"]).fetchone()
        assert row is not None
        return [str(i) for i in row[0]]


def prepare(url: str, graph: str, people: list[str], total: int, invalid_share: float,
            prefix: str) -> int:
    """Empty the tables, the queue and the sandbox; queue `total` events, a share of them
    invalid (half app events without app_data, half Purchases in a made-up currency)."""
    httpx.post(f"{graph}/_sandbox/reset").raise_for_status()
    rng = random.Random(total)
    invalid = set(rng.sample(range(total), int(total * invalid_share)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(Q["reset_events"])
        for start in range(0, total, 1000):
            ids = range(start, min(total, start + 1000))
            names, sources, props = [], [], []
            for i in ids:
                if i in invalid and i % 2:
                    names.append("Lead"), sources.append("app"), props.append("{}")
                elif i in invalid:
                    names.append("Purchase"), sources.append(None)
                    props.append('{"value": 10, "currency": "XYZ"}')
                else:
                    names.append("Lead"), sources.append(None), props.append("{}")
            conn.execute(Q["insert_events_mixed"], {
                "products": [PRODUCTS[i % len(PRODUCTS)] for i in ids],
                "event_ids": [f"{prefix}{i}" for i in ids],
                "person_ids": [people[i % len(people)] for i in ids],
                "meta_event_names": names, "action_sources": sources, "properties": props})
    return len(invalid)


def product_pixels(url: str, on: bool) -> None:
    """One pixel per product (as eight products would have), or the one global pixel."""
    with psycopg.connect(url, autocommit=True) as conn:
        for n, product in enumerate(PRODUCTS):
            if on:
                conn.execute(Q["set_product_pixel"],
                             {"pixel_id": f"90000000{n}", "product_id": product})
            else:
                conn.execute(Q["unset_product_pixel"], {"product_id": product})


def kill_run(url: str, graph: str, people: list[str], total: int, kills: int,
             code_dir: Path | None, label: str) -> KillRun:
    prepare(url, graph, people, total, 0.0, f"{label}-k{kills}-")
    product_pixels(url, True)
    httpx.post(f"{graph}/_sandbox/faults", json={**FAULTS, "seed": 12}).raise_for_status()
    run = kill_drain(url, graph, None, total, kills=kills, seed=5, code_dir=code_dir,
                     visibility_timeout_s=VISIBILITY_TIMEOUT_S, timeout_s=900,
                     progress=lambda line: print(f"  {label}: {line}", flush=True))
    with psycopg.connect(url) as conn:
        row = conn.execute(Q["sent_records"]).fetchone()
    print(f"  {label}, {kills} kills: {run.sent_twice} sent twice, {run.lost} lost, "
          f"{len(run.resent_requests)} requests re-sent, sent records {row}", flush=True)
    return run


def invalid_run(url: str, graph: str, people: list[str], total: int,
                code_dir: Path | None, label: str) -> dict[str, Any]:
    invalid = prepare(url, graph, people, total, 0.01, f"{label}-inv-")
    product_pixels(url, False)
    run = kill_drain(url, graph, PIXEL, total, kills=0, seed=0, code_dir=code_dir,
                     visibility_timeout_s=VISIBILITY_TIMEOUT_S, timeout_s=900)
    stats = httpx.get(f"{graph}/_sandbox/events/summary").json()["pixels"][PIXEL]
    with psycopg.connect(url) as conn:
        dead = dict(conn.execute(Q["dead_letters_by_reason"]).fetchall())
    return {"invalid": invalid, "delivered": run.unique, "requests": stats["requests"],
            "refused": stats["rejected_requests"],
            "per_1000": stats["requests"] / total * 1000, "dead": dead}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--baseline-ref", default=CAPI_BASELINE_REF)
    args = parser.parse_args()
    baseline_dir = checkout(args.baseline_ref)
    versions: list[tuple[str, Path | None]] = [("baseline", baseline_dir), ("today", None)]
    url = fresh_database(DB)
    kills: dict[str, tuple[KillRun, KillRun]] = {}
    wasted: dict[str, dict[str, Any]] = {}
    try:
        people = setup(url)
        with running_sandbox() as sandbox:
            for label, code_dir in versions:
                control = kill_run(url, sandbox.url, people, args.events, 0, code_dir, label)
                killed = kill_run(url, sandbox.url, people, args.events, args.kills, code_dir,
                                  label)
                kills[label] = (control, killed)
                wasted[label] = invalid_run(url, sandbox.url, people, args.events, code_dir,
                                            label)
    finally:
        drop_database(DB)

    def kill_row(label: str, run: KillRun, what: str) -> str:
        biggest = max(run.resent_request_sizes, default=0)
        per_kill = ", ".join(f"{n:,}" for n in run.sent_twice_per_kill) or "–"
        return (f"| {label} | {what} | {run.kills} | {run.unique:,} | {run.sent_twice:,} "
                f"({run.sent_twice / run.events:.1%}) | {per_kill} | {run.lost} | "
                f"{len(run.resent_requests)} (largest {biggest:,} events) | {run.seconds:.0f} s |")

    rows = []
    for label in ("baseline", "today"):
        control, killed = kills[label]
        rows.append(kill_row(label, control, "control, no kills"))
        rows.append(kill_row(label, killed, "SIGKILLed"))
    waste_rows = [
        f"| {label} | {w['invalid']} | {w['delivered']:,} | {w['requests']} | {w['refused']} | "
        f"**{w['per_1000']:.2f}** | {', '.join(f'{k} {v}' for k, v in sorted(w['dead'].items()))} |"
        for label, w in wasted.items()
    ]
    report = f"""
## CAPI worker under kills and invalid events

`{' '.join(['.venv/bin/python', 'bench/bench_capi_reliability.py', *sys.argv[1:]])}` — {machine()}

*baseline* is the worker at `{args.baseline_ref}` (settles a whole leased batch of up to 1,000
messages after all its requests, retries and bisection; checks a few of Meta's rules before
sending), run from a git worktree of that commit; *today* is this checkout (each request checked,
sent and settled in one transaction; every rule of `workers/meta/capi_rules.py` checked before
sending). Same database, same sandbox, same data, one after the other in this run.

**Kill test**: {args.events:,} events of 8 products, each product with its own pixel (a batch
of 1,000 messages becomes 8 requests, sent concurrently), the sandbox failing 30% of requests
with a 5xx and throttling 10% (+{FAULTS['latency_ms']} ms latency), `gdp worker capi --no-pacing
--visibility-timeout {VISIBILITY_TIMEOUT_S}` (2 lanes, up to 1,000 events per request) SIGKILLed a random
0.2-2.5 s after the sandbox answered its first request, {args.kills} times, then one worker drains the rest. *Requests re-sent*: the
sandbox requests whose events arrived again later (their settlement never committed); *per
kill*: each duplicate counted against the kill nearest to when Meta stored its first copy.

| worker | run | kills | unique events at Meta | sent twice | sent twice, per kill | lost | requests re-sent | time |
|---|---|---:|---:|---:|---|---:|---|---:|
{chr(10).join(rows)}

Goal: sent twice ≤ the events of the requests in flight at each kill (≤ 1,000 events each; here
up to one per pixel per lane), 0 lost.

**Requests per 1,000 events with 1% invalid**: {args.events:,} events, 1% of them refused by
Meta's rules (half app events without `app_data`, half Purchases with currency `XYZ`), one
global pixel, no other faults, one worker.

| worker | invalid events | delivered | requests | refused requests | requests per 1,000 | dead letters |
|---|---:|---:|---:|---:|---:|---|
{chr(10).join(waste_rows)}

Goal: ≤ 1.10 requests per 1,000 events.
"""
    print(report)
    print(write_result("capi_reliability", report))


if __name__ == "__main__":
    main()
