"""Running the segment worker from `gdp worker segments` (and alongside the others in `all`)."""

from __future__ import annotations

import asyncio
import signal

from prometheus_client import start_http_server

from workers.errors import ConfigError, mapped_db_errors
from workers.segments import metrics
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


def run_segments_worker(
    database_url: str, once: bool, metrics_port: int | None = None, metrics_host: str = "127.0.0.1"
) -> str:
    """Evaluate on the schedule until SIGINT/SIGTERM (the run in progress finishes first)."""
    if metrics_port:
        try:
            start_http_server(metrics_port, addr=metrics_host, registry=metrics.REGISTRY)
        except OSError as exc:
            raise ConfigError(
                f"--metrics-port: cannot listen on {metrics_host}:{metrics_port} ({exc.strerror})"
            ) from None

    async def main() -> str:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await segments_task(database_url, once, stop)

    with mapped_db_errors():
        return asyncio.run(main())
