"""Deploys under insert traffic: how long an insert into shared.event can stall while a new
version goes on, the old way (every function and policy file re-applied in one transaction, as
`gdp db up` did before release migrations) against release migrations, in the same run.

    .venv/bin/python bench/bench_deploy.py

Four product connections insert single events as fast as they can; each deploy runs twice: on
a quiet table, and while an analytics reader holds shared.event for 5 s (a long SELECT).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BASE_URL, drop_database, fresh_database, machine, write_result
from workers.db import migrate, release

WRITERS = 4
READER_HOLDS_S = 5.0
REPO_DB = Path(__file__).resolve().parents[1] / "db"

# A change a release makes on the busiest table: a trigger and a policy on shared.event.
PROBE_BEFORE = """-- migrate:up
CREATE FUNCTION shared._bench_touch() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN RETURN NEW; END $$;
REVOKE ALL ON FUNCTION shared._bench_touch() FROM PUBLIC;
CREATE TRIGGER bench_touch BEFORE UPDATE OF fbp ON shared.event
    FOR EACH ROW EXECUTE FUNCTION shared._bench_touch();
CREATE POLICY "Bench: before" ON shared.event FOR SELECT TO authenticated USING (false);
-- migrate:down
"""
PROBE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION shared._bench_touch() RETURNS trigger
LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE OR REPLACE TRIGGER bench_touch BEFORE UPDATE OF fbp, fbc ON shared.event
    FOR EACH ROW EXECUTE FUNCTION shared._bench_touch();
"""
PROBE_POLICIES = """
DROP POLICY IF EXISTS "Bench: before" ON shared.event;
DROP POLICY IF EXISTS "Bench: after" ON shared.event;
CREATE POLICY "Bench: after" ON shared.event FOR SELECT TO authenticated USING (true);
REVOKE ALL ON FUNCTION shared._bench_touch() FROM PUBLIC;
"""


class Writers:
    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.latencies: list[float] = []
        self.errors = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(WRITERS)]

    def _run(self) -> None:
        mine: list[float] = []
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    conn.execute(
                        "INSERT INTO shared.event (product_id, event_id, event_name) "
                        "VALUES ('snapmix', %s, 'PageView')",
                        (str(uuid.uuid4()),),
                    )
                except psycopg.Error:
                    with self.lock:
                        self.errors += 1
                mine.append(time.monotonic() - started)
        with self.lock:
            self.latencies += mine

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.3)
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def _reader(url: str, ready: threading.Event) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SELECT count(*) FROM shared.event")
        ready.set()
        time.sleep(READER_HOLDS_S)


def measure(url: str, deploy: Callable[[], object], with_reader: bool) -> dict[str, float]:
    reader = None
    with Writers(url) as writers:
        if with_reader:
            ready = threading.Event()
            reader = threading.Thread(target=_reader, args=(url, ready))
            reader.start()
            ready.wait(10)
        started = time.monotonic()
        deploy()
        took = time.monotonic() - started
        if reader:
            reader.join()
    lat = sorted(writers.latencies)
    return {
        "longest": lat[-1],
        "p99": lat[int(len(lat) * 0.99) - 1],
        "median": statistics.median(lat),
        "inserts": len(lat),
        "errors": writers.errors,
        "deploy": took,
    }


def main() -> None:
    name = "gdp_bench_deploy"
    url = fresh_database(name)
    work = Path(tempfile.mkdtemp(prefix="gdp_bench_deploy_"))
    try:
        db_dir = work / "db"
        shutil.copytree(REPO_DB, db_dir, ignore=shutil.ignore_patterns("schema.sql"))
        (db_dir / "migrations" / "29990101000000_bench.sql").write_text(PROBE_BEFORE)
        migrate.up(url, db_dir=db_dir)
        (db_dir / "functions" / "99_bench.sql").write_text(PROBE_FUNCTIONS)
        (db_dir / "policies" / "99_bench.sql").write_text(PROBE_POLICIES)
        made = release.generate(
            f"{BASE_URL}/postgres", db_dir, work / "supabase", now=datetime(2099, 1, 1, tzinfo=UTC)
        )
        assert made.path is not None
        version = made.path.name.split("_")[0]

        def back_to_before() -> None:
            """The state before the release, and the release not yet applied."""
            with psycopg.connect(url) as conn:
                conn.execute(
                    "DELETE FROM gdp_migrations.schema_migrations WHERE version = %s", (version,)
                )
                conn.execute('DROP POLICY IF EXISTS "Bench: after" ON shared.event')
                conn.execute('DROP POLICY IF EXISTS "Bench: before" ON shared.event')
                conn.execute(
                    'CREATE POLICY "Bench: before" ON shared.event FOR SELECT '
                    "TO authenticated USING (false)"
                )
                conn.execute(
                    "CREATE OR REPLACE TRIGGER bench_touch BEFORE UPDATE OF fbp "
                    "ON shared.event FOR EACH ROW EXECUTE FUNCTION shared._bench_touch()"
                )

        rows = []
        for with_reader in (False, True):
            back_to_before()
            old_way = measure(url, lambda: migrate.apply_sql_files(url, db_dir), with_reader)
            back_to_before()
            new_way = measure(
                url, lambda: migrate.up(url, db_dir=db_dir, release_only=True), with_reader
            )
            nothing = measure(
                url, lambda: migrate.up(url, db_dir=db_dir, release_only=True), with_reader
            )
            reader = (
                f" + reader holding `shared.event` {READER_HOLDS_S:.0f} s" if with_reader else ""
            )
            for label, result in (
                (f"old way: every function and policy file re-applied{reader}", old_way),
                (f"release migration: trigger + policy on `shared.event` changed{reader}", new_way),
                (f"release migration: nothing to change{reader}", nothing),
            ):
                rows.append(
                    f"| {label} | {result['longest'] * 1000:,.0f} ms | {result['p99'] * 1000:,.1f} ms"
                    f" | {result['median'] * 1000:,.1f} ms | {result['inserts']:,} "
                    f"| {result['errors']} | {result['deploy']:.2f} s |"
                )
        markdown = f"""## Deploys under insert traffic

`.venv/bin/python bench/bench_deploy.py` — {machine()}

{WRITERS} connections insert single events into `shared.event` without pause while a deploy runs;
"longest" is the longest single insert. Baseline, in the same run: the old way (every
`db/functions` and `db/policies` file re-applied in one transaction, which locks every table it
touches until it commits, and waits for locks without limit). Release migrations take table
locks only for what changed, last, with `lock_timeout` {release.LOCK_TIMEOUT}; `gdp db up` retries
a migration that timed out (1 s, then 2 s, ...).

| deploy | longest insert | p99 | median | inserts | insert errors | deploy took |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}
"""
        print(markdown)
        print(f"wrote {write_result('deploy', markdown)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        drop_database(name)


if __name__ == "__main__":
    main()
