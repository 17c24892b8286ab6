"""The SQL path applies the HTTP path's limits (issue 12 §4), with errors naming the field.

The SQL path accepted a 1 MB `content_name` and sent it to Meta, and clamped a future
`occurred_at` to now, where the HTTP path refuses both. The limits are defined once, in SQL
(shared.event_limit); the HTTP layer's numbers are checked against them here.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from edge_compat import models, validation
from tests.capi_helpers import add_person

Conn = psycopg.Connection[dict[str, Any]]

INSERT = (
    "INSERT INTO shared.event (product_id, event_id, event_name, occurred_at, properties,"
    " event_source_url, client_user_agent)"
    " VALUES ('snapmix', %s, 'Purchase', coalesce(%s::timestamptz, now()), %s::jsonb, %s, %s)"
)


def limit(db: Conn, name: str) -> int:
    row = db.execute("SELECT shared.event_limit(%s) AS n", (name,)).fetchone()
    assert row is not None and row["n"] is not None, name
    return int(row["n"])


def test_http_limits_are_the_sql_ones(db: Conn) -> None:
    assert limit(db, "event_id_length") == 200 == models.EventId.__metadata__[0].max_length
    assert limit(db, "url_length") == models.MAX_TEXT
    assert limit(db, "meta_text_length") == 1000
    assert models.ShortText.__metadata__[0].max_length == 1000  # content_name and the like
    assert limit(db, "property_text_length") == validation.MAX_PROPERTY_TEXT_LENGTH
    assert limit(db, "property_depth") == validation.MAX_PROPERTY_DEPTH
    assert limit(db, "future_seconds") == models.FUTURE_TOLERANCE_S


def refused(db: Conn, *args: Any) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught, db.transaction():
        db.execute(INSERT, args)
    assert caught.value.sqlstate == "GD400", caught.value
    return caught.value


def field(error: psycopg.Error) -> str:
    return error.diag.column_name or ""


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"content_name": "x" * 1_048_576}, "properties.content_name"),
        ({"content_name": "x" * 1001}, "properties.content_name"),
        ({"order_id": "é" * 1001}, "properties.order_id"),
        ({"notes": "x" * 8193}, "properties.notes"),
        ({"contents": [{"id": "y" * 8193}]}, "properties.contents[0].id"),
        ({"a": [[[[[[[[{"deep": 1}]]]]]]]]}, "properties"),
    ],
    ids=["1MB content_name", "1001 chars", "order_id multibyte", "other text", "nested", "depth"],
)
def test_properties_over_the_limits_are_refused_by_field(
    db: Conn, properties: dict[str, Any], expected: str
) -> None:
    error = refused(db, "e1", None, json.dumps(properties), None, None)
    assert field(error) == expected
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}


def test_properties_at_the_limits_are_stored(db: Conn) -> None:
    properties = {"content_name": "x" * 1000, "notes": "y" * 8192,
                  "a": [[[[[[{"depth": 8}]]]]]]}  # fmt: skip
    db.execute(INSERT, ("e1", None, json.dumps(properties), None, None))
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 1}


def test_future_occurred_at_is_refused_not_clamped(db: Conn) -> None:
    row = db.execute("SELECT (now() + interval '2 minutes')::text AS t").fetchone()
    assert row is not None
    error = refused(db, "e1", row["t"], "{}", None, None)
    assert field(error) == "occurred_at"
    assert "60 s in the future" in str(error)
    near = db.execute("SELECT (now() + interval '30 seconds')::text AS t").fetchone()
    assert near is not None
    db.execute(INSERT, ("e2", near["t"], "{}", None, None))  # clock skew within the tolerance


@pytest.mark.parametrize(
    ("event_id", "url", "agent", "expected"),
    [
        ("bad\x01id", None, None, "event_id"),
        ("e1", "https://x.io/" + "a" * 2048, None, "event_source_url"),
        ("e1", "javascript:alert(1)", None, "event_source_url"),
        ("e1", "https://x.io/a b", None, "event_source_url"),
        ("e1", None, "Mozilla\x1b", "client_user_agent"),
    ],
)
def test_ids_urls_and_agents_follow_the_http_rules(
    db: Conn, event_id: str, url: str | None, agent: str | None, expected: str
) -> None:
    assert field(refused(db, event_id, None, "{}", url, agent)) == expected


def test_ingest_events_applies_the_same_limits(db: Conn) -> None:
    person = add_person(db, "limits@example.com")
    events = [{"event_id": "big", "event_name": "Purchase", "person_id": person,
               "properties": {"content_name": "x" * 1_048_576}}]  # fmt: skip
    with pytest.raises(psycopg.Error) as caught, db.transaction():
        db.execute(
            "SELECT * FROM shared.ingest_events('snapmix', %s::jsonb)", (json.dumps(events),)
        )
    assert caught.value.sqlstate == "GD400"
    assert caught.value.diag.column_name == "properties.content_name"
    future = [{"event_id": "f", "event_name": "Purchase", "occurred_at": "2099-01-01T00:00:00Z"}]
    with pytest.raises(psycopg.Error) as caught, db.transaction():
        db.execute(
            "SELECT * FROM shared.ingest_events('snapmix', %s::jsonb)", (json.dumps(future),)
        )
    assert caught.value.diag.column_name == "occurred_at"
