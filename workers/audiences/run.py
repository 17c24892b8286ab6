"""Run the audience worker until interrupted (`gdp worker audiences`; `gdp worker all` too)."""

from __future__ import annotations

import asyncio
import signal

from prometheus_client import start_http_server

from workers.audiences.metrics import registry_with_status
from workers.audiences.worker import AudienceWorker
from workers.errors import ConfigError
from workers.settings import Settings


async def run_audiences(
    settings: Settings,
    once: bool,
    stop: asyncio.Event | None = None,
    *,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> str:
    """Sync every mapped segment each interval; returns a one-line summary."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    worker = AudienceWorker(settings)
    if metrics_port:
        try:
            start_http_server(
                metrics_port, addr=metrics_host, registry=registry_with_status(worker.conninfo())
            )
        except OSError as exc:
            raise ConfigError(
                f"--metrics-port: cannot listen on {metrics_host}:{metrics_port} ({exc.strerror})"
            ) from None
    reports = await worker.run(stop, once=once)
    by_status: dict[str, int] = {}
    for report in reports:
        by_status[report.status] = by_status.get(report.status, 0) + 1
    added = sum(r.rows_added for r in reports)
    removed = sum(r.rows_removed for r in reports)
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none"
    return f"audiences: {len(reports)} runs ({statuses}), {added} rows added, {removed} removed"
