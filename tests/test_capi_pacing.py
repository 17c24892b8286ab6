"""Pacing per pixel: a rate cap, slowing down as Meta's usage nears 100%, and long pauses put
back on the queue rather than slept through (they would outlast the messages' visibility)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

from tests.capi_helpers import PIXEL
from tests.support.sandbox import TOKEN, SandboxControl
from workers.capi.build import BuiltEvent
from workers.capi.delivery import (
    MAX_INLINE_PAUSE_S,
    Claim,
    Delivery,
    Paused,
    PixelDelivery,
    PixelPacer,
)
from workers.capi.graph import GraphClient


def events(n: int, prefix: str = "p") -> list[BuiltEvent]:
    now = datetime.now(UTC)
    return [
        BuiltEvent(
            event_ref=i, product_id="snapmix", event_id=f"{prefix}{i}", meta_event_name="Lead",
            person_id=None, pixel_id=PIXEL, test_event_code=None,
            payload={"event_name": "Lead", "event_time": int(now.timestamp()),
                     "event_id": f"{prefix}{i}", "action_source": "system_generated",
                     "user_data": {"external_id": "a" * 64}},
            match_keys=("external_id",), deadline=now + timedelta(days=7),
        )
        for i in range(n)
    ]


class PassGate:
    """Every event may go; nothing is recorded (these tests are about pacing alone)."""

    @asynccontextmanager
    async def claim(self, events: list[BuiltEvent]) -> AsyncIterator[Claim]:
        yield Passed(events)


class Passed:
    def __init__(self, events: list[BuiltEvent]) -> None:
        self.events = events

    def settle(self, deliveries: list[Delivery]) -> None:
        pass


def test_events_per_second_are_capped_per_pixel() -> None:
    async def go() -> tuple[float, float]:
        pacer = PixelPacer(200.0)
        started = time.monotonic()
        for _ in range(6):  # 600 events at 200/s: the first 200 at once, then 2 s for the rest
            await pacer.wait("1", 100)
        capped = time.monotonic() - started
        started = time.monotonic()
        await pacer.wait("2", 100)  # another pixel has its own budget
        return capped, time.monotonic() - started

    capped, other = asyncio.run(go())
    # Lower bounds only: load can make waits longer, never shorter. The other pixel is measured
    # against the capped one, so a slow machine slows both alike.
    assert capped >= 1.8, capped
    assert other < capped / 4, (other, capped)


def test_rising_usage_slows_the_pixel_down() -> None:
    async def go() -> tuple[float, float]:
        pacer = PixelPacer(None)
        pacer.observe("1", usage_pct=50.0, regain_access_s=0)  # far from the limit: no pause
        started = time.monotonic()
        await pacer.wait("1", 1)
        calm = time.monotonic() - started
        pacer.observe("1", usage_pct=90.0, regain_access_s=0)  # (90-75)/25*5 = 3 s
        started = time.monotonic()
        await pacer.wait("1", 1)
        return calm, time.monotonic() - started

    calm, slowed = asyncio.run(go())
    assert slowed >= 2.5, slowed  # about 3 s asked for; load can only add to it
    assert calm < slowed / 10, (calm, slowed)


def test_a_long_pause_is_not_slept_through() -> None:
    pacer = PixelPacer(None)
    pacer.observe("1", usage_pct=100.0, regain_access_s=1800)
    with pytest.raises(Paused) as info:
        asyncio.run(pacer.wait("1", 1))
    assert info.value.remaining_s > MAX_INLINE_PAUSE_S


def test_a_paused_pixel_hands_its_events_back_without_a_request(sandbox: SandboxControl) -> None:
    async def go() -> tuple[list[Delivery], list[Delivery]]:
        graph = GraphClient(sandbox.url, "v21.0", TOKEN)
        try:
            pacer = PixelPacer(None)
            delivery = PixelDelivery(graph, pacer, retry_initial_s=0.01)
            pacer.observe(PIXEL, usage_pct=100.0, regain_access_s=900)
            paused = await delivery.deliver(PIXEL, events(5), None, PassGate())
            other = await delivery.deliver("42", events(2, "q"), None, PassGate())  # unaffected
            return paused, other
        finally:
            await graph.close()

    paused, other = asyncio.run(go())
    assert {d.status for d in paused} == {"retry"}
    assert all(850 <= d.retry_after_s <= 900 for d in paused)
    assert {d.status for d in other} == {"sent"}
    assert [r.get("path", "") for r in sandbox.requests()] != []  # only the other pixel's
    assert all(PIXEL not in str(r.get("path", "")) for r in sandbox.requests())
