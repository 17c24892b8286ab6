"""Prometheus metrics of the segment worker (served with --metrics-port). Labels are segment ids
and outcomes only, never people."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

RUNS = Counter(
    "gdp_segment_runs_total",
    "Segment evaluations, by mode (full, incremental) and result (done, skipped, failed)",
    ["mode", "result"],
    registry=REGISTRY,
)
CHANGES = Counter(
    "gdp_segment_changes_total",
    "Membership changes written by evaluations, by segment and change (join, leave)",
    ["segment", "change"],
    registry=REGISTRY,
)
MEMBERS = Gauge(
    "gdp_segment_members",
    "Members of each segment at the last full evaluation",
    ["segment"],
    registry=REGISTRY,
)
FAILED_SEGMENTS = Gauge(
    "gdp_segment_failed",
    "1 when the segment's view failed at the last evaluation",
    ["segment"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "gdp_segment_run_seconds",
    "Time one evaluation took",
    ["mode"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "gdp_segment_last_success_timestamp_seconds",
    "When an evaluation last finished (unix time)",
    registry=REGISTRY,
)
