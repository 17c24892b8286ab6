"""`gdp audiences ...` as an admin runs it, the worker's metrics, and no raw PII anywhere the
sync writes (runs, acknowledged rows, logs, metrics)."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import generate_latest

from tests.insights_helpers import ServedSandbox
from tests.support.cli import gdp_in_process as gdp
from tests.test_audience_support import (
    TOKEN,
    Conn,
    add_people,
    configure,
    join,
    leave,
    make_segment,
    sync,
    worker,
)
from tests.test_cli import gdp as gdp_process
from workers.audiences.metrics import registry_with_status

SEG = "high_intent_pricing_2plus"


# `gdp audiences ...` runs in this process (tests/support/cli.py), but for one refusal run as a
# process: the console script's exit code and one-line stderr.


def cli_env(env: dict[str, str], meta: ServedSandbox) -> dict[str, str]:
    return {**env, "META_GRAPH_URL": meta.url, "META_CAPI_ACCESS_TOKEN": TOKEN}


@pytest.mark.slow
def test_diff_is_a_dry_run_and_sync_list_runs_report(
    db: Conn, env: dict[str, str], meta: ServedSandbox
) -> None:
    make_segment(db, SEG, "High Intent Visitors")
    configure(db, {SEG: None})
    people = add_people(db, 12)
    join(db, SEG, people)
    environment = cli_env(env, meta)
    plan = gdp(environment, "audiences", "diff", "High Intent Visitors")
    assert plan.returncode == 0, plan.stderr
    assert "add 12 (12 joining" in plan.stdout and "to be created" in plan.stdout
    with meta.sandbox.lock:
        assert meta.sandbox.audiences == {}  # a dry run sends nothing
    done = gdp(environment, "audiences", "sync", SEG)
    assert done.returncode == 0, done.stderr
    assert f"{SEG}: diff succeeded, 12 added, 0 removed, 1 uploads" in done.stdout
    listed = gdp(environment, "audiences", "list")
    assert listed.returncode == 0, listed.stderr
    assert SEG in listed.stdout and "12 members" in listed.stdout and "succeeded" in listed.stdout
    # Most of the segment leaves: the cap refuses, the dry run says so, an acknowledgement lets it.
    leave(db, SEG, people[:10])
    plan = gdp(environment, "audiences", "diff", SEG)
    assert plan.returncode == 3 and "the sync would be refused" in plan.stderr
    refused = gdp(environment, "audiences", "sync", SEG)
    assert refused.returncode == 3 and "allow-removals" in refused.stdout
    allowed = gdp(environment, "audiences", "allow-removals", SEG, "10", "--by", "ana")
    assert allowed.returncode == 0, allowed.stderr
    done = gdp(environment, "audiences", "sync", SEG)
    assert done.returncode == 0 and "10 removed" in done.stdout
    runs = gdp(environment, "audiences", "runs", SEG)
    assert runs.returncode == 0
    assert [line.split()[3] for line in runs.stdout.splitlines()] == [
        "succeeded", "refused", "succeeded"]


@pytest.mark.slow
def test_unknown_names_and_the_flag_off_are_one_line_refusals(
    db: Conn, env: dict[str, str], meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None}, enabled=False)
    environment = cli_env(env, meta)
    off = gdp_process(environment, "audiences", "sync")  # once as the console script runs it
    assert off.returncode == 1 and off.stderr.startswith("gdp: META_CUSTOM_AUDIENCE_SYNC_ENABLED")
    unknown = gdp(environment, "audiences", "diff", "nope")
    assert unknown.returncode == 1 and "not a mapped segment" in unknown.stderr
    bad = gdp(environment, "audiences", "allow-removals", SEG, "0", "--by", "ana")
    assert bad.returncode == 2 and "max_removals" in bad.stderr
    assert "Traceback" not in off.stderr + unknown.stderr + bad.stderr


def test_metrics_show_size_lag_and_failures_and_nothing_holds_raw_pii(
    db: Conn, db_url: str, meta: ServedSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    people = add_people(db, 8, "secret")
    join(db, SEG, people)
    caplog.set_level(logging.DEBUG)
    assert sync(db_url, meta.url).status == "succeeded"
    meta.faults(token_expired=True)
    join(db, SEG, add_people(db, 2, "secret", start=100))
    assert sync(db_url, meta.url).status == "failed"
    meta.faults(token_expired=False)
    text = generate_latest(registry_with_status(worker(db_url, meta.url).conninfo())).decode()
    assert f'gdp_audience_members{{segment="{SEG}"}} 10.0' in text
    assert f'gdp_audience_acknowledged_rows{{segment="{SEG}"}} 8.0' in text
    assert f'gdp_audience_failures_24h{{segment="{SEG}"}} 1.0' in text
    assert f'gdp_audience_lag_seconds{{segment="{SEG}"}}' in text
    assert 'gdp_audience_graph_errors_total{code="190",kind="auth"}' in text
    stored = db.execute(
        "SELECT (SELECT json_agg(r)::text FROM shared.audience_sync_run AS r) || "
        "(SELECT json_agg(k)::text FROM shared.audience_ack AS k) || "
        "(SELECT json_agg(a)::text FROM shared.meta_audience AS a) AS all_rows"
    ).fetchone()
    assert stored is not None
    for where in (stored["all_rows"], caplog.text, text):
        assert "secret" not in where and "@example.com" not in where and "+1415" not in where


def test_guards_are_shown_and_set_and_bad_values_refused_naming_the_field(
    db: Conn, env: dict[str, str], meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    environment = cli_env(env, meta)
    shown = gdp(environment, "audiences", "guards", SEG)
    assert shown.returncode == 0, shown.stderr
    assert "at 0 members or more" in shown.stdout and "at most 20.0%" in shown.stdout
    changed = gdp(environment, "audiences", "guards", SEG, "--min-size", "500",
                  "--max-removed-share", "0.05")  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert "at 500 members or more" in changed.stdout and "at most 5.0%" in changed.stdout
    row = db.execute(
        "SELECT min_size_first_upload AS m, max_removed_share::text AS s "
        "FROM shared.meta_audience WHERE segment_id = %s",
        (SEG,),
    ).fetchone()
    assert row == {"m": 500, "s": "0.050"}
    bad = gdp(environment, "audiences", "guards", SEG, "--max-removed-share", "1.5")
    assert bad.returncode == 2 and "max_removed_share" in bad.stderr
    bad = gdp(environment, "audiences", "guards", SEG, "--min-size", "-1")
    assert bad.returncode == 2 and "min_size_first_upload" in bad.stderr
    unknown = gdp(environment, "audiences", "guards", "nope")
    assert unknown.returncode != 0 and "not mapped" in unknown.stderr
    assert "Traceback" not in bad.stderr + unknown.stderr
    assert db.execute(
        "SELECT min_size_first_upload AS m FROM shared.meta_audience WHERE segment_id = %s",
        (SEG,),
    ).fetchone() == {"m": 500}  # the refusals changed nothing
