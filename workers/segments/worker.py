"""`gdp worker segments`: run shared.evaluate_segments() every SEGMENT_ENGINE_CRON_INTERVAL seconds.

The interval and the switch are rows (the setting SEGMENT_ENGINE_CRON_INTERVAL, default 300; the
flag SEGMENT_ENGINE_META_CAPI_ENABLED), read before every run, so changing them needs no restart.
A session advisory lock keeps a second worker (or a pg_cron job holding it) from evaluating at
the same time: that worker skips the run and says so. The first run of each UTC day is a full
evaluation (every person against every segment); the others are incremental (only persons whose
features changed, or whose time windows crossed, since the last run). The worker connects as
gdp_segment_worker, which may execute the evaluation and nothing else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from workers.db.connection import role_options
from workers.db.queries import query
from workers.rounds import sleep_unless_stopped
from workers.segments import metrics

log = logging.getLogger("gdp.segments")
ROLE = "gdp_segment_worker"
APPLICATION_NAME = "gdp-segment-worker"
AsyncConn = psycopg.AsyncConnection[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SegmentResult:
    segment_id: str
    members: int | None
    joined: int
    left: int
    error: str | None


@dataclass(frozen=True, slots=True)
class EvaluationRun:
    run_id: int | None
    full: bool
    ran: bool  # False: disabled, or another session held the lock
    reason: str | None
    seconds: float
    segments: tuple[SegmentResult, ...] = ()

    @property
    def joined(self) -> int:
        return sum(s.joined for s in self.segments)

    @property
    def left(self) -> int:
        return sum(s.left for s in self.segments)

    def summary(self) -> str:
        if not self.ran:
            return f"segments: skipped ({self.reason})"
        failed = [s.segment_id for s in self.segments if s.error]
        return (
            f"segments: run {self.run_id} ({'full' if self.full else 'incremental'}), "
            f"{len(self.segments)} segment(s), {self.joined} joined, {self.left} left, "
            f"{self.seconds:.2f} s" + (f"; failed: {', '.join(failed)}" if failed else "")
        )


async def connect(database_url: str, role: str | None = ROLE) -> AsyncConn:
    return await psycopg.AsyncConnection.connect(
        make_conninfo(database_url, application_name=APPLICATION_NAME, **role_options(role)),
        row_factory=dict_row,
        autocommit=True,
        connect_timeout=10,
    )


async def evaluate_once(
    conn: AsyncConn,
    *,
    full: bool,
    require_enabled: bool = True,
) -> EvaluationRun:
    """One evaluation under the worker's session lock, in one transaction."""
    started = time.perf_counter()
    cfg = await (await conn.execute(query("segments_worker_config"))).fetchone()
    mode = "full" if full else "incremental"
    if require_enabled and not (cfg and cfg["enabled"]):
        metrics.RUNS.labels(mode, "skipped").inc()
        return EvaluationRun(None, full, False, "SEGMENT_ENGINE_META_CAPI_ENABLED is off", 0.0)
    row = await (await conn.execute(query("segments_try_lock"))).fetchone()
    if not (row and row["locked"]):
        metrics.RUNS.labels(mode, "skipped").inc()
        return EvaluationRun(None, full, False, "another session is evaluating", 0.0)
    try:
        async with conn.transaction():
            rows = await (await conn.execute(query("segments_evaluate"), {"full": full})).fetchall()
    finally:
        await conn.execute(query("segments_unlock"))
    results = tuple(
        SegmentResult(r["segment_id"], r["members"], int(r["joined"]), int(r["left"]), r["error"])
        for r in rows
    )
    _observe(full, results, time.perf_counter() - started)
    run_id = int(rows[0]["run_id"]) if rows else None
    run = EvaluationRun(run_id, full, True, None, time.perf_counter() - started, results)
    for result in results:
        if result.error:
            log.error(
                "segment_failed",
                extra={"segment_id": result.segment_id, "error": result.error, "run_id": run_id},
            )
    log.info(
        "segments_evaluated",
        extra={
            "run_id": run_id,
            "full": full,
            "joined": run.joined,
            "left": run.left,
            "seconds": round(run.seconds, 3),
        },
    )
    return run


def _observe(full: bool, results: tuple[SegmentResult, ...], seconds: float) -> None:
    mode = "full" if full else "incremental"
    metrics.RUNS.labels(mode, "done").inc()
    metrics.DURATION.labels(mode).observe(seconds)
    metrics.LAST_SUCCESS.set(time.time())
    for result in results:
        metrics.CHANGES.labels(result.segment_id, "join").inc(result.joined)
        metrics.CHANGES.labels(result.segment_id, "leave").inc(result.left)
        metrics.FAILED_SEGMENTS.labels(result.segment_id).set(1 if result.error else 0)
        if result.members is not None:
            metrics.MEMBERS.labels(result.segment_id).set(result.members)


async def run_forever(
    database_url: str,
    stop: asyncio.Event,
    *,
    once: bool = False,
    role: str | None = ROLE,
) -> list[EvaluationRun]:
    """Evaluate every SEGMENT_ENGINE_CRON_INTERVAL seconds until `stop` is set (or once)."""
    runs: list[EvaluationRun] = []
    last_full_day: dt.date | None = None
    said_disabled = False
    while not stop.is_set():
        interval = 300
        try:
            async with await connect(database_url, role) as conn:
                cfg = await (await conn.execute(query("segments_worker_config"))).fetchone()
                interval = int(cfg["interval_s"]) if cfg else 300
                today = dt.datetime.now(dt.UTC).date()
                run = await evaluate_once(conn, full=last_full_day != today)
            if run.ran and run.full:
                last_full_day = today
            if run.ran or not said_disabled:
                log.info("segments_run", extra={"summary": run.summary()})
            said_disabled = not run.ran and run.reason is not None and "off" in run.reason
            runs.append(run)
        except psycopg.Error as exc:
            metrics.RUNS.labels("unknown", "failed").inc()
            log.error("segments_run_failed", extra={"error": str(exc).splitlines()[0]})
            if once:
                raise
        if once:
            break
        await sleep_unless_stopped(stop, interval)
    return runs
