"""One diff run of a segment's audience: what changed since Meta last acknowledged, by `/users`.

The changes are read from the cursor `shared.audience_changes_open` opens (removals first),
hashed 10,000 at a time by workers/audiences/rows.py, and sent in requests of at most
10,000 rows. Each request Meta acknowledged is recorded (shared.audience_record_rows) in the
transaction right after it, so a worker killed at any point resumes from what Meta confirmed: the
next run sees the unacknowledged rows again and re-sends at most the request that was in flight
(adding or removing a row twice leaves Meta's audience the same). A person whose email or phone
changed is removed under the old row before the new row is added, in that order.

Guards, checked before anything is sent: a first upload needs `min_size_first_upload` members,
and removing more than `max_removed_share` of the acknowledged people needs --force or an
admin's acknowledgement (shared.audience_allow_removals).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from workers.audiences.graph import AudienceGraph
from workers.audiences.rows import (
    MAX_ROWS_PER_REQUEST,
    SCHEMA,
    PersonRow,
    classify,
    has_identifier,
    hash_people,
)
from workers.db.queries import query

log = logging.getLogger("gdp.audiences")
Row = dict[str, Any]


class Refused(Exception):
    """A guard refused the run; the message says which and what lets it through."""


@dataclass
class RunContext:
    conn: psycopg.AsyncConnection[Row]  # writes: one transaction per acknowledged request
    read_conninfo: str  # a second session reads the changes through a cursor
    graph: AudienceGraph
    target: Row
    run_id: int
    default_region: str = "US"
    # The cells of every row of a request must be at most this many (Meta: 10,000).
    rows_per_request: int = MAX_ROWS_PER_REQUEST
    # Changed people are looked for among those updated after this (None: every member).
    changed_since: dt.datetime | None = None
    # Called with (op, rows) after each request Meta acknowledged (a CLI's progress bar).
    progress: Callable[[str, int], None] | None = None


async def one(conn: psycopg.AsyncConnection[Row], name: str, params: dict[str, Any]) -> Row:
    cursor = await conn.execute(query(name), params)
    row = await cursor.fetchone()
    await conn.commit()
    return row or {}


def response_json(body: dict[str, Any], delta: int) -> str:
    return orjson.dumps({
        "num_received_delta": delta,
        "num_invalid_entries": int(body.get("num_invalid_entries") or 0),
        "invalid_entry_samples": body.get("invalid_entry_samples") or {},
    }).decode()  # fmt: skip


def check_guards(target: Row, removes: int, forced: bool) -> tuple[str, str] | None:
    """Which guard refuses the run and why ("min_size" or "removal_cap", message), or None.
    Pure, so the wording is tested directly."""
    if forced:
        return None
    members, acked = int(target["members"] or 0), int(target["acknowledged"])
    minimum = int(target["min_size_first_upload"])
    if target["first_upload_at"] is None and acked == 0 and members < minimum:
        return "min_size", (
            f"{target['segment_id']}: {members} members; the audience needs at least {minimum} "
            "before its first upload (meta_audience.min_size_first_upload), or --force"
        )
    share = float(target["max_removed_share"])
    if acked > 0 and removes > share * acked:
        return "removal_cap", (
            f"{target['segment_id']}: the run would remove {removes} of {acked} acknowledged "
            f"people ({removes / acked:.0%}), more than the cap of {share:.0%} "
            "(meta_audience.max_removed_share); run with --force or acknowledge it with "
            f"`gdp audiences allow-removals {target['segment_id']} {removes} --by NAME`"
        )
    return None


class Sender:
    """Buffers of removals and additions, each sent when it holds a full request.

    One request is in flight at a time, in the background: while Meta processes it, the next
    rows are read and hashed. A request is launched only after the previous one was recorded,
    so requests and their records keep their order (removals before the additions that follow
    them) and a kill leaves at most the one in flight unrecorded.
    """

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.removes: list[tuple[str, Sequence[str]]] = []
        self.adds: list[PersonRow] = []
        self.touches: list[PersonRow] = []
        self.audience_id = str(ctx.target["audience_id"])
        self._inflight: asyncio.Task[None] | None = None

    async def remove(self, person_id: str, cells: Sequence[str]) -> None:
        self.removes.append((person_id, cells))
        if len(self.removes) >= self.ctx.rows_per_request:
            await self.flush_removes()

    async def add(self, row: PersonRow) -> None:
        self.adds.append(row)
        if len(self.adds) >= self.ctx.rows_per_request:
            await self.flush_adds()

    async def touch(self, row: PersonRow) -> None:
        self.touches.append(row)
        if len(self.touches) >= self.ctx.rows_per_request:
            await self.flush_touches()

    async def settle(self) -> None:
        """Wait for the request in flight (and its record); its error, if any, is raised."""
        task, self._inflight = self._inflight, None
        if task is not None:
            await task

    async def _launch(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await self.settle()
        except BaseException:
            work.close()
            raise
        self._inflight = asyncio.create_task(work)

    async def flush_removes(self) -> None:
        if self.removes:
            batch, self.removes = self.removes, []
            await self._launch(self._send_removes(batch))

    async def flush_adds(self) -> None:
        # A person re-added under a new email/phone leaves under the old one first.
        await self.flush_removes()
        if self.adds:
            batch, self.adds = self.adds, []
            await self._launch(self._send_adds(batch))

    async def flush_touches(self) -> None:
        if self.touches:
            batch, self.touches = self.touches, []
            await self._launch(self._record_touches(batch))

    async def flush(self) -> None:
        await self.flush_removes()
        await self.flush_adds()
        await self.flush_touches()
        await self.settle()

    async def _send_removes(self, batch: list[tuple[str, Sequence[str]]]) -> None:
        body = await self.ctx.graph.users(self.audience_id, "remove", SCHEMA, [c for _, c in batch])
        ids = [p for p, _ in batch]
        await self._record("remove", ids, [",".join(c) for _, c in batch], None, body)

    async def _send_adds(self, batch: list[PersonRow]) -> None:
        # The cells as they are (tuples serialize as JSON arrays): a copy of 10,000 rows per
        # request costs more than the serializing.
        body = await self.ctx.graph.users(self.audience_id, "add", SCHEMA, [r.cells for r in batch])
        await self._record(
            "add", [r.person_id for r in batch], [",".join(r.cells) for r in batch],
            [r.person_updated_at for r in batch], body,
        )  # fmt: skip

    async def _record_touches(self, batch: list[PersonRow]) -> None:
        await one(
            self.ctx.conn,
            "audience_record_rows",
            {"run_id": self.ctx.run_id, "op": "touch", "person_ids": [r.person_id for r in batch],
             "cells": None, "updated": [r.person_updated_at for r in batch], "response": "{}"},
        )  # fmt: skip

    async def _record(
        self, op: str, ids: list[str], cells: list[str], updated: list[dt.datetime] | None,
        body: Row,
    ) -> None:  # fmt: skip
        """One set-based write of what Meta acknowledged: the rows as arrays, each row's cells
        joined by commas (SHA-256 hex or "", never a comma)."""
        received = int(body.get("num_received") or len(ids))
        await one(
            self.ctx.conn,
            "audience_record_rows",
            {"run_id": self.ctx.run_id, "op": op, "person_ids": ids, "cells": cells,
             "updated": updated, "response": response_json(body, received)},
        )  # fmt: skip
        if self.ctx.progress is not None:
            self.ctx.progress(op, len(ids))


async def diff_run(ctx: RunContext, *, forced: bool) -> None:
    """Send what changed; raises Refused (a guard) or AudienceCallError (Meta said no).

    The removals come first from the cursor: they are counted (and held) before anything is
    sent, so the guards weigh them without a query of their own."""
    segment_id = ctx.target["segment_id"]
    window = {"segment_id": segment_id, "since": ctx.changed_since}
    sender = Sender(ctx)
    try:
        async with await psycopg.AsyncConnection.connect(
            ctx.read_conninfo, row_factory=dict_row
        ) as reader:
            # A cursor opened by the function (it reads the tables as their owner); each fetch
            # returns the next 10,000 rows while the query goes on, in this transaction.
            await reader.execute(query("audience_changes_open"), window)

            async def fetch() -> list[Row]:
                return await (await reader.execute(query("audience_changes_fetch"))).fetchall()

            cap = float(ctx.target["max_removed_share"]) * int(ctx.target["acknowledged"])
            chunk = await fetch()
            leaving: list[Row] = []
            over = False
            while not forced and chunk and all(r["op"] == "remove" for r in chunk):
                leaving.extend(chunk)
                chunk = await fetch()
                if int(ctx.target["acknowledged"]) and len(leaving) > cap:
                    over = True  # past the cap: no need to hold them all to know
                    break
            if over:
                counted = await one(ctx.conn, "audience_removal_count",
                                    {"segment_id": segment_id})  # fmt: skip
                removes: int | None = int(counted["removes"])
            elif forced:
                removes = None  # no guard to weigh them: streamed, not held
            else:
                split = next((i for i, r in enumerate(chunk) if r["op"] != "remove"),
                             len(chunk))  # fmt: skip
                leaving.extend(chunk[:split])
                chunk = chunk[split:]
                removes = len(leaving)
            await _check(ctx, removes, forced)
            await _process(sender, leaving + chunk, ctx.default_region)
            while chunk := await fetch():
                await _process(sender, chunk, ctx.default_region)
        await sender.flush()
    finally:
        # Whatever stopped the run, the request in flight is recorded if Meta took it.
        if sys.exc_info()[0] is not None:
            with contextlib.suppress(Exception):
                await sender.settle()


async def _check(ctx: RunContext, removes: int | None, forced: bool) -> None:
    refusal = None if removes is None else check_guards(ctx.target, removes, forced)
    if refusal is not None and refusal[0] == "removal_cap" and removes is not None:
        allowed = await one(
            ctx.conn, "audience_take_allowance", {"run_id": ctx.run_id, "needed": removes}
        )
        if allowed.get("allowed"):
            refusal = None
    if refusal is not None:
        raise Refused(refusal[1])
    await one(
        ctx.conn,
        "audience_plan_run",
        {"run_id": ctx.run_id, "adds": None, "removes": removes, "session_id": None,
         "estimated": None},
    )  # fmt: skip


async def _process(sender: Sender, chunk: list[Row], region: str) -> None:
    people = []
    for row in chunk:
        if row["op"] == "remove":
            await sender.remove(str(row["person_id"]), row["old_cells"])
        else:
            people.append(row)
    if not people:
        return
    # In a thread: the event loop keeps the request in flight moving meanwhile.
    hashed = await asyncio.to_thread(hash_people, people, default_region=region)
    for person, new in zip(people, hashed, strict=True):
        if not has_identifier(new.cells):
            continue
        old = person["old_cells"]
        action = classify(new.cells, old)
        if action == "touch":
            await sender.touch(new)
            continue
        if action == "replace_identity":
            await sender.remove(new.person_id, old)
        await sender.add(new)
