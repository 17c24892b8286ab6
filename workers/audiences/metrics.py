"""Prometheus metrics of the audience worker (`gdp worker audiences --metrics-port`).

Counters of this process (runs by status, rows sent, Graph errors by code) and gauges read from
shared.audience_status at scrape time: members, acknowledged rows, Meta's approximate size, the
lag since the last successful run and failed runs in 24 hours, per segment. Labels are segment
ids only (no person data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg.rows import dict_row

from workers.db.queries import query

log = logging.getLogger("gdp.audiences.metrics")
REGISTRY = CollectorRegistry(auto_describe=True)

RUNS = Counter(
    "gdp_audience_runs_total", "Audience sync runs, by status", ["status"], registry=REGISTRY
)
ROWS = Counter(
    "gdp_audience_rows_total", "Audience rows Meta acknowledged, by op (add, remove)", ["op"],
    registry=REGISTRY,
)
GRAPH_ERRORS = Counter(
    "gdp_audience_graph_errors_total", "Graph errors of audience calls, by code and kind",
    ["code", "kind"], registry=REGISTRY,
)  # fmt: skip

_GAUGES = {
    "members": ("gdp_audience_members", "Consenting members of the segment"),
    "acknowledged": ("gdp_audience_acknowledged_rows", "Rows Meta acknowledged for the audience"),
    "approximate_lower": ("gdp_audience_size_lower", "Meta's approximate audience size (lower)"),
    "approximate_upper": ("gdp_audience_size_upper", "Meta's approximate audience size (upper)"),
    "lag_seconds": ("gdp_audience_lag_seconds", "Seconds since the last successful sync run"),
    "failures_24h": ("gdp_audience_failures_24h", "Failed or interrupted runs in 24 hours"),
}


class StatusCollector(Collector):
    def __init__(self, rows: Callable[[], list[dict[str, Any]] | None]) -> None:
        self._rows = rows

    def collect(self) -> Iterator[Metric]:
        rows = self._rows()
        if rows is None:
            return
        for column, (name, documentation) in _GAUGES.items():
            family = GaugeMetricFamily(name, documentation, labels=["segment"])
            for row in rows:
                if row[column] is not None:
                    family.add_metric([row["segment_id"]], float(row[column]))
            yield family


def status_rows(conninfo: str) -> list[dict[str, Any]] | None:
    try:
        with psycopg.connect(conninfo, connect_timeout=3, autocommit=True,
                             row_factory=dict_row) as conn:  # fmt: skip
            return conn.execute(query("audience_status")).fetchall()
    except psycopg.Error as exc:
        log.warning("audience metrics query failed", extra={"error": type(exc).__name__})
        return None


def registry_with_status(conninfo: str) -> CollectorRegistry:
    """This process's counters plus the database gauges, for one metrics listener."""
    combined = CollectorRegistry(auto_describe=False)

    class _Counters(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from REGISTRY.collect()

    combined.register(_Counters())
    combined.register(StatusCollector(lambda: status_rows(conninfo)))
    return combined
