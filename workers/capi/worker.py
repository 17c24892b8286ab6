"""`gdp worker capi`: lease messages from pgmq, build and send events per pixel, record outcomes.

One loop iteration:
  1. read up to 1,000 messages (visibility timeout: a crash lets them reappear, nothing is lost);
  2. load their events and people in one query and build Meta events (workers.capi.build);
  3. send each pixel's events (workers.capi.delivery) unless its circuit breaker is open;
  4. in one transaction write an attribution_events row per event and archive the settled
     messages; messages to retry are put back with a delay that grows with their read count,
     until Meta's 7-day window closes and they are dead-lettered as expired.
The loop wakes within a second of new work: LISTEN gdp_meta_capi, with a short poll as backup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from workers.capi import metrics
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
from workers.capi.token_file import TokenFile
from workers.db.queries import query
from workers.settings import Settings

log = logging.getLogger("gdp.capi")
APPLICATION_NAME = "gdp-capi-worker"  # visible in pg_stat_activity
Row = dict[str, Any]


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
        self._breakers: dict[str, Row] = {}
        self._probe_now: set[str] = set()
        # Per open breaker, the events already recorded as held (see _held).
        self._held_recorded: dict[str, set[int]] = {}
        self._config_loaded_at = 0.0
        self._ldu: frozenset[str] = frozenset()

    async def close(self) -> None:
        await self.client.close()

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
            except* psycopg.OperationalError as group:
                log.warning(
                    "database connection lost; reconnecting",
                    extra={"error": type(group.exceptions[0]).__name__, "retry_in_s": backoff},
                )
            await _wait_any(backoff, stop)
            backoff = min(backoff * 2, 10.0)
        return total

    async def _run_connected(self, stop: asyncio.Event, once: bool, total: BatchReport) -> None:
        """Several lanes (connections) drain the queue together: while one waits on Meta or the
        database, another builds its batch. pgmq.read skips locked rows, so lanes never share a
        message. A failing lane cancels the others; run() reconnects them all."""
        url = self.settings.database_url
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
                await self._load_config(lanes[0])
                # A (re)started worker may carry a fixed token: probe open breakers at once.
                self._probe_now = set(self._breakers)
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
        cursor = await conn.execute(query("capi_worker_config"))
        row = await cursor.fetchone()
        assert row is not None
        rate = float(row["max_events_per_second"] or 1000) if self.config.pacing else None
        if rate != self.pacer.rate:
            self.pacer = PixelPacer(rate)
            self.delivery = PixelDelivery(
                self.client,
                self.pacer,
                retry_initial_s=self.config.quick_retry_initial_s,
                events_per_request=self.config.events_per_request,
            )
        self._ldu = ldu_states(row["ldu_us_states"])
        self.client.set_partner_agent(row["partner_agent"])
        new_token = self._reload_token()
        cursor = await conn.execute(query("capi_pixel_states"))
        states = await cursor.fetchall()
        self._breakers = {r["pixel_id"]: dict(r) for r in states if r["breaker"] == "open"}
        if new_token:  # probe open breakers now, not at the next interval
            self._probe_now = set(self._breakers)
        self._held_recorded = {
            pixel: refs for pixel, refs in self._held_recorded.items() if pixel in self._breakers
        }
        for state in states:
            metrics.BREAKER_OPEN.labels(state["pixel_id"]).set(
                1 if state["breaker"] == "open" else 0
            )
        cursor = await conn.execute(query("capi_queue_metrics"))
        queue = await cursor.fetchone()
        if queue:
            metrics.QUEUE_DEPTH.set(queue["queue_length"] or 0)
            metrics.OLDEST_AGE.set(queue["oldest_msg_age_sec"] or 0)
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
        cursor = await conn.execute(
            query("capi_read_messages"),
            {"vt": self.config.visibility_timeout_s, "qty": self.config.batch_size},
        )
        messages = await cursor.fetchall()
        if not messages:
            return report
        report.messages = len(messages)
        refs = sorted({int(m["message"]["event"]) for m in messages})
        cursor = await conn.execute(query("capi_load_events"), {"event_refs": refs})
        rows = {r["event_ref"]: r for r in await cursor.fetchall()}

        plan = Plan()
        now = datetime.now(UTC)
        build_config = BuildConfig(
            now=now, default_region=self.settings.meta_default_phone_region, ldu_us_states=self._ldu
        )
        # One send per event even if it was queued twice (a replay beside the original).
        by_event: dict[int, list[Row]] = defaultdict(list)
        for message in messages:
            by_event[int(message["message"]["event"])].append(message)
        to_send: dict[str, list[tuple[BuiltEvent, list[Row]]]] = defaultdict(list)
        for ref, msgs in by_event.items():
            row = rows.get(ref)
            if row is None:  # erased, or its partition dropped: nothing left to send
                plan.archive.extend(m["msg_id"] for m in msgs)
                continue
            built = build_event(
                row,
                msgs[0]["message"].get("meta_event_name")
                or row["meta_event_name"]
                or row["event_name"],
                build_config,
            )
            attempt = max(m["read_ct"] for m in msgs)
            if isinstance(built, Skipped):
                settle_skipped(plan, built, msgs, attempt, row, report)
                for recorded in self._held_recorded.values():
                    recorded.discard(ref)
            else:
                to_send[built.pixel_id].append((built, msgs))

        results = await asyncio.gather(
            *(self._deliver_pixel(pixel, items) for pixel, items in to_send.items())
        )
        for pixel_results in results:
            for delivery, msgs in pixel_results:
                settle_delivery(self.config, plan, delivery, msgs, now, report)
                if delivery.status != "auth":  # no longer held: forget it (the set stays small)
                    self._held_recorded.get(delivery.event.pixel_id, set()).discard(
                        delivery.event.event_ref
                    )
        report.requests = self.delivery.stats.requests
        await self._write(conn, plan)
        count_report(report)
        return report

    async def _deliver_pixel(
        self, pixel_id: str, items: list[tuple[BuiltEvent, list[Row]]]
    ) -> list[tuple[Delivery, list[Row]]]:
        by_ref = {built.event_ref: msgs for built, msgs in items}
        events = [built for built, _ in items]
        deliveries: list[Delivery] = []
        if pixel_id in self._breakers:
            if not self._probe_due(pixel_id):
                held = self._held(pixel_id, events, self._breakers[pixel_id].get("last_error_code"))
                return [(d, by_ref[d.event.event_ref]) for d in held]
            # One event probes the token; the rest wait for its answer.
            probe = await self.delivery.deliver(pixel_id, events[:1], events[0].test_event_code)
            deliveries.extend(probe)
            events = events[1:]
            if probe[0].status in ("auth", "retry"):
                # Still refused, or no answer about the token (a pause, a 5xx): stay open. Only
                # an answer from Meta about the event itself (sent, rejected) proves the token.
                self._breakers[pixel_id]["last_probe_at"] = datetime.now(UTC)
                self._breakers[pixel_id]["changed"] = "probed"
                refused = probe[0].error_code if probe[0].status == "auth" else None
                last = self._breakers[pixel_id].get("last_error_code")
                deliveries.extend(self._held(pixel_id, events, refused or last))
                return [(d, by_ref[d.event.event_ref]) for d in deliveries]
            self._breakers[pixel_id]["changed"] = "closed"
        # Group by test_event_code: it is per request, and products may differ.
        by_code: dict[str | None, list[BuiltEvent]] = defaultdict(list)
        for event in events:
            by_code[event.test_event_code].append(event)
        for code, group in by_code.items():
            deliveries.extend(await self.delivery.deliver(pixel_id, group, code))
        auth = next((d for d in deliveries if d.status == "auth"), None)
        if auth is not None:
            self._breakers[pixel_id] = {
                "pixel_id": pixel_id,
                "last_probe_at": datetime.now(UTC),
                "last_error_code": auth.error_code,
                "last_error_message": auth.error_message,
                "changed": "open",
            }
            self._held_recorded.setdefault(pixel_id, set()).update(
                d.event.event_ref for d in deliveries if d.status == "auth"
            )
        return [(d, by_ref[d.event.event_ref]) for d in deliveries]

    def _held(self, pixel_id: str, events: list[BuiltEvent], code: int | None) -> list[Delivery]:
        """Events kept back while the pixel's breaker is open. Each gets one `held_auth` record
        per breaker episode, not one per probe interval (days of outage would otherwise write
        thousands of rows per event); later holds only push the message back."""
        recorded = self._held_recorded.setdefault(pixel_id, set())
        held = []
        for e in events:
            held.append(Delivery(event=e, status="auth", batch_size=0, error_code=code,
                                 error_message="held: circuit breaker open",
                                 record=e.event_ref not in recorded))  # fmt: skip
            recorded.add(e.event_ref)
        return held

    def _probe_due(self, pixel_id: str) -> bool:
        if pixel_id in self._probe_now:
            self._probe_now.discard(pixel_id)
            return True
        state = self._breakers[pixel_id]
        last = state.get("last_probe_at") or state.get("opened_at")
        return last is None or (
            datetime.now(UTC) - last >= timedelta(seconds=self.config.breaker_probe_interval_s)
        )

    async def _write(self, conn: psycopg.AsyncConnection[Row], plan: Plan) -> None:
        async with conn.transaction():
            if plan.outcomes or plan.archive:
                await conn.execute(
                    query("capi_record_outcomes"),
                    {
                        "outcomes": orjson.dumps(plan.outcomes, default=str).decode(),
                        "archive_msg_ids": plan.archive,
                    },
                )
            if plan.delay:
                await conn.execute(
                    query("capi_delay_messages"),
                    {"msg_ids": list(plan.delay), "delays": list(plan.delay.values())},
                )
            for pixel_id, state in list(self._breakers.items()):
                change = state.pop("changed", None)
                if change in ("open", "probed"):
                    await conn.execute(
                        query("capi_set_breaker"),
                        {
                            "pixel_id": pixel_id,
                            "breaker": "open",
                            "error_code": state.get("last_error_code"),
                            "error_message": state.get("last_error_message"),
                        },
                    )
                    metrics.BREAKER_OPEN.labels(pixel_id).set(1)
                    if change == "open":
                        log.warning(
                            "circuit breaker opened",
                            extra={"pixel_id": pixel_id, "code": state.get("last_error_code")},
                        )
                elif change == "closed":
                    await conn.execute(
                        query("capi_set_breaker"),
                        {
                            "pixel_id": pixel_id,
                            "breaker": "closed",
                            "error_code": None,
                            "error_message": None,
                        },
                    )
                    del self._breakers[pixel_id]
                    self._held_recorded.pop(pixel_id, None)
                    metrics.BREAKER_OPEN.labels(pixel_id).set(0)
                    log.info("circuit breaker closed", extra={"pixel_id": pixel_id})


async def _wait_any(timeout: float, *events: asyncio.Event) -> None:
    """Until any of `events` is set, or `timeout` seconds."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
