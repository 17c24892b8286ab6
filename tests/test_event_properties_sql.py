"""Issue 11, finding 6: `properties` on the SQL path follows the HTTP path's personal-data rule.

The HTTP endpoints refuse personal data in properties (edge_compat.validation.check_properties);
every INSERT into shared.event now does too (shared._properties_pii_problem, from a statement
trigger), so a product writing through the Supabase client cannot put raw PII where the HTTP
path would not. The parity test feeds both rules the same properties.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_compat import validation
from edge_compat.errors import FieldError
from workers.errors import InvalidInput, from_db_error

Conn = psycopg.Connection[dict[str, Any]]

SAMPLES: list[dict[str, Any]] = [
    {"plan": "pro", "value": 12.5, "currency": "USD"},
    {"email": "someone@example.com"},
    {"Email-Address": "x"},
    {"items": [{"sku": "a1", "first_name": "Ann"}]},
    {"nested": {"deeper": {"Phone Number": "+14155550100"}}},
    {"ref": "someone@example.com"},
    {"landing": "https://example.com/?email=ann%40example.com"},
    {"tags": ["a", "b", "mailto:ann@example.org"]},
    {"note": "write to us at support at example dot com"},
    {"e\tmail": "x"},
    {"quote": 'say "email": hi', "plan_name": "Pro"},
    {"S.S.N": "x"},
    {"planname": "Pro", "named": True, "username_hash": "ab12"},
    {"dob": "1990-01-01"},
    {"client_ip_address": "203.0.113.7"},
    {"count": 3, "ok": None, "list": [1, 2, {"k": "v"}]},
]


def http_refuses(properties: dict[str, Any]) -> bool:
    try:
        validation.check_properties(properties, "properties", pii_hint="user_data")
    except FieldError:
        return True
    return False


def sql_refuses(db: Conn, properties: dict[str, Any]) -> bool:
    """The rule itself, and the insert path (its cheap pre-test, then the rule) agree."""
    row = db.execute(
        "SELECT shared._properties_pii_problem(%s::jsonb) AS problem", (json.dumps(properties),)
    ).fetchone()
    assert row is not None
    refused = False
    try:
        with db.transaction(force_rollback=True):
            db.execute(
                "INSERT INTO shared.event (product_id, event_id, event_name, properties) "
                "VALUES ('snapmix', 'parity', 'Signup', %s::jsonb)",
                (json.dumps(properties),),
            )
    except psycopg.errors.RaiseException:
        refused = True
    except psycopg.Error as exc:
        refused = isinstance(from_db_error(exc), InvalidInput)
    assert refused == (row["problem"] is not None), properties
    return refused


def test_the_sql_key_list_is_the_http_list(db: Conn) -> None:
    row = db.execute("SELECT shared._pii_property_keys() AS keys").fetchone()
    assert row is not None
    assert set(row["keys"]) == set(validation._PII_KEYS)


@pytest.mark.parametrize("properties", SAMPLES, ids=[json.dumps(s)[:40] for s in SAMPLES])
def test_sql_and_http_agree(db: Conn, properties: dict[str, Any]) -> None:
    assert sql_refuses(db, properties) == http_refuses(properties)


KEYS = st.one_of(
    st.sampled_from(
        [
            "plan",
            "sku",
            "value",
            "E-mail",
            "first name",
            "Phone",
            "tel",
            "notes",
            "P_H",
            "e\tmail",
            "x.em",
            "Full Name",
            "plan_name",
            "D.O.B",
        ]
    ),
    st.text(alphabet="abcdefgh_-. ", min_size=1, max_size=8),
)
VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-1000, 1000),
        st.sampled_from(["x", "ann@example.com", "a@b", "at example.org", "pro"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(properties=st.dictionaries(KEYS, VALUES, max_size=4))
def test_sql_and_http_agree_on_generated_properties(db: Conn, properties: dict[str, Any]) -> None:
    assert sql_refuses(db, properties) == http_refuses(properties), properties


def test_an_insert_with_pii_in_properties_is_refused_whole(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as info:
        db.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name, properties) VALUES "
            "('snapmix', 'ok-1', 'Signup', '{\"plan\": \"pro\"}'), "
            "('snapmix', 'bad-1', 'Signup', '{\"customer\": {\"Last_Name\": \"Doe\"}}')"
        )
    error = from_db_error(info.value)
    assert isinstance(error, InvalidInput)
    assert error.message.startswith("properties: key Last_Name names personal data")
    assert error.message.endswith("(event bad-1)") and "Doe" not in error.message
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, properties) "
        "VALUES ('snapmix', 'ok-2', 'Signup', '{\"plan\": \"pro\", \"value\": 9}')"
    )
