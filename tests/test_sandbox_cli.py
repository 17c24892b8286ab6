"""`python -m workers.cli.sandbox_cmd` serves the sandbox over real HTTP on a local port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.test_sandbox_support import PIXEL, TOKEN, graph_error, website_event
from workers.processes import free_port


@pytest.fixture
def server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "workers.cli.sandbox_cmd", "--port", str(port),
            "--log-level", "warning", "--token", "cli-extra-token", "--seed", "7",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/_sandbox/health", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, err = process.communicate(timeout=5)
                pytest.fail(f"sandbox did not start: {err.decode()[-2000:]}")
            time.sleep(0.05)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_sandbox_command_serves_graph_and_control_over_http(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, _ = server
    with httpx.Client(base_url=base, timeout=5) as client:
        sent = client.post(
            f"/v25.0/{PIXEL}/events",
            params={"access_token": TOKEN},
            json={"data": [website_event()]},
        )
        assert sent.status_code == 200 and sent.json()["events_received"] == 1
        assert "x-business-use-case-usage" in sent.headers
        extra = client.get("/v25.0/act_1000000001", params={"access_token": "cli-extra-token"})
        assert extra.json() == {"id": "act_1000000001"}
        assert graph_error(client.get("/v25.0/act_1000000001"))["code"] == 190
        summary = client.get("/_sandbox/events/summary").json()["pixels"][PIXEL]
        assert summary["received"] == 1
        faults = client.post("/_sandbox/faults", json={"throttle": 1.0, "throttle_codes": [4]})
        assert faults.json()["throttle"] == 1.0
        throttled = client.get("/v25.0/act_1000000001", params={"access_token": TOKEN})
        assert graph_error(throttled)["code"] == 4


def test_sandbox_command_refuses_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "workers.cli.sandbox_cmd", "--port", str(port)],
            capture_output=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert b"cannot listen on" in result.stderr
    assert b"Traceback" not in result.stderr


def test_sandbox_command_flags_are_validated() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workers.cli.sandbox_cmd", "--throttle-codes", "4,99"],
        capture_output=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert b"throttle_codes" in result.stderr and b"Traceback" not in result.stderr
