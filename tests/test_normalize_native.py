"""The compiled fast path (workers/meta/native/) gives exactly the pure-Python results.

Every comparison normalizes the same raw `user_data` twice, with the compiled `single_pass` and
with it switched off, and requires the same `user_data` (same keys in the same order, same
hashes), the same dropped values with the same reasons and the same pre-hash forms. The compiled
code only ever accepts (it hands everything it is not sure of to the Python rules), so a wrong
acceptance is the one bug it can have; the generated inputs aim at the shapes it accepts.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workers.meta.normalize as normalize
from bench.bench_normalize import make_events
from tests.test_normalize import GOLDEN, TRICKY
from tests.test_normalize_phone import example_like, nanp_like
from workers.meta import _fast

native_pass = normalize._native_pass
needs_native = pytest.mark.skipif(
    native_pass is None, reason="workers.meta._native is not built (make native)"
)


def test_the_compiled_path_is_loaded_when_required() -> None:
    """`make test` sets GDP_REQUIRE_NATIVE=1: a build that silently fell back fails here."""
    if os.environ.get("GDP_REQUIRE_NATIVE") == "1":
        assert native_pass is not None, "workers.meta._native did not load: run `make native`"


@pytest.fixture(autouse=True)
def no_memo() -> Iterator[None]:
    """Each side computes every value itself (the memo is shared by both paths)."""
    normalize.configure_cache(0)
    yield
    normalize.configure_cache(normalize._cache_size_from_env())


def python_only(raw: dict[str, Any], region: str) -> normalize.NormalizedUserData:
    saved = normalize._native_pass
    normalize._native_pass = None
    try:
        return normalize.normalize_user_data(raw, default_region=region)
    finally:
        normalize._native_pass = saved


def assert_same(raw: dict[str, Any], region: str = "US") -> normalize.NormalizedUserData:
    fast = normalize.normalize_user_data(raw, default_region=region)
    slow = python_only(raw, region)
    assert list(fast.user_data.items()) == list(slow.user_data.items()), raw
    assert fast.dropped == slow.dropped, raw
    assert list(fast.normalized.items()) == list(slow.normalized.items()), raw
    return fast


def refuse(*args: object) -> object:
    raise AssertionError(f"handed to Python: {args[:2]!r}")


@needs_native
def test_common_values_never_reach_python() -> None:
    """The fast path does the work for the common shapes (else it would be a slow no-op)."""
    assert native_pass is not None
    raw = {
        "email": "  John.Smith@Example.COM ", "phone": "(650) 253-0000", "fn": "Mary-Jane",
        "ln": "O'Brien", "ge": "Female", "db": "Feb 16th, 1997", "ct": "San Francisco",
        "st": "California", "zp": "94105-1234", "country": "United States",
        "external_id": "user-1", "client_ip_address": "2001:DB8:0:0:0:0:0:1",
        "client_user_agent": "Mozilla/5.0", "fbc": "fb.1.1554763741205.AbCdEf",
        "fbp": "fb.1.1596403881668.1116446470",
    }  # fmt: skip
    _, dropped, forms = native_pass(raw, "US", refuse)  # type: ignore[misc]
    assert dropped == ()
    assert forms["ph"] == "16502530000" and forms["db"] == "19970216"
    assert forms["client_ip_address"] == "2001:db8::1" and forms["st"] == "ca"
    for value in ["1997-02-16T10:00:00Z", "2/16/1997 10:30 pm", "16.02.1997", "19970216"]:
        assert native_pass({"db": value}, "US", refuse)[2] == {"db": "19970216"}  # type: ignore[index]
    for phone, country in [("+44 7400 123456", "gb"), ("07400 123456", "gb"), ("030 1234567", "de"),
                           ("+1 416 555 0199", "ca"), ("0044 7400 123456", "us")]:  # fmt: skip
        assert native_pass({"ph": phone, "country": country}, "US", refuse) is not None


@needs_native
@pytest.mark.parametrize(("key", "raw", "form", "digest"), GOLDEN)
def test_golden_vectors(key: str, raw: str, form: str, digest: str) -> None:
    assert assert_same({key: raw}).user_data[key] == digest


@needs_native
@pytest.mark.parametrize(("key", "raw", "person", "expected"), TRICKY)
def test_tricky_inputs(key: str, raw: object, person: dict[str, str], expected: str | None) -> None:
    assert_same({key: raw, **person})


@needs_native
@pytest.mark.parametrize("returning", [False, True])
def test_bench_events(returning: bool) -> None:
    for raw in make_events(4000, 7, returning=returning):
        assert_same(raw)


DOB_CASES = [
    "1997-02-16T10:00:00Z", "1997-02-16t10:00", "1997-02-16 10:00", "19970216T10:00",
    "1997-02-16, 10:00 a.m. UTC", "1997-02-16T10:00:00.123+05:30", "1997-02-16T10:00:00+0530",
    "1997-02-16T10:00:00-05", "1997-02-16T10:00:00-5", "1997-02-16 T10:00", "1997-02-16T10:00:",
    "1997-02-16T1000", "1997-02-16T10:00:00.", "1997-02-16T10:00 pz", "2/16/1997 10:00 PM",
    "2 16 1997 10:00", "16.02.1997 23:59:59 gmt", "2/16/97 10:00", "02/30/1997T10:00",
    "Feb 16 1997", "16 February 1997", "February 16th, 1997", "16-Feb-1997",
    "Sunday, Feb 16 1997", "the 16th of feb 1997", "Feb 1997 16", "Feb 16 97", "Feb 16 1997 x",
    "Feb Mar 16 1997", "Feb 16 1997 1997", "Feb 016 1997", "Feb 0 1997", "Feb 30 1997",
    "Feb 16 1897", "Feb 16 2999", "Feb 16", "16 1997", "Feb-16-1997T10:00", "feb. 16. 1997",
    "Septembers 16 1997", "Sept 16 1997", "May 5 1990, 10:00",
]  # fmt: skip


@needs_native
@pytest.mark.parametrize("value", DOB_CASES)
def test_dates_of_birth(value: str) -> None:
    assert_same({"db": value})


@needs_native
@pytest.mark.parametrize(
    "value",
    ["192.168.0.1", "8.8.8.8", "010.1.1.1", "1.2.3", "2001:DB8::1", "2001:db8:0:0:0:0:0:1",
     "2001:db8:0:0:1:0:0:1", "::1", "::", "::ffff:1.2.3.4", "fe80::1%eth0", "2001:db8::1::1",
     "2a02:810:0:0:ab:0:0:0", "0:0:0:0:0:0:0:0", "2001:0db8:0000:0000:0000:ff00:0042:8329"],
)  # fmt: skip
def test_ip_addresses(value: str) -> None:
    assert_same({"client_ip_address": value})


regions = st.sampled_from(["US", "GB", "DE", "FR", "CA", "IT", "AU", "IN", "BR", "JP", "PR"])
countries = st.sampled_from([None, "us", "gb", "de", "fr", "ca", "it", "jp", "pr", "xx", "Canada"])
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
latin = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x17F), max_size=16)
examples = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def with_country(raw: dict[str, Any], country: str | None) -> dict[str, Any]:
    return raw if country is None else {"country": country, **raw}


@needs_native
@examples
@given(st.one_of(nanp_like(), example_like().map(lambda c: ("+" if c[1] else "") + c[0]),
                 st.from_regex(r" ?(\+|00|011)?[0-9 ().\-]{0,18} ?", fullmatch=True)),
       regions, countries)  # fmt: skip
def test_phones(phone: str, region: str, country: str | None) -> None:
    assert_same(with_country({"ph": phone}, country), region)


TIME = (
    r"([Tt ,][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,3})?)? ?([ap]\.?m\.?)? ?"
    r"(z|UTC|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
dob = st.one_of(
    st.from_regex(r" ?[0-9]{1,4}[/.\- ][0-9]{1,2}[/.\- ][0-9]{2,4}" + TIME, fullmatch=True),
    st.from_regex(r"(19|20)[0-9]{2}(0[0-9]|1[0-3])[0-3][0-9]" + TIME, fullmatch=True),
    st.lists(st.one_of(st.sampled_from(["Feb", "february", "SEPT", "the", "of", "Sunday", "th",
                                        "x", "May", "1997", "16", "2", "016", "97", "2026"]),
                       st.sampled_from([" ", ", ", "-", ".", "/"])), max_size=7).map("".join),
)  # fmt: skip


@needs_native
@examples
@given(dob)
def test_dates(value: str) -> None:
    assert_same({"db": value})


emails = st.one_of(
    st.from_regex(r" ?[A-Za-z0-9._%+\-]{1,12}@[A-Za-z0-9_\-]{1,10}(\.[A-Za-z0-9\-]{1,4}){0,3} ?",
                  fullmatch=True),
    st.builds(lambda a, b: f"{a}@{b}", latin, latin),
)  # fmt: skip


@needs_native
@examples
@given(emails)
def test_emails(value: str) -> None:
    assert_same({"em": value})


@needs_native
@examples
@given(st.sampled_from(["fn", "ln", "ct", "st", "ge", "country", "external_id",
                        "client_user_agent"]),
       st.one_of(printable, latin, st.sampled_from(["Male", " f ", "Woman", "NY", "New York",
                                                    "Québec", "ON", "United Kingdom", "USA"])),
       countries)  # fmt: skip
def test_text_keys(key: str, value: str, country: str | None) -> None:
    assert_same(with_country({key: value}, country))


zips = st.one_of(
    st.from_regex(r" ?[0-9]{3,6}(-[0-9]{0,5})? ?", fullmatch=True),
    st.from_regex(r" ?[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2} ?", fullmatch=True),
    st.from_regex(r"[A-Za-z][0-9][A-Za-z] ?[0-9][A-Za-z][0-9]", fullmatch=True),
    printable,
)


@needs_native
@examples
@given(zips, countries)
def test_zips(value: str, country: str | None) -> None:
    assert_same(with_country({"zp": value}, country))


@needs_native
@examples
@given(st.one_of(st.ip_addresses().map(str),
                 st.ip_addresses(v=6).map(lambda a: ipaddress.IPv6Address(a).exploded.upper()),
                 st.from_regex(r"[0-9a-fA-F:.]{2,40}", fullmatch=True)))  # fmt: skip
def test_generated_ip_addresses(value: str) -> None:
    assert_same({"client_ip_address": value})


@needs_native
@examples
@given(st.sampled_from(["fbc", "fbp"]),
       st.from_regex(r" ?fb\.[0-9]\.[0-9]{0,14}\.[A-Za-z0-9_\-.]{0,20} ?", fullmatch=True))
def test_click_and_browser_ids(key: str, value: str) -> None:
    assert_same({key: value})


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.dictionaries(
    st.sampled_from([*_fast.RULE_IDS, "email", "EMAIL", "phone", "x", "lead_id"]),
    st.one_of(st.none(), printable, latin, st.integers(), st.lists(printable, max_size=3)),
    max_size=8,
))  # fmt: skip
def test_whole_events(raw: dict[str, Any]) -> None:
    """Mixed keys, aliases spelled twice, unknown keys, lists, numbers: same on both paths."""
    assert_same(raw)


@needs_native
def test_threads_get_their_own_results() -> None:
    """The compiled pass calls back into Python (memo, phone rules), where the GIL may pass to
    another thread running it too: results must not bleed between threads."""
    events = make_events(1500, 11, returning=False)
    expected = [normalize.normalize_user_data(raw).user_data for raw in events]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with ThreadPoolExecutor(4) as pool:
            runs = list(pool.map(lambda _: [normalize.normalize_user_data(raw).user_data
                                            for raw in events], range(4)))  # fmt: skip
    finally:
        sys.setswitchinterval(interval)
    for run in runs:
        assert run == expected


@needs_native
def test_table_forms_under_the_debug_allocator() -> None:
    """Python's debug allocator (-X dev) overwrites freed memory: a form read after its string
    was released (a set lookup's key) would come out garbled instead of "us"/"ny"."""
    script = (
        "import json, workers.meta.normalize as n\n"
        "raw = {'country': 'US', 'st': 'NY', 'ph': '(650) 253-0000', 'zp': '10001'}\n"
        "print(json.dumps([n.normalize_user_data(raw).normalized, n._native_pass is not None]))\n"
    )
    out = subprocess.run([sys.executable, "-X", "dev", "-c", script], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).parents[1])  # fmt: skip
    forms, loaded = json.loads(out.stdout)
    assert loaded
    assert forms == {"country": "us", "st": "ny", "ph": "16502530000", "zp": "10001"}
