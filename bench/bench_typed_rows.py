"""What typed rows cost the CAPI worker: reading a batch of queue messages into frozen
dataclasses (psycopg `class_row`, workers/capi/rows.py) against plain dicts (`dict_row`, as
before), in the same run, alternating.

    .venv/bin/python bench/bench_typed_rows.py [--messages 1000] [--rounds 60]

Measured: the client's CPU time (time.process_time) to fetch the batch and take each message's
event ref, which a busy machine does not inflate the way it inflates wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import drop_database, fresh_database, machine, write_result
from workers.capi.rows import QueueMessage
from workers.db.queries import parse_queries

QUERIES = parse_queries(
    """
-- name: fill
SELECT pgmq.send_batch('meta_capi', array_agg(jsonb_build_object(
    'event', g, 'meta_event_name', 'Lead'))) FROM generate_series(1, %(n)s) AS g;

-- name: batch
SELECT msg_id, read_ct, enqueued_at, message FROM pgmq.q_meta_capi ORDER BY msg_id;
"""
)


def as_dicts(conn: psycopg.Connection[Any]) -> float:
    started = time.process_time()
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(QUERIES["batch"])
        refs = [int(m["message"]["event"]) for m in cursor.fetchall()]
    assert refs
    return time.process_time() - started


def as_dataclasses(conn: psycopg.Connection[Any]) -> float:
    started = time.process_time()
    with conn.cursor(row_factory=class_row(QueueMessage)) as cursor:
        cursor.execute(QUERIES["batch"])
        refs = [m.event_ref for m in cursor.fetchall()]
    assert refs
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    url = fresh_database("gdp_bench_typed_rows")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(QUERIES["fill"], {"n": args.messages})
            times: dict[str, list[float]] = {"dict": [], "dataclass": []}
            for n in range(args.rounds):
                runs = [("dict", as_dicts), ("dataclass", as_dataclasses)]
                for name, run in runs if n % 2 else reversed(runs):
                    times[name].append(run(conn))
    finally:
        drop_database("gdp_bench_typed_rows")
    load = os.getloadavg()
    plain = statistics.median(times["dict"]) * 1000
    typed = statistics.median(times["dataclass"]) * 1000
    report = f"""
## Typed rows in the CAPI worker: dataclasses against dicts

`{" ".join([".venv/bin/python", "bench/bench_typed_rows.py", *sys.argv[1:]])}` — {machine()};
load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (busy: client CPU time is compared,
which load does not inflate)

One batch of {args.messages:,} meta_capi queue messages fetched and each message's event ref
taken, {args.rounds} alternating rounds; client CPU time, median.

| rows as | client CPU ms per batch |
|---|---:|
| `dict_row` (baseline, before) | {plain:.2f} |
| `class_row(QueueMessage)` (now) | {typed:.2f} |

Typed rows cost **{typed / plain:.2f}×** the baseline's CPU for this step, {typed - plain:.2f} ms
per {args.messages:,} messages.
"""
    print(report)
    print(write_result("typed_rows", report))


if __name__ == "__main__":
    main()
