"""The sandbox behaves like Meta for insights and leads, checked with Meta's own SDK as the client.

facebook-business talks to the sandbox process (`gdp sandbox`) over HTTP exactly as it talks to
graph.facebook.com: AdAccount.get_insights (sync and is_async with its AdReportRun), campaign /
ad set / ad listings, breakdowns, Lead(id).api_get() (a node read as /vX/{id}/ with a trailing
slash) and LeadgenForm(id).get_leads(). The rest checks what Meta does that the SDK does not
show: figures of recent days that change between pulls, throttling answers whose usage headers
say so, report runs that fail or are read too early, webhook deliveries with several entries and
retries on a non-2xx answer.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adreportrun import AdReportRun
from facebook_business.adobjects.adsinsights import AdsInsights
from facebook_business.adobjects.campaign import Campaign
from facebook_business.adobjects.lead import Lead
from facebook_business.adobjects.leadgenform import LeadgenForm
from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession

from meta_sandbox.config import SandboxConfig
from tests.support.sandbox import APP_SECRET, TOKEN, SandboxControl
from tests.test_sandbox_support import FakeClock, WebhookReceiver, graph_error, sandbox_client

ACCOUNT = "act_1000000001"
AD = "120210000000100101"  # snapmix | Prospecting | Broad 25-54 | Video A


@pytest.fixture
def api(sandbox: SandboxControl) -> FacebookAdsApi:
    session = FacebookSession(access_token=TOKEN, app_secret=APP_SECRET)
    session.GRAPH = sandbox.url  # the SDK's Graph base URL, graph.facebook.com by default
    return FacebookAdsApi(session, api_version="v25.0")


def day_range(days_back_from: int, days_back_to: int) -> dict[str, str]:
    today = dt.datetime.now(dt.UTC).date()
    return {
        "since": (today - dt.timedelta(days=days_back_from)).isoformat(),
        "until": (today - dt.timedelta(days=days_back_to)).isoformat(),
    }


FIELDS = [
    AdsInsights.Field.campaign_id, AdsInsights.Field.campaign_name, AdsInsights.Field.ad_id,
    AdsInsights.Field.spend, AdsInsights.Field.impressions, AdsInsights.Field.clicks,
    AdsInsights.Field.actions, AdsInsights.Field.action_values,
]  # fmt: skip


def test_sdk_sync_insights_daily_ad_rows(api: FacebookAdsApi) -> None:
    params = {"level": "ad", "time_increment": 1, "time_range": day_range(10, 4), "limit": 1000}
    rows = [dict(r) for r in AdAccount(ACCOUNT, api=api).get_insights(fields=FIELDS, params=params)]
    assert rows and all(r["date_start"] == r["date_stop"] for r in rows)
    assert {r["date_start"] for r in rows} == {
        (dt.date.fromisoformat(params["time_range"]["since"]) + dt.timedelta(days=i)).isoformat()
        for i in range(7)
    }
    assert len({(r["ad_id"], r["date_start"]) for r in rows}) == len(rows)
    assert all(isinstance(r["spend"], str) for r in rows)
    assert any(a["action_type"] == "omni_purchase" for r in rows for a in r.get("actions", []))


def test_sdk_async_report_run_matches_the_sync_answer(api: FacebookAdsApi) -> None:
    account = AdAccount(ACCOUNT, api=api)
    params = {"level": "ad", "time_increment": 1, "time_range": day_range(40, 10), "limit": 5000}
    job = account.get_insights(fields=FIELDS, params=params, is_async=True)
    assert isinstance(job, AdReportRun) and job["id"]
    statuses = []
    for _ in range(20):
        job = job.api_get(fields=["async_status", "async_percent_completion"])
        statuses.append(job[AdReportRun.Field.async_status])
        if statuses[-1] == "Job Completed":
            break
    assert statuses[0] == "Job Not Started" and statuses[-1] == "Job Completed"
    assert job[AdReportRun.Field.async_percent_completion] == 100
    rows = [dict(r) for r in job.get_result(params={"limit": 5000})]
    sync = [dict(r) for r in account.get_insights(fields=FIELDS, params=params)]
    assert rows == sync and len(rows) > 2000


def test_sdk_lists_campaigns_ad_sets_and_ads(api: FacebookAdsApi) -> None:
    account = AdAccount(ACCOUNT, api=api)
    campaigns = list(account.get_campaigns(fields=["name", "objective"], params={"limit": 100}))
    assert len(campaigns) == 24
    assert "snapmix | Prospecting | Signup" in {c["name"] for c in campaigns}
    ads = list(Campaign(campaigns[0]["id"], api=api).get_ads(fields=["name", "adset_id"]))
    assert len(ads) == 4 and all(ad["adset_id"].startswith(campaigns[0]["id"][:-4]) for ad in ads)
    assert len(list(account.get_ad_sets(fields=["name"], params={"limit": 100}))) == 48


def test_sdk_breakdowns_split_the_row(api: FacebookAdsApi) -> None:
    account = AdAccount(ACCOUNT, api=api)
    window = {"time_range": day_range(9, 5)}
    [total] = account.get_insights(fields=["impressions"], params=window)
    split = list(
        account.get_insights(fields=["impressions"], params={**window, "breakdowns": ["gender"]})
    )
    assert {r["gender"] for r in split} == {"female", "male", "unknown"}
    assert abs(sum(int(r["impressions"]) for r in split) - int(total["impressions"])) <= 3


def test_sdk_reads_a_lead_and_a_forms_leads(api: FacebookAdsApi, sandbox: SandboxControl) -> None:
    created = sandbox.http.post(
        "/_sandbox/leads",
        json={"page_id": "5550001", "form_id": "7770001", "ad_id": AD,
              "field_data": {"email": "lea@example.com", "full_name": "Lea D."}},
    ).json()  # fmt: skip
    lead = Lead(created["leadgen_id"], api=api).api_get(
        fields=["field_data", "created_time", "ad_id", "form_id", "campaign_id", "campaign_name"]
    )
    assert lead["campaign_name"] == "snapmix | Prospecting | Signup"
    assert {d["name"]: d["values"] for d in lead["field_data"]}["email"] == ["lea@example.com"]
    assert lead["created_time"].endswith("+0000")
    leads = list(LeadgenForm("7770001", api=api).get_leads(fields=["id", "field_data"]))
    assert [x["id"] for x in leads] == [created["leadgen_id"]]
    # The SDK read the node with a trailing slash, as it always does.
    assert any(
        r["path"].startswith(f"/v25.0/{created['leadgen_id']}/?") for r in sandbox.requests()
    )


def test_sdk_cursor_stops_at_an_empty_page_that_still_has_next(api: FacebookAdsApi) -> None:
    """Meta can serve an empty page with `next`; the official SDK's Cursor stops there and loses
    the rest. GDP's puller pages until `next` is absent (tests/test_insights_worker.py)."""
    params = {"level": "campaign", "date_preset": "last_7d", "limit": 5}
    via_sdk = list(AdAccount(ACCOUNT, api=api).get_insights(fields=["spend"], params=params))
    assert len(via_sdk) == 5  # 24 campaigns exist


# --- what Meta does beyond the SDK's view ----------------------------------------------------

NOON = dt.datetime(2026, 3, 18, 12, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOON)


def _day(sb: Any, day: dt.date) -> dict[str, Any]:
    response = sb.graph(
        "GET", f"/{ACCOUNT}/insights", fields="spend,actions",
        time_range=json.dumps({"since": day.isoformat(), "until": day.isoformat()}),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    [row] = response.json()["data"]
    return dict(row)


def _conversions(row: dict[str, Any]) -> int:
    return sum(int(a["value"]) for a in row.get("actions", []) if a["action_type"] == "lead")


def test_recent_days_change_between_pulls_older_days_do_not(clock: FakeClock) -> None:
    today = dt.date(2026, 3, 18)
    with sandbox_client(SandboxConfig(clock=clock)) as sb:
        before = {d: _day(sb, today - dt.timedelta(days=d)) for d in (0, 1, 5)}
        clock.advance(10 * 3600)
        after = {d: _day(sb, today - dt.timedelta(days=d)) for d in (0, 1, 5)}
    assert float(after[0]["spend"]) > float(before[0]["spend"])  # today is still delivering
    assert after[1]["spend"] == before[1]["spend"]  # yesterday's delivery is done...
    assert _conversions(after[1]) > _conversions(before[1])  # ...its conversions still arrive
    assert after[5] == before[5]  # older days are final


def test_throttled_insights_answer_80000_with_usage_headers_that_say_so(clock: FakeClock) -> None:
    with sandbox_client(SandboxConfig(clock=clock, buc_capacity=3)) as sb:
        answers = [sb.graph("GET", f"/{ACCOUNT}/insights") for _ in range(4)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    error = graph_error(answers[3])
    assert error["code"] == 80000
    buc = json.loads(answers[3].headers["x-business-use-case-usage"])
    [entry] = [e for e in buc["1000000001"] if e["type"] == "ads_insights"]
    assert entry["call_count"] >= 100 and entry["estimated_time_to_regain_access"] >= 1
    account_usage = json.loads(answers[3].headers["x-ad-account-usage"])
    assert account_usage["acc_id_util_pct"] >= 100 and account_usage["reset_time_duration"] > 0


def test_report_runs_fail_with_v25_error_fields_and_refuse_early_reads(clock: FakeClock) -> None:
    config = SandboxConfig(clock=clock, insights_async_fail_every=2, insights_async_polls=3)
    with sandbox_client(config) as sb:
        runs = [sb.graph("POST", f"/{ACCOUNT}/insights", level="campaign").json() for _ in (1, 2)]
        ok, bad = (r["report_run_id"] for r in runs)
        early = graph_error(sb.graph("GET", f"/{ok}/insights"))
        assert (early["code"], early["error_subcode"]) == (2601, 1815107)
        fields = "async_status,async_percent_completion,error_code,error_message"
        seen = [sb.graph("GET", f"/{bad}", fields=fields).json() for _ in range(4)]
        assert [s["async_status"] for s in seen] == [
            "Job Not Started", "Job Running", "Job Running", "Job Failed",
        ]  # fmt: skip
        assert seen[-1]["error_code"] == 2601 and "error_message" in seen[-1]
        for _ in range(4):
            status = sb.graph("GET", f"/{ok}", fields="async_status").json()["async_status"]
        assert status == "Job Completed"
        assert len(sb.graph("GET", f"/{ok}/insights").json()["data"]) == 24


@pytest.fixture
def flaky_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(status=503) as server:
        yield server


def test_webhook_batches_entries_and_retries_a_non_2xx_answer(
    sandbox: SandboxControl, flaky_receiver: WebhookReceiver
) -> None:
    leads = [
        {"page_id": page, "form_id": "7770001", "field_data": {"email": f"{n}@example.com"}}
        for n, page in enumerate(("5550001", "5550001", "5550002"))
    ]
    answer = sandbox.http.post(
        "/_sandbox/leads/batch", json={"leads": leads, "webhook_url": flaky_receiver.url}
    ).json()
    assert answer["entries"] == 2 and answer["delivery_status"] == 503
    deadline = time.monotonic() + 20
    while len(flaky_receiver.received) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(flaky_receiver.received) == 4  # the first delivery and 3 retries, then dropped
    payloads = [json.loads(body) for _, body in flaky_receiver.received]
    changes = [[e["changes"] for e in p["entry"]] for p in payloads]
    assert all(c == changes[0] for c in changes)  # the same leads each time (entry.time moves)
    assert [len(e) for e in changes[0]] == [2, 1]
    time.sleep(1)
    assert len(flaky_receiver.received) == 4
