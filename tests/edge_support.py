"""Helpers for the edge_compat tests: an app on the test's database, a key, flags, counts."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import psycopg
from prometheus_client import CollectorRegistry

from edge_compat.app import create_app

with warnings.catch_warnings():
    # Starlette 1.x prefers `httpx2` for its TestClient and says so at import; httpx works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient as TestClient

EVENT_PATH = "/api/v1/meta/event"
TRACK_PATH = "/functions/v1/track-conversion"
INGEST = "META_CAPI_INGEST_ENABLED"
TRACKING = "CONVERSION_TRACKING_ENABLED"
FORWARD = "META_CAPI_FORWARD_ENABLED"

Conn = psycopg.Connection[dict[str, Any]]


def set_flags(db: Conn, *flags: str, enabled: bool = True) -> None:
    """Tests may bypass the deployment gate and flip flags directly."""
    db.execute(
        "UPDATE shared.feature_flag SET enabled = %s WHERE flag_key = ANY(%s)",
        (enabled, list(flags)),
    )


def create_key(db: Conn, product: str = "snapmix") -> str:
    row = db.execute(
        "SELECT service_key FROM shared.create_service_key(%s, 'test')", (product,)
    ).fetchone()
    assert row is not None
    return str(row["service_key"])


def counts(db: Conn) -> dict[str, int]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM shared.event) AS events,"
        " (SELECT count(*) FROM shared.person) AS people,"
        " (SELECT count(*) FROM pgmq.q_meta_capi) AS queued"
    ).fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


def event(**overrides: Any) -> dict[str, Any]:
    """A valid GAP-001 event (the PRD's example, made current)."""
    body: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(time.time()) - 5,
        "event_id": "evt-0001",
        "event_source_url": "https://snapmix.app/checkout/success",
        "action_source": "website",
        "user_data": {
            "email": " Jane.Roe@Example.com ",
            "phone": "(650) 555-1212",
            "first_name": "Jane",
            "last_name": "Roe",
            "fbp": "fb.1.1596403881668.1116446470",
            "fbc": "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        },
        "custom_data": {
            "value": 29.99,
            "currency": "USD",
            "content_name": "SnapMix Pro",
            "source_product": "snapmix",
        },
    }
    body.update(overrides)
    return body


@dataclass
class Edge:
    client: TestClient
    db: Conn
    key: str
    db_url: str = ""

    @property
    def registry(self) -> CollectorRegistry:
        """The app's own metrics registry (what its metrics listener serves)."""
        return cast(CollectorRegistry, self.client.app.state.edge.metrics.registry)  # type: ignore[attr-defined]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, body: Any, path: str = EVENT_PATH, **kwargs: Any) -> httpx.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        response: httpx.Response = self.client.post(path, json=body, headers=headers, **kwargs)
        return response

    def post_raw(self, content: bytes, content_type: str = "application/json") -> httpx.Response:
        headers = {**self.auth, "Content-Type": content_type}
        response: httpx.Response = self.client.post(EVENT_PATH, content=content, headers=headers)
        return response


@contextmanager
def running_edge(db_url: str, db: Conn, *flags: str, product: str = "snapmix") -> Iterator[Edge]:
    """The app on this test's database, caches off (each request sees flag changes at once)."""
    set_flags(db, *flags)
    app = create_app(db_url, flag_cache_seconds=0, key_cache_seconds=0, pool_min_size=1)
    with TestClient(app) as client:
        yield Edge(client, db, create_key(db, product), db_url)
