"""Metrics (on their own listener), /healthz, the OpenAPI document, and
`python -m workers.cli.serve_cmd`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from edge_compat.app import create_app
from edge_compat.metrics import render, serve_metrics
from tests.edge_support import INGEST, Conn, Edge, TestClient, event, running_edge, set_flags
from tests.support.waiting import wait_until
from tests.test_relay import RELAY_FLAGS
from workers.processes import free_port


@pytest.fixture
def edge(db_url: str, db: Conn) -> Iterator[Edge]:
    with running_edge(db_url, db, INGEST) as running:
        yield running


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_events_and_read_the_database(edge: Edge) -> None:
    edge.post(event())
    edge.post(event())
    edge.post(event(event_id="bad", event_name="no way"))
    edge.client.post("/api/v1/meta/event", json=event())  # 401
    edge.client.get("/no/such/route")
    edge.db.execute("SELECT shared.capi_set_breaker('1234567890', 'open', 190, 'token expired')")
    edge.db.execute(
        "INSERT INTO shared.capi_dead_letter (event_ref, product_id, event_id, meta_event_name,"
        " reason) VALUES (1, 'snapmix', 'evt-0001', 'Purchase', 'expired')"
    )
    edge.db.execute(
        "INSERT INTO shared.attribution_events (event_ref, product_id, event_id,"
        " meta_event_name, status) VALUES (1, 'snapmix', 'evt-0001', 'Purchase', 'rejected')"
    )

    assert edge.client.get("/metrics").status_code == 404  # never on the API's own port
    port = free_port()
    server = serve_metrics("127.0.0.1", port, edge.db_url, [edge.registry])
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    labels = {"product": "snapmix", "endpoint": "meta_event"}
    assert _sample(text, "gdp_ingest_events_total", **labels, outcome="accepted") == 1
    assert _sample(text, "gdp_ingest_events_total", **labels, outcome="duplicate") == 1
    assert _sample(text, "gdp_ingest_events_total", **labels, outcome="invalid") == 1
    assert _sample(text, "gdp_http_requests_total", route="/api/v1/meta/event", status="200") == 2
    assert _sample(text, "gdp_http_requests_total", route="/api/v1/meta/event", status="401") == 1
    # /no/such/route, and /metrics on the API's port
    assert _sample(text, "gdp_http_requests_total", route="unmatched", status="404") == 2
    assert _sample(text, "gdp_http_request_duration_seconds_count", route="/api/v1/meta/event")
    assert _sample(text, "gdp_db_up") == 1
    assert _sample(text, "gdp_capi_queue_length", queue="meta_capi") == 1
    assert _sample(text, "gdp_capi_queue_oldest_message_age_seconds") is not None
    assert _sample(text, "gdp_capi_breaker_open", pixel_id="1234567890") == 1
    assert _sample(text, "gdp_capi_dead_letters", reason="expired") == 1
    assert _sample(text, "gdp_capi_outcomes_24h", status="rejected") == 1
    assert _sample(text, "gdp_capi_outcomes_24h", status="sent") == 0
    # The test person's phone in any form it could take; a bare "555" also occurs in timestamps.
    for pii in ("jane", "roe", "example.com", "5551212", "555-1212", "555 1212"):
        assert pii not in text.lower()
    assert "/no/such/route" not in text


def test_healthz(edge: Edge) -> None:
    assert edge.client.get("/healthz").json() == {"status": "ok", "database": True}


def test_healthz_and_requests_without_a_database_are_503() -> None:
    app = create_app("postgresql://postgres@127.0.0.1:1/none", pool_timeout=0.3, pool_min_size=1)
    with TestClient(app) as client:
        response = client.get("/healthz")
        assert response.status_code == 503
        response = client.post(
            "/api/v1/meta/event", json=event(), headers={"Authorization": "Bearer gdp_sk_x_y"}
        )
        assert response.status_code == 503
        assert "database unavailable" in response.json()["error"]["message"]
        metrics = render(
            "postgresql://postgres@127.0.0.1:1/none", [app.state.edge.metrics.registry]
        ).decode()
        assert _sample(metrics, "gdp_db_up") == 0


def test_openapi_documents_both_contracts(edge: Edge) -> None:
    spec = edge.client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/api/v1/meta/event", "/api/v1/meta/event/{event_id}",
            "/functions/v1/track-conversion", "/healthz"} <= set(paths)  # fmt: skip
    assert "/metrics" not in paths
    post = paths["/api/v1/meta/event"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/MetaEvent"} in schema["oneOf"]
    assert {"200", "401", "403", "413", "415", "422"} <= set(post["responses"])
    schemas = spec["components"]["schemas"]
    assert {"MetaEvent", "MetaEventBatch", "UserData", "CustomData", "TrackConversionRequest",
            "MetaEventResult", "ErrorResponse"} <= set(schemas)  # fmt: skip
    assert schemas["UserData"]["properties"]["email"]["description"]
    assert "event_id" in schemas["MetaEvent"]["required"]
    assert edge.client.get("/docs").status_code == 200


def test_serve_command_runs_the_api(db_url: str, db: Conn, env: dict[str, str]) -> None:
    """`gdp serve` as users run it: the API on its port, metrics on their own (127.0.0.1), and
    uvicorn's proxy-header rewriting off: with no GDP_TRUSTED_PROXIES, a client's
    X-Forwarded-For neither becomes its address nor reaches Meta."""
    set_flags(db, *RELAY_FLAGS)
    db.execute(
        "SELECT shared.set_setting('META_CAPI_RELAY_PRODUCT_ENABLED', 'true', 'test', 'snapmix')"
    )
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "workers.cli.serve_cmd", "--port", str(port),
         "--metrics-port", str(metrics_port)],
        env={**env, "PRODUCT_ID": "snapmix"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )  # fmt: skip
    try:

        def healthz() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                return None

        response = wait_until(healthz, "gdp serve to answer /healthz")
        assert response.json() == {"status": "ok", "database": True}
        response = httpx.post(f"http://127.0.0.1:{port}/api/v1/meta/event", json={}, timeout=60)
        assert response.status_code == 401
        relayed = httpx.post(
            f"http://127.0.0.1:{port}/api/tracking/meta-event",
            json={"event_name": "SnapCreated", "event_id": "xff-1"},
            headers={"X-Forwarded-For": "8.8.8.8", "User-Agent": "Test/1"},
            timeout=60,
        )
        assert relayed.status_code == 200, relayed.text
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60).status_code == 404
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=60).text
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    assert re.search(rb"Uvicorn running on http://127.0.0.1:\d+", stderr)
    assert f"metrics at http://127.0.0.1:{metrics_port}/metrics".encode() in stderr
    labels = {"product": "snapmix", "endpoint": "meta_relay", "outcome": "accepted"}
    assert _sample(metrics, "gdp_ingest_events_total", **labels) == 1
    assert _sample(metrics, "gdp_db_up") == 1
    row = db.execute(
        "SELECT host(client_ip_address) AS ip FROM shared.event WHERE event_id = 'xff-1'"
    ).fetchone()
    assert row == {"ip": None}  # the peer, 127.0.0.1, is no visitor's address; never 8.8.8.8
