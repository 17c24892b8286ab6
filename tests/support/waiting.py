"""`wait_until`: the one way tests wait for something another process or thread does.

The timeout is a bound on a hang, never a performance assertion: a loaded machine may take many
times longer than an idle one, so it is generous and a test must not depend on how soon the
condition becomes true. What a test wants to say about speed it says with a comparison that
load cannot break (e.g. "before the one-minute poll interval", not "within a second").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.rows import tuple_row

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 60.0


def wait_until(
    check: Callable[[], T],
    what: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    interval_s: float = 0.05,
) -> T:
    """Call `check` until it returns a truthy value, and return that value.

    Raises AssertionError naming `what` and the last value seen when `timeout_s` passes first.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout_s:g} s waiting for {what} (last: {value!r})"
            )
        time.sleep(interval_s)


def blocked_until_commit(
    db: psycopg.Connection[Any], holder: psycopg.Connection[Any], work: Callable[[], object]
) -> list[BaseException]:
    """Run `work` in a thread; check that it waits on a lock (one session of `db`'s database
    waiting) while `holder`'s transaction is open, then commit `holder` and let it finish.
    Returns what `work` raised."""
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert not done.wait(1.0), errors  # blocked, not finished
    waiting = (
        db.cursor(row_factory=tuple_row)
        .execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        .fetchone()
    )
    assert waiting == (1,), waiting
    holder.commit()
    thread.join(30)
    return errors
