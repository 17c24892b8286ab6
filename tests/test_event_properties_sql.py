"""`properties` on the SQL path follows the HTTP path's personal-data rule.

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


def batch_refused(db: Conn, batch: list[dict[str, Any]]) -> bool:
    """One multi-row INSERT, as a product's bulk insert: refused exactly when the rule finds a
    problem in one of its rows (the joined-text test and the per-row test only skip work)."""
    texts = [json.dumps(p) for p in batch]
    row = db.execute(
        "SELECT bool_or(shared._properties_pii_problem(p::jsonb) IS NOT NULL) AS bad "
        "FROM unnest(%s::text[]) AS p",
        (texts,),
    ).fetchone()
    assert row is not None
    refused = False
    try:
        with db.transaction(force_rollback=True):
            db.execute(
                "INSERT INTO shared.event (product_id, event_id, event_name, properties) "
                "SELECT 'snapmix', 'batch-' || i, 'Signup', p::jsonb "
                "FROM unnest(%s::text[]) WITH ORDINALITY AS r(p, i)",
                (texts,),
            )
    except psycopg.Error as exc:
        assert isinstance(from_db_error(exc), InvalidInput), exc
        refused = True
    assert refused == bool(row["bad"]), batch
    return refused


def sql_refuses(db: Conn, properties: dict[str, Any]) -> bool:
    """The rule itself, and the insert path (its cheap pre-tests, then the rule) agree."""
    return batch_refused(db, [properties])


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


def test_only_ascii_capitals_and_two_others_lower_to_ascii_letters(db: Conn) -> None:
    """The insert path's pattern compares keys without ASCII case and lets 'i' stand for U+0130
    too; that is the rule's lower() only if no other character lowers to an ASCII letter."""
    row = db.execute(
        "SELECT array_agg(c ORDER BY c) AS chars FROM generate_series(128, 1114111) AS c "
        "WHERE c NOT BETWEEN 55296 AND 57343 AND lower(chr(c)) ~ '[a-z]'"
    ).fetchone()
    assert row is not None
    # U+0130 (İ) lowers to 'i', U+212A (Kelvin sign) to 'k', a letter no personal-data key has.
    assert row["chars"] == [0x130, 0x212A]
    keys = db.execute("SELECT shared._pii_property_keys() AS keys").fetchone()
    assert keys is not None and not any("k" in key for key in keys["keys"])


EDGES: list[dict[str, Any]] = [
    {"MAİL": "x"},
    {"naMe": 1},
    {"E M A I L": 1},
    {"a": [{"b": [{"e.M-a_İ l": 1}]}]},
    {"items": [[["ph"]]], "x": ["em", "fn"]},
    {"ﬁrstname": 1},
    {"straße": "x", "K": 1, "fn\u00ad": 2},
    {"città": "ü@é.de"},
    {"handle": "@snapmix"},
    {'"email"': 1},
    {"x": '"email": 1'},
    {"path": "C:\\temp"},
    {"tel": None},
    {"TEL": [1, 2]},
    {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"Birth-Day": "x"}}}}}}}},
    {"landing": "https://example.com/?next=%2Fhome", "ref": "100%4"},
    {"usernames": ["ann"], "named": True, "em2": 1, "phx": 2},
]


@pytest.mark.parametrize("properties", EDGES, ids=[json.dumps(s)[:40] for s in EDGES])
def test_the_insert_path_refuses_what_the_rule_refuses(
    db: Conn, properties: dict[str, Any]
) -> None:
    sql_refuses(db, properties)
    batch_refused(db, [{"plan": "pro"}] * 5 + [properties] + [{"value": 1}] * 5)


def test_one_bad_row_in_a_large_clean_batch_is_found(db: Conn) -> None:
    clean = [{"plan": "pro", "page": f"https://example.com/?ref={i}", "items": [{"sku": i}]}
             for i in range(500)]  # fmt: skip
    assert not batch_refused(db, clean)
    assert batch_refused(db, [*clean[:250], {"items": [{"Phone": "1"}]}, *clean[250:]])
    assert not batch_refused(db, [*clean, {"handle": "@snapmix"}])


EDGE_KEYS = st.one_of(
    st.sampled_from(["MAİL", "Em", "f n", "ph.", "e\tm", "İp address", "plan", "Kelvin"]),
    st.text(alphabet="aeilmnpthİK_-. \t\"\\@", min_size=1, max_size=6),
)
EDGE_VALUES = st.recursive(
    st.one_of(
        st.none(), st.integers(-5, 5),
        st.sampled_from(["x", "a@b.co", "a%40b.co", "@x", 'q"uote', "ph", "é"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(EDGE_KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(st.dictionaries(EDGE_KEYS, EDGE_VALUES, max_size=4), min_size=1, max_size=4))
def test_the_insert_path_refuses_what_the_rule_refuses_generated(
    db: Conn, batch: list[dict[str, Any]]
) -> None:
    batch_refused(db, batch)
