"""Helpers for the insights, leads and dashboard tests: a sandbox served over real HTTP with a
config of the test's choosing (a fake clock, a small BUC capacity, failing report runs...), and
the database set up for the insights worker."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import uvicorn

from meta_sandbox.app import create_app, sandbox_of
from meta_sandbox.config import SandboxConfig
from meta_sandbox.state import Sandbox
from tests.support.waiting import wait_until
from workers.graph_reader import RetryPolicy
from workers.insights.pull import PullOptions
from workers.insights.worker import InsightsWorker, PullReport
from workers.processes import free_port
from workers.settings import Settings

ACCOUNT = "act_1000000001"
TOKEN = "sandbox-token"
FAST_POLICY = RetryPolicy(max_attempts=6, backoff_base_s=0.05, backoff_cap_s=0.5, max_wait_s=1.5)
FAST_OPTIONS = PullOptions(page_limit=500, poll_first_s=0.01, poll_max_s=0.05)
Conn = psycopg.Connection[dict[str, Any]]


class ServedSandbox:
    def __init__(self, url: str, sandbox: Sandbox) -> None:
        self.url = url
        self.sandbox = sandbox
        self.http = httpx.Client(base_url=url, timeout=30)

    def faults(self, **changes: Any) -> None:
        self.http.post("/_sandbox/faults", json=changes).raise_for_status()


@contextmanager
def served_sandbox(config: SandboxConfig | None = None) -> Iterator[ServedSandbox]:
    """The sandbox app on a free port in a thread (uvicorn), with this config."""
    app = create_app(config or SandboxConfig())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the sandbox to start", interval_s=0.02)
    try:
        yield ServedSandbox(f"http://127.0.0.1:{port}", sandbox_of(app))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def configure_insights(db: Conn, *, enabled: bool = True, repull_days: int = 28) -> None:
    """The ad account, the window, and the flag (tests may bypass the gate)."""
    db.execute("SELECT shared.set_setting('META_AD_ACCOUNT_ID', %s::jsonb, 'test')",
               (json.dumps(ACCOUNT),))  # fmt: skip
    db.execute("SELECT shared.set_setting('META_INSIGHTS_REPULL_DAYS', %s::jsonb, 'test')",
               (json.dumps(repull_days),))  # fmt: skip
    db.execute(
        "UPDATE shared.feature_flag SET enabled = %s WHERE flag_key = 'ACD_META_INSIGHTS_ENABLED'",
        (enabled,),
    )


def insights_settings(db_url: str, graph_url: str, token: str | None = TOKEN) -> Settings:
    values: dict[str, Any] = {"DATABASE_URL": db_url, "META_GRAPH_URL": graph_url}
    if token:
        values["META_CAPI_ACCESS_TOKEN"] = token
    return Settings(**values)


def pull(
    db_url: str, graph_url: str, *, token: str | None = TOKEN, options: PullOptions = FAST_OPTIONS,
    policy: RetryPolicy = FAST_POLICY, **kwargs: Any,
) -> PullReport:  # fmt: skip
    worker = InsightsWorker(
        insights_settings(db_url, graph_url, token), options=options, policy=policy
    )
    return asyncio.run(worker.pull(**kwargs))
