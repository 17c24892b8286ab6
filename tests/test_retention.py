"""Retention: `gdp worker maintenance` deletes what is past its window, in short batches, one
run at a time, and never what must stay (db/functions/60_retention.sql)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.edge_support import Conn
from tests.support.metrics import scrape_until
from tests.support.waiting import wait_until
from workers.maintenance.retention import RetentionConfig, run_forever, run_retention
from workers.processes import free_port

ROOT = Path(__file__).resolve().parents[1]


def add_events(db: Conn, prefix: str, n: int, age_days: float, *, queued: bool = False) -> None:
    """n events received age_days ago; `queued`: their messages are still in meta_capi."""
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, received_at)"
        " SELECT 'snapmix', %s || g, 'Signup', now() - make_interval(days => %s)"
        " FROM generate_series(1, %s) AS g",
        (prefix, age_days, n),
    )
    if queued:
        db.execute(
            "SELECT pgmq.send_batch('meta_capi', array_agg(jsonb_build_object('event', id)))"
            " FROM shared.event WHERE event_id LIKE %s",
            (prefix + "%",),
        )


def event_ids(db: Conn) -> set[str]:
    return {r["event_id"] for r in db.execute("SELECT event_id FROM shared.event").fetchall()}


def test_a_run_deletes_past_each_window_in_batches(db_url: str, db: Conn) -> None:
    add_events(db, "old", 250, 401)
    add_events(db, "kept", 3, 399)
    db.execute(
        "INSERT INTO shared.attribution_events (product_id, event_id, meta_event_name, status,"
        " created_at) SELECT 'snapmix', 'a' || g, 'Lead', 'sent', now() - make_interval(days => g)"
        " FROM generate_series(85, 95) AS g"
    )
    db.execute("SELECT pgmq.send_batch('meta_capi', array_fill('{}'::jsonb, ARRAY[30]))")
    db.execute("SELECT pgmq.archive('meta_capi', msg_id) FROM pgmq.q_meta_capi")
    db.execute("UPDATE pgmq.a_meta_capi SET archived_at = now() - interval '15 days'"
               " WHERE msg_id % 3 <> 0")  # fmt: skip
    # segment_changes messages nobody read: those past the window go, the work queue's stay.
    db.execute("SELECT pgmq.send_batch('segment_changes', array_fill('{}'::jsonb, ARRAY[4]))")
    db.execute("UPDATE pgmq.q_segment_changes SET enqueued_at = now() - interval '15 days'"
               " WHERE msg_id % 2 = 0")  # fmt: skip
    db.execute("SELECT pgmq.send_batch('meta_capi', array_fill('{}'::jsonb, ARRAY[2]))")
    db.execute("UPDATE pgmq.q_meta_capi SET enqueued_at = now() - interval '15 days'")

    run = asyncio.run(run_retention(db_url, batch_size=100))

    assert (run.ran, run.events, run.attribution_events, run.queue_archive) == (True, 250, 6, 22)
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_segment_changes").fetchone() == {"n": 2}
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 2}
    assert run.rounds == 4  # 100 + 100 + 50 events, then a round that finds nothing
    assert event_ids(db) == {"kept1", "kept2", "kept3"}
    assert db.execute("SELECT count(*) AS n FROM pgmq.a_meta_capi").fetchone() == {"n": 10}
    # The windows are settings: an admin shortens one, the next run applies it.
    db.execute("SELECT shared.set_setting('RETENTION_EVENT_DAYS', '30', 'test')")
    assert asyncio.run(run_retention(db_url)).events == 3


def test_events_still_owed_to_meta_are_kept(db_url: str, db: Conn) -> None:
    db.execute("SELECT shared.set_setting('RETENTION_EVENT_DAYS', '8', 'test')")
    add_events(db, "queued", 3, 9, queued=True)
    add_events(db, "dead", 2, 9)
    db.execute(
        "INSERT INTO shared.capi_dead_letter (event_ref, product_id, event_id, meta_event_name,"
        " reason) SELECT id, product_id, event_id, 'Lead', 'expired' FROM shared.event"
        " WHERE event_id LIKE 'dead%'"
    )
    assert asyncio.run(run_retention(db_url)).events == 0
    # Sent (archived) and replayed: nothing holds them any more.
    db.execute("SELECT pgmq.archive('meta_capi', msg_id) FROM pgmq.q_meta_capi")
    db.execute("UPDATE shared.capi_dead_letter SET replayed_at = now(), replayed_by = 'test'")
    assert asyncio.run(run_retention(db_url)).events == 5
    assert event_ids(db) == set()


def test_two_runs_never_overlap(db_url: str, db: Conn) -> None:
    """Another session holding the retention lock (a run in progress, a pg_cron job): a run
    does nothing and says so; apply_retention answers no rows; once released, it runs."""
    add_events(db, "old", 5, 500)
    key = db.execute("SELECT shared._retention_lock_key() AS k").fetchone()
    assert key is not None
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (key["k"],))
        skipped = asyncio.run(run_retention(db_url))
        assert (skipped.ran, skipped.deleted) == (False, 0)
        assert db.execute("SELECT * FROM shared.apply_retention()").fetchall() == []
        other.execute("SELECT pg_advisory_unlock(%s)", (key["k"],))
    assert asyncio.run(run_retention(db_url)).events == 5


def test_rows_another_session_holds_are_skipped_not_waited_for(db_url: str, db: Conn) -> None:
    add_events(db, "old", 10, 500)
    with psycopg.connect(db_url, row_factory=dict_row) as holder:
        holder.execute(
            "SELECT id FROM shared.event WHERE event_id IN ('old1', 'old2') FOR UPDATE"
        )  # a transaction left open on two of them
        # A run that waited on those rows would time out here instead of hanging the test.
        run = asyncio.run(asyncio.wait_for(run_retention(db_url), timeout=20))
        assert run.events == 8
        holder.rollback()
    assert event_ids(db) == {"old1", "old2"}
    assert asyncio.run(run_retention(db_url)).events == 2


def test_a_run_killed_midway_loses_no_lock_and_deletes_nothing_it_should_keep(
    db_url: str, db: Conn
) -> None:
    """The backend of a run is terminated between batches: the batches it committed stay
    deleted, the rest stays, the lock goes with the session, and the next run finishes."""
    add_events(db, "old", 3000, 500)
    add_events(db, "kept", 50, 10)
    # A deterministic hold point: deleting old1001 (the 11th batch of 100, after ten commits)
    # waits on an advisory lock this test holds, and the run is killed while it waits there.
    hold_key = 815_001
    db.execute(
        "CREATE FUNCTION public.hold_retention_run() RETURNS trigger LANGUAGE plpgsql"
        f" AS $$ BEGIN PERFORM pg_advisory_xact_lock({hold_key}); RETURN OLD; END $$"
    )
    db.execute(
        "CREATE TRIGGER hold_retention_run BEFORE DELETE ON shared.event FOR EACH ROW"
        " WHEN (OLD.event_id = 'old1001') EXECUTE FUNCTION public.hold_retention_run()"
    )
    db.execute("SELECT shared.set_setting('RETENTION_BATCH_SIZE', '100', 'test')")
    killed = threading.Event()

    def kill_when_held(admin: psycopg.Connection[Any]) -> None:
        def kill() -> bool:
            return admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'gdp-maintenance' AND datname = current_database()"
                " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
            ).fetchone() is not None

        try:
            wait_until(kill, "the retention run to wait at the hold point", interval_s=0.005)
        except BaseException:
            # Let the run go on (and the test fail) rather than wait on the lock for ever.
            admin.execute("SELECT pg_advisory_unlock(%s)", (hold_key,))
            raise
        killed.set()

    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", (hold_key,))
        killer = threading.Thread(target=kill_when_held, args=(admin,))
        killer.start()
        try:
            with pytest.raises(psycopg.OperationalError):
                asyncio.run(run_retention(db_url, max_seconds=60))
        finally:
            killer.join()
    assert killed.is_set()
    db.execute("DROP TRIGGER hold_retention_run ON shared.event")
    left = db.execute(
        "SELECT count(*) AS n FROM shared.event WHERE event_id LIKE 'old%'"
    ).fetchone()
    # Ten batches committed before the hold point; the one holding was rolled back.
    assert left is not None and 0 < left["n"] < 3000 and left["n"] % 100 == 0
    run = asyncio.run(run_retention(db_url))
    assert run.ran and run.events == left["n"]
    assert event_ids(db) == {f"kept{i}" for i in range(1, 51)}


def test_the_maintenance_role_runs_retention_and_nothing_else(db_url: str, db: Conn) -> None:
    add_events(db, "old", 2, 500)
    with psycopg.connect(db_url, autocommit=True, options="-c role=gdp_maintenance") as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM shared.event")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM shared.person")
        row = conn.execute("CALL shared.run_retention()").fetchone()
    assert row is not None and row[0] == 2  # events


def test_the_worker_command(env: dict[str, str], db: Conn) -> None:
    add_events(db, "old", 7, 401)
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", "worker", "maintenance", "--once"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "maintenance: 1 retention run(s), deleted 7 events, 0 attribution events, "
        "0 dead letters, 0 queue archive"
    )
    down = {**env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", "worker", "maintenance", "--once"],
        env=down, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 4
    assert done.stderr.startswith("gdp: database unavailable")
    assert "Traceback" not in done.stderr


def test_the_loop_runs_every_interval_until_stopped(db_url: str, db: Conn) -> None:
    async def go() -> list[Any]:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_forever(db_url, RetentionConfig(interval_s=0.2), stop)
        )
        await asyncio.sleep(0.1)
        add_events(db, "late", 4, 500)  # arrives between runs
        await asyncio.to_thread(wait_until, lambda: not event_ids(db), "a later run to delete them")
        stop.set()
        return await task

    runs = asyncio.run(go())
    assert len(runs) >= 2
    assert sum(r.events for r in runs) == 4


def test_as_of_only_looks_back(db: Conn) -> None:
    add_events(db, "recent", 3, 1)
    future = datetime.now(UTC) + timedelta(days=1000)
    row = db.execute(
        "SELECT shared.retention_delete_events(NULL, %s) AS n", (future,)
    ).fetchone()
    assert row == {"n": 0}


def test_the_worker_serves_its_metrics_on_this_machine(env: dict[str, str], db: Conn) -> None:
    add_events(db, "old", 3, 401)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "workers.cli.main", "worker", "maintenance", "--interval", "1",
         "--metrics-port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        text = scrape_until(
            process, port,
            lambda text: 'gdp_retention_deleted_rows_total{table="events"} 3.0' in text,
            "the worker's metrics to count the deleted events",
        )  # fmt: skip
        assert "gdp_retention_last_success_timestamp_seconds" in text
        assert 'gdp_retention_runs_total{result="done"}' in text
    finally:
        process.terminate()
        process.communicate(timeout=15)
    assert process.returncode == 0  # SIGTERM ends the loop cleanly
