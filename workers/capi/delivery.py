"""Deliver one pixel's events to Meta: pace, send in batches of up to 1,000, retry quickly on
transient errors, and split a rejected batch until the bad events are found.

Every request goes through a `Gate`: it opens the transaction that checks the request's events
may still go (their people not erased, consent not withdrawn), holds it while the request is in
flight, and settles Meta's answer in it (workers.capi.settle). Each retry and each half of a split
is a request of its own, checked again.

Decisions follow Meta's error code, never the HTTP status (Meta answers throttling with 400):
transient and throttled -> up to 3 quick retries (exponential backoff with jitter), then the
caller puts the messages back on the queue for later; invalid (100) -> bisect, so one bad event
costs about 2*log2(n) extra requests and the rest are delivered; auth -> stop, the caller opens
the pixel's circuit breaker; anything else -> rejected, dead-lettered with Meta's reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from workers.capi import metrics
from workers.capi.build import BuiltEvent
from workers.capi.graph import GraphClient
from workers.errors import MetaApiError

MAX_EVENTS_PER_REQUEST = 1000
SLOWDOWN_FROM_PCT = 75.0
# A pause Meta asks for (estimated_time_to_regain_access, up to an hour) is waited out in line
# only when short: a longer one would outlast the messages' visibility timeout, and another lane
# or worker would send them meanwhile. Longer pauses put the batch back on the queue instead.
MAX_INLINE_PAUSE_S = 20.0


class Paused(Exception):
    """The pixel is cooling down for longer than MAX_INLINE_PAUSE_S."""

    def __init__(self, remaining_s: float) -> None:
        super().__init__(f"paused for {remaining_s:.0f} s: Meta's usage limit for this pixel")
        self.remaining_s = remaining_s

class ClaimBusy(Exception):
    """The request's people or events are held by another session (an erasure in progress) for
    longer than the gate waits: its events are retried later."""


DeliveryStatus = Literal["sent", "retry", "rejected", "auth"]
# How long events whose check found their rows busy wait before their next try.
BUSY_RETRY_S = 5.0


@dataclass(frozen=True)
class Delivery:
    event: BuiltEvent
    status: DeliveryStatus
    batch_size: int
    events_received: int | None = None
    fbtrace_id: str | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    error_message: str | None = None
    retry_after_s: float = 0.0
    record: bool = True  # False: held again; the message is pushed back, nothing is written


class Claim(Protocol):
    """One request's open transaction: the events that may go, and where Meta's answer goes."""

    events: list[BuiltEvent]

    def settle(self, deliveries: list[Delivery]) -> None:
        """Record sent or rejected events (outcomes, messages archived) in this transaction."""


class Gate(Protocol):
    def claim(self, events: list[BuiltEvent]) -> AbstractAsyncContextManager[Claim]: ...


class _Refused(Exception):
    """Meta refused a request of several events as invalid: split the events that went."""

    def __init__(self, events: list[BuiltEvent]) -> None:
        super().__init__(f"{len(events)} events refused")
        self.events = events


@dataclass
class DeliveryStats:
    requests: int = 0
    failed_requests: int = 0
    quick_retries: int = 0


class PixelPacer:
    """At most `rate` events/s per pixel, slower as Meta's usage header nears 100%."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._limiters: dict[str, AsyncLimiter] = {}
        self._cool_until: dict[str, float] = {}

    def chunk_size(self) -> int:
        if self.rate is None:
            return MAX_EVENTS_PER_REQUEST
        return max(1, min(MAX_EVENTS_PER_REQUEST, int(self.rate)))

    async def wait(self, pixel_id: str, events: int) -> None:
        cool = self._cool_until.get(pixel_id, 0.0) - time.monotonic()
        if cool > MAX_INLINE_PAUSE_S:
            raise Paused(cool)
        if cool > 0:
            await asyncio.sleep(cool)
        if self.rate is None:
            return
        limiter = self._limiters.setdefault(pixel_id, AsyncLimiter(self.rate, 1.0))
        await limiter.acquire(min(events, limiter.max_rate))

    def observe(self, pixel_id: str, usage_pct: float, regain_access_s: float) -> None:
        """Slow this pixel down in proportion to how close Meta says we are to its limit."""
        pause = 0.0
        if usage_pct > SLOWDOWN_FROM_PCT:
            pause = min(30.0, (usage_pct - SLOWDOWN_FROM_PCT) / (100 - SLOWDOWN_FROM_PCT) * 5.0)
        pause = max(pause, min(regain_access_s, 3600.0))
        if pause > 0:
            self._cool_until[pixel_id] = max(
                self._cool_until.get(pixel_id, 0.0), time.monotonic() + pause
            )


class PixelDelivery:
    def __init__(
        self,
        client: GraphClient,
        pacer: PixelPacer,
        *,
        quick_retries: int = 3,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 2.0,
        events_per_request: int = MAX_EVENTS_PER_REQUEST,
    ) -> None:
        self._client = client
        self._pacer = pacer
        self._attempts = quick_retries + 1
        self._initial = retry_initial_s
        self._max = retry_max_s
        self._events_per_request = max(1, min(MAX_EVENTS_PER_REQUEST, events_per_request))
        self.stats = DeliveryStats()

    async def deliver(
        self, pixel_id: str, events: Sequence[BuiltEvent], test_event_code: str | None, gate: Gate
    ) -> list[Delivery]:
        """Deliveries of the events that went through the gate (those it left out, it settled)."""
        out: list[Delivery] = []
        size = min(self._pacer.chunk_size(), self._events_per_request)
        for start in range(0, len(events), size):
            chunk = list(events[start : start + size])
            if out and out[-1].status == "auth":
                # The token is bad for every chunk: hold the rest without another request.
                out.extend(
                    Delivery(
                        event=e,
                        status="auth",
                        batch_size=0,
                        error_code=out[-1].error_code,
                        error_message=out[-1].error_message,
                    )
                    for e in chunk
                )
                continue
            out.extend(await self._send_or_split(pixel_id, chunk, test_event_code, gate))
        return out

    async def _send_or_split(
        self, pixel_id: str, events: list[BuiltEvent], test_event_code: str | None, gate: Gate
    ) -> list[Delivery]:
        try:
            return await self._send(pixel_id, events, test_event_code, gate)
        except _Refused as refused:
            going = refused.events
            middle = len(going) // 2
            return await self._send_or_split(
                pixel_id, going[:middle], test_event_code, gate
            ) + await self._send_or_split(pixel_id, going[middle:], test_event_code, gate)

    async def _send(
        self, pixel_id: str, events: list[BuiltEvent], test_event_code: str | None, gate: Gate
    ) -> list[Delivery]:
        """One request (with quick retries), each attempt in its own gate transaction."""
        going = events
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(initial=self._initial, max=self._max),
            retry=retry_if_exception(lambda exc: isinstance(exc, MetaApiError) and exc.retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.stats.quick_retries += 1
                        metrics.QUICK_RETRIES.inc()
                    await self._pacer.wait(pixel_id, len(going))
                    async with gate.claim(going) as claim:
                        going = claim.events
                        if not going:
                            return []
                        deliveries = await self._request(pixel_id, going, test_event_code)
                        if deliveries[0].status in ("sent", "rejected"):
                            claim.settle(deliveries)
                        return deliveries
        except Paused as paused:
            return [
                Delivery(event=e, status="retry", batch_size=0, error_message=str(paused),
                         retry_after_s=paused.remaining_s)
                for e in going
            ]  # fmt: skip
        except ClaimBusy as busy:
            return [
                Delivery(event=e, status="retry", batch_size=0, retry_after_s=BUSY_RETRY_S,
                         error_message=f"rows busy in another session ({busy})")
                for e in going
            ]  # fmt: skip
        except MetaApiError as error:  # still failing after the quick retries
            return _failed(going, "retry", error)
        raise AssertionError("unreachable: tenacity returns or reraises")

    async def _request(
        self, pixel_id: str, events: list[BuiltEvent], test_event_code: str | None
    ) -> list[Delivery]:
        """POST the events once. Raises a retryable MetaApiError (for tenacity) or _Refused."""
        self.stats.requests += 1
        try:
            result = await self._client.send_events(
                pixel_id, [e.payload for e in events], test_event_code
            )
        except MetaApiError as error:
            self.stats.failed_requests += 1
            metrics.REQUESTS.labels(error.kind).inc()
            self._pacer.observe(pixel_id, error.usage_pct, error.regain_access_s)
            if error.retryable:
                raise
            if error.kind == "invalid" and len(events) > 1:
                raise _Refused(events) from error
            return _failed(events, "auth" if error.kind == "auth" else "rejected", error)
        metrics.REQUESTS.labels("ok").inc()
        metrics.BATCH_SIZE.observe(len(events))  # once per request, not per event
        metrics.META_LATENCY.observe(result.latency_s)
        self._pacer.observe(pixel_id, result.usage_pct, result.regain_access_s)
        mismatch = None
        if result.events_received != len(events):
            mismatch = f"events_received {result.events_received} != sent {len(events)}"
        return [
            Delivery(
                event=e,
                status="sent",
                batch_size=len(events),
                events_received=result.events_received,
                fbtrace_id=result.fbtrace_id,
                error_message=mismatch,
            )
            for e in events
        ]


def _failed(
    events: list[BuiltEvent], status: DeliveryStatus, error: MetaApiError
) -> list[Delivery]:
    return [
        Delivery(
            event=e,
            status=status,
            batch_size=len(events),
            error_code=error.code,
            error_subcode=error.subcode,
            error_message=error.message,
            fbtrace_id=error.fbtrace_id,
            retry_after_s=error.regain_access_s,
        )
        for e in events
    ]
