"""Fuzzed payloads at both endpoints: whatever arrives, the answer is never a 5xx.

Random JSON, random bytes, huge strings, wrong types, nested garbage, and near-valid events whose
fields are each either sensible or garbage (so the requests also reach the database: emails and
phones that Python accepts must be accepted by shared.upsert_people too). Bounded example counts
keep the file under a minute.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_compat.validation import has_control
from tests.edge_support import (
    EVENT_PATH,
    FORWARD,
    INGEST,
    TRACK_PATH,
    TRACKING,
    Conn,
    Edge,
    running_edge,
)

# The app runs in-process: psycopg_pool's background tasks draw jitter from the global `random`
# while hypothesis is generating, and hypothesis then blames whichever strategy is drawing. No
# strategy here uses `random`.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=False,
)

NOW = int(time.time())
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
huge_text = st.builds(
    lambda ch, n: ch * n, st.sampled_from(["x", "é", "\x00", "𝔘", "@", " "]),
    st.integers(0, 40_000),
)  # fmt: skip
garbage = json_values | huge_text | st.just("\x00") | st.just("\ud800")
emails = st.emails() | st.builds(
    lambda a, b, c: f"{a}@{b}.{c}", st.text(min_size=1, max_size=12),
    st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=6),
) | st.sampled_from(["a@b.co", " A.B@Example.COM ", "x@y", "@", "a@b.c d", "é@ü.de"])  # fmt: skip
phones = st.text(alphabet="+0123456789 ()-./x#", max_size=25) | st.sampled_from(
    ["+1 650 555 1212", "(650)555-1212", "0044 20 7946 0958", "+999", "1" * 30]
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the sensible strategy, one time in eight garbage."""
    return st.integers(0, 7).flatmap(lambda i: garbage if i == 0 else strategy)


def optional_keys(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries({}, optional=fields)


user_data = optional_keys(
    {
        "email": maybe(emails),
        "em": maybe(emails | st.lists(emails, max_size=3)),
        "phone": maybe(phones),
        "ph": maybe(phones),
        "first_name": maybe(st.text(max_size=20)),
        "last_name": maybe(st.text(max_size=20)),
        "country": maybe(st.sampled_from(["US", "gb", "ZZ", "usa", ""])),
        "gender": maybe(st.sampled_from(["f", "Male", "x"])),
        "date_of_birth": maybe(st.sampled_from(["1990-02-03", "31/12/1999", "2099-01-01"])),
        "zip": maybe(st.text(max_size=12)),
        "client_ip_address": maybe(st.ip_addresses().map(str) | st.text(max_size=20)),
        "client_user_agent": maybe(st.text(max_size=50)),
        "fbp": maybe(st.sampled_from(["fb.1.1596403881668.1116446470", "fb.x"])),
        "fbc": maybe(st.text(max_size=40)),
        "person_id": maybe(st.uuids().map(str)),
        "lead_id": maybe(st.integers(min_value=-5, max_value=10**21)),
        "external_id": maybe(st.text(max_size=20)),
    }
)
custom_data = optional_keys(
    {
        "value": maybe(st.floats(allow_nan=False, allow_infinity=False) | st.integers()),
        "currency": maybe(st.sampled_from(["USD", "eur", "XXX", "us"])),
        "source_product": maybe(st.sampled_from(["snapmix", "gapradar", "Snap Mix"])),
        "contents": maybe(st.lists(optional_keys({"id": garbage, "quantity": garbage}))),
        "content_ids": maybe(st.lists(st.text(max_size=5) | st.integers(), max_size=3)),
        "custom": maybe(json_values),
    }
)
meta_events = st.fixed_dictionaries(
    {
        "event_name": maybe(st.sampled_from(["Purchase", "Lead", "SnapCreated"])),
        "event_time": maybe(
            st.integers(min_value=NOW - 10**8, max_value=NOW + 30)
            | st.integers(min_value=-(2**40), max_value=2**40)
        ),
        "event_id": maybe(st.text(min_size=1, max_size=40)),
        "user_data": maybe(user_data),
    },
    optional={
        "event_source_url": maybe(st.sampled_from(["https://x.io/a", "http://"]) | st.text()),
        "action_source": maybe(st.sampled_from(["website", "app", "fax"])),
        "custom_data": maybe(custom_data),
    },
)
meta_bodies = meta_events | st.fixed_dictionaries(
    {"data": st.lists(meta_events | garbage, min_size=0, max_size=5) | garbage}
)


@pytest.fixture
def edge(db_url: str, db: Conn) -> Iterator[Edge]:
    with running_edge(db_url, db, INGEST, TRACKING, FORWARD) as running:
        yield running


@pytest.fixture
def person_id(db: Conn) -> str:
    row = db.execute(
        'SELECT person_id FROM shared.upsert_people(\'[{"email": "fuzz@example.com"}]\')'
    ).fetchone()
    assert row is not None
    return str(row["person_id"])


def _post(edge: Edge, path: str, body: Any, **params: Any) -> int:
    content = json.dumps(body).encode()  # ASCII with escapes: lone surrogates reach the parser
    response = edge.client.post(
        path,
        content=content,
        params=params,
        headers={**edge.auth, "Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"field", "rule", "message"}
    return int(response.status_code)


@given(body=meta_bodies)
@settings(FUZZ, max_examples=200)
def test_fuzz_meta_event_near_valid(edge: Edge, body: Any) -> None:
    _post(edge, EVENT_PATH, body)


people_data = st.fixed_dictionaries(
    {"email": emails},
    optional={
        "phone": phones,
        "first_name": st.text(max_size=30),
        "last_name": st.text(max_size=300),
        "country": st.text(max_size=3) | st.sampled_from(["US", "de", "GB"]),
        "gender": st.text(max_size=6) | st.sampled_from(["F", "male"]),
        "date_of_birth": st.text(max_size=12) | st.dates().map(str),
        "city": st.text(max_size=20),
        "state": st.text(max_size=20),
        "zip": st.text(max_size=12),
        "fbp": st.text(max_size=40),
        "fbc": st.text(max_size=40),
        "client_ip_address": st.ip_addresses().map(str) | st.text(max_size=20),
    },
)


@given(user=people_data, batch=st.booleans())
@settings(FUZZ, max_examples=150)
def test_fuzz_user_data_reaches_the_database(edge: Edge, user: Any, batch: bool) -> None:
    """Valid envelopes, fuzzed personal data: what Python keeps, upsert_people must accept.
    Control characters are refused by field (a 422; per event in a batch), never dropped."""
    item = {"event_name": "Lead", "event_time": NOW, "event_id": f"u-{NOW}-{id(user)}",
            "user_data": user}  # fmt: skip
    status = _post(edge, EVENT_PATH, {"data": [item, dict(item, event_id="second")]}
                   if batch else item)  # fmt: skip
    control = any(isinstance(v, str) and has_control(v) for v in user.values())
    assert status == (422 if control and not batch else 200)


@given(
    body=optional_keys(
        {
            "event_name": maybe(st.sampled_from(["Purchase", "Upgrade"])),
            "person_id": maybe(st.uuids().map(str)),
            "product": maybe(st.sampled_from(["snapmix", "gapradar"])),
            "value": maybe(st.floats(allow_nan=False, allow_infinity=False)),
            "currency": maybe(st.sampled_from(["USD", "eur", "XXX"])),
            "metadata": maybe(st.dictionaries(st.text(max_size=10), garbage, max_size=4)),
            "event_id": maybe(st.text(min_size=1, max_size=40)),
        }
    ),
    use_person=st.booleans(),
    idempotency_key=st.none() | st.text(max_size=30).filter(lambda k: k.isascii()),
)
@settings(FUZZ, max_examples=150)
def test_fuzz_track_conversion_near_valid(
    edge: Edge, person_id: str, body: Any, use_person: bool, idempotency_key: str | None
) -> None:
    if use_person and isinstance(body, dict):
        body["person_id"] = person_id
    headers = {**edge.auth, "Content-Type": "application/json"}
    if idempotency_key is not None and "\n" not in idempotency_key and "\r" not in idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    response = edge.client.post(TRACK_PATH, content=json.dumps(body).encode(), headers=headers)
    assert response.status_code < 500, response.text


@given(body=json_values, path=st.sampled_from([EVENT_PATH, TRACK_PATH]))
@settings(FUZZ, max_examples=120)
def test_fuzz_random_json(edge: Edge, body: Any, path: str) -> None:
    _post(edge, path, body)


@given(
    content=st.binary(max_size=300) | huge_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/json; charset=utf-16", "", "a/b+json"]
    ),
    path=st.sampled_from([EVENT_PATH, TRACK_PATH]),
)
@settings(FUZZ, max_examples=120)
def test_fuzz_random_bytes(edge: Edge, content: bytes, content_type: str, path: str) -> None:
    headers = {**edge.auth, "Content-Type": content_type}
    response = edge.client.post(path, content=content, headers=headers)
    assert response.status_code < 500, response.text


@given(
    wait=st.text(max_size=10) | st.floats().map(str),
    event_id=st.text(min_size=1, max_size=250),
)
@settings(FUZZ, max_examples=80)
def test_fuzz_query_and_path(edge: Edge, wait: str, event_id: str) -> None:
    response = edge.client.post(EVENT_PATH, params={"wait": wait}, json={"x": 1}, headers=edge.auth)
    assert response.status_code < 500, response.text
    response = edge.client.get(f"{EVENT_PATH}/{quote(event_id, safe='')}", headers=edge.auth)
    assert response.status_code < 500, response.text
