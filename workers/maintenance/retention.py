"""Retention as the maintenance worker runs it: `CALL shared.run_retention()` (the same call a
pg_cron job makes on Supabase) every `interval` seconds, as the gdp_maintenance role.

Each run deletes, in batches committed one by one, what is past its window (RETENTION_*_DAYS in
shared.setting); see db/functions/60_retention.sql for what is never deleted. A run that finds
another session running retention (a second worker, a pg_cron job) does nothing and says so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import class_row

from workers.db.connection import role_options
from workers.db.queries import query
from workers.maintenance import metrics
from workers.rounds import sleep_unless_stopped

log = logging.getLogger("gdp.maintenance")
ROLE = "gdp_maintenance"
APPLICATION_NAME = "gdp-maintenance"
TABLES = ("events", "attribution_events", "dead_letters", "queue_archive")


@dataclass(frozen=True, slots=True)
class RetentionRun:
    """What one `CALL shared.run_retention()` deleted (rows per table), in how many rounds."""

    events: int
    attribution_events: int
    dead_letters: int
    queue_archive: int
    rounds: int
    ran: bool

    @property
    def deleted(self) -> int:
        return self.events + self.attribution_events + self.dead_letters + self.queue_archive


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    interval_s: float = 300.0
    max_seconds: int = 60
    batch_size: int | None = None  # None: the RETENTION_BATCH_SIZE setting


async def run_retention(
    database_url: str,
    *,
    batch_size: int | None = None,
    max_seconds: int = 60,
    as_of: datetime | None = None,
) -> RetentionRun:
    """One retention run on a connection of its own (a failed run leaves no lock behind: the
    session advisory lock goes with the connection)."""
    started = time.perf_counter()
    try:
        async with await psycopg.AsyncConnection.connect(
            make_conninfo(database_url, **role_options(ROLE)),
            autocommit=True,  # the procedure commits after every round
            application_name=APPLICATION_NAME,
            connect_timeout=10,
        ) as conn:
            cursor = conn.cursor(row_factory=class_row(RetentionRun))
            await cursor.execute(
                query("retention_run"),
                {"batch_size": batch_size, "max_seconds": max_seconds, "as_of": as_of},
            )
            run = await cursor.fetchone()
    except psycopg.Error:
        metrics.RUNS.labels("failed").inc()
        raise
    assert run is not None
    metrics.DURATION.observe(time.perf_counter() - started)
    if not run.ran:
        metrics.RUNS.labels("skipped").inc()
        return run
    metrics.RUNS.labels("done").inc()
    metrics.LAST_SUCCESS.set_to_current_time()
    for table in TABLES:
        metrics.DELETED.labels(table).inc(getattr(run, table))
    return run


async def run_forever(
    database_url: str, config: RetentionConfig, stop: asyncio.Event, *, once: bool = False
) -> list[RetentionRun]:
    """Run retention every `config.interval_s` seconds until `stop` (or once). A database that
    is down is logged and tried again at the next interval; nothing is lost by waiting."""
    runs: list[RetentionRun] = []
    while not stop.is_set():
        try:
            run = await run_retention(
                database_url, batch_size=config.batch_size, max_seconds=config.max_seconds
            )
        except psycopg.OperationalError as exc:
            if once:
                raise
            log.warning("retention failed; retrying later", extra={"error": type(exc).__name__})
        else:
            runs.append(run)
            fields: dict[str, Any] = {t: getattr(run, t) for t in TABLES}
            if run.ran:
                log.info("retention", extra={**fields, "rounds": run.rounds})
            else:
                log.info("retention skipped: another session is running it")
        if once:
            break
        await sleep_unless_stopped(stop, config.interval_s)
    return runs
