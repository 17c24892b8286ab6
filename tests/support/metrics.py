"""`scrape_until`: read a worker process's /metrics until it shows what a test waits for."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable

import httpx

from tests.support.waiting import wait_until


def scrape_until(
    process: subprocess.Popen[str], port: int, ready: Callable[[str], bool], what: str
) -> str:
    """The /metrics text once `ready` accepts it; fails at once, with the process's stderr,
    if the process has ended."""

    def scrape() -> str | None:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        with contextlib.suppress(httpx.TransportError):
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            if ready(text):
                return text
        return None

    text = wait_until(scrape, what)
    assert text is not None
    return text
