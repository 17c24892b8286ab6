"""Retention under traffic: simulated days of events at 1,000 events/s (scaled), inserted with
backdated timestamps while `shared.run_retention()` runs beside them, with table sizes over
time; then how fast retention deletes, against one plain DELETE per table (the naive way).

    .venv/bin/python bench/bench_retention.py [--days 12] [--rate 1000] [--scale 0.001]

Time is compressed: the clock of the simulation starts `--days` days ago and moves forward one
simulated hour per loop; every row is dated at its simulated time, and the maintenance thread
calls `CALL shared.run_retention(p_as_of => <simulated now>)` over and over, as
`gdp worker maintenance` does every few minutes. Windows are set to their minimums so the
plateau shows within the run: events and delivery records 8 days, the queue archive and dead
letters 1 day. `--scale` is the share of the rate actually inserted (the table sizes scale with
it linearly); part 2 measures whether deletion keeps up with the full rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import drop_database, fresh_database, machine, write_result
from workers.db.queries import parse_queries

DB_NAME = "gdp_bench_retention"
QUERIES = parse_queries((Path(__file__).parent / "sql" / "retention.sql").read_text())
WINDOWS = {
    "RETENTION_EVENT_DAYS": 8,
    "RETENTION_ATTRIBUTION_DAYS": 8,
    "RETENTION_QUEUE_ARCHIVE_DAYS": 1,
    "RETENTION_DEAD_LETTER_DAYS": 1,
}
TABLES = ("shared.event", "shared.attribution_events", "pgmq.a_meta_capi", "shared.capi_dead_letter")


@dataclass
class Clock:
    """The simulated now, handed from the inserting loop to the maintenance thread: a run as of
    hour h goes on while hour h + 1 is inserted, and the loop waits for it before the next
    (as real traffic gives a run the minutes until the next one)."""

    tick: threading.Event = field(default_factory=threading.Event)
    idle: threading.Event = field(default_factory=threading.Event)
    now: datetime | None = None
    done: bool = False

    def start_run(self, as_of: datetime) -> None:
        self.idle.wait()
        self.idle.clear()
        self.now = as_of
        self.tick.set()


@dataclass
class MaintenanceStats:
    runs: int = 0
    skipped: int = 0
    deleted: int = 0
    seconds: float = 0.0
    longest_run_s: float = 0.0


def maintain(url: str, clock: Clock, stats: MaintenanceStats) -> None:
    """The maintenance worker's loop, compressed: one run per simulated hour, as of that hour."""
    with psycopg.connect(url, autocommit=True, options="-c role=gdp_maintenance") as conn:
        clock.idle.set()
        while True:
            clock.tick.wait()
            clock.tick.clear()
            if clock.done:
                return
            started = time.perf_counter()
            row = conn.execute(QUERIES["run"], {"as_of": clock.now}).fetchone()
            took = time.perf_counter() - started
            assert row is not None
            stats.runs += 1
            stats.skipped += 0 if row[5] else 1
            stats.deleted += sum(row[:4])
            stats.seconds += took
            stats.longest_run_s = max(stats.longest_run_s, took)
            clock.idle.set()


def sizes(conn: psycopg.Connection[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Exact rows and total bytes (heap, indexes, TOAST) per table."""
    out = {}
    for table in TABLES:
        row = conn.execute(QUERIES["size"], {"table": table}).fetchone()
        assert row is not None
        out[table] = (int(row["rows"]), int(row["bytes"]))
    return out


def simulate(url: str, days: int, rate: float, scale: float) -> tuple[str, dict[str, Any]]:
    per_hour = max(1, round(rate * scale * 3600))
    start = datetime.now(UTC) - timedelta(days=days)
    clock = Clock()
    stats = MaintenanceStats()
    snapshots: list[tuple[float, dict[str, tuple[int, int]]]] = []
    insert_latencies: list[float] = []
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        for key, value in WINDOWS.items():
            conn.execute("SELECT shared.set_setting(%s, %s::jsonb, 'bench')", (key, str(value)))
        maintenance = threading.Thread(target=maintain, args=(url, clock, stats))
        maintenance.start()
        wall = time.perf_counter()
        try:
            for hour in range(days * 24):
                at = start + timedelta(hours=hour)
                began = time.perf_counter()
                conn.execute(QUERIES["traffic_hour"], {"at": at, "n": per_hour, "hour": hour})
                insert_latencies.append(time.perf_counter() - began)
                clock.start_run(at + timedelta(hours=1))
                if (hour + 1) % 24 == 0:
                    clock.idle.wait()
                    # What autovacuum does many times over in a real day (a minute's naptime),
                    # once per simulated day: deleted rows' space becomes reusable.
                    conn.execute(QUERIES["vacuum"])
                    snapshots.append(((hour + 1) / 24, sizes(conn)))
        finally:
            clock.idle.wait()
            clock.done = True
            clock.tick.set()
            maintenance.join()
        wall = time.perf_counter() - wall
    inserted = per_hour * days * 24
    lines = [
        "| simulated day | events | delivery records | queue archive | dead letters | "
        "total size |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for day, snap in snapshots:
        total = sum(b for _, b in snap.values())
        cells = " | ".join(f"{snap[t][0]:,}" for t in TABLES)
        lines.append(f"| {day:.0f} | {cells} | {total / 2**20:,.0f} MB |")
    steady = [
        sum(snap[t][0] for t in TABLES)
        for day, snap in snapshots
        if day > WINDOWS["RETENTION_EVENT_DAYS"]
    ]
    facts = {
        "per_hour": per_hour,
        "inserted": inserted,
        "wall_s": wall,
        "runs": stats.runs,
        "skipped": stats.skipped,
        "deleted": stats.deleted,
        "longest_run_s": stats.longest_run_s,
        "insert_p50_ms": statistics.median(insert_latencies) * 1000,
        "insert_max_ms": max(insert_latencies) * 1000,
        "steady_spread": (max(steady) - min(steady)) / max(steady) if steady else None,
    }
    return "\n".join(lines), facts


def backlog(conn: psycopg.Connection[dict[str, Any]], n: int) -> None:
    """n rows per table, all past their windows."""
    conn.execute(QUERIES["backlog"], {"n": n})


def deletion_rates(url: str, n: int) -> dict[str, float]:
    """Batched retention (rounds of apply_retention, one transaction each) against one plain
    DELETE per table in one transaction, on the same backlog."""
    out: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        backlog(conn, n)
        rounds: list[float] = []
        deleted = 0
        started = time.perf_counter()
        while True:
            began = time.perf_counter()
            rows = conn.execute(QUERIES["round"]).fetchall()
            rounds.append(time.perf_counter() - began)
            got = sum(int(r["deleted"]) for r in rows)
            deleted += got
            if got == 0:
                break
        out["batched_s"] = time.perf_counter() - started
        out["batched_rows"] = deleted
        out["batched_longest_tx_s"] = max(rounds)
        out["batched_rounds"] = len(rounds)

        backlog(conn, n)
        started = time.perf_counter()
        with conn.transaction():
            deleted = 0
            for statement in ("naive_events", "naive_attribution", "naive_archive"):
                deleted += conn.execute(QUERIES[statement]).rowcount
        out["naive_s"] = time.perf_counter() - started
        out["naive_rows"] = deleted
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=12)
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s of traffic")
    parser.add_argument("--scale", type=float, default=0.001, help="share of it inserted")
    parser.add_argument("--backlog", type=int, default=200_000, help="rows per table, part 2")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    url = fresh_database(DB_NAME)
    try:
        table, facts = simulate(url, args.days, args.rate, args.scale)
        rates = deletion_rates(url, args.backlog)
    finally:
        drop_database(DB_NAME)

    load = (load_before + os.getloadavg()[0]) / 2
    batched_rate = rates["batched_rows"] / rates["batched_s"]
    naive_rate = rates["naive_rows"] / rates["naive_s"]
    inflow = 3 * args.rate  # an event, its delivery record and its archived message per event
    spread = facts["steady_spread"]
    markdown = f"""
## Retention under traffic

`.venv/bin/python bench/bench_retention.py --days {args.days} --rate {args.rate:g} --scale {args.scale:g}` — {machine()}; load average {load:.1f} (1 min, mean of start and end{": other work was running" if load > 2.5 else ""})

**Sizes over time.** {args.days} simulated days of traffic at {args.rate:,.0f} events/s, scaled
by {args.scale:g} ({facts['per_hour']:,} events per simulated hour, each with a delivery record
and an archived queue message, 1 in 1,000 dead-lettered), inserted hour by hour with backdated
timestamps ({facts['inserted']:,} events in {facts['wall_s']:.0f} s) while a second connection,
as `gdp_maintenance`, ran `CALL shared.run_retention(p_as_of => <simulated now>)` once per
simulated hour, each run beside the next hour's inserts ({facts['runs']:,} runs,
{facts['skipped']} skipped, {facts['deleted']:,} rows deleted, longest run
{facts['longest_run_s'] * 1000:,.0f} ms). `VACUUM` once per simulated day stands in for
autovacuum, which runs every minute in real time. Windows at their minimums so the plateau shows
within the run: events and delivery records {WINDOWS['RETENTION_EVENT_DAYS']} days, archive and
dead letters {WINDOWS['RETENTION_QUEUE_ARCHIVE_DAYS']} day. Rows are exact counts at the end of
each simulated day; size is heap + indexes + TOAST of the four tables.

{table}

After day {WINDOWS['RETENTION_EVENT_DAYS']} every table holds its window and no more: total rows
vary by {spread * 100 if spread is not None else float('nan'):.1f}% across the remaining days.
A simulated hour of inserts took {facts['insert_p50_ms']:.0f} ms at the median and
{facts['insert_max_ms']:.0f} ms at most while retention ran beside them (a delete locks only the
rows it deletes; inserts wait on none of them).

**Deletion rate**, {args.backlog:,} rows past their window in each of events, delivery records
and the queue archive:

| way | rows/s | longest transaction | what it holds |
|---|---:|---:|---|
| `shared.apply_retention()` rounds ({rates['batched_rounds']} transactions) | {batched_rate:,.0f} | {rates['batched_longest_tx_s'] * 1000:,.0f} ms | one batch of 5,000 rows per table |
| one `DELETE … WHERE <older than window>` per table, one transaction (baseline) | {naive_rate:,.0f} | {rates['naive_s'] * 1000:,.0f} ms | every row it deletes, until it ends |

Batched retention deletes at {batched_rate / naive_rate:.2f}× the naive statement's rate while
holding no transaction open longer than {rates['batched_longest_tx_s'] * 1000:,.0f} ms (the
naive one held {rates['naive_s']:.1f} s, during which vacuum can reclaim nothing). Traffic at
{args.rate:,.0f} events/s brings {inflow:,.0f} rows/s into these three tables; retention deletes
{batched_rate:,.0f} rows/s: **{batched_rate / inflow:.0f}×** the inflow, so a run every few
minutes clears what arrived since the last one in a small share of the interval.
"""
    path = write_result("retention", markdown)
    print(markdown)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
