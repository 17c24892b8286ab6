"""The JavaScript clients under Node's own test runner (`node --test`), run from pytest.

clients/web: the browser snippet against a fake browser. clients/nextjs: the Next.js relay's
rules, then its route handler against the real GDP endpoint served here on this test's database
(the product snapmix switched on, gapradar not); what it relayed is then checked in the rows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.capi_helpers import enable_pipeline
from tests.edge_support import Conn, create_key, set_flags
from tests.support.gdp_app import running_gdp

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")


def node_test(folder: str, env: dict[str, str] | None = None) -> str:
    # Fails rather than skips without Node.js (make test installs it): a skip passes unchecked.
    assert NODE is not None, "Node.js is not installed (Debian nodejs: make system-deps)"
    done = subprocess.run(
        [NODE, "--test", "--test-reporter=spec", folder],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return output


def test_browser_snippet_under_node() -> None:
    output = node_test("clients/web/test/")
    assert "ℹ fail 0" in output


@pytest.mark.slow
def test_nextjs_drop_in_against_the_real_gdp_endpoint(
    db: Conn, env: dict[str, str], tmp_path: Path
) -> None:
    enable_pipeline(db, rules=False)
    set_flags(
        db,
        "CONVERSION_TRACKING_ENABLED",
        "META_CAPI_FORWARD_ENABLED",
        "META_CAPI_RELAY_ENABLED",
    )
    db.execute(
        "SELECT shared.set_setting('META_CAPI_RELAY_PRODUCT_ENABLED', 'true', 't', 'snapmix')"
    )
    key = create_key(db, "snapmix")
    disabled_key = create_key(db, "gapradar")
    out = tmp_path / "relayed.jsonl"
    with running_gdp(env) as url:
        output = node_test(
            "clients/nextjs/test/",
            {
                **env,
                "GDP_TEST_URL": url,
                "GDP_TEST_KEY": key,
                "GDP_TEST_KEY_DISABLED": disabled_key,
                "GDP_TEST_OUT": str(out),
            },
        )
    assert "ℹ skipped 0" in output and "ℹ fail 0" in output
    [relayed] = [json.loads(line) for line in out.read_text().splitlines()]
    rows = db.execute(
        "SELECT product_id, event_name, host(client_ip_address) AS ip, client_user_agent, fbp,"
        " fbc, properties, event_source_url FROM shared.event WHERE event_id = %s",
        (relayed["event_id"],),
    ).fetchall()
    assert rows == [
        {
            "product_id": "snapmix",
            "event_name": "Purchase",
            "ip": relayed["ip"],
            "client_user_agent": relayed["ua"],
            "fbp": relayed["fbp"],
            "fbc": relayed["fbc"],
            "properties": {"value": 9.99, "currency": "USD", "plan": "pro"},
            "event_source_url": "https://snapmix.app/upgrade",
        }
    ]
