"""GAP-006 over HTTP: POST /functions/v1/track-conversion and its two flags."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.edge_support import (
    FORWARD,
    INGEST,
    TRACK_PATH,
    Conn,
    Edge,
    counts,
    create_key,
    running_edge,
    set_flags,
)


@pytest.fixture
def edge(db_url: str, db: Conn) -> Iterator[Edge]:
    with running_edge(db_url, db, INGEST) as running:
        yield running


@pytest.fixture
def person_id(db: Conn) -> str:
    row = db.execute(
        'SELECT person_id FROM shared.upsert_people(\'[{"email": "sam@example.com"}]\')'
    ).fetchone()
    assert row is not None
    return str(row["person_id"])


def conversion(person: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_name": "SubscriptionPurchased",
        "person_id": person,
        "product": "snapmix",
        "value": 9.99,
        "currency": "usd",
        "metadata": {"plan": "pro", "interval": "month"},
        "event_id": "conv-1",
    }
    body.update(overrides)
    return body


def track(edge: Edge, body: Any, **headers: str) -> Any:
    return edge.post(body, TRACK_PATH, headers=headers)


def test_tracking_off_answers_disabled_and_stores_nothing(edge: Edge, person_id: str) -> None:
    response = track(edge, conversion(person_id))
    assert response.status_code == 200
    assert response.json() == {"disabled": True}
    assert counts(edge.db)["events"] == 0


def test_forward_off_stores_without_queueing(edge: Edge, person_id: str) -> None:
    set_flags(edge.db, "CONVERSION_TRACKING_ENABLED")
    response = track(edge, conversion(person_id))
    assert response.status_code == 200
    assert response.json() == {
        "success": True, "event_id": "conv-1", "forwarded": False, "status": "accepted",
    }  # fmt: skip
    row = edge.db.execute("SELECT * FROM shared.event").fetchone()
    assert row is not None
    assert (row["product_id"], row["event_name"], row["source"]) == (
        "snapmix", "SubscriptionPurchased", "server",
    )  # fmt: skip
    assert str(row["person_id"]) == person_id
    assert row["meta_event_name"] is None
    assert row["properties"] == {"plan": "pro", "interval": "month", "value": 9.99,
                                 "currency": "USD"}  # fmt: skip
    assert counts(edge.db)["queued"] == 0


def test_forward_on_queues_for_meta(edge: Edge, person_id: str) -> None:
    set_flags(edge.db, "CONVERSION_TRACKING_ENABLED", FORWARD)
    body = track(edge, conversion(person_id)).json()
    assert body["forwarded"] is True and body["status"] == "accepted"
    row = edge.db.execute("SELECT id, meta_event_name FROM shared.event").fetchone()
    assert row is not None and row["meta_event_name"] == "SubscriptionPurchased"
    message = edge.db.execute("SELECT message FROM pgmq.q_meta_capi").fetchone()
    assert message is not None and message["message"]["event"] == row["id"]

    again = track(edge, conversion(person_id)).json()
    assert again["event_id"] == "conv-1" and again["status"] == "duplicate"
    assert counts(edge.db)["events"] == 1 and counts(edge.db)["queued"] == 1


def test_forwarded_events_follow_the_conversion_rules_when_they_are_on(
    edge: Edge, person_id: str
) -> None:
    set_flags(edge.db, "CONVERSION_TRACKING_ENABLED", FORWARD, "SEGMENT_ENGINE_META_CAPI_ENABLED")
    assert track(edge, conversion(person_id)).json()["forwarded"] is True
    # The rules table maps SubscriptionPurchased to Purchase; an event no rule covers is sent
    # under its own name (a custom event).
    assert track(edge, conversion(person_id, event_id="c-2", event_name="TeamInvite")).status_code
    rows = edge.db.execute(
        "SELECT e.event_name, e.meta_event_name, q.message ->> 'meta_event_name' AS queued_as "
        "FROM shared.event AS e "
        "JOIN pgmq.q_meta_capi AS q ON (q.message ->> 'event')::bigint = e.id ORDER BY e.id"
    ).fetchall()
    assert rows == [
        {"event_name": "SubscriptionPurchased", "meta_event_name": None, "queued_as": "Purchase"},
        {"event_name": "TeamInvite", "meta_event_name": "TeamInvite", "queued_as": "TeamInvite"},
    ]


def test_event_id_from_idempotency_key_or_random(edge: Edge, person_id: str) -> None:
    set_flags(edge.db, "CONVERSION_TRACKING_ENABLED")
    body = conversion(person_id)
    del body["event_id"]
    first = track(edge, body, **{"Idempotency-Key": "order-77"}).json()
    second = track(edge, body, **{"Idempotency-Key": "order-77"}).json()
    assert first["event_id"] == second["event_id"]
    assert second["status"] == "duplicate"
    assert uuid.UUID(first["event_id"]).version == 5
    random_ids = {track(edge, body).json()["event_id"] for _ in range(2)}
    assert len(random_ids) == 2
    assert counts(edge.db)["events"] == 3
    response = track(edge, body, **{"Idempotency-Key": "bad\tkey"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"person_id": "00000000-0000-4000-8000-000000000000"}, 422, "person_id"),
        ({"person_id": "sam"}, 422, "person_id"),
        ({"product": "softwarehub"}, 403, "product"),
        ({"event_name": "Subscription Purchased"}, 422, "event_name"),
        ({"value": "9.99"}, 422, "value"),
        ({"currency": None}, 422, "currency"),
        ({"currency": "XYZ"}, 422, "currency"),
        ({"metadata": {"email": "sam@example.com"}}, 422, "metadata.email"),
        ({"metadata": {"value": 3}}, 422, "metadata.value"),
        ({"metadata": []}, 422, "metadata"),
        ({"extra": True}, 422, "extra"),
    ],
)
def test_bad_conversions_name_the_field(
    edge: Edge, person_id: str, overrides: dict[str, Any], status: int, field: str
) -> None:
    set_flags(edge.db, "CONVERSION_TRACKING_ENABLED", FORWARD)
    response = track(edge, conversion(person_id, **overrides))
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == field
    assert counts(edge.db)["events"] == 0


def test_auth_is_required(edge: Edge, person_id: str) -> None:
    set_flags(edge.db, "CONVERSION_TRACKING_ENABLED")
    response = edge.client.post(TRACK_PATH, json=conversion(person_id))
    assert response.status_code == 401
    other = create_key(edge.db, "gapradar")
    response = edge.client.post(
        TRACK_PATH, json=conversion(person_id), headers={"Authorization": f"Bearer {other}"}
    )
    assert response.status_code == 403
