"""Prometheus metrics of the maintenance worker (served with --metrics-port). Labels are table
names only."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

DELETED = Counter(
    "gdp_retention_deleted_rows_total",
    "Rows deleted by retention, by table",
    ["table"],
    registry=REGISTRY,
)
RUNS = Counter(
    "gdp_retention_runs_total",
    "Retention runs, by result (done, skipped: another session was running it, failed)",
    ["result"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "gdp_retention_run_seconds",
    "Time one retention run took",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "gdp_retention_last_success_timestamp_seconds",
    "When retention last ran to the end (unix time)",
    registry=REGISTRY,
)
