"""The mypyc-compiled Meta rules give exactly the results of their Python source.

`make compiled` compiles workers/meta/*.py with mypyc; this process uses that build and a child
process runs the same source as plain Python (`GDP_META_COMPILED=0`). Every comparison calls
the same function with the same arguments in both and requires the same answer: for
`normalize_user_data`, the same `user_data` (same keys in the same order, same hashes), the same
dropped values with the same reasons and the same pre-hash forms; for a rule, the same value or
the same exception. mypyc checks declared types at run time where Python does not, so a wrong
annotation (or a library's wrong stub) shows up here as a difference.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workers.meta
import workers.meta.normalize as normalize
from bench.bench_normalize import make_events
from tests.test_normalize import GOLDEN, TRICKY
from tests.test_normalize_phone import example_like, nanp_like

ROOT = Path(__file__).resolve().parents[1]
COMPILED = workers.meta.compiled()
needs_compiled = pytest.mark.skipif(
    not COMPILED, reason="workers/meta is not compiled in this process (make compiled)"
)

# The child: reads one JSON call per line, answers one JSON line, with the memo off.
CHILD = """
import importlib, json, sys
import workers.meta, workers.meta.normalize as n
assert not workers.meta.compiled()
n.configure_cache(0)
sys.path.insert(0, sys.argv[1])
from tests.test_normalize_compiled import answer
for line in sys.stdin:
    sys.stdout.write(json.dumps(answer(json.loads(line))) + "\\n")
    sys.stdout.flush()
"""


def plain(value: object) -> Any:
    """A JSON-able, order-keeping form of a result (dataclasses and dicts as item lists)."""
    if hasattr(value, "__dataclass_fields__"):
        return [
            type(value).__name__,
            [plain(getattr(value, f)) for f in value.__dataclass_fields__],
        ]  # type: ignore[attr-defined]
    if isinstance(value, dict):
        return [[plain(k), plain(v)] for k, v in value.items()]
    if isinstance(value, list | tuple | frozenset | set):
        items = sorted(value, key=repr) if isinstance(value, frozenset | set) else value
        return [plain(v) for v in items]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def answer(call: dict[str, Any]) -> Any:
    """Run one call ("module:function", positional args, keyword args) in this process."""
    module, _, name = call["function"].partition(":")
    function = getattr(__import__(module, fromlist=[name]), name)
    args = [dict((k, v) for k, v in a[1]) if isinstance(a, list) and a[:1] == ["<dict>"] else a
            for a in call["args"]]  # fmt: skip
    try:
        return ["ok", plain(function(*args, **call.get("kwargs", {})))]
    except TypeError as exc:  # a wrong argument type: mypyc words its own message
        return ["raised", type(exc).__name__]
    except Exception as exc:  # the exception type and message are part of the contract
        return ["raised", type(exc).__name__, str(exc)]


@pytest.fixture(scope="module")
def source() -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "GDP_META_COMPILED": "0"},
    )
    yield child
    child.kill()
    child.wait()


@pytest.fixture(autouse=True)
def no_memo() -> Iterator[None]:
    """Each side computes every value itself."""
    normalize.configure_cache(0)
    yield
    normalize.configure_cache(normalize._cache_size_from_env())


Child = subprocess.Popen[str]


def ask(child: Child, call: dict[str, Any]) -> Any:
    """The child's answer to one call."""
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps(call) + "\n")
    child.stdin.flush()
    return json.loads(child.stdout.readline())


def same(child: Child, function: str, *args: object, **kwargs: object) -> Any:
    """Call `function` here (compiled) and in the child (source); both answers must match."""
    wire = [["<dict>", list(a.items())] if isinstance(a, dict) else a for a in args]
    call = json.loads(json.dumps({"function": function, "args": wire, "kwargs": kwargs}))
    theirs = ask(child, call)
    mine = json.loads(json.dumps(answer(call)))
    assert mine == theirs, call
    return mine


def same_event(child: Child, raw: dict[Any, Any], region: str = "US") -> Any:
    return same(child, "workers.meta.normalize:normalize_user_data", raw, default_region=region)


def test_the_compiled_build_is_loaded_when_required() -> None:
    """`make test` sets GDP_REQUIRE_COMPILED=1: a build that silently fell back fails here."""
    if os.environ.get("GDP_REQUIRE_COMPILED") == "1":
        assert COMPILED, "workers/meta is not compiled: run `make compiled`"


@needs_compiled
def test_every_rule_module_is_the_compiled_one() -> None:
    folder = Path(workers.meta.__file__).parent
    for source in folder.glob("*.py"):
        if source.name == "__init__.py":
            continue
        module = sys.modules.get(f"workers.meta.{source.stem}") or __import__(
            f"workers.meta.{source.stem}", fromlist=["_"]
        )
        assert not str(module.__file__).endswith(".py"), module.__name__
    assert type(normalize.normalize_user_data).__name__ == "builtin_function_or_method"


@needs_compiled
def test_the_child_runs_the_source(source: Child) -> None:
    call = {"function": "workers.meta:compiled", "args": []}
    assert (answer(call), ask(source, call)) == (["ok", True], ["ok", False])


@needs_compiled
@pytest.mark.parametrize(("key", "raw", "form", "digest"), GOLDEN)
def test_golden_vectors(source: Child, key: str, raw: str, form: str, digest: str) -> None:
    assert same_event(source, {key: raw})[1][1][0] == [[key, digest]]  # user_data


@needs_compiled
def test_tricky_inputs(source: Child) -> None:
    for key, raw, person, _ in TRICKY:
        same_event(source, {key: raw, **person})


@needs_compiled
@pytest.mark.parametrize("returning", [False, True])
def test_bench_events(source: Child, returning: bool) -> None:
    for raw in make_events(3000, 7, returning=returning):
        same_event(source, raw)
    for region in ("GB", "DE", "XX", "us"):
        same_event(source, make_events(1, 3, returning=False)[0], region)


@needs_compiled
def test_explain_and_audience_rows(source: Child) -> None:
    for raw in make_events(300, 5, returning=False):
        same(source, "workers.meta.normalize:explain_user_data", raw)
    schema = ["EMAIL", "PHONE", "FN", "LN", "FI", "GEN", "DOBY", "DOBM", "DOBD", "CT", "ST",
              "ZIP", "COUNTRY", "EXTERN_ID", "MADID"]  # fmt: skip
    rows = make_events(300, 6, returning=False)
    same(source, "workers.meta.normalize:normalize_audience_rows", rows, schema)


@needs_compiled
@pytest.mark.parametrize("raw", [[], "not a mapping", None], ids=["list", "str", "none"])
def test_programming_errors_raise_the_same(source: Child, raw: object) -> None:
    assert same(source, "workers.meta.normalize:normalize_user_data", raw)[0] == "raised"


@needs_compiled
def test_bad_regions_raise_the_same(source: Child) -> None:
    for region in ("XX", "", "usa", 7, None):
        outcome = same_event(source, {"em": "a@example.com"}, region)  # type: ignore[arg-type]
        assert outcome[0] == "raised"


DOB_CASES = [
    "1997-02-16T10:00:00Z", "1997-02-16t10:00", "1997-02-16 10:00", "19970216T10:00",
    "1997-02-16, 10:00 a.m. UTC", "1997-02-16T10:00:00.123+05:30", "1997-02-16T10:00:00+0530",
    "2/16/1997 10:00 PM", "16.02.1997 23:59:59 gmt", "2/16/97 10:00", "02/30/1997T10:00",
    "Feb 16 1997", "16 February 1997", "February 16th, 1997", "16-Feb-1997",
    "Sunday, Feb 16 1997", "the 16th of feb 1997", "Feb 1997 16", "Feb 16 97", "Feb 16 1997 x",
    "Feb Mar 16 1997", "Feb 016 1997", "Feb 0 1997", "Feb 30 1997", "Feb 16 1897",
    "Feb 16 2999", "Feb 16", "16 1997", "feb. 16. 1997", "Sept 16 1997", "May 5 1990, 10:00",
]  # fmt: skip
IP_CASES = [
    "192.168.0.1", "8.8.8.8", "010.1.1.1", "1.2.3", "2001:DB8::1", "2001:db8:0:0:0:0:0:1",
    "2001:db8:0:0:1:0:0:1", "::1", "::", "::ffff:1.2.3.4", "fe80::1%eth0", "2001:db8::1::1",
    "2a02:810:0:0:ab:0:0:0", "0:0:0:0:0:0:0:0", "2001:0db8:0000:0000:0000:ff00:0042:8329",
]  # fmt: skip


@needs_compiled
def test_dates_and_addresses(source: Child) -> None:
    for value in DOB_CASES:
        same_event(source, {"db": value})
        same(source, "workers.meta._dob:parse_dob", value)
    for value in IP_CASES:
        same_event(source, {"client_ip_address": value})
        same(source, "workers.meta._ip:normalize_ip", value)


regions = st.sampled_from(["US", "GB", "DE", "FR", "CA", "IT", "AU", "IN", "BR", "JP", "PR"])
countries = st.sampled_from([None, "us", "gb", "de", "fr", "ca", "it", "jp", "pr", "xx", "Canada"])
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
latin = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x17F), max_size=16)
anything = st.text(max_size=24)
examples = settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip


def with_country(raw: dict[str, Any], country: str | None) -> dict[str, Any]:
    return raw if country is None else {"country": country, **raw}


@needs_compiled
@examples
@given(st.one_of(nanp_like(), example_like().map(lambda c: ("+" if c[1] else "") + c[0]),
                 st.from_regex(r" ?(\+|00|011)?[0-9 ().\-]{0,18} ?", fullmatch=True)),
       regions, countries)  # fmt: skip
def test_phones(source: Child, phone: str, region: str, country: str | None) -> None:
    same_event(source, with_country({"ph": phone}, country), region)


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


@needs_compiled
@examples
@given(dob)
def test_dates(source: Child, value: str) -> None:
    same_event(source, {"db": value})


emails = st.one_of(
    st.from_regex(r" ?[A-Za-z0-9._%+\-]{1,12}@[A-Za-z0-9_\-]{1,10}(\.[A-Za-z0-9\-]{1,4}){0,3} ?",
                  fullmatch=True),
    st.builds(lambda a, b: f"{a}@{b}", latin, latin),
    st.builds(lambda a, b: f"{a}@{b}", anything, anything),
)  # fmt: skip


@needs_compiled
@examples
@given(emails)
def test_emails(source: Child, value: str) -> None:
    same_event(source, {"em": value})


@needs_compiled
@examples
@given(st.sampled_from(["fn", "ln", "ct", "st", "ge", "country", "external_id",
                        "client_user_agent", "subscription_id", "lead_id", "madid"]),
       st.one_of(printable, latin, anything,
                 st.sampled_from(["Male", " f ", "Woman", "NY", "New York", "Québec", "ON",
                                  "United Kingdom", "USA", "Zürich", "정", "Ærøskøbing"])),
       countries)  # fmt: skip
def test_text_keys(source: Child, key: str, value: str, country: str | None) -> None:
    same_event(source, with_country({key: value}, country))


zips = st.one_of(
    st.from_regex(r" ?[0-9]{3,6}(-[0-9]{0,5})? ?", fullmatch=True),
    st.from_regex(r" ?[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2} ?", fullmatch=True),
    st.from_regex(r"[A-Za-z][0-9][A-Za-z] ?[0-9][A-Za-z][0-9]", fullmatch=True),
    printable,
    anything,
)


@needs_compiled
@examples
@given(zips, countries)
def test_zips(source: Child, value: str, country: str | None) -> None:
    same_event(source, with_country({"zp": value}, country))


@needs_compiled
@examples
@given(st.one_of(st.ip_addresses().map(str),
                 st.ip_addresses(v=6).map(lambda a: ipaddress.IPv6Address(a).exploded.upper()),
                 st.from_regex(r"[0-9a-fA-F:.]{2,40}", fullmatch=True)))  # fmt: skip
def test_ip_addresses(source: Child, value: str) -> None:
    same_event(source, {"client_ip_address": value})


@needs_compiled
@examples
@given(
    st.sampled_from(["fbc", "fbp"]),
    st.from_regex(r" ?fb\.[0-9]\.[0-9]{0,14}\.[A-Za-z0-9_\-.]{0,20} ?", fullmatch=True),
)
def test_click_and_browser_ids(source: Child, key: str, value: str) -> None:
    same_event(source, {key: value})


@needs_compiled
@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(st.dictionaries(
    st.one_of(st.sampled_from([*normalize.HASHED_KEYS, *normalize.UNHASHED_KEYS, "email",
                               " EMAIL", "phone", "x", "person_id"]), st.integers(0, 3)),
    st.one_of(st.none(), printable, latin, anything, st.integers(), st.floats(), st.booleans(),
              st.lists(st.one_of(st.none(), printable, st.integers()), max_size=3),
              st.dictionaries(printable, printable, max_size=2)),
    max_size=8,
))  # fmt: skip
def test_whole_events(source: Child, raw: dict[Any, Any]) -> None:
    """Mixed keys, aliases spelled twice, unknown and non-str keys, lists, numbers, floats."""
    same_event(source, raw)
