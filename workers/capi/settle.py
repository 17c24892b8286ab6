"""Each Conversions API request is checked, sent and settled in one database transaction.

`BatchGate.claim(events)` opens the transaction before a request: shared.capi_claim_request
locks the request's messages (still leased by this worker), people and events, and says which
events may still go. An event whose person was erased, or withdrew consent, is left out and
settled at once. The request is sent while the locks are held, and `Claim.settle` records Meta's
answer in the same transaction: outcome rows, and the messages archived. So:

- a worker killed at any moment re-sends at most the requests it had in flight (their
  transactions never committed), never a whole leased batch;
- an erasure or a withdrawal either commits before the check (the event is left out) or waits
  for the request in flight to be answered and settled; it never interleaves with a send.

`Leases` keeps the batch's other messages leased while it works (a short visibility timeout,
extended every third of it), so a crash lets them reappear quickly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from workers.capi.build import BuiltEvent
from workers.capi.delivery import Claim, ClaimBusy, Delivery
from workers.capi.outcomes import BatchReport, Outcome, Plan, WorkerConfig, settle_delivery
from workers.capi.rows import ClaimVerdict, QueueMessage, Verdict
from workers.db.connection import role_options
from workers.db.queries import query
from workers.db.rows import Row, fetch_all

log = logging.getLogger("gdp.capi")
Pool = AsyncConnectionPool[psycopg.AsyncConnection[Row]]

# Requests a lane may have in flight at once (one per pixel of its batch), each holding a
# connection for its transaction.
PIXELS_IN_FLIGHT_PER_LANE = 8


class Leases:
    """The messages a batch still holds: msg_id -> the read_ct it was leased with."""

    def __init__(self, messages: Iterable[QueueMessage]) -> None:
        self.pending: dict[int, int] = {m.msg_id: m.read_ct for m in messages}
        self.in_flight: set[int] = set()

    def settled(self, msg_ids: Iterable[int]) -> None:
        for msg_id in msg_ids:
            self.pending.pop(msg_id, None)

    def to_extend(self) -> tuple[list[int], list[int]]:
        ids = [m for m in self.pending if m not in self.in_flight]
        return ids, [self.pending[m] for m in ids]

    async def keep(self, pool: Pool, vt_s: int, done: asyncio.Event) -> None:
        """Until `done`: every third of the visibility timeout, extend the leases still held."""
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), timeout=max(0.2, vt_s / 3))
                return
            except TimeoutError:
                pass
            ids, read_cts = self.to_extend()
            if not ids:
                continue
            async with pool.connection() as conn:
                await conn.execute(
                    query("capi_extend_leases"), {"msg_ids": ids, "read_cts": read_cts, "vt": vt_s}
                )


class BatchGate:
    """Opens, for each request of one batch, the transaction that checks, sends and settles it."""

    def __init__(
        self,
        pool: Pool,
        config: WorkerConfig,
        messages: dict[int, list[QueueMessage]],
        leases: Leases,
        report: BatchReport,
        now: datetime,
    ) -> None:
        self._pool = pool
        self._config = config
        self._messages = messages  # event_ref -> its messages in this batch
        self._leases = leases
        self._report = report
        self._now = now
        # Events settled by a request's transaction (sent, rejected, or left out at its check).
        self.settled_refs: set[int] = set()

    @asynccontextmanager
    async def claim(self, events: list[BuiltEvent]) -> AsyncIterator[Claim]:
        msgs = [m for e in events for m in self._messages[e.event_ref]]
        msg_ids = [m.msg_id for m in msgs]
        try:
            async with self._pool.connection() as conn, conn.transaction():
                rows = await fetch_all(
                    conn,
                    query("capi_claim_request"),
                    ClaimVerdict,
                    {
                        "msg_ids": msg_ids,
                        "read_cts": [m.read_ct for m in msgs],
                        "lock_timeout_ms": int(self._config.claim_lock_timeout_s * 1000),
                    },
                )
                verdicts = {r.msg_id: r.verdict for r in rows}
                plan = Plan()
                claim = _OpenClaim(plan, self._config, self._messages, self._now)
                claim.events = [e for e in events if self._check(e, verdicts, claim)]
                self._leases.in_flight.update(msg_ids)
                try:
                    yield claim
                finally:
                    self._leases.in_flight.difference_update(msg_ids)
                await write_plan(conn, plan)
        except (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected) as busy:
            raise ClaimBusy(type(busy).__name__) from busy
        # Committed: what the transaction settled is no longer ours to keep or to retry.
        self._leases.settled(plan.archive)
        self.settled_refs.update(claim.settled_refs)
        _count(self._report, claim.plan_report)

    def _check(self, event: BuiltEvent, verdicts: dict[int, Verdict], claim: _OpenClaim) -> bool:
        """Whether the event may go; if not, what its transaction settles for it."""
        msgs = self._messages[event.event_ref]
        seen: set[Verdict] = {verdicts.get(m.msg_id, "lost") for m in msgs}
        if seen == {"send"}:
            return True
        attempt = max(m.read_ct for m in msgs)
        ids = [m.msg_id for m in msgs if verdicts.get(m.msg_id) != "lost"]
        plan = claim.plan
        if "gone" in seen:
            # Erased (or deleted) since the batch was read: nothing left to send, nothing to say.
            plan.archive.extend(ids)
        elif "withdrawn" in seen:
            plan.outcomes.append(Outcome(
                event.event_ref, event.product_id, event.event_id, event.meta_event_name,
                event.person_id, event.pixel_id, "blocked_consent", attempt,
                test_event_code=event.test_event_code,
                error_message="the person withdrew consent before the request"))  # fmt: skip
            plan.archive.extend(ids)
            claim.plan_report.blocked += 1
        else:
            # Another reader took one of its messages when a lease lapsed: that reader sends
            # the event; the copies still leased here are dropped.
            plan.archive.extend(ids)
            log.warning("lease lost; another reader has the event", extra={"msgs": len(msgs)})
        claim.settled_refs.add(event.event_ref)
        return False


class _OpenClaim(Claim):
    def __init__(
        self,
        plan: Plan,
        config: WorkerConfig,
        messages: dict[int, list[QueueMessage]],
        now: datetime,
    ) -> None:
        self.events: list[BuiltEvent] = []
        self.plan = plan
        self._config = config
        self._messages = messages
        self._now = now
        self.settled_refs: set[int] = set()
        self.plan_report = BatchReport()

    def settle(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            settle_delivery(
                self._config, self.plan, d, self._messages[d.event.event_ref], self._now,
                self.plan_report,
            )  # fmt: skip
            self.settled_refs.add(d.event.event_ref)


async def open_pool(url: str, lanes: int, application_name: str, role: str | None) -> Pool:
    """Connections for the requests' transactions: one per request in flight (a lane sends to
    each pixel of its batch at once); past the pool's size, requests wait for a connection.
    Each acts as `role` (the worker's own, gdp_capi_worker) from its first statement."""
    pool: Pool = AsyncConnectionPool(
        make_conninfo(url, **role_options(role)),
        min_size=1,
        max_size=lanes * PIXELS_IN_FLIGHT_PER_LANE,
        kwargs={"autocommit": True, "row_factory": dict_row, "application_name": application_name},
        open=False,
    )
    await pool.open(wait=True, timeout=10.0)
    return pool


async def write_plan(conn: psycopg.AsyncConnection[Row], plan: Plan) -> None:
    if plan.outcomes or plan.archive:
        await conn.execute(
            query("capi_record_outcomes"),
            {
                "outcomes": orjson.dumps(plan.outcomes, default=str).decode(),
                "archive_msg_ids": plan.archive,
            },
        )


def _count(total: BatchReport, part: BatchReport) -> None:
    total.sent += part.sent
    total.dead_lettered += part.dead_lettered
    total.blocked += part.blocked
