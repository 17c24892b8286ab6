"""Running the segment worker from `gdp worker segments` (and alongside the others in `all`)."""

from __future__ import annotations

import asyncio
import signal

from workers.errors import mapped_db_errors
from workers.segments.worker import run_forever


async def segments_task(database_url: str, once: bool, stop: asyncio.Event) -> str:
    runs = await run_forever(database_url, stop, once=once)
    done = [r for r in runs if r.ran]
    skipped = len(runs) - len(done)
    return (
        f"segments: {len(done)} evaluation(s), {sum(r.joined for r in done)} joined, "
        f"{sum(r.left for r in done)} left"
        + (f"; {skipped} skipped ({runs[-1].reason})" if skipped else "")
    )


def run_segments_worker(database_url: str, once: bool) -> str:
    """Evaluate on the schedule until SIGINT/SIGTERM (the run in progress finishes first)."""

    async def main() -> str:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await segments_task(database_url, once, stop)

    with mapped_db_errors():
        return asyncio.run(main())
