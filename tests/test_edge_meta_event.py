"""GAP-001 over HTTP: POST /api/v1/meta/event (single and batch) and GET its status."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.edge_support import (
    EVENT_PATH,
    INGEST,
    Conn,
    Edge,
    counts,
    create_key,
    event,
    running_edge,
    set_flags,
)
from tests.support.waiting import wait_until

HEX64 = re.compile(r"[0-9a-f]{64}")
RAW_PII = ("jane.roe@example.com", "Jane.Roe", "Jane", "Roe", "6505551212", "555-1212")


@pytest.fixture
def edge(db_url: str, db: Conn) -> Iterator[Edge]:
    with running_edge(db_url, db, INGEST) as running:
        yield running


def test_missing_wrong_and_revoked_keys_are_401(edge: Edge) -> None:
    response = edge.client.post(EVENT_PATH, json=event())
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["field"] == "Authorization"

    for header in ("Bearer gdp_sk_snapmix_nope", "Basic abc", "Bearer", "Bearer \x01"):
        response = edge.client.post(EVENT_PATH, json=event(), headers={"Authorization": header})
        assert response.status_code == 401, header
        assert "WWW-Authenticate" in response.headers

    key_id = edge.db.execute(
        "SELECT id FROM shared.service_key WHERE revoked_at IS NULL"
    ).fetchone()
    assert key_id is not None
    edge.db.execute("SELECT shared.revoke_service_key(%s, 'test')", (key_id["id"],))
    assert edge.post(event()).status_code == 401
    assert counts(edge.db)["events"] == 0


def test_key_of_another_product_is_403_naming_the_field(edge: Edge) -> None:
    other = create_key(edge.db, "softwarehub")
    response = edge.client.post(
        EVENT_PATH, json=event(), headers={"Authorization": f"Bearer {other}"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "custom_data.source_product"
    assert counts(edge.db) == {"events": 0, "people": 0, "queued": 0}


def test_disabled_flag_answers_disabled_and_stores_nothing(edge: Edge) -> None:
    set_flags(edge.db, INGEST, enabled=False)
    response = edge.post(event())
    assert response.status_code == 200
    assert response.json() == {"success": False, "disabled": True}
    assert counts(edge.db) == {"events": 0, "people": 0, "queued": 0}


def test_single_event_is_stored_person_upserted_and_queued(edge: Edge) -> None:
    response = edge.post(event())
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "event_id": "evt-0001",
        "hashed": True,
        "status": "queued",
        "duplicate": False,
        "meta_response": None,
    }
    row = edge.db.execute(
        "SELECT e.*, host(e.client_ip_address) AS ip, p.email, p.phone, p.first_name,"
        " p.source_product AS person_product"
        " FROM shared.event AS e JOIN shared.person AS p ON p.id = e.person_id"
    ).fetchone()
    assert row is not None
    assert row["product_id"] == "snapmix"
    assert row["event_name"] == row["meta_event_name"] == "Purchase"
    assert row["source"] == "server"
    assert row["properties"] == {"value": 29.99, "currency": "USD", "content_name": "SnapMix Pro"}
    assert row["ip"] == "203.0.113.7"
    assert row["fbp"] == "fb.1.1596403881668.1116446470"
    assert row["fbc"].startswith("fb.1.")
    assert row["client_user_agent"].startswith("Mozilla/5.0")
    assert row["event_source_url"] == "https://snapmix.app/checkout/success"
    assert row["action_source"] == "website"
    assert abs(row["occurred_at"].timestamp() - (time.time() - 5)) < 5
    assert row["email"] == "jane.roe@example.com"
    assert row["phone"] == "+16505551212"
    assert row["first_name"] == "Jane"
    assert row["person_product"] == "snapmix"
    messages = edge.db.execute("SELECT message FROM pgmq.q_meta_capi").fetchall()
    assert [m["message"]["event"] for m in messages] == [row["id"]]


def test_source_product_may_be_absent(edge: Edge) -> None:
    body = event(custom_data={"value": 5, "currency": "eur"})
    assert edge.post(body).status_code == 200
    row = edge.db.execute("SELECT product_id, properties FROM shared.event").fetchone()
    assert row == {"product_id": "snapmix", "properties": {"value": 5, "currency": "EUR"}}


def test_resend_answers_like_the_first_and_stores_once(edge: Edge) -> None:
    first = edge.post(event()).json()
    again = edge.post(event()).json()
    assert first["success"] and again["success"]
    assert again["event_id"] == first["event_id"]
    assert again["status"] == first["status"] == "queued"  # what became of the first
    assert again["duplicate"] is True and first["duplicate"] is False
    assert counts(edge.db) == {"events": 1, "people": 1, "queued": 1}


def test_batch_answers_per_event_and_stores_only_valid_ones(edge: Edge) -> None:
    edge.post(event(event_id="already-there"))
    batch = {
        "data": [
            event(event_id="b-1"),
            event(event_id="b-2", event_name="Not a name"),
            event(event_id="already-there"),
            event(event_id="b-3", custom_data={"value": 1, "currency": "USD", "email": "x"}),
            event(event_id="b-4", user_data={"em": "A@B.co", "lead_id": 123456789}),
            "not an object",
            event(event_id="b-5", custom_data={"source_product": "gapradar", "value": 1,
                                               "currency": "USD"}),
            event(event_id="b-1"),
        ]
    }  # fmt: skip
    response = edge.post(batch)
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["accepted"], body["duplicates"], body["rejected"]) == (
        8, 2, 2, 4,
    )  # fmt: skip
    assert body["success"] is False
    results = body["results"]
    assert [r["index"] for r in results] == list(range(8))
    assert [r["status"] for r in results] == [
        "queued", "rejected", "queued", "rejected", "queued", "rejected", "forbidden", "queued",
    ]  # fmt: skip
    assert [r["duplicate"] for r in results if r["error"] is None] == [False, True, False, True]
    assert results[1]["error"]["field"] == "event_name"
    assert results[3]["error"]["message"] == "custom_data.email: personal data belongs in user_data"
    assert results[5]["error"]["field"] == "body" and results[5]["event_id"] is None
    assert results[6]["error"]["field"] == "custom_data.source_product"
    stored = edge.db.execute("SELECT event_id FROM shared.event ORDER BY id").fetchall()
    assert [r["event_id"] for r in stored] == ["already-there", "b-1", "b-4"]
    assert counts(edge.db)["queued"] == 3


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"data": []}, "data", "must hold 1 to 1000 events"),
        ({"data": {}}, "data", "must be a JSON array of events"),
        ({"data": [{}], "test": 1}, "test", None),
    ],
)
def test_batch_shape_errors(edge: Edge, body: Any, field: str, rule: str | None) -> None:
    response = edge.post(body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    if rule:
        assert response.json()["error"]["rule"] == rule


def test_batch_over_1000_events_is_refused(edge: Edge) -> None:
    small = {"event_name": "Lead", "event_time": 1, "event_id": "x", "user_data": {}}
    response = edge.post({"data": [small] * 1001})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "data"
    assert counts(edge.db)["events"] == 0


def _without(path: str) -> dict[str, Any]:
    body = event()
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    del target[last]
    return body


def _with(path: str, value: Any) -> dict[str, Any]:
    body = event()
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    target[last] = value
    return body


BAD_BODIES = [
    (_without("event_id"), "event_id", "is required"),
    (_with("event_id", ""), "event_id", "must not be empty"),
    (_with("event_id", "x" * 201), "event_id", "200"),
    (_with("event_time", "1706745600"), "event_time", "must be an integer"),
    (_with("event_time", True), "event_time", "must be an integer"),
    (_with("event_time", int(time.time() * 1000)), "event_time", "in the future"),
    (_with("event_name", "Purchase!"), "event_name", "Meta event name"),
    (_with("event_name", None), "event_name", "must be a string"),
    (_with("action_source", "fax"), "action_source", "must be one of"),
    (_with("event_source_url", "ftp://x"), "event_source_url", "http(s) URL"),
    (_with("event_source_url", "https://x.io/?e=a%40b.com"), "event_source_url", "email"),
    (_without("user_data"), "user_data", "is required"),
    (_with("user_data.email", 42), "user_data.email", "must be a string"),
    (_with("user_data.em", [1, 2]), "user_data.em", "list of strings"),
    (_with("user_data.shoe_size", "9"), "user_data.shoe_size", "not an accepted field"),
    (_with("user_data.person_id", "nobody"), "user_data.person_id", "must be a UUID"),
    (
        event(user_data={"person_id": "00000000-0000-4000-8000-000000000000"}),
        "user_data.person_id",
        "names no known person",
    ),
    (_with("custom_data.email", "x"), "custom_data.email", "personal data belongs in user_data"),
    (_with("custom_data.First-Name", "x"), "custom_data.First-Name", "personal data"),
    (_with("custom_data.buyer", {"phone": "1"}), "custom_data.buyer.phone", "personal data"),
    (_with("custom_data.note", "mail jane@x.io"), "custom_data.note", "email address"),
    (_with("custom_data.deep", [[[[[[[[[1]]]]]]]]]), "custom_data.deep[0][0][0][0][0][0][0]",
     "nested deeper"),
    (_with("custom_data.value", "29.99"), "custom_data.value", "must be a number"),
    (_with("custom_data.currency", "ZZZ"), "custom_data.currency", "ISO 4217"),
    (_with("custom_data.currency", "dollars"), "custom_data.currency", "3-letter"),
    (_without("custom_data.currency"), "custom_data.currency", "required when value"),
    (_without("custom_data.value"), "custom_data.value", "required for Purchase"),
    (_with("custom_data.contents", [{"id": "a", "quantity": -1}]), "custom_data.contents[0]"
     ".quantity", "≥ 0"),
    (_with("surprise", 1), "surprise", "not an accepted field"),
    ([event()], "body", "JSON object"),
    ("just a string", "body", "JSON object"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field", "rule"), BAD_BODIES)
def test_bad_fields_are_422_naming_field_and_rule(
    edge: Edge, body: Any, field: str, rule: str
) -> None:
    response = edge.post(body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert rule in error["rule"]
    assert error["message"].startswith(field)
    assert counts(edge.db) == {"events": 0, "people": 0, "queued": 0}


def test_malformed_json_is_400_with_line_and_column(edge: Edge) -> None:
    response = edge.post_raw(b'{\n  "event_name": "Lead",\n  "event_time": 12,,\n}')
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "body"
    assert "line 3, column" in error["message"]
    for raw in (b"", b"\xff\xfe", b'"\\ud800"', b"[" * 2000):
        assert edge.post_raw(raw).status_code == 400
    assert counts(edge.db)["events"] == 0


def test_wrong_content_type_is_415(edge: Edge) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "application/json; charset=latin-1"):  # fmt: skip
        response = edge.post_raw(b"{}", content_type)
        assert response.status_code == 415
        assert response.json()["error"]["field"] == "Content-Type"
    response = edge.client.post(EVENT_PATH, content=b"{}", headers=edge.auth)
    assert response.status_code == 415
    assert edge.post_raw(b"{}", "application/json; charset=UTF-8").status_code == 422


def test_body_over_one_megabyte_is_413(edge: Edge) -> None:
    big = event(custom_data={"value": 1, "currency": "USD", "blob": "x" * (1024 * 1024)})
    response = edge.post(big)
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "body"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed size is checked
        yield b'{"event_name": "Lead", "pad": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}'

    response = edge.client.post(
        EVENT_PATH, content=chunks(), headers={**edge.auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert counts(edge.db)["events"] == 0


def test_invalid_values_are_dropped_not_fatal(edge: Edge) -> None:
    user = {"email": "not-an-email", "phone": "12", "client_ip_address": "999.1.1.1",
            "fbp": "garbage", "em": "c" * 64}  # fmt: skip
    assert edge.post(event(user_data=user)).status_code == 200
    row = edge.db.execute(
        "SELECT person_id, client_ip_address, fbp, meta_user_data FROM shared.event"
    ).fetchone()
    assert row == {"person_id": None, "client_ip_address": None, "fbp": None,
                   "meta_user_data": {"em": "c" * 64}}  # fmt: skip
    assert counts(edge.db)["people"] == 0

    user = {"email": "ok@example.com", "phone": "+1 999 000", "country": "ZZ"}
    assert edge.post(event(event_id="evt-2", user_data=user)).status_code == 200
    person = edge.db.execute("SELECT email, phone, country FROM shared.person").fetchone()
    assert person == {"email": "ok@example.com", "phone": None, "country": None}


def test_meta_user_data_holds_only_hashes_and_ids(edge: Edge) -> None:
    prehashed = "a" * 64
    user = {**event()["user_data"], "ph": prehashed, "external_id": "user-42",
            "lead_id": 1234567890, "country": "us", "gender": "Female",
            "date_of_birth": "1990-02-03", "zip": "94107-1234"}  # fmt: skip
    assert edge.post(event(user_data=user)).status_code == 200
    row = edge.db.execute("SELECT meta_user_data FROM shared.event").fetchone()
    assert row is not None
    data = row["meta_user_data"]
    assert set(data) == {"em", "ph", "fn", "ln", "ge", "db", "zp", "country", "external_id",
                         "lead_id"}  # fmt: skip
    assert data["lead_id"] == "1234567890"
    for key in ("em", "fn", "ln", "ge", "db", "zp", "country", "external_id"):
        assert isinstance(data[key], str) and HEX64.fullmatch(data[key]), key
    assert isinstance(data["ph"], list) and prehashed in data["ph"]
    assert all(HEX64.fullmatch(v) for v in data["ph"])
    person = edge.db.execute("SELECT country, gender, date_of_birth::text FROM shared.person")
    assert person.fetchone() == {"country": "US", "gender": "f", "date_of_birth": "1990-02-03"}


def test_raw_pii_stays_in_shared_person(edge: Edge, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    edge.post(event())
    edge.post({"data": [event(event_id="b1"), event(event_id="b2", event_name="Bad name")]})
    edge.post(event(event_id="evt-9", custom_data={"value": 1}))  # refused: no currency
    dumps = edge.db.execute(
        "SELECT (SELECT string_agg(e::text, ' ') FROM shared.event AS e) AS events,"
        " (SELECT string_agg(q::text, ' ') FROM pgmq.q_meta_capi AS q) AS queue"
    ).fetchone()
    assert dumps is not None
    logged = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    for text in (dumps["events"], dumps["queue"], logged):
        lowered = text.lower()
        for pii in RAW_PII:
            assert pii.lower() not in lowered, pii
    assert any(r.name == "gdp.edge" for r in caplog.records)
    person = edge.db.execute("SELECT email, first_name FROM shared.person").fetchone()
    assert person == {"email": "jane.roe@example.com", "first_name": "Jane"}


def _record_outcome_once_stored(db_url: str, event_id: str) -> threading.Thread:
    """Play the worker: record Meta's answer for the event as soon as the request stored it."""
    import psycopg

    def record() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            wait_until(
                lambda: conn.execute(
                    "SELECT 1 FROM shared.event WHERE event_id = %s", (event_id,)
                ).fetchone(),
                f"the request to store {event_id}",
            )
            conn.execute(
                "INSERT INTO shared.attribution_events (event_ref, product_id, event_id,"
                " meta_event_name, status, attempt, batch_size, events_received,"
                " meta_fbtrace_id)"
                " SELECT id, product_id, event_id, meta_event_name, 'sent', 1, 1, 1, 'AbC123'"
                " FROM shared.event WHERE event_id = %s",
                (event_id,),
            )

    thread = threading.Thread(target=record)
    thread.start()
    return thread


def test_wait_returns_meta_response_once_delivered(edge: Edge, db_url: str) -> None:
    thread = _record_outcome_once_stored(db_url, "evt-0001")
    started = time.monotonic()
    response = edge.client.post(EVENT_PATH, params={"wait": 5}, json=event(), headers=edge.auth)
    elapsed = time.monotonic() - started
    thread.join()
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "sent"
    assert body["meta_response"] == {"events_received": 1, "fbtrace_id": "AbC123"}
    assert elapsed < 5  # answered when the outcome landed, not when the wait ran out

    batch = {"data": [event(), event(event_id="evt-new")]}
    response = edge.client.post(EVENT_PATH, params={"wait": 0.3}, json=batch, headers=edge.auth)
    results = response.json()["results"]
    assert results[0]["status"] == "sent" and results[0]["duplicate"] is True
    assert results[0]["meta_response"]["fbtrace_id"] == "AbC123"
    assert results[1]["status"] == "queued" and results[1]["meta_response"] is None


def test_wait_gives_up_after_n_seconds(edge: Edge) -> None:
    started = time.monotonic()
    response = edge.client.post(EVENT_PATH, params={"wait": 0.3}, json=event(), headers=edge.auth)
    assert time.monotonic() - started >= 0.3  # waited the time asked for (the bound load keeps)
    assert response.json()["status"] == "queued"
    assert response.json()["meta_response"] is None


@pytest.mark.parametrize("wait", ["6", "-1", "soon"])
def test_wait_out_of_range_is_422(edge: Edge, wait: str) -> None:
    response = edge.client.post(EVENT_PATH, params={"wait": wait}, json=event(), headers=edge.auth)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "wait"
    assert counts(edge.db)["events"] == 0


def test_get_status(edge: Edge, db_url: str) -> None:
    edge.post(event())
    response = edge.client.get(f"{EVENT_PATH}/evt-0001", headers=edge.auth)
    assert response.status_code == 200
    body = response.json()
    assert (body["event_id"], body["status"], body["meta_event_name"]) == (
        "evt-0001", "queued", "Purchase",
    )  # fmt: skip
    _record_outcome_once_stored(db_url, "evt-0001").join()
    body = edge.client.get(f"{EVENT_PATH}/evt-0001", headers=edge.auth).json()
    assert body["status"] == "sent"
    assert body["meta_response"] == {"events_received": 1, "fbtrace_id": "AbC123"}

    assert edge.client.get(f"{EVENT_PATH}/nope", headers=edge.auth).status_code == 404
    assert edge.client.get(f"{EVENT_PATH}/evt-0001").status_code == 401
    other = {"Authorization": f"Bearer {create_key(edge.db, 'gapradar')}"}
    response = edge.client.get(f"{EVENT_PATH}/evt-0001", headers=other)
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "event_id"
    assert edge.client.get(f"{EVENT_PATH}/a%00b", headers=edge.auth).status_code == 422
