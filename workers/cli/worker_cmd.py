"""`gdp worker <name|all>`: run the workers (today: capi)."""

from __future__ import annotations

import asyncio
import signal

import typer
from prometheus_client import start_http_server

from workers import logs
from workers.capi import metrics
from workers.capi.outcomes import BatchReport, WorkerConfig
from workers.capi.worker import CapiWorker
from workers.cli._common import one_line_errors
from workers.settings import get_settings

WORKERS = ("capi",)


@one_line_errors
def worker(
    name: str = typer.Argument(..., help="capi, or all"),
    once: bool = typer.Option(False, help="Drain what is queued, then exit."),
    metrics_port: int | None = typer.Option(None, help="Serve Prometheus metrics on this port."),
    batch_size: int = typer.Option(1000, min=1, max=1000, help="Messages read per batch."),
    pacing: bool = typer.Option(True, help="Pace sends per pixel (off only for benchmarks)."),
    retry_base: float = typer.Option(30.0, help="Seconds before the first retry of a message."),
    probe_interval: float = typer.Option(30.0, help="Seconds between circuit-breaker probes."),
    events_per_request: int = typer.Option(
        1000, min=1, max=1000, help="Events per Conversions API request (Meta's limit: 1000)."
    ),
    lanes: int = typer.Option(2, min=1, max=16, help="Batches in flight at once (connections)."),
    visibility_timeout: int = typer.Option(
        30,
        min=3,
        help="Seconds a leased message stays invisible (extended while its batch is at work); "
        "after a crash it reappears this soon.",
    ),
) -> None:
    """Run a worker until interrupted (SIGINT/SIGTERM finish the current batch first)."""
    if name not in (*WORKERS, "all"):
        raise typer.BadParameter(f"unknown worker {name!r}; choose from {', '.join(WORKERS)}, all")
    settings = get_settings()
    logs.configure(settings.log_level)
    if metrics_port:
        start_http_server(metrics_port, registry=metrics.REGISTRY)
    config = WorkerConfig(
        batch_size=batch_size,
        pacing=pacing,
        retry_base_s=retry_base,
        breaker_probe_interval_s=probe_interval,
        visibility_timeout_s=visibility_timeout,
        events_per_request=events_per_request,
        lanes=lanes,
    )
    report = asyncio.run(_run(CapiWorker(settings, config), once))
    typer.echo(
        f"capi: {report.messages} messages, {report.sent} sent, {report.retried} retried, "
        f"{report.dead_lettered} dead-lettered, {report.blocked} blocked by consent, "
        f"{report.held} held",
        err=True,
    )


async def _run(capi: CapiWorker, once: bool) -> BatchReport:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await capi.run(stop, once=once)
    finally:
        await capi.close()


app = typer.Typer()
app.command()(worker)

if __name__ == "__main__":
    app()
