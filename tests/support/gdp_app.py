"""GDP's HTTP service with the browser relay, in a subprocess, for the relay and browser tests.

`create_app_with_relay` is edge_compat's app (create_app includes the relay router) with
caches off; `running_gdp` serves it with uvicorn on a free port, with the
environment given (DATABASE_URL, PRODUCT_ID, GDP_TRUSTED_PROXIES, ...), with uvicorn's own
proxy-header handling off, as `gdp serve` runs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from fastapi import FastAPI

from workers.processes import free_port, running

RELAY_PATH = "/api/tracking/meta-event"


def create_app_with_relay() -> FastAPI:
    """edge_compat's app (create_app includes the relay router) with caches off for tests."""
    from edge_compat.app import create_app

    return create_app(flag_cache_seconds=0, key_cache_seconds=0, pool_min_size=1)


@contextmanager
def running_gdp(env: Mapping[str, str], *, port: int | None = None) -> Iterator[str]:
    """Serve GDP (with the relay) until the block ends; yields its base URL."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, **env}
    with running(
        [
            "uvicorn", "--factory", "tests.support.gdp_app:create_app_with_relay",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--no-access-log", "--no-proxy-headers",
        ],
        env=environment, health_url=f"{url}/healthz", name="GDP",
    ):  # fmt: skip
        yield url
