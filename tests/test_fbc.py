"""fbc/fbp: format, validation, and the keep / replace / drop rules for an event's click id."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.meta.fbc import (
    FBC_MAX_AGE_MS,
    CookieError,
    Fbc,
    Fbp,
    build_fbc,
    check_cookie,
    fbc_for_event,
    is_valid_fbclid,
    parse_fbc,
    parse_fbp,
    validate_fbc,
    validate_fbp,
)

DAY_MS = 24 * 60 * 60 * 1000
NOW = 1_760_000_000_000  # 2025-10-09
FBCLID = "IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk"


def test_build_fbc_keeps_case_and_uses_subdomain_index_1() -> None:
    assert build_fbc("AbCdEf", created_ms=1554763741205) == "fb.1.1554763741205.AbCdEf"
    assert build_fbc("AbC", created_ms=1554763741205, subdomain_index=2) == (
        "fb.2.1554763741205.AbC"
    )


@pytest.mark.parametrize("fbclid", ["", "has space", "dot.ted", "quote'", "é"])
def test_build_fbc_rejects_bad_fbclid(fbclid: str) -> None:
    with pytest.raises(ValueError):
        build_fbc(fbclid, created_ms=NOW)


@pytest.mark.parametrize("created_ms", [1554763741, 99_999_999_999_999])
def test_build_fbc_rejects_non_millisecond_times(created_ms: int) -> None:
    with pytest.raises(ValueError):
        build_fbc("AbC", created_ms=created_ms)


def test_parse_fbc() -> None:
    assert parse_fbc("fb.1.1554763741205.AbCdEf") == Fbc(1, 1554763741205, "AbCdEf")
    assert parse_fbc(" fb.2.1554763741205.AbC_d-Ef.AQ ") == Fbc(2, 1554763741205, "AbC_d-Ef", "AQ")
    assert parse_fbc("fb.1.1554763741205.AbC.AQIDBAUG") == Fbc(1, 1554763741205, "AbC", "AQIDBAUG")
    parsed = parse_fbc("fb.1.1554763741205.AbC.Ag")
    assert parsed is not None and parsed.value == "fb.1.1554763741205.AbC.Ag"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        42,
        "fb.1.1554763741.AbC",  # seconds, not milliseconds
        "FB.1.1554763741205.AbC",
        "fb.1.1554763741205",
        "fb.1.1554763741205.",
        "fb.x.1554763741205.AbC",
        "fb.1.1554763741205.AbC.toolongappendix",
        "fb.1.1554763741205.AbC.A",
        "fb.1.1554763741205.Ab C",
        "fb.1.0000000000001.AbC",  # implausible time
        "a" * 64,
    ],
)
def test_parse_fbc_rejects(value: object) -> None:
    assert parse_fbc(value) is None
    assert validate_fbc(value) is None


def test_fbp() -> None:
    assert parse_fbp("fb.1.1596403881668.1116446470") == Fbp(1, 1596403881668, "1116446470")
    assert validate_fbp(" fb.1.1596403881668.1116446470.Ag ") == "fb.1.1596403881668.1116446470.Ag"
    assert validate_fbp("fb.1.1596403881668.notanumber") is None
    assert validate_fbp("fb.1.1596403881.1116446470") is None
    assert validate_fbp(None) is None


def test_fbc_for_event_builds_from_click_at_event_time() -> None:
    event = NOW - 3 * DAY_MS  # a queued event sent three days later
    assert fbc_for_event(None, FBCLID, now_ms=NOW, event_time_ms=event) == f"fb.1.{event}.{FBCLID}"


def test_fbc_for_event_never_dates_in_the_future() -> None:
    assert fbc_for_event(None, "AbC", now_ms=NOW, event_time_ms=NOW + DAY_MS) == f"fb.1.{NOW}.AbC"


def test_fbc_for_event_keeps_existing_cookie_for_same_click() -> None:
    cookie = f"fb.2.{NOW - 10 * DAY_MS}.{FBCLID}.AQ"
    assert fbc_for_event(cookie, FBCLID, now_ms=NOW, event_time_ms=NOW) == cookie
    assert fbc_for_event(cookie, None, now_ms=NOW, event_time_ms=NOW) == cookie
    assert fbc_for_event(cookie, "", now_ms=NOW, event_time_ms=NOW) == cookie


def test_fbc_for_event_fbclid_is_case_sensitive() -> None:
    cookie = f"fb.1.{NOW - DAY_MS}.AbC"
    assert fbc_for_event(cookie, "abc", now_ms=NOW, event_time_ms=NOW) == f"fb.1.{NOW}.abc"


def test_fbc_for_event_replaces_cookie_for_a_new_click() -> None:
    cookie = f"fb.1.{NOW - DAY_MS}.OldClick"
    assert (
        fbc_for_event(cookie, "NewClick", now_ms=NOW, event_time_ms=NOW) == f"fb.1.{NOW}.NewClick"
    )


def test_fbc_for_event_drops_stale_click_instead_of_re_dating_it() -> None:
    old = NOW - FBC_MAX_AGE_MS - DAY_MS
    cookie = f"fb.1.{old}.AbC"
    assert fbc_for_event(cookie, None, now_ms=NOW, event_time_ms=NOW) is None
    assert fbc_for_event(cookie, "AbC", now_ms=NOW, event_time_ms=NOW) is None  # same click
    assert fbc_for_event(cookie, "Other", now_ms=NOW, event_time_ms=NOW) == f"fb.1.{NOW}.Other"


def test_fbc_for_event_age_is_measured_at_event_time() -> None:
    created = NOW - FBC_MAX_AGE_MS - DAY_MS
    cookie = f"fb.1.{created}.AbC"
    event = created + FBC_MAX_AGE_MS - DAY_MS  # the cookie was 89 days old when the event happened
    assert fbc_for_event(cookie, None, now_ms=NOW, event_time_ms=event) == cookie
    assert fbc_for_event(cookie, None, now_ms=NOW, event_time_ms=created + FBC_MAX_AGE_MS) == cookie


def test_fbc_for_event_old_click_without_cookie_is_not_renewed() -> None:
    event = NOW - FBC_MAX_AGE_MS - DAY_MS
    assert fbc_for_event(None, "AbC", now_ms=NOW, event_time_ms=event) is None


def test_fbc_for_event_ignores_corrupt_values() -> None:
    assert fbc_for_event("garbage", None, now_ms=NOW, event_time_ms=NOW) is None
    assert fbc_for_event("garbage", "AbC", now_ms=NOW, event_time_ms=NOW) == f"fb.1.{NOW}.AbC"
    assert fbc_for_event(None, "bad click!", now_ms=NOW, event_time_ms=NOW) is None
    future = f"fb.1.{NOW + DAY_MS}.AbC"
    assert fbc_for_event(future, None, now_ms=NOW, event_time_ms=NOW) is None


@given(
    st.one_of(st.none(), st.text(max_size=40)),
    st.one_of(st.none(), st.text(max_size=20)),
    st.integers(0, 2**45),
    st.integers(0, 2**45),
)
def test_fbc_for_event_never_raises_and_any_answer_is_a_valid_fbc(
    existing: str | None, fbclid: str | None, now_ms: int, event_ms: int
) -> None:
    out = fbc_for_event(existing, fbclid, now_ms=now_ms, event_time_ms=event_ms)
    if out is not None:
        assert parse_fbc(out) is not None, out


@given(
    st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=60),
    st.integers(13 * 10**11, 4 * 10**12),  # 2011 .. 2096, inside the plausible range
    st.integers(0, 89 * 24 * 3600 * 1000),
)
def test_a_fresh_valid_click_always_gives_its_fbc(fbclid: str, now_ms: int, age_ms: int) -> None:
    out = fbc_for_event(None, fbclid, now_ms=now_ms, event_time_ms=now_ms - age_ms)
    assert out is not None
    parsed = parse_fbc(out)
    assert parsed is not None and parsed.fbclid == fbclid and parsed.created_ms == now_ms - age_ms


# Golden vectors shared with the JavaScript clients (tests/golden/fbc.json).
GOLDEN = json.loads((Path(__file__).parent / "golden" / "fbc.json").read_text())


@pytest.mark.parametrize("case", GOLDEN["fbclid"], ids=lambda c: c.get("note", c["fbclid"][:20]))
def test_golden_fbclid(case: dict[str, Any]) -> None:
    assert is_valid_fbclid(case["fbclid"]) is case["valid"]
    if case["valid"]:  # the click id built from it is a valid fbc, case kept
        built = build_fbc(case["fbclid"], created_ms=NOW)
        assert check_cookie("fbc", built) == built == f"fb.1.{NOW}.{case['fbclid']}"


@pytest.mark.parametrize("case", GOLDEN["cookies"], ids=lambda c: c["value"][:40])
def test_golden_cookies(case: dict[str, Any]) -> None:
    validate = validate_fbc if case["kind"] == "fbc" else validate_fbp
    assert validate(case["value"]) == (case["value"] if case["valid"] else None)
    assert validate(f"  {case['value']}\t") == (case["value"] if case["valid"] else None)
    if case["valid"]:
        assert check_cookie(case["kind"], case["value"]) == case["value"]
    else:
        with pytest.raises(CookieError):
            check_cookie(case["kind"], case["value"])
