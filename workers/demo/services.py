"""Start the demo's processes (Meta sandbox, HTTP API, CAPI worker) on free local ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx

from workers.errors import GdpError

SANDBOX_TOKEN = "sandbox-token"


@dataclass(frozen=True)
class Services:
    sandbox_url: str
    api_url: str
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _process(
    args: list[str], env: dict[str, str], health_url: str | None, name: str
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while health_url:
            try:
                if httpx.get(health_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise GdpError(f"the demo's {name} did not start ({' '.join(args)})")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def demo_services(database_url: str, relay_product: str, relay_key: str) -> Iterator[Services]:
    """The API also plays `relay_product`'s relay (GAP-005), forwarding to itself."""
    sandbox_port, api_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "META_GRAPH_URL": sandbox_url,
        "META_CAPI_ACCESS_TOKEN": SANDBOX_TOKEN,
        "GDP_LOG_LEVEL": "WARNING",
        "PRODUCT_ID": relay_product,
        "WAITLISTLAB_API_URL": api_url,
        "WAITLISTLAB_SERVICE_KEY": relay_key,
        "GDP_TRUSTED_PROXIES": "127.0.0.1",
    }
    with ExitStack() as stack:
        stack.enter_context(
            _process(
                ["workers.cli.sandbox_cmd", "--port", str(sandbox_port), "--log-level", "warning"],
                env,
                f"{sandbox_url}/_sandbox/health",
                "Meta sandbox",
            )
        )
        stack.enter_context(
            _process(
                ["workers.cli.serve_cmd", "--port", str(api_port)],
                env,
                f"{api_url}/healthz",
                "HTTP API",
            )
        )
        stack.enter_context(
            _process(
                ["workers.cli.worker_cmd", "capi", "--retry-base", "2", "--probe-interval", "5"],
                env,
                None,
                "CAPI worker",
            )
        )
        yield Services(sandbox_url, api_url, env)
