"""The insights worker against the sandbox: what lands in shared.performance_daily is what Meta
answered, however Meta answers (pages, empty pages with next, report runs, throttling, 5xx,
too-much-data, failed runs, restated days, bad tokens), and every pull is a row."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from meta_sandbox.config import FaultSettings, SandboxConfig
from tests.insights_helpers import (
    ACCOUNT,
    FAST_OPTIONS,
    TOKEN,
    Conn,
    configure_insights,
    pull,
    served_sandbox,
)
from tests.test_sandbox_support import FakeClock
from workers.errors import GdpError
from workers.insights.pull import PullOptions

NOON = dt.datetime(2026, 3, 18, 12, tzinfo=dt.UTC).timestamp()
TODAY = dt.date(2026, 3, 18)


def truth(url: str, since: dt.date, until: dt.date) -> dict[tuple[str, str], Decimal]:
    """Spend per (ad, day) as the sandbox reports it, read in one page."""
    for _ in range(20):  # a sandbox with a small BUC capacity may answer 80000 for a moment
        body = httpx.get(
            f"{url}/v25.0/{ACCOUNT}/insights",
            params={
                "access_token": TOKEN, "level": "ad", "time_increment": "1",
                "fields": "ad_id,spend", "limit": "5000",
                "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            },
            timeout=30,
        ).json()  # fmt: skip
        if "error" not in body:
            break
        time.sleep(0.5)
    assert "next" not in body["paging"]
    return {(r["ad_id"], r["date_start"]): Decimal(r["spend"]) for r in body["data"]}


def stored(db: Conn) -> dict[tuple[str, str], Decimal]:
    rows = db.execute("SELECT ad_id, date, spend FROM shared.performance_daily").fetchall()
    return {(r["ad_id"], r["date"].isoformat()): r["spend"] for r in rows}


def pull_row(db: Conn, pull_id: int) -> dict[str, Any]:
    row = db.execute("SELECT * FROM shared.insights_pull WHERE id = %s", (pull_id,)).fetchone()
    assert row is not None
    return row


def window(days: int) -> dict[str, dt.date]:
    """The sandbox runs on a fake clock; the worker's own "today" is the real one."""
    return {"since": TODAY - dt.timedelta(days=days - 1), "until": TODAY}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOON)


def test_sync_pull_pages_past_an_empty_page_until_next_is_absent(
    db: Conn, db_url: str, clock: FakeClock
) -> None:
    configure_insights(db, repull_days=5)
    with served_sandbox(SandboxConfig(clock=clock)) as sb:
        report = pull(db_url, sb.url, options=PullOptions(page_limit=100), **window(5))
        logged = [e.path for e in sb.sandbox.request_log if "/insights" in e.path]
        expected = truth(sb.url, TODAY - dt.timedelta(days=4), TODAY)
    assert report.status == "succeeded" and report.mode == "sync"
    assert stored(db) == expected and len(expected) > 400
    assert report.rows == len(expected)
    # 5 pages of 100 + the empty page Meta may serve in between.
    assert len(logged) == -(-len(expected) // 100) + 1
    row = pull_row(db, report.pull_id)
    assert (row["status"], row["rows_written"], row["date_from"], row["date_to"]) == (
        "succeeded", len(expected), TODAY - dt.timedelta(days=4), TODAY,
    )  # fmt: skip
    assert row["requests"] == report.requests and row["finished_at"] is not None


def test_async_pull_uses_report_runs_and_matches_meta(
    db: Conn, db_url: str, clock: FakeClock
) -> None:
    configure_insights(db, repull_days=28)
    with served_sandbox(SandboxConfig(clock=clock)) as sb:
        report = pull(db_url, sb.url, **window(28))
        expected = truth(sb.url, TODAY - dt.timedelta(days=27), TODAY)
    assert report.mode == "async" and report.report_runs == 4  # a week per run
    assert stored(db) == expected
    spend = db.execute("SELECT sum(spend) AS s FROM shared.performance_campaign_daily").fetchone()
    assert spend == {"s": sum(expected.values())}
    projects = db.execute(
        "SELECT count(*) FILTER (WHERE project_id IS NULL) AS unassigned, count(*) AS n "
        "FROM shared.campaign_project"
    ).fetchone()
    assert projects == {"unassigned": 0, "n": 24}


def test_a_repull_records_restated_days_and_leaves_settled_days_alone(
    db: Conn, db_url: str, clock: FakeClock
) -> None:
    configure_insights(db, repull_days=6)
    with served_sandbox(SandboxConfig(clock=clock)) as sb:
        first = pull(db_url, sb.url, **window(6))
        clock.advance(9 * 3600)  # the evening: today delivered more, recent days converted more
        second = pull(db_url, sb.url, **window(6))
        expected = truth(sb.url, TODAY - dt.timedelta(days=5), TODAY)
    assert stored(db) == expected
    assert second.rows >= first.rows  # the re-pull reads the same days and any new ones
    restated = db.execute(
        "SELECT date, count(*) AS n FROM shared.performance_restatement GROUP BY date"
    ).fetchall()
    days = {r["date"] for r in restated}
    assert TODAY in days and TODAY - dt.timedelta(days=1) in days
    assert all(day >= TODAY - dt.timedelta(days=3) for day in days)  # older days are final
    assert pull_row(db, second.pull_id)["rows_restated"] == sum(r["n"] for r in restated)
    counted = db.execute(
        "SELECT sum(restatements) AS n FROM shared.performance_daily WHERE date = %s", (TODAY,)
    ).fetchone()
    assert counted is not None and counted["n"] > 0


@pytest.mark.slow
def test_throttling_is_waited_out_by_the_usage_headers(
    db: Conn, db_url: str, clock: FakeClock
) -> None:
    configure_insights(db, repull_days=6)
    config = SandboxConfig(buc_capacity=4, buc_window_s=1.0)  # real clock: usage decays
    with served_sandbox(config) as sb:
        report = pull(db_url, sb.url, options=PullOptions(page_limit=50))
        throttled = [e for e in sb.sandbox.request_log if e.code == 80000]
        today = dt.datetime.now(dt.UTC).date()
        expected = truth(sb.url, today - dt.timedelta(days=5), today)
    assert report.status == "succeeded"
    got = stored(db)
    assert got.keys() == expected.keys()
    # Days still maturing move with the real clock between the pull and this read; older are final.
    settled = today - dt.timedelta(days=4)
    assert {k: v for k, v in got.items() if k[1] <= settled.isoformat()} == {
        k: v for k, v in expected.items() if k[1] <= settled.isoformat()
    }
    row = pull_row(db, report.pull_id)
    assert row["throttle_wait_ms"] > 0 and row["max_usage_pct"] >= 75
    # Pacing by the headers kept most calls out of the block.
    assert len(throttled) <= report.retries and len(throttled) < report.requests / 2


def test_transient_errors_are_retried_and_lose_nothing(
    db: Conn, db_url: str, clock: FakeClock
) -> None:
    configure_insights(db, repull_days=10)
    faults = FaultSettings(fail_5xx=0.3, seed=11)
    with served_sandbox(SandboxConfig(clock=clock, faults=faults)) as sb:
        report = pull(db_url, sb.url, **window(10))
        sb.faults(fail_5xx=0.0)
        expected = truth(sb.url, TODAY - dt.timedelta(days=9), TODAY)
    assert report.status == "succeeded" and report.retries > 0
    assert stored(db) == expected


def test_too_much_data_and_failed_report_runs_are_split(
    db: Conn, db_url: str, clock: FakeClock
) -> None:
    configure_insights(db, repull_days=14)
    config = SandboxConfig(
        clock=clock, insights_max_cells=96 * 4, insights_async_fail_every=3, insights_async_polls=1
    )
    with served_sandbox(config) as sb:
        options = PullOptions(days_per_run=14, poll_first_s=0.01)
        report = pull(db_url, sb.url, options=options, **window(14))
        expected = truth_in_slices(sb.url, TODAY - dt.timedelta(days=13), TODAY)
    assert report.status == "succeeded" and report.splits >= 2
    assert stored(db) == expected
    assert pull_row(db, report.pull_id)["splits"] == report.splits


def truth_in_slices(url: str, since: dt.date, until: dt.date) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    day = since
    while day <= until:
        out.update(truth(url, day, day))
        day += dt.timedelta(days=1)
    return out


def test_an_expired_token_fails_the_pull_with_metas_code(
    db: Conn, db_url: str, clock: FakeClock
) -> None:
    configure_insights(db, repull_days=3)
    with served_sandbox(SandboxConfig(clock=clock)) as sb:
        report = pull(db_url, sb.url, token="sandbox-expired-token", **window(3))
    assert report.status == "failed" and report.error is not None
    row = db.execute("SELECT status, error_code FROM shared.insights_pull ORDER BY id DESC LIMIT 1")
    assert row.fetchone() == {"status": "failed", "error_code": 190}
    assert stored(db) == {}


def test_the_flag_gates_the_worker(db: Conn, db_url: str, clock: FakeClock) -> None:
    configure_insights(db, enabled=False)
    with served_sandbox(SandboxConfig(clock=clock)) as sb, pytest.raises(GdpError) as refused:
        pull(db_url, sb.url)
    assert "ACD_META_INSIGHTS_ENABLED is off" in refused.value.message
    assert db.execute("SELECT count(*) AS n FROM shared.insights_pull").fetchone() == {"n": 0}


def test_the_worker_role_can_pull_and_nothing_else(db: Conn, db_url: str) -> None:
    configure_insights(db)
    with db.transaction(force_rollback=True):
        db.execute("SET LOCAL ROLE gdp_insights_worker")
        assert db.execute("SELECT enabled FROM shared.insights_worker_config()").fetchone()
        for statement in (
            "SELECT * FROM shared.person LIMIT 1",
            "SELECT * FROM shared.performance_daily LIMIT 1",
            "UPDATE shared.feature_flag SET enabled = true",
            "SELECT shared.sync_lead(1, '{}'::jsonb)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
                db.execute(statement)


def test_write_rows_refuses_rows_that_are_not_daily_ad_rows(db: Conn) -> None:
    pull_id = db.execute(
        "SELECT shared.insights_begin_pull('act_1', '2026-03-01', '2026-03-02', 'sync') AS id"
    ).fetchone()
    assert pull_id is not None
    bad = [{"ad_id": "1", "campaign_id": "2", "date_start": "2026-03-01", "date_stop": "2026-03-7"}]
    with pytest.raises(psycopg.Error) as refused:
        db.execute(
            "SELECT * FROM shared.insights_write_rows(%s, %s::jsonb)",
            (pull_id["id"], json.dumps(bad)),
        )
    assert refused.value.sqlstate == "GD400" and "time_increment=1" in str(refused.value)


def test_cli_pull_prints_one_line(env: dict[str, str], db: Conn, clock: FakeClock) -> None:
    import subprocess
    import sys

    configure_insights(db, repull_days=2)
    with served_sandbox(SandboxConfig()) as sb:
        done = subprocess.run(
            [sys.executable, "-m", "workers.cli.main", "insights", "pull"],
            env={**env, "META_GRAPH_URL": sb.url, "META_CAPI_ACCESS_TOKEN": TOKEN},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pull ") and "succeeded" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", "insights", "pull", "--since", "March"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip() == "gdp: since: must be a date as YYYY-MM-DD"
    assert FAST_OPTIONS.page_limit == 500


def test_two_writers_of_one_campaign_day_leave_a_correct_rollup(db_url: str, db: Conn) -> None:
    """Two pulls writing different ads of the same campaign and day at the same moment: the
    rollup must hold both (each writer recomputes it from the ad rows it can see). Writers take
    turns twice over: an advisory lock, and the campaign row each page upserts."""
    import threading

    import psycopg as pg

    # A campaign seen before (a new one would make the second writer wait on the first's row).
    db.execute("INSERT INTO shared.campaign_project (campaign_id, campaign_name, project_id)"
               " VALUES ('777', 'snapmix | X', 'snapmix')")  # fmt: skip
    pulls = [
        db.execute("SELECT shared.insights_begin_pull('act_1', '2026-03-01', '2026-03-01', 'sync')"
                   " AS id").fetchone()["id"]  # type: ignore[index]
        for _ in range(2)
    ]  # fmt: skip

    def rows(first_ad: int) -> str:
        return json.dumps([
            {"ad_id": str(first_ad + i), "campaign_id": "777", "campaign_name": "snapmix | X",
             "date_start": "2026-03-01", "date_stop": "2026-03-01", "spend": "1.00",
             "impressions": "10", "clicks": "1"}
            for i in range(50)
        ])  # fmt: skip

    barrier = threading.Barrier(2)

    def write(pull_id: int, first_ad: int) -> None:
        with pg.connect(db_url) as conn:
            barrier.wait()
            conn.execute("SELECT * FROM shared.insights_write_rows(%s, %s::jsonb)",
                         (pull_id, rows(first_ad)))  # fmt: skip
            time.sleep(0.3)  # hold the transaction while the other writer runs
            conn.commit()

    threads = [threading.Thread(target=write, args=(pulls[i], 1000 + 100 * i)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rollup = db.execute(
        "SELECT spend, impressions, ads FROM shared.performance_campaign_daily"
        " WHERE campaign_id = '777'"
    ).fetchone()
    assert rollup == {"spend": Decimal("100.00"), "impressions": 1000, "ads": 100}
