"""Start the demo's processes (Meta sandbox, HTTP API, CAPI worker) on free local ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from workers.processes import free_port, running

SANDBOX_TOKEN = "sandbox-token"


@dataclass(frozen=True)
class Services:
    sandbox_url: str
    api_url: str
    env: dict[str, str]


@contextmanager
def demo_services(database_url: str, relay_product: str) -> Iterator[Services]:
    """The API also plays `relay_product`'s relay (GAP-005)."""
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
        "GDP_TRUSTED_PROXIES": "127.0.0.1",
    }
    with ExitStack() as stack:
        # Their stderr is not read while they run: a chatty process must not fill a pipe.
        stack.enter_context(
            running(
                ["workers.cli.sandbox_cmd", "--port", str(sandbox_port), "--log-level", "warning"],
                env=env,
                health_url=f"{sandbox_url}/_sandbox/health",
                name="the Meta sandbox",
                capture_stderr=False,
            )
        )
        stack.enter_context(
            running(
                ["workers.cli.serve_cmd", "--port", str(api_port)],
                env=env,
                health_url=f"{api_url}/healthz",
                name="the HTTP API",
                capture_stderr=False,
            )
        )
        stack.enter_context(
            running(
                ["workers.cli.worker_cmd", "capi", "--retry-base", "2", "--probe-interval", "5"],
                env=env,
                name="the CAPI worker",
                capture_stderr=False,
            )
        )
        yield Services(sandbox_url, api_url, env)
