"""Local child processes (sandbox, API, worker) for the demo and the tests: a free port, a
start that waits until the process answers its health URL, and a stop that never hangs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx

from workers.errors import GdpError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(
    process: subprocess.Popen[str], health_url: str, *, name: str, timeout_s: float = 30.0
) -> None:
    """Poll `health_url` until it answers 200; a process that exits or never answers raises
    GdpError with the end of its stderr."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(health_url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            detail = process.stderr.read() if process.stderr else ""
            raise GdpError(f"{name} did not start: {(detail or 'no output')[-2000:]}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[str], timeout_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running(
    module_args: Sequence[str],
    *,
    env: Mapping[str, str],
    name: str,
    health_url: str | None = None,
    timeout_s: float = 30.0,
    capture_stderr: bool = True,
) -> Iterator[subprocess.Popen[str]]:
    """Run `python -m <module_args>` for the duration of the block."""
    process = subprocess.Popen(
        [sys.executable, "-m", *module_args],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture_stderr else subprocess.DEVNULL,
        text=True,
    )
    try:
        if health_url:
            wait_until_healthy(process, health_url, name=name, timeout_s=timeout_s)
        yield process
    finally:
        stop(process)
