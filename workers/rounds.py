"""The loop of the gated workers (audiences, insights, leads): a round of work, then a wait.

Each round reads the worker's configuration afresh (an operator may flip its feature flag or
change its interval while it runs); while the flag is off it says so once, not every round,
and does no work. `once` (tests, the demo, `gdp worker ... --once`) returns after the first
round that leaves nothing more to do, whether the flag was on or off. The wait between rounds
ends early when `stop` is set, so SIGTERM never waits out an interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

Config = TypeVar("Config")


async def run_rounds(
    stop: asyncio.Event,
    config: Callable[[], Awaitable[Config]],
    *,
    enabled: Callable[[Config], bool],
    work: Callable[[Config], Awaitable[bool]],
    wait: Callable[[Config], Awaitable[None]],
    log: logging.Logger,
    flag_off: str,
    once: bool = False,
) -> None:
    """Until `stop`: read the configuration, then do a round of `work` when `enabled` (its
    result: True when more is waiting, so the next round starts at once) or log `flag_off` the
    first time it is not, then `wait` between rounds."""
    said_off = False
    while not stop.is_set():
        cfg = await config()
        more = False
        if not enabled(cfg):
            if not said_off:
                log.info(flag_off)
                said_off = True
        else:
            said_off = False
            more = await work(cfg)
        if more:
            continue
        if once:
            return
        await wait(cfg)


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
