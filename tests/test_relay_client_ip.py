"""The visitor's IP behind proxies, and the relay's reading of cookies and browser bodies."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_compat.client_ip import client_ip, parse_address, parse_networks
from edge_compat.errors import FieldError
from edge_compat.relay_event import BrowserSignals, browser_signals, cookie_values, relay_event

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8, fd00::/8")
EVENTS = {"Purchase": "Purchase", "ProUpgrade": "Purchase", "SnapCreated": "SnapCreated"}
FBP = "fb.1.1596403881668.1116446470"
# A click an hour ago (a click older than 90 days is dropped, never re-dated).
FBC = f"fb.1.{int(time.time() * 1000) - 3_600_000}.AbCdEfGhIjKlMnOp"


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        # No proxies configured: the header is never believed.
        ("198.51.100.1", ["8.8.8.8"], "198.51.100.1"),
        # Trusted peer: read from the right, past our own proxies, the first other address.
        ("127.0.0.1", ["8.8.8.8, 10.0.0.2"], "8.8.8.8"),
        ("127.0.0.1", ["10.0.0.9, 192.168.1.4, 1.1.1.1, 8.8.8.8"], "8.8.8.8"),
        # Whatever the client wrote to the left of what our proxies saw is never read.
        ("127.0.0.1", ["1.1.1.1, 6.6.6.6, 8.8.8.8, 10.0.0.2"], "8.8.8.8"),
        ("127.0.0.1", ["1.1.1.1", "8.8.8.8"], "8.8.8.8"),
        # IPv6 kept (compressed), brackets and ports removed.
        ("127.0.0.1", ["2001:4860:4860:0:0:0:0:8888"], "2001:4860:4860::8888"),
        ("127.0.0.1", ["[2001:4860:4860::8844]:443, 10.0.0.2"], "2001:4860:4860::8844"),
        ("127.0.0.1", ["9.9.9.9:5678"], "9.9.9.9"),
        # IPv4-mapped IPv6 is the IPv4 address.
        ("127.0.0.1", ["::ffff:8.8.4.4"], "8.8.4.4"),
        # Junk to the left of the visitor is never reached.
        ("127.0.0.1", ["unknown, _hidden", "8.8.8.8"], "8.8.8.8"),
        # The visitor's own (private) address as our proxy saw it.
        ("127.0.0.1", ["192.168.1.20, 10.0.0.3"], "192.168.1.20"),
        # Our proxy passed on something that is not an address: the visitor is unknown.
        ("127.0.0.1", ["8.8.8.8, unknown"], None),
        ("127.0.0.1", ["garbage"], None),
        # Every hop is one of our proxies: the request began inside, at the first of them.
        ("127.0.0.1", ["10.0.0.5, 10.0.0.6"], "10.0.0.5"),
        # Nothing forwarded: the peer itself.
        ("127.0.0.1", [], "127.0.0.1"),
        # A trusted IPv6 proxy.
        ("fd00::1", ["2606:4700:4700::1111"], "2606:4700:4700::1111"),
        # Not a proxy of ours: the header is ignored, even if it looks public.
        ("203.0.113.50", ["8.8.8.8"], "203.0.113.50"),
        # A peer that is not an IP address (a unix socket, a test client): no address.
        ("testclient", ["8.8.8.8"], None),
        (None, ["8.8.8.8"], None),
    ],
)
def test_client_ip(peer: str | None, xff: list[str], expected: str | None) -> None:
    proxies = () if peer == "198.51.100.1" else PROXIES
    assert client_ip(peer, xff, proxies) == expected


@given(st.lists(st.text(max_size=60), max_size=60), st.sampled_from(["8.8.8.8", "2001:db8::9"]))
def test_whatever_a_client_writes_it_does_not_choose_its_address(
    written: list[str], seen: str
) -> None:
    """Any hops a client puts in the header (forged addresses, junk, commas, thousands of them)
    stand to the left of what our proxies appended: the answer is always what they saw."""
    header = ", ".join([*written, seen, "10.0.0.2"])
    assert client_ip("127.0.0.1", [header], PROXIES) == seen
    assert client_ip("127.0.0.1", [*written, f"{seen}, 10.0.0.2"], PROXIES) == seen


def test_only_the_last_hops_are_read() -> None:
    """A header padded with thousands of hops costs nothing: only the right end is ours."""
    padded = ", ".join(f"6.6.{i // 256 % 256}.{i % 256}" for i in range(5000))
    assert client_ip("127.0.0.1", [padded + ", 8.8.8.8"], PROXIES) == "8.8.8.8"
    chain = ", ".join(["10.0.0.1"] * 40)
    assert client_ip("127.0.0.1", [f"8.8.8.8, {chain}"], PROXIES) == "10.0.0.1"


def test_parse_networks_and_addresses() -> None:
    assert [str(n) for n in parse_networks(" 127.0.0.1 ,10.0.0.0/8;::1 ,")] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match="entry 2"):
        parse_networks("10.0.0.0/8, example.com")
    assert parse_address('"[::1]:80"') is not None
    assert parse_address("fe80::1%eth0") is None
    assert parse_address("[::1") is None


def test_cookie_values() -> None:
    header = f'theme=dark; _fbp={FBP}; _fbc="{FBC}"; _fbp=fb.1.1.2'
    assert cookie_values([header]) == {"_fbp": FBP, "_fbc": FBC}
    assert cookie_values(["_fbc", "=x; _fbp"]) == {}


def signals(**changes: Any) -> BrowserSignals:
    values: dict[str, Any] = {
        "ip": "2001:db8::7",
        "user_agent": "Mozilla/5.0 Test",
        "fbp": FBP,
        "fbc": FBC,
        "referer": "https://snapmix.app/pricing",
    }
    values.update(changes)
    return BrowserSignals(**values)


def test_relay_event_owns_the_server_fields() -> None:
    body = {
        "event_name": "ProUpgrade",
        "event_id": "5a4c0b1e-36c4-4b3c-9f7e-2a0f2b1c9d11",
        "event_source_url": "https://snapmix.app/upgrade",
        "custom_data": {"value": 9.99, "currency": "USD", "plan": "pro"},
        "user_data": {"fbp": "fb.1.1.forged", "client_ip_address": "1.2.3.4"},
    }
    now = time.time()
    event = relay_event(body, product="snapmix", events=EVENTS, signals=signals(), now=now)
    assert event == {
        "event_name": "Purchase",
        "event_time": int(now),
        "event_id": body["event_id"],
        "action_source": "website",
        "event_source_url": "https://snapmix.app/upgrade",
        "user_data": {
            "client_ip_address": "2001:db8::7",
            "client_user_agent": "Mozilla/5.0 Test",
            "fbp": FBP,
            "fbc": FBC,
        },
        "custom_data": {
            "value": 9.99,
            "currency": "USD",
            "plan": "pro",
            "source_product": "snapmix",
        },
    }


def test_relay_event_builds_fbc_from_the_url_when_there_is_no_cookie() -> None:
    body = {
        "event_name": "Purchase",
        "event_id": "e-1",
        "event_source_url": "https://snapmix.app/?fbclid=IwAR2xYzAbC_-9",
        "custom_data": {"value": 1, "currency": "USD"},
    }
    event = relay_event(
        body, product="snapmix", events=EVENTS, signals=signals(fbc=None), now=1_700_000_000.5
    )
    assert event["user_data"]["fbc"] == "fb.1.1700000000500.IwAR2xYzAbC_-9"
    # No URL in the body: the Referer is the page.
    del body["event_source_url"]
    event = relay_event(body, product="snapmix", events=EVENTS, signals=signals(fbc=None))
    assert event["event_source_url"] == "https://snapmix.app/pricing"
    assert "fbc" not in event["user_data"]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ([], "body", 422),
        ({"event_name": "Purchase", "event_id": "x", "event_time": 1}, "event_time", 422),
        ({"event_name": "Purchase", "event_id": "x", "action_source": "app"}, "action_source", 422),
        ({"event_name": "Purchase", "event_id": "x", "pixel": 1}, "pixel", 422),
        ({"event_name": "Nope", "event_id": "x"}, "event_name", 422),
        ({"event_name": "Purchase"}, "event_id", 422),
        ({"event_name": "Purchase", "event_id": "a\nb"}, "event_id", 422),
        ({"event_name": "Purchase", "event_id": "x" * 201}, "event_id", 422),
        (
            {"event_name": "Purchase", "event_id": "x", "user_data": {"email": "a@b.co"}},
            "user_data.email",
            422,
        ),
        (
            {"event_name": "Purchase", "event_id": "x", "user_data": {"external_id": "1"}},
            "user_data.external_id",
            422,
        ),
        (
            {"event_name": "Purchase", "event_id": "x", "custom_data": {"email": "a@b.co"}},
            "custom_data.email",
            422,
        ),
        (
            {"event_name": "Purchase", "event_id": "x", "custom_data": {"note": "mail a@b.co"}},
            "custom_data.note",
            422,
        ),
        (
            {"event_name": "Purchase", "event_id": "x", "custom_data": {"source_product": "x1"}},
            "custom_data.source_product",
            403,
        ),
        (
            {"event_name": "Purchase", "event_id": "x", "event_source_url": "javascript:x"},
            "event_source_url",
            422,
        ),
        (
            {
                "event_name": "Purchase",
                "event_id": "x",
                "event_source_url": "https://a.b/?e=j@x.io",
            },
            "event_source_url",
            422,
        ),
    ],
)
def test_relay_event_refuses(body: Any, field: str, status: int) -> None:
    with pytest.raises(FieldError) as caught:
        relay_event(body, product="snapmix", events=EVENTS, signals=signals())
    assert (caught.value.field, caught.value.status) == (field, status)
    assert "a@b.co" not in caught.value.message


def test_browser_signals_drop_bad_values() -> None:
    got = browser_signals(
        "8.8.8.8",
        "x" * 3000,
        ["_fbp=fb.1.1596403881.1; _fbc=not-a-cookie"],
        "ftp://example.com/",
    )
    assert got == BrowserSignals("8.8.8.8", None, None, None, None)
