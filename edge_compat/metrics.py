"""Prometheus metrics: process counters plus gauges read from Postgres at scrape time.

Labels are products, route templates, statuses, pixel ids and reasons: never personal data,
never a raw path (an event id could be anything). Still, they name products and pixels, so they
are served on a listener of their own (`gdp serve --metrics-port`, bound to 127.0.0.1 unless
told otherwise), never on the public API's port. With several server processes
(`gdp serve --workers N`), PROMETHEUS_MULTIPROC_DIR makes every scrape see all of them.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

import psycopg
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workers.db.connection import API_ROLE, as_role
from workers.db.queries import query
from workers.db.rows import fetch_all_sync
from workers.statuses import ATTRIBUTION_STATUSES

log = logging.getLogger("gdp.edge")


@dataclass(frozen=True, slots=True)
class GaugeRow:
    """One sample of `edge_metrics`: which gauge, its label value, the value."""

    metric: str
    label: str | None
    value: float


Rows = list[GaugeRow]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# (query metric, exposed name, label name, help)
_DB_GAUGES: tuple[tuple[str, str, str, str], ...] = (
    ("queue_length", "gdp_capi_queue_length", "queue", "Messages waiting in the pgmq queue."),
    ("queue_oldest_age_seconds", "gdp_capi_queue_oldest_message_age_seconds", "queue",
     "Age of the oldest message in the queue."),
    ("breaker_open", "gdp_capi_breaker_open", "pixel_id",
     "Circuit breaker per pixel: 1 open (sending stopped), 0 closed."),
    ("dead_letters", "gdp_capi_dead_letters", "reason", "Dead letters not replayed, by reason."),
    ("outcomes_24h", "gdp_capi_outcomes_24h", "status",
     "attribution_events rows of the last 24 hours, by status."),
)  # fmt: skip


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _DatabaseGauges(Collector):
    def __init__(self, rows: Callable[[], Rows | None]) -> None:
        self._rows = rows

    def collect(self) -> Iterator[Metric]:
        rows = self._rows()
        up = GaugeMetricFamily("gdp_db_up", "1 when the database answered the scrape query.")
        up.add_metric([], 0 if rows is None else 1)
        yield up
        if rows is None:
            return
        for key, name, label, help_text in _DB_GAUGES:
            family = GaugeMetricFamily(name, help_text, labels=[label])
            for row in rows:
                if row.metric == key and row.label is not None:
                    family.add_metric([row.label], float(row.value))
            yield family


# The registries of this process's apps, for the metrics listener of a single-process server.
_APP_REGISTRIES: weakref.WeakSet[CollectorRegistry] = weakref.WeakSet()


class _Registries(Collector):
    """Everything the given registries collect (the app's counters, in this process)."""

    def __init__(self, registries: Iterable[CollectorRegistry] | None) -> None:
        self._registries = registries

    def collect(self) -> Iterator[Metric]:
        for registry in list(self._registries or _APP_REGISTRIES):
            yield from registry.collect()


class EdgeMetrics:
    """The service's own metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        _APP_REGISTRIES.add(self.registry)
        self.ingested = Counter(
            "gdp_ingest_events",
            "Events received at the HTTP endpoints, by outcome (accepted, duplicate, invalid, "
            "forbidden, unknown_person, disabled).",
            ["product", "endpoint", "outcome"],
            registry=self.registry,
        )
        self.requests = Counter(
            "gdp_http_requests",
            "HTTP requests by route template and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gdp_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.call_events = Histogram(
            "gdp_ingest_call_events",
            "Events per shared.ingest_events call (concurrent requests share calls).",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=self.registry,
        )
        if not _multiprocess():
            ProcessCollector(registry=self.registry)

    def count(self, product: str, endpoint: str, outcomes: Iterable[str]) -> None:
        tally: dict[str, int] = {}
        for outcome in outcomes:
            tally[outcome] = tally.get(outcome, 0) + 1
        for outcome, n in tally.items():
            self.ingested.labels(product, endpoint, outcome).inc(n)


def database_rows(database_url: str) -> Rows | None:
    """The gauges' rows (edge_metrics), or None when the database does not answer."""
    try:
        with psycopg.connect(
            as_role(database_url, API_ROLE),
            connect_timeout=3,
            autocommit=True,
            application_name="gdp-metrics",
        ) as conn:
            return fetch_all_sync(
                conn, query("edge_metrics"), GaugeRow, {"statuses": list(ATTRIBUTION_STATUSES)}
            )
    except psycopg.Error as exc:
        log.warning("metrics query failed", extra={"error": type(exc).__name__})
        return None


def metrics_registry(
    database_url: str, registries: Iterable[CollectorRegistry] | None = None
) -> CollectorRegistry:
    """What a scrape returns: every server process's counters (all processes' files when
    PROMETHEUS_MULTIPROC_DIR is set, else `registries`, by default this process's apps) and
    the database gauges, read at scrape time."""
    combined = CollectorRegistry(auto_describe=False)
    if _multiprocess():
        MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
    else:
        combined.register(_Registries(registries))
    combined.register(_DatabaseGauges(lambda: database_rows(database_url)))
    return combined


def serve_metrics(
    host: str,
    port: int,
    database_url: str,
    registries: Iterable[CollectorRegistry] | None = None,
) -> WSGIServer:
    """Serve the metrics (any path, e.g. /metrics) on host:port from a daemon thread; OSError
    when the address is taken. `server.shutdown()` stops it."""
    registry = metrics_registry(database_url, registries)
    server, _ = start_http_server(port, addr=host, registry=registry)
    return server


def render(database_url: str, registries: Iterable[CollectorRegistry] | None = None) -> bytes:
    """One scrape, as the metrics listener would answer it."""
    return generate_latest(metrics_registry(database_url, registries))


class MetricsMiddleware:
    """Counts and times every HTTP request by route template (pure ASGI: cheap)."""

    def __init__(self, app: ASGIApp, metrics: EdgeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(template, str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - started)
