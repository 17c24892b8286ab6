"""`gdp worker capi`: lease messages from pgmq, build and send events per pixel, record outcomes.

One loop iteration:
  1. read up to 1,000 messages with a short visibility timeout (a crash lets them reappear,
     nothing is lost), kept leased while the batch works on them (workers.capi.settle.Leases);
  2. load their events and people in one query and build Meta events (workers.capi.build);
     events that cannot go (consent withdrawn, expired, invalid by Meta's rules) are settled at
     once;
  3. send each pixel's events (workers.capi.delivery) unless its circuit breaker is open; each
     request is checked, sent and settled in one transaction (workers.capi.settle.BatchGate):
     outcome rows written and messages archived as soon as Meta answers, so a crash re-sends at
     most the requests in flight, and an erasure never interleaves with a send;
  4. events to retry are put back with a delay that grows with their read count, until Meta's
     7-day window closes and they are dead-lettered as expired; breaker changes are written.
The loop wakes within a second of new work: LISTEN gdp_meta_capi, with a short poll as backup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout

from workers.capi import metrics
from workers.capi.breaker import Breakers, BreakerState, Change
from workers.capi.build import BuildConfig, BuiltEvent, Skipped, build_event, ldu_states
from workers.capi.delivery import Delivery, PixelDelivery, PixelPacer
from workers.capi.graph import GraphClient
from workers.capi.outcomes import (
    BatchReport,
    Plan,
    WorkerConfig,
    add_report,
    count_report,
    settle_delivery,
    settle_skipped,
)
from workers.capi.rows import PixelState, QueueMessage, QueueMetrics, WorkerSettings
from workers.capi.settle import BatchGate, Leases, Pool, open_pool, write_plan
from workers.db.connection import role_options
from workers.db.queries import query
from workers.db.rows import Row, fetch_all, fetch_one
from workers.settings import Settings
from workers.token_file import TokenFile

log = logging.getLogger("gdp.capi")
APPLICATION_NAME = "gdp-capi-worker"  # visible in pg_stat_activity
# The worker's least-privilege role (db/policies/18_process_roles.sql); the login in
# DATABASE_URL only needs to be a member of it.
ROLE = "gdp_capi_worker"


class CapiWorker:
    def __init__(self, settings: Settings, config: WorkerConfig | None = None) -> None:
        self.settings = settings
        self.config = config or WorkerConfig()
        self._token_file = TokenFile(settings.meta_capi_access_token_file)
        token = settings.meta_capi_access_token
        secret = settings.meta_app_secret
        self.client = GraphClient(
            settings.meta_graph_url,
            settings.meta_api_version,
            self._token_file.read() or (token.get_secret_value() if token else None),
            app_secret=secret.get_secret_value() if secret else None,
        )
        self.pacer = PixelPacer(None)
        self.delivery = PixelDelivery(
            self.client,
            self.pacer,
            retry_initial_s=self.config.quick_retry_initial_s,
            events_per_request=self.config.events_per_request,
        )
        self.breakers = Breakers()
        self._pool: Pool | None = None
        self._config_loaded_at = 0.0
        self._ldu: frozenset[str] = frozenset()

    async def close(self) -> None:
        await self._close_pool()
        await self.client.close()

    async def _request_pool(self) -> Pool:
        """Connections for the requests' transactions (one per request in flight)."""
        if self._pool is None:
            self._pool = await open_pool(
                self.settings.database_url, self.config.lanes, APPLICATION_NAME, ROLE
            )
        return self._pool

    async def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> BatchReport:
        """Drain until `stop` is set (or, with once=True, until the queue is empty).

        A lost database connection (PostgreSQL restarting) is retried with backoff; leased
        messages that were not settled reappear after their visibility timeout.
        """
        total = BatchReport()
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._run_connected(stop, once, total)
                return total
            except* (psycopg.OperationalError, PoolTimeout) as group:
                log.warning(
                    "database connection lost; reconnecting",
                    extra={"error": type(group.exceptions[0]).__name__, "retry_in_s": backoff},
                )
                await self._close_pool()
            await _wait_any(backoff, stop)
            backoff = min(backoff * 2, 10.0)
        return total

    async def _run_connected(self, stop: asyncio.Event, once: bool, total: BatchReport) -> None:
        """Several lanes (connections) drain the queue together: while one waits on Meta or the
        database, another builds its batch. pgmq.read skips locked rows, so lanes never share a
        message. A failing lane cancels the others; run() reconnects them all."""
        url = make_conninfo(self.settings.database_url, **role_options(ROLE))
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True, application_name=APPLICATION_NAME
        ) as listener:
            await listener.execute("LISTEN gdp_meta_capi")
            lanes = [
                await psycopg.AsyncConnection.connect(
                    url, autocommit=True, row_factory=dict_row, application_name=APPLICATION_NAME
                )
                for _ in range(self.config.lanes)
            ]
            try:
                await self._request_pool()
                await self._load_config(lanes[0])
                # A (re)started worker may carry a fixed token: probe open breakers at once.
                self.breakers.probe_all_now()
                wake = asyncio.Event()
                async with asyncio.TaskGroup() as group:
                    listening = group.create_task(self._listen(listener, wake, stop))
                    drains = [
                        group.create_task(self._lane(i, conn, stop, once, total, wake))
                        for i, conn in enumerate(lanes)
                    ]
                    await asyncio.gather(*drains)
                    listening.cancel()
            finally:
                for conn in lanes:
                    await conn.close()

    async def _listen(
        self, listener: psycopg.AsyncConnection[Any], wake: asyncio.Event, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            async for _ in listener.notifies(timeout=self.config.poll_interval_s):
                wake.set()
            wake.set()  # the poll backstop

    async def _lane(
        self,
        index: int,
        conn: psycopg.AsyncConnection[Row],
        stop: asyncio.Event,
        once: bool,
        total: BatchReport,
        wake: asyncio.Event,
    ) -> None:
        while not stop.is_set():
            # Cleared before reading, so a NOTIFY that lands while this batch is processed
            # wakes the lane at once instead of after the poll interval.
            wake.clear()
            report = await self.process_batch(conn)
            add_report(total, report)
            if report.messages:
                if index == 0 and time.monotonic() - self._config_loaded_at >= 5.0:
                    # Not only when idle: during a long drain too (settings, breakers opened
                    # by another worker, a new token, the queue gauges).
                    await self._load_config(conn)
                continue
            if once:
                return
            await _wait_any(self.config.poll_interval_s, wake, stop)  # stop ends the wait
            if index == 0:
                await self._load_config(conn)

    async def _load_config(self, conn: psycopg.AsyncConnection[Row]) -> None:
        row = await fetch_one(conn, query("capi_worker_config"), WorkerSettings)
        assert row is not None
        rate = float(row.max_events_per_second or 1000) if self.config.pacing else None
        if rate != self.pacer.rate:
            self.pacer = PixelPacer(rate)
            self.delivery = PixelDelivery(
                self.client,
                self.pacer,
                retry_initial_s=self.config.quick_retry_initial_s,
                events_per_request=self.config.events_per_request,
            )
        self._ldu = ldu_states(row.ldu_us_states)
        self.client.set_partner_agent(row.partner_agent)
        new_token = self._reload_token()
        read_at = self.breakers.generation
        states = await fetch_all(conn, query("capi_pixel_states"), PixelState)
        self.breakers.load(states, read_at)
        if new_token:  # probe open breakers now, not at the next interval
            self.breakers.probe_all_now()
        for state in states:
            metrics.BREAKER_OPEN.labels(state.pixel_id).set(
                1 if state.breaker is BreakerState.OPEN else 0
            )
        queue = await fetch_one(conn, query("capi_queue_metrics"), QueueMetrics)
        if queue:
            metrics.QUEUE_DEPTH.set(queue.queue_length or 0)
            metrics.OLDEST_AGE.set(queue.oldest_msg_age_sec or 0)
        self._config_loaded_at = time.monotonic()

    def _reload_token(self) -> bool:
        """Take a changed token from META_CAPI_ACCESS_TOKEN_FILE; True when it changed."""
        token = self._token_file.read()
        if token is None or token == self.client.token:
            return False
        self.client.set_token(token)
        log.info("access token re-read from META_CAPI_ACCESS_TOKEN_FILE")
        return True

    async def process_batch(self, conn: psycopg.AsyncConnection[Row]) -> BatchReport:
        report = BatchReport()
        messages = await fetch_all(
            conn,
            query("capi_read_messages"),
            QueueMessage,
            {"vt": self.config.visibility_timeout_s, "qty": self.config.batch_size},
        )
        if not messages:
            return report
        report.messages = len(messages)
        leases = Leases(messages)
        refs = sorted({m.event_ref for m in messages})
        cursor = await conn.execute(query("capi_load_events"), {"event_refs": refs})
        rows = {r["event_ref"]: r for r in await cursor.fetchall()}

        skipped = Plan()
        now = datetime.now(UTC)
        build_config = BuildConfig(
            now=now, default_region=self.settings.meta_default_phone_region, ldu_us_states=self._ldu
        )
        # One send per event even if it was queued twice (a replay beside the original).
        by_event: dict[int, list[QueueMessage]] = defaultdict(list)
        for message in messages:
            by_event[message.event_ref].append(message)
        to_send: dict[str, list[BuiltEvent]] = defaultdict(list)
        for ref, msgs in by_event.items():
            row = rows.get(ref)
            if row is None:  # erased, or its partition dropped: nothing left to send
                skipped.archive.extend(m.msg_id for m in msgs)
                continue
            built = build_event(
                row,
                msgs[0].meta_event_name or row["meta_event_name"] or row["event_name"],
                build_config,
            )
            if isinstance(built, Skipped):
                attempt = max(m.read_ct for m in msgs)
                settle_skipped(skipped, built, msgs, attempt, row, report)
                self.breakers.forget_held(ref)
            else:
                to_send[built.pixel_id].append(built)
        if skipped.outcomes or skipped.archive:
            await write_plan(conn, skipped)
            leases.settled(skipped.archive)

        pool = await self._request_pool()
        gate = BatchGate(pool, self.config, by_event, leases, report, now)
        done = asyncio.Event()
        keeper = asyncio.create_task(leases.keep(pool, self.config.visibility_timeout_s, done))
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._deliver_pixel(pixel, events, gate))
                    for pixel, events in to_send.items()
                ]
        finally:
            done.set()
            await keeper
        for ref in gate.settled_refs:  # left out at a request's check (erased, withdrawn)
            self.breakers.forget_held(ref)
        later = Plan()  # retries and holds: nothing was sent for them
        for task in tasks:
            for delivery in task.result():
                ref = delivery.event.event_ref
                if delivery.status in ("retry", "auth"):
                    settle_delivery(self.config, later, delivery, by_event[ref], now, report)
                if delivery.status != "auth":  # no longer held: forget it (the set stays small)
                    self.breakers.forget_held(ref)
        report.requests = self.delivery.stats.requests
        await self._write(conn, later)
        count_report(report)
        return report

    async def _deliver_pixel(
        self, pixel_id: str, events: list[BuiltEvent], gate: BatchGate
    ) -> list[Delivery]:
        deliveries: list[Delivery] = []
        breaker = self.breakers.get(pixel_id)
        if breaker.is_open:
            if not self.breakers.start_probe(pixel_id, self.config.breaker_probe_interval_s):
                return self._held(pixel_id, events, breaker.last_error_code)
            # One event probes the token; the rest wait for its answer.
            try:
                probe = await self.delivery.deliver(
                    pixel_id, events[:1], events[0].test_event_code, gate
                )
            except BaseException:
                breaker.probing = False
                raise
            deliveries.extend(probe)
            events = events[1:]
            if not probe:  # the gate left the probe event out (erased): probe again next time
                breaker.probing = False
                breaker.probe_now = True
                return deliveries + self._held(pixel_id, events, breaker.last_error_code)
            if probe[0].status in ("auth", "retry"):
                # Still refused, or no answer about the token (a pause, a 5xx): stay open. Only
                # an answer from Meta about the event itself (sent, rejected) proves the token.
                refused = probe[0].error_code if probe[0].status == "auth" else None
                self.breakers.probe_failed(pixel_id, refused)
                return deliveries + self._held(pixel_id, events, breaker.last_error_code)
            self.breakers.close(pixel_id)
        # Group by test_event_code: it is per request, and products may differ.
        by_code: dict[str | None, list[BuiltEvent]] = defaultdict(list)
        for event in events:
            by_code[event.test_event_code].append(event)
        for code, group in by_code.items():
            deliveries.extend(await self.delivery.deliver(pixel_id, group, code, gate))
        auth = next((d for d in deliveries if d.status == "auth"), None)
        if auth is not None:
            self.breakers.open(pixel_id, auth.error_code, auth.error_message)
            breaker.held_recorded.update(
                d.event.event_ref for d in deliveries if d.status == "auth"
            )
        return deliveries

    def _held(self, pixel_id: str, events: list[BuiltEvent], code: int | None) -> list[Delivery]:
        """Events kept back while the pixel's breaker is open. Each gets one `held_auth` record
        per breaker episode, not one per probe interval (days of outage would otherwise write
        thousands of rows per event); later holds only push the message back."""
        recorded = self.breakers.get(pixel_id).held_recorded
        held = []
        for e in events:
            held.append(Delivery(event=e, status="auth", batch_size=0, error_code=code,
                                 error_message="held: circuit breaker open",
                                 record=e.event_ref not in recorded))  # fmt: skip
            recorded.add(e.event_ref)
        return held

    async def _write(self, conn: psycopg.AsyncConnection[Row], plan: Plan) -> None:
        changes = self.breakers.take_changes()
        if not (changes or plan.outcomes or plan.archive or plan.delay):
            return  # nothing to write: no empty transaction (two round trips per batch)
        committed = False
        try:
            async with conn.transaction():
                await write_plan(conn, plan)
                if plan.delay:
                    await conn.execute(
                        query("capi_delay_messages"),
                        {"msg_ids": list(plan.delay), "delays": list(plan.delay.values())},
                    )
                for state in changes:
                    closed = state.pending is Change.CLOSED
                    await conn.execute(
                        query("capi_set_breaker"),
                        {
                            "pixel_id": state.pixel_id,
                            "breaker": (BreakerState.CLOSED if closed else BreakerState.OPEN).value,
                            "error_code": None if closed else state.last_error_code,
                            "error_message": None if closed else state.last_error_message,
                        },
                    )
            committed = True
        finally:
            self.breakers.written(changes, committed=committed)
        for state in changes:
            metrics.BREAKER_OPEN.labels(state.pixel_id).set(
                0 if state.pending is Change.CLOSED else 1
            )
            if state.pending is Change.OPENED:
                log.warning(
                    "circuit breaker opened",
                    extra={"pixel_id": state.pixel_id, "code": state.last_error_code},
                )
            elif state.pending is Change.CLOSED:
                log.info("circuit breaker closed", extra={"pixel_id": state.pixel_id})


async def _wait_any(timeout: float, *events: asyncio.Event) -> None:
    """Until any of `events` is set, or `timeout` seconds."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
