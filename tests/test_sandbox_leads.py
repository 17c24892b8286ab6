"""Lead Ads: the signed leadgen webhook, reading a lead, listing a form's leads."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from meta_sandbox.config import SandboxConfig
from tests.test_sandbox_support import (
    FakeClock,
    SandboxClient,
    WebhookReceiver,
    graph_error,
    sandbox_client,
)

SECRET = "test-app-secret"
NOW = 1_780_000_000.0
LEAD = {
    "page_id": "5550001",
    "form_id": "7770001",
    "ad_id": "120210000000010101",
    "field_data": [
        {"name": "email", "values": ["lead@example.com"]},
        {"name": "full_name", "values": ["Lea D."]},
    ],
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def sb(clock: FakeClock, receiver: WebhookReceiver) -> Iterator[SandboxClient]:
    config = SandboxConfig(clock=clock, app_secret=SECRET, lead_webhook_url=receiver.url)
    with sandbox_client(config) as client:
        yield client


def new_lead(sb: SandboxClient, **overrides: Any) -> dict[str, Any]:
    response = sb.post("/_sandbox/leads", json={**LEAD, **overrides})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_webhook_is_delivered_and_its_signature_verifies(
    sb: SandboxClient, receiver: WebhookReceiver
) -> None:
    created = new_lead(sb)
    assert created["delivered"] is True and created["delivery_status"] == 200
    [(headers, body)] = receiver.received
    signature = headers["x-hub-signature-256"]
    assert signature.startswith("sha256=")
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature.removeprefix("sha256="), expected)
    wrong = hmac.new(b"another-secret", body, hashlib.sha256).hexdigest()
    assert signature.removeprefix("sha256=") != wrong
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload == {
        "object": "page",
        "entry": [
            {
                "id": LEAD["page_id"],
                "time": int(NOW),
                "changes": [
                    {
                        "field": "leadgen",
                        "value": {
                            "leadgen_id": created["leadgen_id"],
                            "page_id": LEAD["page_id"],
                            "form_id": LEAD["form_id"],
                            "created_time": int(NOW),
                            "adgroup_id": LEAD["ad_id"],
                            "ad_id": LEAD["ad_id"],
                        },
                    }
                ],
            }
        ],
    }


def test_lead_reads_back_as_meta_shapes_it(sb: SandboxClient) -> None:
    lead_id = new_lead(sb)["leadgen_id"]
    body = sb.graph("GET", f"/{lead_id}").json()
    assert body == {
        "id": lead_id,
        "created_time": "2026-05-28T20:26:40+0000",
        "ad_id": LEAD["ad_id"],
        "form_id": LEAD["form_id"],
        "field_data": LEAD["field_data"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", body["created_time"])
    some = sb.graph("GET", f"/{lead_id}", fields="created_time,field_data,is_organic").json()
    assert set(some) == {"id", "created_time", "field_data", "is_organic"}
    assert graph_error(sb.graph("GET", f"/{lead_id}", fields="secret"))["code"] == 100


def test_organic_lead_has_no_ad_id_and_mapping_field_data(sb: SandboxClient) -> None:
    created = new_lead(sb, ad_id=None, field_data={"email": "x@example.com", "city": ["Oslo"]})
    body = sb.graph("GET", f"/{created['leadgen_id']}").json()
    assert "ad_id" not in body
    assert body["field_data"] == [
        {"name": "email", "values": ["x@example.com"]},
        {"name": "city", "values": ["Oslo"]},
    ]


def test_form_leads_are_listed_newest_first_with_cursor_paging(
    sb: SandboxClient, clock: FakeClock
) -> None:
    ids = []
    for _ in range(5):
        ids.append(new_lead(sb)["leadgen_id"])
        clock.advance(60)
    new_lead(sb, form_id="7770002")
    seen: list[str] = []
    body = sb.graph("GET", f"/{LEAD['form_id']}/leads", limit="2").json()
    seen += [lead["id"] for lead in body["data"]]
    while "next" in body["paging"]:
        body = sb.get(body["paging"]["next"]).json()
        seen += [lead["id"] for lead in body["data"]]
    assert seen == list(reversed(ids))
    by_ad = sb.graph("GET", f"/{LEAD['ad_id']}/leads", limit="100").json()
    assert len(by_ad["data"]) == 6
    newer = sb.graph(
        "GET",
        f"/{LEAD['form_id']}/leads",
        filtering=[{"field": "time_created", "operator": "GREATER_THAN", "value": int(NOW) + 90}],
    ).json()
    assert [lead["id"] for lead in newer["data"]] == list(reversed(ids[2:]))
    assert sb.graph("GET", "/99999/leads").json()["data"] == []


def test_webhook_url_per_call_and_redelivery(sb: SandboxClient) -> None:
    with WebhookReceiver(status=500) as failing:
        created = new_lead(sb, webhook_url=failing.url)
        assert created["delivered"] is False and created["delivery_status"] == 500
        assert len(failing.received) == 1
        again = sb.post(f"/_sandbox/leads/{created['leadgen_id']}/redeliver").json()
        assert again["delivery_status"] == 200  # the configured receiver this time
        listed = sb.get("/_sandbox/leads").json()["leads"]
        assert [d["status_code"] for d in listed[0]["deliveries"]] == [500, 200]


def test_unreachable_receiver_is_reported_not_raised(clock: FakeClock) -> None:
    with WebhookReceiver() as gone:
        url = gone.url
    with sandbox_client(SandboxConfig(clock=clock, lead_webhook_url=url)) as sb:
        created = new_lead(sb)
        assert created["delivery_status"] is None and created["delivered"] is False
        assert created["delivery_error"]


def test_control_call_validates_its_body(sb: SandboxClient) -> None:
    assert sb.post("/_sandbox/leads", json={"page_id": "x", "form_id": "1"}).status_code == 422


def test_reading_leads_needs_a_token(sb: SandboxClient) -> None:
    lead_id = new_lead(sb)["leadgen_id"]
    error = graph_error(sb.get(f"/v25.0/{lead_id}"))
    assert error["code"] == 190
    error = graph_error(sb.get(f"/v25.0/{LEAD['form_id']}/leads", params={"access_token": "x"}))
    assert (error["code"], error["error_subcode"]) == (190, 467)
