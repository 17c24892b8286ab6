"""Start the project's Meta Graph API sandbox in a subprocess, as `gdp sandbox` would run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from workers.processes import free_port, running

TOKEN = "sandbox-token"
APP_SECRET = "sandbox-app-secret"


@contextmanager
def running_sandbox(*args: str) -> Iterator[SandboxControl]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(
        ["workers.cli.sandbox_cmd", "--port", str(port), "--log-level", "warning", *args],
        env=os.environ,
        health_url=f"{url}/_sandbox/health",
        name="the Meta sandbox",
        timeout_s=20,
    ):
        yield SandboxControl(url)


class SandboxControl:
    """The sandbox's control and inspection API (/_sandbox/...)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10)

    def reset(self) -> None:
        self.http.post("/_sandbox/reset").raise_for_status()

    def faults(self, **changes: Any) -> dict[str, Any]:
        response = self.http.post("/_sandbox/faults", json=changes)
        response.raise_for_status()
        return dict(response.json())

    def events(self, pixel_id: str | None = None) -> list[dict[str, Any]]:
        params = {"pixel_id": pixel_id} if pixel_id else {}
        response = self.http.get("/_sandbox/events", params=params)
        response.raise_for_status()
        return list(response.json()["events"])

    def summary(self) -> dict[str, dict[str, int]]:
        return dict(self.http.get("/_sandbox/events/summary").json()["pixels"])

    def requests(self) -> list[dict[str, Any]]:
        return list(self.http.get("/_sandbox/requests").json()["requests"])
