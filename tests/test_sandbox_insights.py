"""Ads Insights over the synthetic account: shapes, paging, presets, limits, determinism."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from meta_sandbox.config import SandboxConfig
from meta_sandbox.synthetic import PRODUCTS
from tests.test_sandbox_support import (
    ACCOUNT,
    FakeClock,
    SandboxClient,
    graph_error,
    sandbox_client,
)

TODAY = dt.date(2026, 3, 18)  # a Wednesday
NOON = dt.datetime(2026, 3, 18, 12, tzinfo=dt.UTC).timestamp()
FIRST_DAY = TODAY - dt.timedelta(days=547)


@pytest.fixture
def sb() -> Iterator[SandboxClient]:
    with sandbox_client(SandboxConfig(clock=FakeClock(NOON))) as client:
        yield client


def insights(sb: SandboxClient, **params: Any) -> dict[str, Any]:
    response = sb.graph("GET", f"/{ACCOUNT}/insights", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def all_rows(sb: SandboxClient, **params: Any) -> tuple[list[dict[str, Any]], int, int]:
    """Follow `next` until it is absent; returns rows, pages and empty pages seen."""
    body = insights(sb, **params)
    rows, pages, empty = list(body["data"]), 1, int(not body["data"])
    while "next" in body["paging"]:
        response = sb.get(body["paging"]["next"])
        assert response.status_code == 200, response.text
        body = response.json()
        rows += body["data"]
        pages += 1
        empty += int(not body["data"])
    return rows, pages, empty


def range_of(since: dt.date, until: dt.date) -> dict[str, str]:
    return {"since": since.isoformat(), "until": until.isoformat()}


def test_paging_until_next_is_absent_returns_every_row_once(sb: SandboxClient) -> None:
    params = {"level": "campaign", "fields": "campaign_id,spend", "date_preset": "last_7d"}
    rows, pages, empty = all_rows(sb, limit="5", **params)
    assert empty == 1  # one empty page that still had `next`, as Meta can serve
    assert pages > 2
    single = insights(sb, limit="500", **params)
    assert "next" not in single["paging"]
    assert rows == single["data"]
    assert len({row["campaign_id"] for row in rows}) == len(rows) == 24


def test_page_shape_cursors_and_previous(sb: SandboxClient) -> None:
    body = insights(sb, level="ad", limit="10")
    assert len(body["data"]) == 10
    assert set(body["paging"]["cursors"]) == {"before", "after"}
    assert "previous" not in body["paging"]
    second = sb.get(body["paging"]["next"]).json()  # the empty page
    assert second["data"] == [] and "next" in second["paging"]
    third = sb.get(second["paging"]["next"]).json()
    assert len(third["data"]) == 10 and "previous" in third["paging"]
    back = sb.get(third["paging"]["previous"]).json()
    assert back["data"] == body["data"]


def test_numbers_are_strings_and_actions_are_lists(sb: SandboxClient) -> None:
    fields = "spend,impressions,clicks,ctr,cpc,cpm,reach,actions,action_values,cost_per_action_type"
    [row] = insights(sb, fields=fields, date_preset="last_30d")["data"]
    for name in ("spend", "impressions", "clicks", "ctr", "cpc", "cpm", "reach"):
        assert isinstance(row[name], str), name
        float(row[name])
    assert int(row["impressions"]) > int(row["clicks"]) > 0
    assert row["date_start"] == (TODAY - dt.timedelta(days=30)).isoformat()
    assert row["date_stop"] == (TODAY - dt.timedelta(days=1)).isoformat()
    types = {a["action_type"] for a in row["actions"]}
    assert {"lead", "offsite_conversion.fb_pixel_purchase", "complete_registration"} <= types
    assert all(
        isinstance(a["value"], str) and set(a) == {"action_type", "value"} for a in row["actions"]
    )
    assert {a["action_type"] for a in row["action_values"]} >= {
        "offsite_conversion.fb_pixel_purchase"
    }
    assert isinstance(row["cost_per_action_type"], list)


def test_same_request_same_numbers_and_the_seed_matters(sb: SandboxClient) -> None:
    params = {"level": "adset", "fields": "adset_id,spend,actions", "date_preset": "last_90d"}
    first = insights(sb, limit="100", **params)
    assert insights(sb, limit="100", **params) == first
    with sandbox_client(SandboxConfig(clock=FakeClock(NOON))) as again:
        assert insights(again, limit="100", **params)["data"] == first["data"]
    with sandbox_client(SandboxConfig(clock=FakeClock(NOON), seed=7)) as other:
        assert insights(other, limit="100", **params)["data"] != first["data"]


def test_levels_add_up_to_the_account(sb: SandboxClient) -> None:
    window = {"time_range": range_of(TODAY - dt.timedelta(days=20), TODAY - dt.timedelta(days=1))}
    [account] = insights(sb, fields="spend,impressions", **window)["data"]
    campaigns = insights(sb, level="campaign", fields="spend,impressions", limit="100", **window)
    spend = sum(round(float(row["spend"]) * 100) for row in campaigns["data"])
    assert spend == round(float(account["spend"]) * 100)
    impressions = sum(int(row["impressions"]) for row in campaigns["data"])
    assert impressions == int(account["impressions"])


def test_campaigns_cover_every_product_with_named_hierarchy(sb: SandboxClient) -> None:
    fields = "campaign_id,campaign_name,adset_id,adset_name,ad_id,ad_name,account_currency"
    rows, _, _ = all_rows(sb, level="ad", fields=fields, date_preset="last_90d", limit="200")
    names = {row["campaign_name"] for row in rows}
    for product in PRODUCTS:
        assert any(name.startswith(f"{product} | ") for name in names), product
    assert "snapmix | Prospecting | Signup" in names
    assert len(names) >= 2 * len(PRODUCTS)
    assert all(row["account_currency"] == "USD" for row in rows)
    assert all(row["ad_id"].startswith(row["adset_id"][:-2]) for row in rows)
    [account_row] = insights(sb, fields="campaign_name,spend")["data"]
    assert "campaign_name" not in account_row  # not a field of the account level


def test_daily_rows_with_time_increment_1(sb: SandboxClient) -> None:
    since, until = TODAY - dt.timedelta(days=9), TODAY - dt.timedelta(days=3)
    body = insights(sb, time_range=range_of(since, until), time_increment="1")
    dates = [row["date_start"] for row in body["data"]]
    assert dates == [(since + dt.timedelta(days=i)).isoformat() for i in range(7)]
    assert all(row["date_start"] == row["date_stop"] for row in body["data"])


def test_time_range_is_inclusive(sb: SandboxClient) -> None:
    day = TODAY - dt.timedelta(days=4)
    [row] = insights(sb, time_range=range_of(day, day))["data"]
    assert row["date_start"] == row["date_stop"] == day.isoformat()
    [daily] = insights(sb, time_range=range_of(day, day), time_increment="1")["data"]
    assert daily["spend"] == row["spend"]


@pytest.mark.parametrize(
    ("preset", "since", "until"),
    [
        ("today", TODAY, TODAY),
        ("yesterday", TODAY - dt.timedelta(days=1), TODAY - dt.timedelta(days=1)),
        ("last_7d", TODAY - dt.timedelta(days=7), TODAY - dt.timedelta(days=1)),
        ("last_14d", TODAY - dt.timedelta(days=14), TODAY - dt.timedelta(days=1)),
        ("last_28d", TODAY - dt.timedelta(days=28), TODAY - dt.timedelta(days=1)),
        ("last_30d", TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=1)),
        ("last_90d", TODAY - dt.timedelta(days=90), TODAY - dt.timedelta(days=1)),
        ("this_month", dt.date(2026, 3, 1), TODAY),
        ("last_month", dt.date(2026, 2, 1), dt.date(2026, 2, 28)),
        ("this_quarter", dt.date(2026, 1, 1), TODAY),
        ("last_quarter", dt.date(2025, 10, 1), dt.date(2025, 12, 31)),
        ("this_year", dt.date(2026, 1, 1), TODAY),
        ("last_year", dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        ("this_week_mon_today", dt.date(2026, 3, 16), TODAY),
        ("last_week_mon_sun", dt.date(2026, 3, 9), dt.date(2026, 3, 15)),
        ("last_week_sun_sat", dt.date(2026, 3, 8), dt.date(2026, 3, 14)),
        ("maximum", FIRST_DAY, TODAY),
    ],
)
def test_date_presets(sb: SandboxClient, preset: str, since: dt.date, until: dt.date) -> None:
    [row] = insights(sb, date_preset=preset)["data"]
    assert (row["date_start"], row["date_stop"]) == (since.isoformat(), until.isoformat())


def test_time_range_wins_over_date_preset(sb: SandboxClient) -> None:
    day = TODAY - dt.timedelta(days=2)
    [row] = insights(sb, date_preset="last_90d", time_range=range_of(day, day))["data"]
    assert row["date_start"] == day.isoformat()


def test_no_data_before_the_synthetic_history(sb: SandboxClient) -> None:
    old = FIRST_DAY - dt.timedelta(days=30)
    body = insights(sb, time_range=range_of(old, old + dt.timedelta(days=5)))
    assert body["data"] == [] and "next" not in body["paging"]


def test_older_than_37_months_is_error_100(sb: SandboxClient) -> None:
    response = sb.graph(
        "GET", f"/{ACCOUNT}/insights", time_range=range_of(dt.date(2023, 1, 1), dt.date(2023, 2, 1))
    )
    error = graph_error(response)
    assert error["code"] == 100 and "37 months" in error["message"]


def test_too_much_data_is_subcode_1487534(sb: SandboxClient) -> None:
    since = TODAY - dt.timedelta(days=400)
    params = {"level": "ad", "time_increment": "1", "time_range": range_of(since, TODAY)}
    error = graph_error(sb.graph("GET", f"/{ACCOUNT}/insights", **params))
    assert (error["code"], error["error_subcode"]) == (100, 1487534)
    # The same span without daily rows is fine.
    params["time_increment"] = "all_days"
    assert sb.graph("GET", f"/{ACCOUNT}/insights", **params).status_code == 200


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"date_preset": "last_5d"}, "not a valid date preset"),
        ({"level": "creative"}, "level must be one of"),
        ({"fields": "spend,bogus"}, "bogus is not valid"),
        ({"time_range": "{bad"}, "valid JSON"),
        ({"time_range": {"since": "2026-03-10"}}, "time_range must be"),
        ({"time_range": {"since": "1700000000", "until": "1700000001"}}, "YYYY-MM-DD"),
        ({"time_range": {"since": "2026-03-10", "until": "2026-03-01"}}, "not be after"),
        ({"time_increment": "91"}, "time_increment"),
        ({"limit": "0"}, "limit must be between"),
        ({"after": "garbage"}, "Invalid cursor"),
        ({"breakdowns": "dma"}, "not supported"),
    ],
)
def test_parameter_errors(sb: SandboxClient, params: dict[str, Any], fragment: str) -> None:
    error = graph_error(sb.graph("GET", f"/{ACCOUNT}/insights", **params))
    assert error["code"] == 100 and fragment in error["message"], error["message"]


def test_unknown_account_and_campaign_node(sb: SandboxClient) -> None:
    error = graph_error(sb.graph("GET", "/act_42/insights"))
    assert (error["code"], error["error_subcode"]) == (100, 33)
    [campaign] = insights(sb, level="campaign", fields="campaign_id,spend", limit="1")["data"]
    response = sb.graph("GET", f"/{campaign['campaign_id']}/insights", fields="campaign_id,spend")
    assert response.json()["data"] == [campaign]


def test_monthly_increment_and_throttle_header(sb: SandboxClient) -> None:
    response = sb.graph(
        "GET", f"/{ACCOUNT}/insights", date_preset="last_90d", time_increment="monthly"
    )
    months = [row["date_start"][:7] for row in response.json()["data"]]
    assert months == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert "acc_id_util_pct" in response.headers["x-fb-ads-insights-throttle"]
