"""Prometheus metrics of the CAPI worker process (served with --metrics-port). Labels carry
statuses, reasons and pixel ids only: never PII."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS = Counter(
    "gdp_capi_events_total", "Events by delivery outcome", ["status"], registry=REGISTRY
)
DEAD_LETTERS = Counter(
    "gdp_capi_dead_letters_total", "Events dead-lettered, by reason", ["reason"], registry=REGISTRY
)
REQUESTS = Counter(
    "gdp_capi_requests_total", "Conversions API requests, by result", ["result"], registry=REGISTRY
)
QUICK_RETRIES = Counter(
    "gdp_capi_quick_retries_total", "Requests retried inside one attempt", registry=REGISTRY
)
BATCH_SIZE = Histogram(
    "gdp_capi_batch_size",
    "Events per Conversions API request",
    buckets=(1, 10, 50, 100, 250, 500, 750, 1000),
    registry=REGISTRY,
)
META_LATENCY = Histogram(
    "gdp_capi_meta_latency_seconds",
    "Graph API answer time",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 3, 10),
    registry=REGISTRY,
)
BREAKER_OPEN = Gauge(
    "gdp_capi_breaker_open",
    "1 while a pixel's circuit breaker is open",
    ["pixel_id"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("gdp_capi_queue_depth", "Messages waiting in pgmq meta_capi", registry=REGISTRY)
OLDEST_AGE = Gauge(
    "gdp_capi_oldest_message_age_seconds", "Age of the oldest waiting message", registry=REGISTRY
)
