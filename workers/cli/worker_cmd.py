"""`gdp worker <name|all>`: run the workers (capi, maintenance, insights, leads, segments,
audiences)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine, Iterator
from typing import Any

import typer
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from workers import logs
from workers.capi import metrics
from workers.capi.outcomes import BatchReport, WorkerConfig
from workers.capi.worker import CapiWorker
from workers.cli._common import one_line_errors
from workers.errors import ConfigError, mapped_db_errors
from workers.maintenance import metrics as maintenance_metrics
from workers.maintenance.retention import TABLES, RetentionConfig, RetentionRun, run_forever
from workers.settings import Settings, get_settings, require

WORKERS = ("capi", "maintenance", "insights", "leads", "segments", "audiences")


@one_line_errors
def worker(
    name: str = typer.Argument(
        ..., help="capi, maintenance, insights, leads, segments, audiences, or all"
    ),
    once: bool = typer.Option(
        False, help="Drain what is queued (capi) / run retention once (maintenance), then exit."
    ),
    metrics_port: int | None = typer.Option(None, help="Serve Prometheus metrics on this port."),
    metrics_host: str = typer.Option(
        "127.0.0.1", help="Address of the metrics listener (its labels name pixels)."
    ),
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
    interval: float = typer.Option(
        300.0, min=1.0, help="maintenance: seconds between retention runs."
    ),
    max_seconds: int = typer.Option(
        60, min=1, help="maintenance: longest a retention run goes on (then the next run)."
    ),
    retention_batch: int | None = typer.Option(
        None, min=100, max=100_000, help="maintenance: rows per batch (default: the setting)."
    ),
) -> None:
    """Run a worker until interrupted (SIGINT/SIGTERM finish the current batch first)."""
    if name not in (*WORKERS, "all"):
        raise typer.BadParameter(f"unknown worker {name!r}; choose from {', '.join(WORKERS)}, all")
    settings = get_settings()
    kinds = WORKERS if name == "all" else (name,)
    if {"capi", "insights", "leads", "audiences"} & set(kinds):
        # Meta is called with the token in every request: refuse to start rather than send it
        # somewhere unsafe (META_GRAPH_URL unset in production, plain http to another machine).
        require(settings.graph_url_problem())
    logs.configure(settings.log_level)
    if name == "segments":
        from workers.segments.run import run_segments_worker

        typer.echo(
            run_segments_worker(settings.database_url, once, metrics_port, metrics_host), err=True
        )
        return
    if name == "audiences":
        from workers.audiences.run import run_audiences

        summary = run_audiences(
            settings, once, metrics_port=metrics_port, metrics_host=metrics_host
        )
        typer.echo(asyncio.run(summary), err=True)
        return
    if name in ("insights", "leads"):
        from workers.cli._graph_workers import run_worker

        typer.echo(asyncio.run(run_worker(name, settings, once)), err=True)
        return
    if metrics_port:
        registry = CollectorRegistry(auto_describe=False)
        for source in _metric_sources(kinds, settings):
            registry.register(_Forward(source))
        try:
            start_http_server(metrics_port, addr=metrics_host, registry=registry)
        except OSError as exc:
            raise ConfigError(
                f"--metrics-port: cannot listen on {metrics_host}:{metrics_port} ({exc.strerror})"
            ) from None
    capi = None
    if "capi" in kinds:
        capi = CapiWorker(
            settings,
            WorkerConfig(
                batch_size=batch_size,
                pacing=pacing,
                retry_base_s=retry_base,
                breaker_probe_interval_s=probe_interval,
                visibility_timeout_s=visibility_timeout,
                events_per_request=events_per_request,
                lanes=lanes,
            ),
        )
    retention = None
    if "maintenance" in kinds:
        retention = RetentionConfig(
            interval_s=interval, max_seconds=max_seconds, batch_size=retention_batch
        )
    with mapped_db_errors():
        report, runs = asyncio.run(
            _run(settings.database_url, capi, retention, once, also=name == "all")
        )
    if report is not None:
        typer.echo(
            f"capi: {report.messages} messages, {report.sent} sent, {report.retried} retried, "
            f"{report.dead_lettered} dead-lettered, {report.blocked} blocked by consent, "
            f"{report.held} held",
            err=True,
        )
    if runs is not None:
        deleted = {t: sum(getattr(r, t) for r in runs) for t in TABLES}
        skipped = sum(1 for r in runs if not r.ran)
        typer.echo(
            f"maintenance: {len(runs)} retention run(s), deleted "
            + ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in deleted.items())
            + (f"; {skipped} skipped (another session was running retention)" if skipped else ""),
            err=True,
        )


async def _echo(summary: Coroutine[Any, Any, str]) -> None:
    typer.echo(await summary, err=True)


def _metric_sources(kinds: tuple[str, ...], settings: Settings) -> list[CollectorRegistry]:
    """Each worker kind's own registry, once (insights and leads keep none): `gdp worker all`
    serves every kind's metrics on one listener, each family once."""
    sources: list[CollectorRegistry] = []
    for kind in kinds:
        source: CollectorRegistry | None
        if kind == "capi":
            source = metrics.REGISTRY
        elif kind == "maintenance":
            source = maintenance_metrics.REGISTRY
        elif kind == "segments":
            from workers.segments import metrics as segment_metrics

            source = segment_metrics.REGISTRY
        elif kind == "audiences":
            from workers.audiences.metrics import registry_with_status
            from workers.audiences.worker import AudienceWorker

            source = registry_with_status(AudienceWorker(settings).conninfo())
        else:
            source = None
        if source is not None and source not in sources:
            sources.append(source)
    return sources


class _Forward(Collector):
    """Serves another registry's metrics (one listener for every worker kind of the process)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()


async def _run(
    database_url: str, capi: CapiWorker | None, retention: RetentionConfig | None, once: bool,
    *, also: bool = False,
) -> tuple[BatchReport | None, list[RetentionRun] | None]:  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with asyncio.TaskGroup() as group:
            capi_task = group.create_task(capi.run(stop, once=once)) if capi else None
            retention_task = (
                group.create_task(run_forever(database_url, retention, stop, once=once))
                if retention
                else None
            )
            if also:  # `gdp worker all`: the insights and lead workers run in the same process
                from workers.cli._graph_workers import run_worker

                settings = get_settings()
                for kind in ("insights", "leads"):
                    group.create_task(_echo(run_worker(kind, settings, once, stop)))
                from workers.segments.run import segments_task

                group.create_task(_echo(segments_task(database_url, once, stop)))
                from workers.audiences.run import run_audiences

                group.create_task(_echo(run_audiences(settings, once, stop)))
    except* Exception as errors:
        raise errors.exceptions[0] from None
    finally:
        if capi is not None:
            await capi.close()
    return (
        capi_task.result() if capi_task else None,
        retention_task.result() if retention_task else None,
    )


app = typer.Typer()
app.command()(worker)

if __name__ == "__main__":
    app()
