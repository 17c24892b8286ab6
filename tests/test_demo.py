"""`make demo` (gdp demo) end to end: the main job of the README works and tells the truth."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.conftest import make_url

DEMO_DB = f"gdp_demo_t{os.getpid()}"


@pytest.fixture
def demo_db() -> Iterator[str]:
    yield DEMO_DB
    with psycopg.connect(make_url("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DEMO_DB))
        )


@pytest.mark.slow
def test_demo_runs_the_whole_loop_and_reports_from_the_database(demo_db: str) -> None:
    environment = {**os.environ, "DATABASE_URL": make_url("postgres")}
    environment.pop("META_CAPI_ACCESS_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", "demo", "--dbname", demo_db,
         "--no-keep-serving"],
        capture_output=True, text=True, env=environment, timeout=300, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:] + out[-3000:]
    assert "== 7. Summary" in out and "== 8. The browser path" in out
    total = re.search(r"total\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", out)
    assert total is not None, out
    events, delivered, blocked, dead = map(int, total.groups())
    assert events > 400 and delivered + blocked + dead <= events and blocked >= 1 and dead >= 1
    received = re.search(r"received (\d+) events in \d+ requests .*: (\d+) unique, 0 duplicates",
                         out)  # fmt: skip
    assert received is not None, out
    assert int(received.group(1)) == int(received.group(2)) == delivered
    assert re.search(r"deduplicated before Meta: [1-9]\d* resends answered as duplicates", out)
    assert "nothing sent twice" in out
    assert re.search(r"latency, arrival -> Meta's acknowledgement recorded: p50 \d+ ms", out)
    assert "Meta received event_id" in out  # the browser purchase arrived through the relay
    assert "@" not in out.split("== 6.")[1].split("== 8.")[0]  # no raw email in the summary
    # The return path: insights pulled, leads synced, a lead's purchase carrying its lead id.
    pulled = r"pull \d+ succeeded: .* \(async, \d+ report runs\) -> [1-9]\d* ad-day rows"
    assert re.search(pulled, out)
    assert "12 leads, 13 deliveries, 12 synced to people by the lead worker" in out
    assert re.search(r"its Purchase reached Meta with lead_id \d+", out)
    # Segments evaluated; the mapped audience above the first-upload guard is uploaded, the one
    # below it is refused with the guard's reason.
    segments = out.split("== 10. Segments")[1].split("== 11.")[0]
    members = re.search(r"all_leads\s+(\d+) members\s+-> All Leads", segments)
    assert members is not None and int(members.group(1)) > 100, segments
    assert re.search(r"all_leads\s+diff\s+succeeded\s+\+[1-9]\d* -0 1 requests", segments)
    assert re.search(r"all_customers\s+diff\s+refused .* at least 100", segments)
    assert "@" not in segments  # hashes and ids only
    # It ends with the dashboard's URL, key included.
    assert re.fullmatch(r"\s+http://127\.0\.0\.1:\d+/dashboard#key=gdp_dk_[0-9a-f]{64}",
                        out.rstrip().splitlines()[-1])
