"""Start the project's Meta Graph API sandbox in a subprocess, as `gdp sandbox` would run."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

TOKEN = "sandbox-token"
APP_SECRET = "sandbox-app-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_sandbox(*args: str) -> Iterator[SandboxControl]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workers.cli.sandbox_cmd",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/_sandbox/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"sandbox did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.1)
        yield SandboxControl(url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


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
