"""GET /api/meta/insights, /api/meta/insights/{projectId}, /api/meta/lead-forms: the PRD's shape,
numbers equal to the database's, dashboard-key auth, validated dates, the cache and its
invalidation by a pull, the dashboard role's reach."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from meta_sandbox.config import SandboxConfig
from tests.edge_support import TestClient, create_key
from tests.insights_helpers import Conn, configure_insights, pull, served_sandbox

PATH = "/api/meta/insights"
TODAY = dt.datetime.now(dt.UTC).date()


def dashboard_key(db: Conn, label: str = "Dana (growth)") -> str:
    row = db.execute(
        "SELECT dashboard_key FROM shared.create_dashboard_key(%s, 'test')", (label,)
    ).fetchone()
    assert row is not None
    return str(row["dashboard_key"])


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with served_sandbox(SandboxConfig()) as sb:
        yield sb.url


@pytest.fixture
def loaded(db: Conn, db_url: str, sandbox_url: str) -> Conn:
    """Ten days of the sandbox account pulled into this test's database."""
    configure_insights(db, repull_days=10)
    report = pull(db_url, sandbox_url)
    assert report.status == "succeeded", report
    return db


@pytest.fixture
def client(db_url: str, loaded: Conn) -> Iterator[TestClient]:
    from edge_compat.app import create_app

    app = create_app(db_url, flag_cache_seconds=0, key_cache_seconds=0, pool_min_size=1)
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {dashboard_key(loaded)}"
        yield test_client


def sums(db: Conn, since: dt.date, until: dt.date) -> dict[str, Any]:
    row = db.execute(
        "SELECT sum(spend) AS spend, sum(impressions) AS impressions, sum(clicks) AS clicks,"
        " sum(conversions) AS conversions, sum(conversion_value) AS value"
        " FROM shared.performance_daily WHERE date BETWEEN %s AND %s",
        (since, until),
    ).fetchone()
    assert row is not None
    return row


def test_the_prd_shape_and_numbers_equal_the_database(client: TestClient, loaded: Conn) -> None:
    answer = client.get(PATH, params={"date_from": "-7d", "date_to": "today"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["success"] is True
    assert {"summary", "byProject", "daily"} <= set(body["data"])
    summary = body["data"]["summary"]
    assert {"spend", "impressions", "clicks", "ctr", "cpc", "conversions",
            "costPerConversion"} <= set(summary)  # fmt: skip
    expected = sums(loaded, TODAY - dt.timedelta(days=7), TODAY)
    assert Decimal(str(summary["spend"])) == expected["spend"]
    assert summary["impressions"] == expected["impressions"]
    assert summary["clicks"] == expected["clicks"]
    assert Decimal(str(summary["conversions"])) == expected["conversions"]
    cpa = expected["spend"] / expected["conversions"]
    assert summary["costPerConversion"] == round(float(cpa), 2)
    assert summary["ctr"] == float(round(100 * expected["clicks"] / expected["impressions"], 2))
    assert summary["roas"] == round(float(expected["value"] / expected["spend"]), 2)
    projects = body["data"]["byProject"]
    assert {p["project"] for p in projects} == {
        "waitlistlab", "snapmix", "softwarehub", "velvethold", "steadyletters", "blogcanvas",
        "vellopad", "gapradar",
    }  # fmt: skip
    assert {"project", "spend", "conversions", "costPerConversion"} <= set(projects[0])
    assert sum(Decimal(str(p["spend"])) for p in projects) == expected["spend"]
    daily = body["data"]["daily"]
    assert [d["date"] for d in daily] == [
        (TODAY - dt.timedelta(days=7 - i)).isoformat() for i in range(8)
    ]
    assert sum(Decimal(str(d["spend"])) for d in daily) == expected["spend"]


def test_conversions_count_one_purchase_once(client: TestClient, loaded: Conn) -> None:
    """Meta reports a purchase as omni_purchase, purchase and the pixel purchase at once."""
    row = loaded.execute(
        "SELECT sum((actions ->> 'omni_purchase')::numeric) AS omni,"
        " sum((actions ->> 'purchase')::numeric) AS plain,"
        " sum(coalesce((actions ->> 'lead')::numeric, 0)"
        "     + coalesce((actions ->> 'omni_purchase')::numeric, 0)"
        "     + coalesce((actions ->> 'complete_registration')::numeric, 0)) AS expected"
        " FROM shared.performance_daily WHERE date BETWEEN %s AND %s",
        (TODAY - dt.timedelta(days=7), TODAY),
    ).fetchone()
    assert row is not None and row["omni"] == row["plain"] > 0
    summary = client.get(PATH).json()["data"]["summary"]
    assert Decimal(str(summary["conversions"])) == row["expected"]


def test_gdps_own_conversions_are_side_by_side(client: TestClient, loaded: Conn) -> None:
    loaded.execute(
        "INSERT INTO shared.event (id, product_id, event_id, event_name, occurred_at, properties)"
        " OVERRIDING SYSTEM VALUE VALUES"
        " (9001, 'snapmix', 'p1', 'SubscriptionPurchased', now(), '{\"plan_price\": 120}'),"
        " (9002, 'snapmix', 'p2', 'Signup', now(), '{}')"
    )
    loaded.execute(
        "INSERT INTO shared.attribution_events (event_ref, product_id, event_id, meta_event_name,"
        " status) VALUES (9001, 'snapmix', 'p1', 'Purchase', 'sent'),"
        " (9001, 'snapmix', 'p1', 'Purchase', 'sent'), (9002, 'snapmix', 'p2', 'Lead', 'sent')"
    )
    body = client.get(PATH).json()["data"]
    [snapmix] = [p for p in body["byProject"] if p["project"] == "snapmix"]
    assert snapmix["gdpConversions"] == 2  # a retried delivery row counts once
    assert snapmix["gdpRoas"] == round(120 / snapmix["spend"], 2)
    assert body["summary"]["gdpConversionValue"] == 120


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"date_from": "banana"}, "date_from", "-Nd"),
        ({"date_to": "2026-13-01"}, "date_to", "YYYY-MM-DD"),
        ({"date_from": "today", "date_to": "-3d"}, "date_from", "on or before date_to"),
        ({"date_from": "-5000d"}, "date_from", "37 months"),
        ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "date_from", "at most 1125"),
        ({"breakdown": "country"}, "breakdown", ""),
        ({"date_from": "x" * 50}, "date_from", ""),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    client: TestClient, params: dict[str, str], field: str, fragment: str
) -> None:
    answer = client.get(PATH, params=params)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and fragment in error["message"]


def test_absolute_dates_and_breakdowns(client: TestClient, loaded: Conn) -> None:
    day = (TODAY - dt.timedelta(days=3)).isoformat()
    body = client.get(PATH, params={"date_from": day, "date_to": day,
                                    "breakdown": "campaign"}).json()["data"]  # fmt: skip
    assert [d["date"] for d in body["daily"]] == [day]
    live = loaded.execute(
        "SELECT count(DISTINCT campaign_id) AS campaigns, count(DISTINCT adset_id) AS adsets"
        " FROM shared.performance_daily WHERE date = %s", (day,),
    ).fetchone()  # fmt: skip
    assert live is not None and live["campaigns"] > 20  # a few may be paused that day
    assert len(body["breakdown"]) == live["campaigns"] and body["breakdown"][0]["campaignName"]
    assert body["range"] == {"dateFrom": day, "dateTo": day}
    adsets = client.get(PATH, params={"date_from": day, "date_to": day, "breakdown": "adset"})
    assert len(adsets.json()["data"]["breakdown"]) == live["adsets"]


def test_cached_until_a_pull_lands(
    client: TestClient, loaded: Conn, db_url: str, sandbox_url: str
) -> None:
    first = client.get(PATH)
    assert first.headers["x-cache"] == "miss" and "max-age=900" in first.headers["cache-control"]
    assert client.get(PATH).headers["x-cache"] == "hit"
    assert client.get(PATH, params={"date_from": "-6d"}).headers["x-cache"] == "miss"
    assert pull(db_url, sandbox_url).status == "succeeded"
    after = client.get(PATH)
    assert after.headers["x-cache"] == "miss"
    loaded.execute("SELECT shared.set_setting('META_INSIGHTS_CACHE_TTL_SEC', '0', 'test')")
    assert client.get(PATH).headers["x-cache"] == "miss"
    assert client.get(PATH).headers["x-cache"] == "miss"


def test_dashboard_keys_only(client: TestClient, loaded: Conn) -> None:
    anonymous = client.get(PATH, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["field"] == "Authorization"
    service = client.get(PATH, headers={"Authorization": f"Bearer {create_key(loaded)}"})
    assert service.status_code == 401  # a product's service key is not a dashboard key
    key = dashboard_key(loaded, "to revoke")
    assert client.get(PATH, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    key_id = loaded.execute("SELECT id FROM shared.dashboard_key WHERE label = 'to revoke'")
    loaded.execute("SELECT shared.revoke_dashboard_key(%s, 'test')", (key_id.fetchone()["id"],))
    assert client.get(PATH, headers={"Authorization": f"Bearer {key}"}).status_code == 401
    stored = loaded.execute("SELECT key_sha256 FROM shared.dashboard_key").fetchall()
    assert all(key not in json.dumps(r) for r in stored)


def test_disabled_until_the_flag_is_on(client: TestClient, loaded: Conn) -> None:
    loaded.execute("UPDATE shared.feature_flag SET enabled = false "
                   "WHERE flag_key = 'ACD_META_INSIGHTS_ENABLED'")  # fmt: skip
    for path in (PATH, f"{PATH}/snapmix", "/api/meta/lead-forms"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.json() == {"disabled": True}, path


def test_project_detail_with_ads(client: TestClient, loaded: Conn) -> None:
    body = client.get(f"{PATH}/snapmix", params={"date_from": "-2d"}).json()["data"]
    assert body["project"] == "snapmix" and len(body["ads"]) == 12
    assert {a["campaignName"].split(" | ")[0] for a in body["ads"]} == {"snapmix"}
    expected = loaded.execute(
        "SELECT sum(d.spend) AS spend FROM shared.performance_daily AS d"
        " JOIN shared.campaign_project AS c USING (campaign_id)"
        " WHERE c.project_id = 'snapmix' AND d.date >= %s",
        (TODAY - dt.timedelta(days=2),),
    ).fetchone()
    assert expected is not None
    assert Decimal(str(body["summary"]["spend"])) == expected["spend"]
    assert client.get(f"{PATH}/nosuchproject").status_code == 404
    bad = client.get(f"{PATH}/Bad-Id")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "projectId"


def test_lead_forms_lists_submissions_without_pii(client: TestClient, loaded: Conn) -> None:
    loaded.execute(
        "UPDATE shared.feature_flag SET enabled = true WHERE flag_key = 'LEAD_ADS_SYNC_ENABLED'"
    )
    loaded.execute(
        "SELECT * FROM shared.receive_lead_webhook(%s::jsonb)",
        (json.dumps({"object": "page", "entry": [{"id": "1", "changes": [
            {"field": "leadgen", "value": {"leadgen_id": "4242", "page_id": "1",
                                           "form_id": "77"}}]}]}),),
    )  # fmt: skip
    loaded.execute("SELECT * FROM shared.sync_lead(NULL, %s::jsonb)", (json.dumps({
        "id": "4242", "form_id": "77",
        "field_data": [{"name": "email", "values": ["secret.person@example.com"]}]}),))  # fmt: skip
    answer = client.get("/api/meta/lead-forms")
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["forms"][0]["formId"] == "77" and data["forms"][0]["synced"] == 1
    [submission] = data["submissions"]
    assert submission["leadgenId"] == "4242" and submission["status"] == "synced"
    assert "secret.person" not in answer.text
    assert client.get("/api/meta/lead-forms", params={"limit": "0"}).status_code == 422
    assert client.get("/api/meta/lead-forms", params={"form_id": "x"}).status_code == 422


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (PATH, f"{PATH}/{{projectId}}", "/api/meta/lead-forms", "/webhooks/meta"):
        assert path in paths, path
    params = {p["name"] for p in paths[PATH]["get"]["parameters"]}
    assert params == {"date_from", "date_to", "breakdown"}


def test_the_dashboard_role_reads_views_and_nothing_else(loaded: Conn) -> None:
    with loaded.transaction(force_rollback=True):
        loaded.execute("SET LOCAL ROLE gdp_dashboard")
        assert loaded.execute("SELECT count(*) AS n FROM shared.insights_daily").fetchone()
        assert loaded.execute("SELECT * FROM shared.success_metrics").fetchall()
        for statement in (
            "SELECT * FROM shared.performance_daily LIMIT 1",
            "SELECT email FROM shared.person LIMIT 1",
            "SELECT * FROM shared.dashboard_key",
            "UPDATE shared.campaign_project SET project_id = NULL",
            "SELECT shared.insights_begin_pull('act_1', '2026-01-01', '2026-01-02', 'sync')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), loaded.transaction():
                loaded.execute(statement)


def test_the_dashboard_shows_each_mapped_audience_and_its_size(
    client: TestClient, loaded: Conn
) -> None:
    from tests.test_audience_support import add_people, configure, join, make_segment

    make_segment(loaded, "all_leads", "All Leads")
    configure(loaded, {"all_leads": None})
    join(loaded, "all_leads", add_people(loaded, 7, "dash"))
    answer = client.get("/api/dashboard")
    assert answer.status_code == 200, answer.text
    audiences = answer.json()["data"]["audiences"]
    assert audiences is not None, "the dashboard role cannot read shared.audience_status"
    row = next(a for a in audiences if a["segment_id"] == "all_leads")
    assert row["audience_name"] == "All Leads"
    assert row["members"] == 7
    assert row["acknowledged"] == 0 and row["last_status"] is None
    # The panel's numbers are the view's numbers.
    view = loaded.execute(
        "SELECT members FROM shared.audience_status WHERE segment_id = 'all_leads'"
    ).fetchone()
    assert view == {"members": 7}
