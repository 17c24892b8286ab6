"""The person SQL API: upsert semantics, identities, consent, erasure, and refusals."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg
import pytest

from workers.errors import Conflict, InvalidInput, NotFound, from_db_error

Conn = psycopg.Connection[dict[str, Any]]


def upsert(db: Conn, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT * FROM shared.upsert_people(%s::jsonb)", (json.dumps(people),)
    ).fetchall()


def person(db: Conn, email: str) -> dict[str, Any]:
    row = db.execute("SELECT * FROM shared.person WHERE email = %s", (email,)).fetchone()
    assert row is not None
    return row


def counts(db: Conn) -> tuple[int, int]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM shared.person) AS p, "
        "(SELECT count(*) FROM shared.identity_link) AS l"
    ).fetchone()
    assert row is not None
    return row["p"], row["l"]


def refused(db: Conn, people: list[dict[str, Any]]) -> Exception:
    with pytest.raises(psycopg.Error) as info:
        upsert(db, people)
    return from_db_error(info.value)


def test_case_and_whitespace_variants_are_one_person(db: Conn) -> None:
    rows = upsert(db, [{"email": " Maya@Example.COM "}, {"email": "maya@example.com"}])
    assert rows[0]["person_id"] == rows[1]["person_id"]
    again = upsert(db, [{"email": "MAYA@example.com\t"}])
    assert again[0]["person_id"] == rows[0]["person_id"]
    assert again[0]["created"] is False
    assert counts(db) == (1, 0)
    assert person(db, "maya@example.com")["email"] == "maya@example.com"


def test_first_touch_is_kept_and_later_values_fill_blanks(db: Conn) -> None:
    upsert(
        db,
        [
            {
                "email": "a@example.com",
                "utm_source": "meta",
                "utm_campaign": "c1",
                "meta_fbc": "fb.1.1700000000000.first",
                "source_product": "waitlistlab",
                "first_name": "Ann",
            }
        ],
    )
    upsert(
        db,
        [
            {
                "email": "A@example.com",
                "utm_source": "google",
                "utm_medium": "cpc",
                "meta_fbc": "fb.1.1700000000999.second",
                "source_product": "snapmix",
                "first_name": "Annabel",
                "last_name": "Lee",
                "phone": "+44 20 7946 0958",
            }
        ],
    )
    p = person(db, "a@example.com")
    assert (p["utm_source"], p["utm_campaign"], p["meta_fbc"], p["source_product"]) == (
        "meta",
        "c1",
        "fb.1.1700000000000.first",
        "waitlistlab",
    )
    assert p["utm_medium"] == "cpc"  # was empty: filled
    assert (p["first_name"], p["last_name"], p["phone"]) == ("Ann", "Lee", "+442079460958")


def test_direct_update_cannot_overwrite_first_touch(db: Conn) -> None:
    upsert(db, [{"email": "b@example.com", "utm_source": "meta"}])
    db.execute(
        "UPDATE shared.person SET utm_source = 'tiktok', utm_term = 'x' "
        "WHERE email = 'b@example.com'"
    )
    p = person(db, "b@example.com")
    assert (p["utm_source"], p["utm_term"]) == ("meta", "x")
    with db.transaction():
        db.execute("SET LOCAL gdp.allow_attribution_rewrite = on")
        db.execute(
            "UPDATE shared.person SET utm_source = 'corrected' WHERE email = 'b@example.com'"
        )
    assert person(db, "b@example.com")["utm_source"] == "corrected"


def test_updated_at_moves_only_on_a_real_change(db: Conn) -> None:
    upsert(db, [{"email": "c@example.com", "first_name": "C"}])
    db.execute("UPDATE shared.person SET updated_at = '2020-01-01' WHERE email = 'c@example.com'")
    upsert(db, [{"email": "c@example.com", "first_name": "Other"}])  # nothing to fill
    assert person(db, "c@example.com")["updated_at"].year == 2020
    upsert(db, [{"email": "c@example.com", "last_name": "New"}])
    assert person(db, "c@example.com")["updated_at"].year > 2020


def test_lifecycle_only_advances_through_upsert(db: Conn) -> None:
    upsert(db, [{"email": "d@example.com", "lifecycle_stage": "customer"}])
    upsert(db, [{"email": "d@example.com", "lifecycle_stage": "lead"}])
    assert person(db, "d@example.com")["lifecycle_stage"] == "customer"
    pid = person(db, "d@example.com")["id"]
    db.execute("SELECT shared.set_lifecycle_stage(%s, 'churned')", (pid,))
    assert person(db, "d@example.com")["lifecycle_stage"] == "churned"


def test_identities_are_linked_in_the_same_call(db: Conn) -> None:
    rows = upsert(
        db,
        [
            {
                "email": "e@example.com",
                "identities": [
                    {"provider": "stripe", "external_id": "cus_1"},
                    {
                        "provider": "supabase_auth",
                        "external_id": "u-1",
                        "metadata": {"product": "snapmix"},
                    },
                ],
            }
        ],
    )
    links = db.execute(
        "SELECT provider, external_id, metadata FROM shared.identity_link "
        "WHERE person_id = %s ORDER BY provider",
        (rows[0]["person_id"],),
    ).fetchall()
    assert [(r["provider"], r["external_id"]) for r in links] == [
        ("stripe", "cus_1"),
        ("supabase_auth", "u-1"),
    ]
    assert links[1]["metadata"] == {"product": "snapmix"}
    upsert(
        db,
        [
            {
                "email": "E@example.com",
                "identities": [{"provider": "stripe", "external_id": "cus_1"}],
            }
        ],
    )
    assert counts(db) == (1, 2)


def test_identity_of_another_person_is_refused_and_nothing_written(db: Conn) -> None:
    upsert(
        db,
        [
            {
                "email": "owner@example.com",
                "identities": [{"provider": "stripe", "external_id": "cus_9"}],
            }
        ],
    )
    before = counts(db)
    error = refused(
        db,
        [
            {"email": "new@example.com", "first_name": "N"},
            {
                "email": "thief@example.com",
                "identities": [{"provider": "stripe", "external_id": "cus_9"}],
            },
        ],
    )
    assert isinstance(error, Conflict)
    assert "stripe identity is already linked to another person" in error.message
    assert "(entry 2)" in error.message
    assert counts(db) == before


@pytest.mark.parametrize(
    ("people", "field", "rule"),
    [
        ([{"email": "not-an-email"}], "email", "is not a valid email address"),
        ([{"email": ""}], "email", "is required"),
        ([{"first_name": "x"}], "email", "is required"),
        (
            [{"email": "ok@example.com", "lifecycle_stage": "vip"}],
            "lifecycle_stage",
            "must be one of",
        ),
        ([{"email": "ok@example.com", "phone": "650 555 1212"}], "phone", "must be E.164"),
        ([{"email": "ok@example.com", "country": "USA"}], "country", "alpha-2"),
        ([{"email": "ok@example.com", "gender": "x"}], "gender", "must be f or m"),
        (
            [{"email": "ok@example.com", "date_of_birth": "1997-02-30"}],
            "date_of_birth",
            "YYYY-MM-DD",
        ),
        (
            [{"email": "ok@example.com", "source_product": "nope"}],
            "source_product",
            "not a known product",
        ),
        ([{"email": "ok@example.com", "nickname": "x"}], "nickname", "is not a person field"),
        ([{"email": "ok@example.com", "first_name": 5}], "first_name", "must be a string"),
        ([{"email": "ok@example.com", "properties": []}], "properties", "JSON object"),
        (
            [
                {
                    "email": "ok@example.com",
                    "identities": [{"provider": "Stripe!", "external_id": "1"}],
                }
            ],
            "identities",
            "provider",
        ),
        (["just a string"], "person", "JSON object"),
    ],
)
def test_bad_input_is_a_clear_error_with_nothing_written(
    db: Conn, people: list[Any], field: str, rule: str
) -> None:
    error = refused(db, [{"email": "first@example.com"}, *people])
    assert isinstance(error, InvalidInput)
    assert error.field == field
    assert error.message.startswith(f"{field}: ")
    assert rule in error.message
    assert "(entry 2)" in error.message
    assert counts(db) == (0, 0)


def test_error_messages_never_echo_raw_pii(db: Conn) -> None:
    error = refused(db, [{"email": "secret.person@", "phone": "+1"}])
    assert "secret.person" not in error.message


def test_upsert_person_named_arguments(db: Conn) -> None:
    row = db.execute(
        "SELECT shared.upsert_person(p_email => 'f@example.com', "
        "p_source_product => 'snapmix', p_identities => %s::jsonb) AS id",
        (json.dumps([{"provider": "posthog", "external_id": "ph1"}]),),
    ).fetchone()
    assert row is not None
    assert person(db, "f@example.com")["id"] == row["id"]


def test_link_identity(db: Conn) -> None:
    a = upsert(db, [{"email": "g1@example.com"}])[0]["person_id"]
    b = upsert(db, [{"email": "g2@example.com"}])[0]["person_id"]
    link = db.execute("SELECT shared.link_identity(%s, 'stripe', 'cus_g') AS id", (a,)).fetchone()
    again = db.execute("SELECT shared.link_identity(%s, 'stripe', 'cus_g') AS id", (a,)).fetchone()
    assert link == again
    with pytest.raises(psycopg.Error) as info:
        db.execute("SELECT shared.link_identity(%s, 'stripe', 'cus_g')", (b,))
    error = from_db_error(info.value)
    assert isinstance(error, Conflict) and "already linked to another person" in error.message
    owner = db.execute(
        "SELECT person_id FROM shared.identity_link WHERE external_id = 'cus_g'"
    ).fetchone()
    assert owner == {"person_id": a}
    with pytest.raises(psycopg.Error) as info:
        db.execute("SELECT shared.link_identity(gen_random_uuid(), 'stripe', 'cus_h')")
    assert isinstance(from_db_error(info.value), NotFound)


def test_consent_follows_the_newest_signal(db: Conn) -> None:
    pid = upsert(db, [{"email": "h@example.com"}])[0]["person_id"]
    assert person(db, "h@example.com")["consent_status"] == "unknown"
    db.execute("SELECT shared.record_consent(%s, 'granted', 'cookie_banner', '2026-11-01')", (pid,))
    db.execute(
        "SELECT shared.record_consent(%s, 'withdrawn', 'account_settings', '2026-11-10')", (pid,)
    )
    late = db.execute(
        "SELECT shared.record_consent(%s, 'granted', 'replayed_banner', '2026-11-05') AS s", (pid,)
    ).fetchone()
    assert late == {"s": "withdrawn"}
    p = person(db, "h@example.com")
    assert p["consent_status"] == "withdrawn"
    assert p["consent_changed_at"].day == 10
    log = db.execute(
        "SELECT count(*) AS n FROM shared.consent_log WHERE person_id = %s", (pid,)
    ).fetchone()
    assert log == {"n": 3}
    with pytest.raises(psycopg.Error) as info:
        db.execute("SELECT shared.record_consent(%s, 'maybe', 'x')", (pid,))
    assert isinstance(from_db_error(info.value), InvalidInput)


def test_erasure_removes_the_person_and_keeps_only_hashes(db: Conn) -> None:
    pid = upsert(
        db,
        [
            {
                "email": "John_Smith@gmail.com",
                "phone": "+1 (650) 555-1212",
                "identities": [{"provider": "stripe", "external_id": "cus_js"}],
            }
        ],
    )[0]["person_id"]
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id) "
        "VALUES ('snapmix', 'e1', 'Signup', %s)",
        (pid,),
    )
    db.execute(
        "INSERT INTO shared.attribution_events (product_id, event_id, meta_event_name, "
        "person_id, status) VALUES ('snapmix', 'e1', 'Lead', %s, 'sent')",
        (pid,),
    )
    db.execute("SELECT shared.record_consent(%s, 'granted', 'tos')", (pid,))
    erasure = db.execute(
        "SELECT shared.erase_person_by_email(' JOHN_SMITH@gmail.com', 'dpo@company', "
        "'user request') AS id"
    ).fetchone()
    assert erasure is not None
    for table in ("person", "identity_link", "event", "consent_log"):
        n = db.execute(f"SELECT count(*) AS n FROM shared.{table}").fetchone()
        assert n == {"n": 0}, table
    kept = db.execute("SELECT person_id FROM shared.attribution_events").fetchone()
    assert kept == {"person_id": None}
    row = db.execute("SELECT * FROM shared.erasure").fetchone()
    assert row is not None
    # Meta's documented em example: John_Smith@gmail.com -> trim/lowercase -> SHA-256.
    assert row["email_sha256"] == "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
    # Meta's ph example: (650)555-1212 in the US -> 16505551212 -> SHA-256.
    assert row["phone_sha256"] == "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
    assert row["phone_sha256"] == hashlib.sha256(b"16505551212").hexdigest()
    assert row["person_id"] == pid
    assert "john" not in json.dumps(row, default=str).lower()
    with pytest.raises(psycopg.Error) as info:
        db.execute("SELECT shared.erase_person(%s, 'dpo')", (pid,))
    assert isinstance(from_db_error(info.value), NotFound)


def test_event_resend_is_a_no_op(db: Conn) -> None:
    insert = (
        "INSERT INTO shared.event (product_id, event_id, event_name) "
        "VALUES ('snapmix', 'evt-1', 'Signup') ON CONFLICT DO NOTHING"
    )
    db.execute(insert)
    db.execute(insert)
    n = db.execute("SELECT count(*) AS n FROM shared.event").fetchone()
    assert n == {"n": 1}
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name) "
            "VALUES ('snapmix', 'evt-1', 'Signup')"
        )


def test_trimming_removes_whitespace_only(db: Conn) -> None:
    # Regression: a "\v" escape PostgreSQL does not know once made trim eat the letter v.
    rows = upsert(
        db,
        [
            {
                "email": "\x0bvivian@example.com\t\n",
                "first_name": "\fVivienne\r",
                "source_product": "vellopad",
            }
        ],
    )
    p = person(db, "vivian@example.com")
    assert (p["first_name"], p["source_product"]) == ("Vivienne", "vellopad")
    assert rows[0]["created"] is True


def test_event_references_are_checked_per_statement(db: Conn) -> None:
    pid = upsert(db, [{"email": "ref@example.com"}])[0]["person_id"]
    with pytest.raises(psycopg.Error) as info:
        db.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name) "
            "VALUES ('snapmix', 'ok-1', 'Signup'), ('nope', 'bad-1', 'Signup')"
        )
    error = from_db_error(info.value)
    assert (
        isinstance(error, InvalidInput)
        and error.message == "product_id: nope is not a known product"
    )
    with pytest.raises(psycopg.Error) as info:
        db.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name, person_id) "
            "VALUES ('snapmix', 'ok-2', 'Signup', gen_random_uuid())"
        )
    assert isinstance(from_db_error(info.value), InvalidInput)
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id) "
        "VALUES ('snapmix', 'ok-3', 'Signup', %s)",
        (pid,),
    )
    with pytest.raises(psycopg.Error) as info:
        db.execute("DELETE FROM shared.product WHERE product_id = 'snapmix'")
    assert isinstance(from_db_error(info.value), Conflict)
    db.execute("DELETE FROM shared.person WHERE id = %s", (pid,))
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}
