"""SQL ingest with the erasure guard (FOR KEY SHARE on referenced people), the SQL limits and
Meta's exact email rule, against the same functions as they were before (issue 12 §3, §4), in
the same run and the same database.

    .venv/bin/python bench/bench_ingest_lock.py [--rounds 4] [--calls 20] [--batch 1000]

Before: the definitions of shared._event_check_references, shared.ingest_events and
shared._normalize_email at BASELINE_REF (git show), installed with CREATE OR REPLACE; after:
this checkout's. The two alternate, round by round, on one database, so load on this shared
machine hits both alike. Two paths: `ingest_events` of 1,000 events naming 500 existing people
by id (what the HTTP endpoints call once a person is cached), and the same with a person object
per event (people upserted by email). Measured: events/s of wall time, the backend's CPU time
per 1,000 events (getrusage of the server process: load-independent), and WAL bytes per event
(row locks write WAL; load-independent).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from statistics import median
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import drop_database, fresh_database, machine, write_result

ROOT = Path(__file__).resolve().parents[1]
BASELINE_REF = "main"
SWAPPED = {
    "db/functions/00_common.sql": ["_normalize_email"],
    "db/functions/40_capi.sql": ["_event_check_references", "ingest_events"],
}


def definitions(text: str, names: list[str]) -> str:
    """The CREATE OR REPLACE FUNCTION statements of names in a functions file."""
    out = []
    for name in names:
        match = re.search(rf"CREATE OR REPLACE FUNCTION shared\.{name}\(", text)
        assert match, name
        body = text.index("$$", match.end())
        end = text.index("$$", body + 2)
        out.append(text[match.start() : text.index(";", end) + 1])
    return "\n\n".join(out)


def variant(ref: str | None) -> str:
    parts = []
    for path, names in SWAPPED.items():
        if ref is None:
            text = (ROOT / path).read_text(encoding="utf-8")
        else:
            text = subprocess.run(
                ["git", "show", f"{ref}:{path}"], cwd=ROOT, capture_output=True, text=True,
                check=True,
            ).stdout  # fmt: skip
        parts.append(definitions(text, names))
    return "\n\n".join(parts)


def event(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": "Purchase",
        "meta_event_name": "Purchase",
        "properties": {"value": 9.5, "currency": "USD", "content_name": "SnapMix Pro"},
        **extra,
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    conn: psycopg.Connection[Any], batches: list[str], pid: int | None
) -> tuple[float, float | None, float]:
    conn.execute("DELETE FROM shared.event")
    conn.execute("SELECT pgmq.purge_queue('meta_capi')")
    wal0 = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    cpu0 = cpu_seconds(pid) if pid else None
    started = time.perf_counter()
    events = 0
    for batch in batches:
        rows = conn.execute(
            "SELECT count(*) FROM shared.ingest_events('snapmix', %s::jsonb)"
            " WHERE outcome = 'accepted'",
            (batch,),
        ).fetchone()
        events += rows[0] if rows else 0
    elapsed = time.perf_counter() - started
    cpu = (cpu_seconds(pid) - cpu0) / events * 1000 if pid and cpu0 is not None else None
    wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (wal0,)).fetchone()[0]  # type: ignore[index]
    return events / elapsed, cpu, float(wal) / events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    name = "gdp_bench_ingest_lock"
    url = fresh_database(name)
    before, after = variant(BASELINE_REF), variant(None)
    results: dict[tuple[str, str], list[tuple[float, float | None, float]]] = {}
    load_before = os.getloadavg()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE shared.feature_flag SET enabled = true WHERE flag_key = ANY(%s)",
                (["SHARED_PERSON_TABLE_ENABLED", "META_CAPI_INGEST_ENABLED"],),
            )
            people = [
                r[0]
                for r in conn.execute(
                    "SELECT person_id FROM shared.upsert_people(%s::jsonb)",
                    (json.dumps([{"email": f"p{i}@example{i % 7}.com"} for i in range(500)]),),
                ).fetchall()
            ]
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
            local = Path(f"/proc/{pid}/stat").exists()
            paths = {
                "by person_id": lambda i, j: {"person_id": str(people[j % len(people)])},
                "with a person": lambda i, j: {
                    "person": {"email": f" P{j % 500}@Example{j % 7}.com "}
                },
            }
            for rnd in range(args.rounds):
                for label, definition in (("before", before), ("after", after)):
                    conn.execute(definition)
                    for path, extra in paths.items():
                        batches = [
                            json.dumps([event(extra(i, j)) for j in range(args.batch)])
                            for i in range(args.calls)
                        ]
                        results.setdefault((path, label), []).append(
                            measure(conn, batches, pid if local else None)
                        )
                print(f"round {rnd + 1}/{args.rounds} done", flush=True)
            conn.execute(after)
    finally:
        drop_database(name)
    load_after = os.getloadavg()

    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return median(present) if present else None

    lines = []
    for path in ("by person_id", "with a person"):
        row = {}
        for label in ("before", "after"):
            runs = results[(path, label)]
            row[label] = (
                med([r[0] for r in runs]),
                med([r[1] for r in runs]),
                med([r[2] for r in runs]),
            )
        (rate_b, cpu_b, wal_b), (rate_a, cpu_a, wal_a) = row["before"], row["after"]
        assert rate_b and rate_a
        cpu_ratio = f"{cpu_a / cpu_b:.2f}" if cpu_a and cpu_b else "–"
        lines.append(
            f"| {path} | {rate_b:,.0f} | {rate_a:,.0f} | {rate_a / rate_b:.2f} | "
            f"{cpu_b or 0:.3f} s | {cpu_a or 0:.3f} s | {cpu_ratio} | "
            f"{wal_b:,.0f} B | {wal_a:,.0f} B |"
        )
    markdown = f"""## SQL ingest with the erasure guard and the SQL limits (issue 12 §3, §4)

`.venv/bin/python bench/bench_ingest_lock.py --rounds {args.rounds} --calls {args.calls} \
--batch {args.batch}` — {machine()}; load average {load_before[0]:.2f} before, \
{load_after[0]:.2f} after (a shared machine: other agents' tests ran beside it, so compare the
ratios and the CPU and WAL columns, which load does not distort).

`shared.ingest_events`, {args.calls} calls of {args.batch} events per run, medians of
{args.rounds} alternating rounds on one database. Before: `_event_check_references`,
`ingest_events` and `_normalize_email` as at `{BASELINE_REF}` (no lock on people, no limits,
trim + lower); after: this checkout's (FOR KEY SHARE on the referenced people through
`shared._lock_people`, `shared._event_row_problem`, NFC + ICU lower). CPU is the server
backend's user+system time per 1,000 events; WAL is bytes written per event.

| path | before events/s | after events/s | after/before | before CPU/1k | after CPU/1k | CPU ratio | before WAL/event | after WAL/event |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(lines)}
"""
    path = write_result("ingest_lock", markdown)
    print(markdown)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
