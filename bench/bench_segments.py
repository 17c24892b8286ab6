"""The segment engine: ingest with features on vs off, and evaluation at scale.

    .venv/bin/python bench/bench_segments.py                  # 1M people, 20M events
    .venv/bin/python bench/bench_segments.py --scale 0.1      # 100k people, 2M events

1. Ingest: 1,000-row INSERT statements into shared.event (the CAPI trigger on in both), the
   feature trigger on vs off, alternating rounds in the same run; events/s (best round) and the
   inserting backend's CPU seconds per 100k events (from /proc, which load distorts less).
2. Scale: people and events made with generate_series (triggers off while loading, by one
   session per core, the event table's secondary indexes dropped first and built again after
   the load from their saved definitions, which are checked to be the migrations' own), features
   built in one pass (shared.rebuild_person_activity), the first evaluation (everyone), a
   VACUUM of the tables the load and it filled (autovacuum's work, at once) and a CHECKPOINT
   (the pages they dirtied written before the measured runs, as in a steady state), then a
   full evaluation of the six PRD segments (target <= 10 s) and an incremental one after 1% of
   people changed (target <= 1 s). Baseline, same data: the six segments computed from
   shared.event directly (what a cron without features does on every run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import drop_database, fresh_database, machine, write_result
from workers.db.queries import parse_queries

Q = parse_queries((Path(__file__).parent / "sql" / "segments.sql").read_text())
DB = f"gdp_bench_segments_{os.getpid()}"
NAMES = ["FeatureUsed", "SnapCreated", "PageView", "Signup", "PricingPageViewed"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def ingest(
    conn: psycopg.Connection[Any], people: list[str], total: int, tag: str, features: bool
) -> tuple[float, float]:
    """(events/s, backend CPU seconds per 100k events)."""
    conn.execute(Q["features_on" if features else "features_off"])
    row = conn.execute(Q["backend_cpu"]).fetchone()
    assert row is not None
    pid = int(row[0])
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    for start in range(0, total, 1000):
        idx = range(start, start + 1000)
        conn.execute(
            Q["ingest"],
            {
                "event_ids": [f"{tag}-{i}" for i in idx],
                "names": [NAMES[i % len(NAMES)] for i in idx],
                "person_ids": [people[(i * 13) % len(people)] for i in idx],
            },
        )
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    conn.execute(Q["features_on"])
    return total / wall, cpu / total * 100_000


def load_events(url: str, people_n: int, events_n: int) -> float:
    """The events, one slice of the series per core in its own session; seconds."""
    parts = max(1, os.cpu_count() or 1)
    bounds = [(1 + events_n * i // parts, events_n * (i + 1) // parts) for i in range(parts)]

    def load(first: int, last: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(Q["load_session"])
            conn.execute(Q["make_events"], {"people": people_n, "first": first, "last": last})

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parts) as pool:
        for done in [pool.submit(load, first, last) for first, last in bounds]:
            done.result()
    return time.perf_counter() - t0


def timed(conn: psycopg.Connection[Any], name: str, **params: Any) -> float:
    t0 = time.perf_counter()
    conn.execute(Q[name], params or None)
    return time.perf_counter() - t0


def evaluate(conn: psycopg.Connection[Any], full: bool) -> dict[str, Any]:
    """Wall seconds, and the evaluating backend's CPU seconds (which others' load inflates far
    less: on a shared 2-core machine at load 8 the wall time of the same run varies 2x)."""
    row = conn.execute(Q["backend_cpu"]).fetchone()
    conn.execute(Q["flush_stats"])
    wal0 = conn.execute(Q["wal_written"]).fetchone()
    assert row is not None and wal0 is not None
    cpu0, t0 = cpu_seconds(int(row[0])), time.perf_counter()
    rows = conn.execute(Q["evaluate"], {"full": full}).fetchall()
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(int(row[0])) - cpu0
    conn.execute(Q["flush_stats"])
    wal1 = conn.execute(Q["wal_written"]).fetchone()
    assert wal1 is not None
    failed = [r for r in rows if r[5]]
    assert not failed, failed
    run = conn.execute(Q["last_run"]).fetchone()
    assert run is not None
    return {
        "wall": wall,
        "cpu": cpu,
        "candidates": run[0],
        "features_ms": float(run[1]),
        "joined": run[2],
        "left": run[3],
        "wal_mb": float(wal1[0] - wal0[0]) / 1e6,
        "fpi": int(wal1[1] - wal0[1]),
    }


def verdict(seconds: float, target: float = 1.0) -> str:
    return "met" if seconds <= target else "missed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1M people, 20M events")
    parser.add_argument("--ingest-events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--keep", action="store_true", help="keep the database afterwards (to profile it)"
    )
    args = parser.parse_args()
    people_n = int(1_000_000 * args.scale)
    events_n = int(20_000_000 * args.scale)
    load_before = os.getloadavg()
    url = fresh_database(DB)
    steps: dict[str, float] = {}
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(Q["enable_flags"])
            server = conn.execute(Q["server_memory"]).fetchone()
            assert server is not None
            conn.execute(Q["set_pixel"])
            steps["people"] = timed(conn, "make_people", people=people_n)
            conn.execute(Q["number_people"])
            conn.execute(Q["number_people_key"])
            indexes = conn.execute(Q["event_index_definitions"]).fetchall()
            conn.execute(Q["drop_event_indexes"])
            steps["events"] = load_events(url, people_n, events_n)
            with psycopg.connect(url, autocommit=True) as loader:
                loader.execute(Q["load_session"])
                steps["event_indexes"] = timed(loader, "restore_event_indexes")
            assert conn.execute(Q["event_index_definitions"]).fetchall() == indexes
            steps["features"] = timed(conn, "rebuild_features")
            steps["analyze"] = timed(conn, "analyze")
            first = evaluate(conn, full=False)
            conn.execute(Q["settle"])
            conn.execute(Q["checkpoint"])
            fulls = [evaluate(conn, full=True) for _ in range(2)]
            incs = []
            for round_no in range(2):
                first_n = 1 + round_no * (people_n // 100)
                last_n = first_n + people_n // 100 - 1
                for lo in range(first_n, last_n + 1, 1000):
                    conn.execute(
                        Q["change_people"],
                        {"round": round_no, "first": lo, "last": min(lo + 999, last_n)},
                    )
                incs.append(evaluate(conn, full=False))
            scattered = []
            for slot in (7, 8, 9):
                for lo in range(1, people_n + 1, 100_000):
                    conn.execute(
                        Q["change_people_scattered"],
                        {"slot": slot, "first": lo, "last": min(lo + 99_999, people_n)},
                    )
                scattered.append(evaluate(conn, full=False))
            quiet = evaluate(conn, full=False)
            t0 = time.perf_counter()
            settle = conn.execute(Q["settle_day"]).fetchone()
            settle_s = time.perf_counter() - t0
            assert settle is not None and settle[0] == settle[1]
            t0 = time.perf_counter()
            naive = conn.execute(Q["naive_segments"]).fetchone()
            naive_s = time.perf_counter() - t0
            sizes = conn.execute(Q["sizes"]).fetchone()
            assert naive is not None and sizes is not None

            row = conn.execute(Q["ingest_people"]).fetchone()
            assert row is not None
            people = [str(p) for p in row[0]]
            on: list[tuple[float, float]] = []
            off: list[tuple[float, float]] = []
            for r in range(args.rounds):
                on.append(ingest(conn, people, args.ingest_events, f"on{r}", True))
                off.append(ingest(conn, people, args.ingest_events, f"off{r}", False))
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            drop_database(DB)
    load_after = os.getloadavg()
    best_on, best_off = max(x[0] for x in on), max(x[0] for x in off)
    cpu_on, cpu_off = min(x[1] for x in on), min(x[1] for x in off)
    full = min(fulls, key=lambda r: r["wall"])
    inc = max(incs, key=lambda r: r["wall"])
    spread = max(scattered, key=lambda r: r["wall"])
    cmd = " ".join([".venv/bin/python", "bench/bench_segments.py", *sys.argv[1:]])
    report = f"""
## Segment engine, scale {args.scale:g}

`{cmd}` — {machine()}; the server's shared_buffers {server[0]}, work_mem {server[1]}
(evaluate_segments sets its own work_mem and random_page_cost). Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after
(a shared 2-core machine with other agents' tests running: wall times are inflated; the CPU
figures and ratios hold better).

**Ingest with person features on vs off** (same run, alternating, best of {args.rounds};
{args.ingest_events:,} events per round in 1,000-row statements over 2,000 people; the CAPI
enqueue trigger on in both):

| | events/s (best) | backend CPU s per 100k events (least) |
|---|---:|---:|
| features on | {best_on:,.0f} | {cpu_on:.2f} |
| features off (baseline) | {best_off:,.0f} | {cpu_off:.2f} |
| on ÷ off | {best_on / best_off:.2f} | {cpu_on / cpu_off:.2f} |

Target: throughput within 15% (on ÷ off ≥ 0.85). Measured in the inserting backend's CPU time,
which other sessions' load does not inflate, features on run at **{cpu_off / cpu_on:.2f}×** the
rate of features off (off CPU ÷ on CPU); the events/s above are wall-clock rates on a shared
machine. Rounds (events/s on / off):
{", ".join(f"{a[0]:,.0f}/{b[0]:,.0f}" for a, b in zip(on, off, strict=True))}.

**Evaluation at {people_n:,} people / {events_n:,} events** (scale {args.scale}):
{sizes[2]:,} settled daily feature rows ({sizes[3]}); members per segment: {sizes[4]}.

| step | seconds (wall) | notes |
|---|---:|---|
| make people / events (generate_series, triggers off) | {steps["people"]:.1f} / {steps["events"]:.1f} | events: {os.cpu_count()} sessions, secondary indexes dropped |
| build the event table's secondary indexes again | {steps["event_indexes"]:.1f} | the migrations' definitions, checked |
| build daily features from events (one pass) | {steps["features"]:.1f} | `shared.rebuild_person_activity()` |
| ANALYZE | {steps["analyze"]:.1f} | |
| **the data set, all of the above** | **{sum(steps.values()):.1f}** | |
| first evaluation (every person new) | {first["wall"]:.1f} | backend CPU {first["cpu"]:.1f} s; {first["candidates"]:,} candidates; features {first["features_ms"] / 1000:.1f} s; {first["joined"]:,} joins |
| **full evaluation of the six** | **{full["wall"]:.2f}** | backend CPU **{full["cpu"]:.2f} s**; target ≤ 10 s; {full["candidates"]:,} candidates (time windows crossed) |
| **incremental after 1% changed** | **{inc["wall"]:.2f}** | backend CPU **{inc["cpu"]:.2f} s**; target ≤ 1 s ({verdict(inc["wall"])}); {inc["candidates"]:,} candidates; +{inc["joined"]:,} −{inc["left"]:,} (worst of 2) |
| **incremental after 1% changed, spread over all ids** | **{spread["wall"]:.2f}** | backend CPU **{spread["cpu"]:.2f} s**; target ≤ 1 s ({verdict(spread["wall"])}); {spread["candidates"]:,} candidates; +{spread["joined"]:,} −{spread["left"]:,} (worst of 3) |
| incremental, nothing changed | {quiet["wall"]:.2f} | {quiet["candidates"]:,} candidates |
| the next day's settle of today's rows | {settle_s:.2f} | {settle[1]:,} rows from `person_activity_recent` into the settled history: the first evaluation of each UTC day does it |
| baseline: the six from `shared.event` directly | {naive_s:.2f} | one GROUP BY over every event |

Runs, wall / backend CPU seconds: full {", ".join(f"{r['wall']:.2f}/{r['cpu']:.2f}" for r in fulls)};
incremental {", ".join(f"{r['wall']:.2f}/{r['cpu']:.2f}" for r in incs)} (1% in one id range:
the people's numbers follow their ids), {", ".join(f"{r['wall']:.2f}/{r['cpu']:.2f}" for r in scattered)}
(1% spread over all ids). "Worst of" and "full" (the better of 2) are chosen by wall time.
WAL written by the spread runs, MB / full-page images:
{", ".join(f"{r['wal_mb']:.0f}/{r['fpi']:,}" for r in scattered)}: a run that follows a checkpoint
writes a full-page image of each page it changes first (its feature row's page, the pages its
membership changes touch, and the day's rows, which stay in a small table until the day is
settled), the rest only their changes.
"""
    slug = "segments" if args.scale == 1.0 else f"segments_scale_{args.scale:g}"
    path = write_result(slug, report)
    print(report)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
