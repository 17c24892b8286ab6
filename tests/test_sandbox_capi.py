"""Conversions API: success shapes, every validation rule, all-or-nothing, duplicates."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from meta_sandbox.config import SandboxConfig
from tests.test_sandbox_support import (
    PIXEL,
    TOKEN,
    UA,
    FakeClock,
    SandboxClient,
    V,
    graph_error,
    sandbox_client,
    sha,
    website_event,
)

NOW = time.time()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sb(clock: FakeClock) -> Iterator[SandboxClient]:
    with sandbox_client(SandboxConfig(clock=clock)) as client:
        yield client


def stored(sb: SandboxClient, pixel: str = PIXEL) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = sb.get("/_sandbox/events", params={"pixel_id": pixel}).json()[
        "events"
    ]
    return events


# --- success shapes -------------------------------------------------------------------------


def test_json_body_success_shape(sb: SandboxClient) -> None:
    response = sb.send_events([website_event(), website_event(event_id="order-2")])
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"events_received", "messages", "fbtrace_id"}
    assert body["events_received"] == 2 and body["messages"] == []
    assert isinstance(body["fbtrace_id"], str) and body["fbtrace_id"]


def test_form_encoded_data_string_and_token_in_body(sb: SandboxClient) -> None:
    form = {
        "data": json.dumps([website_event()]),
        "access_token": TOKEN,
        "test_event_code": "TEST123",
        "partner_agent": "gdp-0.1",
    }
    response = sb.post(f"{V}/{PIXEL}/events", data=form)
    assert response.status_code == 200, response.text
    assert response.json()["events_received"] == 1
    [event] = stored(sb)
    assert event["test_event_code"] == "TEST123"
    assert event["partner_agent"] == "gdp-0.1"
    assert event["received_at"] == pytest.approx(NOW)


def test_multipart_data_and_sdk_style_list_of_json_strings(sb: SandboxClient) -> None:
    files = {"data": (None, json.dumps([website_event()])), "access_token": (None, TOKEN)}
    assert sb.post(f"{V}/{PIXEL}/events", files=files).json()["events_received"] == 1
    sdk_style = [json.dumps(website_event(event_id="sdk-1"))]
    assert sb.send_events(sdk_style).json()["events_received"] == 1  # type: ignore[arg-type]


def test_bearer_token_header_is_accepted(sb: SandboxClient) -> None:
    response = sb.post(
        f"{V}/{PIXEL}/events",
        json={"data": [website_event()]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200


def test_non_website_event_needs_no_url_or_user_agent(sb: SandboxClient) -> None:
    event = website_event(action_source="system_generated", event_source_url=None)
    event["user_data"] = {"em": sha("a@b.co"), "external_id": "p1"}
    assert sb.send_events([event]).status_code == 200


# --- duplicates -----------------------------------------------------------------------------


def test_duplicates_are_accepted_but_flagged_within_48_hours(
    sb: SandboxClient, clock: FakeClock
) -> None:
    first = website_event(event_id="order-9")
    assert sb.send_events([first, first]).json()["events_received"] == 2
    clock.advance(47 * 3600)
    assert sb.send_events([website_event(event_id="order-9")]).status_code == 200
    assert sb.send_events([website_event(event_id="order-9", event_name="Lead")]).status_code == 200
    no_id = website_event(event_id=None)
    assert sb.send_events([no_id, no_id]).status_code == 200
    flags = [(e["event_name"], e["event_id"], e["duplicate"]) for e in stored(sb)]
    assert flags == [
        ("Purchase", "order-9", False),
        ("Purchase", "order-9", True),
        ("Purchase", "order-9", True),
        ("Lead", "order-9", False),  # another event_name is another event
        ("Purchase", None, False),  # without event_id nothing is deduplicated
        ("Purchase", None, False),
    ]
    summary = sb.get("/_sandbox/events/summary").json()["pixels"][PIXEL]
    assert summary["received"] == 6
    assert summary["duplicates"] == 2
    assert summary["unique"] == 4
    assert summary["requests"] == 4


def test_same_event_after_48_hours_is_not_a_duplicate(sb: SandboxClient, clock: FakeClock) -> None:
    assert sb.send_events([website_event(event_id="x")]).status_code == 200
    clock.advance(48 * 3600 + 1)
    assert sb.send_events([website_event(event_id="x")]).status_code == 200
    assert [e["duplicate"] for e in stored(sb)] == [False, False]


def test_duplicates_are_per_pixel(sb: SandboxClient) -> None:
    event = website_event(event_id="same")
    assert sb.graph("POST", "/111/events", data=[event]).status_code == 200
    assert sb.graph("POST", "/222/events", data=[event]).status_code == 200
    assert stored(sb, "111")[0]["duplicate"] is False
    assert stored(sb, "222")[0]["duplicate"] is False


# --- request-level rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "data is required"),
        ({"data": []}, "at least one event"),
        ({"data": "not json"}, "must be valid JSON"),
        ({"data": {"event_name": "x"}}, "JSON array"),
        ({"data": [website_event(event_id=str(i)) for i in range(1001)]}, "at most 1000"),
    ],
    ids=["missing", "empty", "not-json", "not-array", "over-1000"],
)
def test_request_level_rules(sb: SandboxClient, params: dict[str, Any], fragment: str) -> None:
    error = graph_error(sb.graph("POST", f"/{PIXEL}/events", **params))
    assert error["code"] == 100
    assert fragment in error["message"]
    assert stored(sb) == []
    summary = sb.get("/_sandbox/events/summary").json()["pixels"][PIXEL]
    assert (summary["requests"], summary["rejected_requests"]) == (1, 1)


def test_exactly_1000_events_are_accepted(sb: SandboxClient) -> None:
    events = [website_event(event_id=str(i)) for i in range(1000)]
    assert sb.send_events(events).json()["events_received"] == 1000


def test_non_numeric_pixel_is_an_unknown_object(sb: SandboxClient) -> None:
    error = graph_error(sb.graph("POST", "/not-a-pixel/events", data=[website_event()]))
    assert (error["code"], error["error_subcode"]) == (100, 33)


# --- event-level rules: each sends [valid, invalid] and expects data[1] and the rule --------

Mutation = Callable[[dict[str, Any]], None]


def user_data(**values: Any) -> Mutation:
    def apply(event: dict[str, Any]) -> None:
        event["user_data"] = values

    return apply


def ud(**changes: Any) -> Mutation:
    def apply(event: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is None:
                event["user_data"].pop(key, None)
            else:
                event["user_data"][key] = value

    return apply


def top(**changes: Any) -> Mutation:
    def apply(event: dict[str, Any]) -> None:
        for key, value in changes.items():
            if value is None:
                event.pop(key, None)
            else:
                event[key] = value

    return apply


def custom(**values: Any) -> Mutation:
    return top(custom_data=values)


def both(*mutations: Mutation) -> Mutation:
    def apply(event: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(event)

    return apply


DAY = 86400
RULES: list[tuple[str, Mutation, str, int | None]] = [
    ("no-event-name", top(event_name=None), "event_name is required", None),
    ("blank-event-name", top(event_name=" "), "event_name is required", None),
    ("no-event-time", top(event_time=None), "event_time is required", None),
    ("string-event-time", top(event_time=str(int(NOW))), "event_time must be an integer", None),
    ("float-event-time", top(event_time=NOW), "event_time must be an integer", None),
    ("too-old", top(event_time=int(NOW) - 7 * DAY - 60), "more than 7 days", 2804003),
    (
        "physical-store-too-old",
        top(action_source="physical_store", event_time=int(NOW) - 63 * DAY),
        "more than 62 days",
        2804003,
    ),
    ("future", top(event_time=int(NOW) + 120), "in the future", None),
    ("no-action-source", top(action_source=None), "action_source is required", None),
    ("bad-action-source", top(action_source="web"), "is not one of", None),
    ("no-user-data", top(user_data=None), "user_data is required", None),
    ("user-data-not-object", top(user_data=["x"]), "must be an object", None),
    ("empty-user-data", user_data(), "at least one is required", None),
    ("website-no-url", top(event_source_url=None), "event_source_url is required", None),
    ("website-ftp-url", top(event_source_url="ftp://x.example/a"), "http:// or https://", None),
    ("website-relative-url", top(event_source_url="/checkout"), "http:// or https://", None),
    ("website-no-ua", ud(client_user_agent=None), "client_user_agent is required", None),
    ("em-unhashed", ud(em="jane@example.com"), "user_data.em must be SHA-256", None),
    ("em-uppercase-hex", ud(em=sha("x").upper()), "user_data.em must be SHA-256", None),
    ("em-list-one-bad", ud(em=[sha("x"), "raw@x.com"]), "user_data.em must be SHA-256", None),
    ("em-empty-list-item", ud(em=[sha("x"), 5]), "user_data.em must be a string", None),
    ("ph-unhashed", ud(ph="+16505551212"), "user_data.ph must be SHA-256", None),
    ("fn-unhashed", ud(fn="mary"), "user_data.fn must be SHA-256", None),
    ("ln-unhashed", ud(ln="smith"), "user_data.ln must be SHA-256", None),
    ("ge-unhashed", ud(ge="f"), "user_data.ge must be SHA-256", None),
    ("db-unhashed", ud(db="19970216"), "user_data.db must be SHA-256", None),
    ("ct-unhashed", ud(ct="newyork"), "user_data.ct must be SHA-256", None),
    ("st-unhashed", ud(st="ca"), "user_data.st must be SHA-256", None),
    ("zp-unhashed", ud(zp="94025"), "user_data.zp must be SHA-256", None),
    ("country-unhashed", ud(country="us"), "user_data.country must be SHA-256", None),
    ("country-md5", ud(country="0" * 32), "user_data.country must be SHA-256", None),
    ("ip-invalid", ud(client_ip_address="300.1.2.3"), "not a valid IPv4 or IPv6", None),
    ("ip-hashed", ud(client_ip_address=sha("1.2.3.4")), "must not be hashed", None),
    ("ip-list", ud(client_ip_address=["1.2.3.4"]), "must be a string", None),
    ("ua-hashed", ud(client_user_agent=sha(UA)), "must not be hashed", None),
    ("fbc-hashed", ud(fbc=sha("fb.1.1554763741205.x")), "must not be hashed", None),
    ("fbc-format", ud(fbc="AbCdEf"), "fbc must look like", None),
    ("fbc-seconds", ud(fbc="fb.1.1554763741.AbCd"), "fbc must look like", None),
    ("fbp-format", ud(fbp="fb.1.abc.123"), "fbp must look like", None),
    ("lead-id-hashed", ud(lead_id=sha("123")), "must not be hashed", None),
    ("madid-hashed", ud(madid=sha("x")), "must not be hashed", None),
    ("external-id-blank", ud(external_id=" "), "external_id is blank", None),
    ("unknown-key", ud(email=sha("x")), "not a known customer information", None),
    (
        "weak-geo-and-ua",
        user_data(ct=sha("a"), country=sha("us"), st=sha("ca"), zp=sha("1"), client_user_agent=UA),
        "too few customer information",
        None,
    ),
    ("weak-zip-only", user_data(zp=sha("94025")), "too few", None),
    ("weak-db-ua", user_data(db=sha("19900101"), client_user_agent=UA), "too few", None),
    ("weak-fn-ge", user_data(fn=sha("mary"), ge=sha("f")), "too few", None),
    ("weak-ln-ge", user_data(ln=sha("smith"), ge=sha("f")), "too few", None),
    ("weak-ge-only", user_data(ge=sha("f")), "too few", None),
    ("purchase-no-currency", custom(value=10), "currency is required for Purchase", None),
    ("purchase-no-value", custom(currency="USD"), "value is required for Purchase", None),
    ("purchase-bad-currency", custom(currency="USDX", value=1), "ISO 4217", None),
    ("purchase-unknown-currency", custom(currency="XYZ", value=1), "ISO 4217", None),
    ("purchase-string-value", custom(currency="USD", value="10"), "value must be a number", None),
    ("purchase-no-custom-data", top(custom_data=None), "currency is required", None),
    ("custom-data-not-object", top(custom_data=[1]), "custom_data must be an object", None),
    ("dpo-unknown", top(data_processing_options=["GDPR"]), 'must be [] or ["LDU"]', None),
    (
        "dpo-bad-state",
        top(
            data_processing_options=["LDU"],
            data_processing_options_country=1,
            data_processing_options_state=999,
        ),
        "state must be a US state code",
        None,
    ),
    (
        "dpo-bad-country",
        top(
            data_processing_options=["LDU"],
            data_processing_options_country=2,
            data_processing_options_state=1000,
        ),
        "country must be 0",
        None,
    ),
    (
        "dpo-country-without-state",
        top(data_processing_options=["LDU"], data_processing_options_country=1),
        "go together",
        None,
    ),
    (
        "dpo-ldu-without-ip-or-location",
        both(top(data_processing_options=["LDU"]), ud(client_ip_address=None)),
        "required with LDU",
        None,
    ),
    ("app-without-app-data", top(action_source="app"), "app_data is required", None),
    ("opt-out-not-bool", top(opt_out="yes"), "opt_out must be a boolean", None),
    ("event-id-object", top(event_id={"a": 1}), "event_id must be a string", None),
]


@pytest.mark.parametrize(
    ("mutation", "fragment", "subcode"),
    [pytest.param(m, f, s, id=i) for i, m, f, s in RULES],
)
def test_invalid_event_rejects_the_whole_request(
    sb: SandboxClient, mutation: Mutation, fragment: str, subcode: int | None
) -> None:
    bad = website_event(event_id="bad")
    mutation(bad)
    error = graph_error(sb.send_events([website_event(), bad]))
    assert error["code"] == 100
    assert error["type"] == "OAuthException"
    assert "data[1]" in error["message"], error["message"]
    assert fragment in error["message"], error["message"]
    assert "index 1" in error["error_user_msg"]
    if subcode is None:
        assert "error_subcode" not in error
    else:
        assert error["error_subcode"] == subcode
    assert stored(sb) == []  # all or nothing: the valid event 0 was not kept either
    summary = sb.get("/_sandbox/events/summary").json()["pixels"][PIXEL]
    assert summary == {
        "received": 0,
        "unique": 0,
        "duplicates": 0,
        "test_events": 0,
        "requests": 1,
        "rejected_requests": 1,
    }


def test_first_bad_event_is_the_one_named(sb: SandboxClient) -> None:
    events = [website_event(), website_event(), website_event(action_source="x")]
    events.append(website_event(event_time=0))
    error = graph_error(sb.send_events(events))
    assert "data[2]" in error["message"] and "action_source" in error["message"]


@pytest.mark.parametrize(
    "mutation",
    [
        top(event_time=int(NOW) + 30),  # within the 60 s tolerance
        top(event_time=int(NOW) - 7 * DAY + 60),
        top(action_source="physical_store", event_time=int(NOW) - 61 * DAY, event_source_url=None),
        ud(em=sha("x") + ".AQYBAAAA"),  # parameter builder appendix
        ud(external_id=sha("person-42")),
        ud(lead_id=1234567890123456),
        ud(client_ip_address="2001:db8::1"),
        user_data(em=sha("only@example.com"), client_user_agent=UA),
        user_data(ct=sha("a"), ge=sha("f"), external_id="p1", client_user_agent=UA),
        top(event_name="Lead", custom_data=None),
        custom(currency="eur", value=0),
        top(data_processing_options=[]),
        top(data_processing_options=["LDU"]),  # with an IP: Meta geolocates
        top(
            data_processing_options=["LDU"],
            data_processing_options_country=1,
            data_processing_options_state=1000,
        ),
        top(
            data_processing_options=["LDU"],
            data_processing_options_country=0,
            data_processing_options_state=0,
        ),
    ],
    ids=[
        "future-30s",
        "almost-7-days",
        "store-61-days",
        "hash-appendix",
        "external-id-hashed",
        "lead-id-int",
        "ipv6",
        "email-only",
        "weak-keys-plus-external-id",
        "lead-no-custom",
        "lowercase-currency-zero-value",
        "dpo-empty",
        "ldu-geolocate",
        "ldu-california",
        "ldu-0-0",
    ],
)
def test_valid_variants_are_accepted(sb: SandboxClient, mutation: Mutation) -> None:
    event = website_event()
    mutation(event)
    response = sb.send_events([event])
    assert response.status_code == 200, response.text
    assert len(stored(sb)) == 1


def test_reject_event_ids_fault_refuses_requests_carrying_them(sb: SandboxClient) -> None:
    assert sb.post("/_sandbox/faults", json={"reject_event_ids": ["doomed"]}).status_code == 200
    error = graph_error(sb.send_events([website_event(), website_event(event_id="doomed")]))
    assert error["code"] == 100 and "data[1]" in error["message"]
    assert stored(sb) == []
    assert sb.send_events([website_event()]).status_code == 200  # others still go through
    sb.post("/_sandbox/faults", json={"reject_event_ids": []})
    assert sb.send_events([website_event(event_id="doomed")]).status_code == 200
