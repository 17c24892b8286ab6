"""Coalesce concurrent ingest requests into one `shared.ingest_events` call (natural batching).

A call to ingest_events has a fixed cost (the function, the statement-level triggers, one
pgmq.send_batch, one NOTIFY, one commit and its WAL flush) that dwarfs the cost of one more event.
So requests do not each call it: they hand their events to the batcher and wait. At most
`max_in_flight` calls run at once; while they run, newly arrived events gather, and the next call
carries all of them (up to `max_events`). At low traffic a request goes alone and at once (no
timer, no added latency); under load, calls grow and their fixed cost is shared.

Nothing changes for a caller: it gets the rows of its own events (ordinals renumbered from 1),
or the error its own events caused. If a combined call fails on bad input, every request in it is
retried alone, so one bad request never fails the others. Events of different products (or
sources) never share a call: ingest_events takes one product.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from edge_compat.db import Database, Row
from workers.errors import DatabaseUnavailable, GdpError


@dataclass(slots=True)
class _Job:
    elements: list[dict[str, Any]]
    future: asyncio.Future[list[Row]]


class IngestBatcher:
    def __init__(
        self,
        db: Database,
        *,
        max_events: int = 1000,
        max_in_flight: int = 4,
        on_call: Callable[[int], None] | None = None,
    ) -> None:
        self._db = db
        self._max_events = max_events
        self._max_in_flight = max_in_flight
        self._on_call = on_call
        self._queues: dict[tuple[str, str], deque[_Job]] = {}
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def ingest(
        self, product: str, elements: list[dict[str, Any]], source: str = "server"
    ) -> list[Row]:
        """The ingest_events rows of these elements (ordinal 1 = elements[0])."""
        future: asyncio.Future[list[Row]] = asyncio.get_running_loop().create_future()
        self._queues.setdefault((product, source), deque()).append(_Job(elements, future))
        self._start()
        # A client that goes away cancels only its wait: its events are stored all the same
        # (a resend is then answered as a duplicate).
        return await future

    async def drain(self) -> None:
        """Wait for every call in flight (before the pool closes)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _start(self) -> None:
        while self._in_flight < self._max_in_flight and self._queues:
            key = next(iter(self._queues))
            queue = self._queues.pop(key)
            jobs = [queue.popleft()]
            size = len(jobs[0].elements)
            while queue and size + len(queue[0].elements) <= self._max_events:
                size += len(queue[0].elements)
                jobs.append(queue.popleft())
            if queue:  # the rest waits its turn, behind other products
                self._queues[key] = queue
            self._in_flight += 1
            task = asyncio.create_task(self._flush(key, jobs))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self, key: tuple[str, str], jobs: list[_Job]) -> None:
        try:
            try:
                rows = await self._call(key, [e for job in jobs for e in job.elements])
            except GdpError as exc:
                if len(jobs) == 1 or isinstance(exc, DatabaseUnavailable):
                    raise
                for job in jobs:  # one request's data broke the call: each alone
                    try:
                        _settle(job, await self._call(key, job.elements))
                    except GdpError as alone:
                        _fail(job, alone)
                return
            offset = 0
            for job in jobs:
                n = len(job.elements)
                mine = [
                    {**row, "ordinal": row["ordinal"] - offset}
                    for row in rows
                    if offset < row["ordinal"] <= offset + n
                ]
                _settle(job, mine)
                offset += n
        except BaseException as exc:
            for job in jobs:
                _fail(job, exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._in_flight -= 1
            self._start()

    async def _call(self, key: tuple[str, str], elements: list[dict[str, Any]]) -> list[Row]:
        product, source = key
        if self._on_call is not None:
            self._on_call(len(elements))
        return await self._db.fetch(
            "ingest_events",
            {"product_id": product, "events": orjson.dumps(elements).decode(), "source": source},
        )


def _settle(job: _Job, rows: list[Row]) -> None:
    if not job.future.done():
        job.future.set_result(rows)


def _fail(job: _Job, exc: BaseException) -> None:
    if job.future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        job.future.cancel()
    else:
        job.future.set_exception(exc)
