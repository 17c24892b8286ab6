"""Two lanes and one pixel's open breaker: one probe at a time, and a lane that closes the
breaker never pulls it from under a lane still delivering to that pixel."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.capi_helpers import (
    FAST,
    PIXEL,
    add_person,
    drain,
    enable_pipeline,
    insert_events,
    lead_events,
    settings,
)
from tests.support.sandbox import SandboxControl
from workers.capi.breaker import Breakers, BreakerState, Change
from workers.capi.graph import SendResult
from workers.capi.rows import PixelState
from workers.capi.worker import CapiWorker

Conn = psycopg.Connection[dict[str, Any]]


def test_a_lane_closing_the_breaker_never_breaks_another_lane_on_the_same_pixel(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    """Deterministic replay of a race seen in `make test`: lane A probes, succeeds, closes the
    breaker and writes it while lane B's own request to the pixel is still unanswered. B's
    request is answered only once A's batch is fully written."""
    enable_pipeline(db)
    person = add_person(db, "two.lanes@example.com")
    insert_events(db, lead_events(person, 2, "lane"))
    db.execute("SELECT shared.capi_set_breaker(%s, 'open', 190, 'expired')", (PIXEL,))
    db.execute("UPDATE shared.capi_pixel_state SET last_probe_at = now() - interval '1 hour'")
    config = replace(FAST, batch_size=1, breaker_probe_interval_s=1.0)

    async def go() -> list[int]:
        worker = CapiWorker(settings(db_url, sandbox.url), config)
        first_written = asyncio.Event()
        real_send = worker.client.send_events
        calls: list[int] = []

        async def send(
            pixel_id: str, events: Sequence[dict[str, Any]], code: str | None = None
        ) -> SendResult:
            calls.append(len(events))
            if len(calls) > 1:
                await first_written.wait()  # the second request outlives the first lane's batch
            return await real_send(pixel_id, events, code)

        worker.client.send_events = send  # type: ignore[method-assign]
        try:
            async with (
                await psycopg.AsyncConnection.connect(
                    db_url, autocommit=True, row_factory=dict_row
                ) as lane_a,
                await psycopg.AsyncConnection.connect(
                    db_url, autocommit=True, row_factory=dict_row
                ) as lane_b,
            ):
                await worker._load_config(lane_a)

                async def lane(conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
                    await worker.process_batch(conn)
                    first_written.set()

                await asyncio.gather(lane(lane_a), lane(lane_b))
        finally:
            await worker.close()
        return calls

    calls = asyncio.run(go())
    assert calls == [1]  # one probe; the other lane held its event instead of probing too
    assert db.execute("SELECT breaker FROM shared.capi_pixel_state").fetchone() == {
        "breaker": "closed"
    }
    drain(db, db_url, sandbox.url, config=config)  # the held event goes on the next round
    assert sandbox.summary()[PIXEL]["unique"] == 2


OPEN_ROW = PixelState(pixel_id="1", breaker=BreakerState.OPEN, last_error_code=190,
                      last_error_message="expired")


def test_a_reload_never_drops_a_change_not_yet_written() -> None:
    breakers = Breakers()
    breakers.open("1", 190, "expired")  # opened by a lane, not written yet
    breakers.load([], breakers.generation)  # the table still says nothing about the pixel
    assert breakers.is_open("1")
    [change] = breakers.take_changes()
    assert change.pending is Change.OPENED and change.last_error_code == 190
    assert breakers.take_changes() == []  # another lane does not write it a second time
    breakers.load([], breakers.generation)  # read while the write is under way
    assert breakers.is_open("1")
    breakers.written([change], committed=True)
    breakers.load([OPEN_ROW], breakers.generation)
    breakers.close("1")
    breakers.load([OPEN_ROW], breakers.generation)  # stale: our close is pending
    assert breakers.get("1").state is BreakerState.CLOSED
    assert [c.pending for c in breakers.take_changes()] == [Change.CLOSED]


def test_rows_read_before_a_write_committed_never_undo_it() -> None:
    """A lane fetches the table, another lane's write of an opened breaker commits, then the
    first lane applies what it fetched (the breaker closed): the outage bookkeeping stays."""
    breakers = Breakers()
    breakers.open("1", 190, "expired")
    breakers.get("1").held_recorded.update({1, 2, 3})
    read_at = breakers.generation  # the reload's fetch starts
    changes = breakers.take_changes()
    breakers.written(changes, committed=True)  # the other lane's write commits
    breakers.load([], read_at)  # the reload applies rows from before that write
    assert breakers.is_open("1") and breakers.get("1").held_recorded == {1, 2, 3}
    breakers.load([], breakers.generation)  # a later read that says closed is believed
    assert not breakers.is_open("1")


def test_a_write_that_failed_stays_pending() -> None:
    breakers = Breakers()
    breakers.open("1", 190, "expired")
    changes = breakers.take_changes()
    breakers.written(changes, committed=False)
    assert [c.pending for c in breakers.take_changes()] == [Change.OPENED]


def test_only_one_lane_probes_at_a_time() -> None:
    breakers = Breakers()
    breakers.open("1", 190, "expired")
    breakers.written(breakers.take_changes(), committed=True)
    breakers.probe_all_now()
    assert breakers.start_probe("1", 3600)
    assert not breakers.start_probe("1", 0)  # another lane, while the probe is out
    breakers.probe_failed("1", 190)
    assert not breakers.start_probe("1", 3600)  # just probed: not due
    assert breakers.start_probe("1", 0)
