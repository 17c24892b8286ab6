"""Killed workers re-send at most the requests they had in flight, and lose nothing.

Real `gdp worker capi` processes drain a queue while the sandbox fails 30% of requests with a 5xx
and throttles 10%; each is SIGKILLed after a random time alive, and a new one started. At the
sandbox: every event arrived, and the events that arrived twice all come from requests that were
in flight at a kill (at most one per lane per kill). The 30,000-event run, with today's worker as
the baseline, is bench/bench_capi_kill.py.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.capi_helpers import PIXEL, add_person, enable_pipeline, insert_events, lead_events
from tests.capi_kill import FAULTS, kill_drain
from tests.support.sandbox import SandboxControl

Conn = psycopg.Connection[dict[str, Any]]

EVENTS = 4_000
EVENTS_PER_REQUEST = 100  # ten requests per leased batch of 1,000: a kill lands mid-batch
LANES = 2
KILLS = 4


@pytest.mark.slow
def test_a_killed_worker_sends_again_at_most_the_requests_in_flight(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    people = [add_person(db, f"kill{i}@example.com") for i in range(20)]
    rows = []
    for p, person in enumerate(people):
        rows += lead_events(person, EVENTS // len(people), f"k{p}-")
    insert_events(db, rows)
    sandbox.faults(**FAULTS, seed=20261130)

    run = kill_drain(
        db_url,
        sandbox.url,
        PIXEL,
        EVENTS,
        kills=KILLS,
        seed=7,
        worker_args=("--events-per-request", str(EVENTS_PER_REQUEST), "--lanes", str(LANES)),
    )

    assert run.kills == KILLS
    assert run.lost == 0, f"{run.lost} events never reached Meta"
    detail = (
        f"{run.sent_twice} events sent twice, from requests {run.resent_requests} "
        f"of sizes {run.resent_request_sizes}, over {run.kills} kills"
    )
    # A request in flight is the only thing a kill can leave unsettled: one per lane.
    assert len(run.resent_requests) <= KILLS * LANES, detail
    assert run.sent_twice <= KILLS * LANES * EVENTS_PER_REQUEST, detail
    assert max(run.sent_twice_per_kill) <= LANES * EVENTS_PER_REQUEST, run.sent_twice_per_kill
    # Each event is recorded as sent once: a killed request's transaction never committed.
    sent = db.execute(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS events "
        "FROM shared.attribution_events WHERE status = 'sent'"
    ).fetchone()
    assert sent == {"n": EVENTS, "events": EVENTS}
    print(f"\n{detail}; {run.requests} requests in {run.seconds:.0f} s")
