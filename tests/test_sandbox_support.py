"""Helpers for the sandbox tests: an in-process client over ASGI, a movable clock, a webhook
receiver. No network, no mock library: the sandbox app itself answers every call."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from meta_sandbox.app import create_app, sandbox_of
from meta_sandbox.config import SandboxConfig
from meta_sandbox.state import Sandbox

TOKEN = "sandbox-token"
V = "/v25.0"
PIXEL = "1234567890"
ACCOUNT = "act_1000000001"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"


# Fixed at import, like the test modules' NOW: a full suite runs for minutes, and an event dated
# by the wall clock at test time would be "in the future" for a sandbox clock fixed at import.
IMPORTED_AT = time.time()


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class FakeClock:
    """An injectable clock (SandboxConfig.clock) that only moves when told to."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SandboxClient:
    """A synchronous client for one sandbox app, over httpx's ASGI transport."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.app = create_app(self.config)
        self.sandbox: Sandbox = sandbox_of(self.app)
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://sandbox.test"
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def graph(self, method: str, path: str, /, **params: Any) -> httpx.Response:
        """A Graph call with the token in the query string and `params` as a JSON body
        (POST/DELETE) or query parameters (GET)."""
        query = {"access_token": TOKEN}
        if method == "GET":
            query.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()})
            return self.request(method, f"{V}{path}", params=query)
        return self.request(method, f"{V}{path}", params=query, json=params)

    def send_events(self, events: list[dict[str, Any]], **extra: Any) -> httpx.Response:
        return self.graph("POST", f"/{PIXEL}/events", data=events, **extra)

    def close(self) -> None:
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()


@contextmanager
def sandbox_client(config: SandboxConfig | None = None) -> Iterator[SandboxClient]:
    client = SandboxClient(config)
    try:
        yield client
    finally:
        client.close()


def graph_error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    """The Graph error object, after checking Meta's outer shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["code"], int)
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    assert "type" in error
    return error


def website_event(**overrides: Any) -> dict[str, Any]:
    """A valid website Purchase event; keys set to None in `overrides` are removed."""
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": int(IMPORTED_AT) - 60,
        "event_id": "order-1",
        "action_source": "website",
        "event_source_url": "https://snapmix.example/checkout",
        "user_data": {
            "em": [sha("jane@example.com")],
            "ph": sha("16505551212"),
            "client_ip_address": "203.0.113.7",
            "client_user_agent": UA,
            "fbc": "fb.1.1554763741205.AbCdEfGhIjKl",
            "fbp": "fb.1.1596403881668.1116446470",
            "external_id": "person-42",
        },
        "custom_data": {"currency": "USD", "value": 19.99},
    }
    for key, value in overrides.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


class WebhookReceiver:
    """A tiny HTTP server in a thread that records what it receives."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/meta"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
