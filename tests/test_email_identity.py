"""One email, one person, one Meta hash: SQL normalizes identity keys exactly as Meta's normalizer.

An address in NFD and the same address in NFC were two people (SQL only trimmed and
lower-cased; the hashing normalizer applies NFC), and erasing one left the other, whose events
went to Meta under the erased person's email hash. Here: the SQL rule against the Python rule
(golden vectors, every code point, random text), twins become one person, the migration merges
twins stored before, and an erasure removes everything that carries the person's Meta hash.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.capi_helpers import add_person, enable_pipeline
from workers.meta._text import nfc_lower
from workers.meta.normalize import normalize_user_data

Conn = psycopg.Connection[dict[str, Any]]
ROOT = Path(__file__).resolve().parent.parent
GOLDEN = json.loads((ROOT / "tests" / "golden" / "user_data.json").read_text())["cases"]
MIGRATION = ROOT / "db" / "migrations" / "20261202200001_merge_email_twins.sql"
NFD = unicodedata.normalize("NFD", "amélie.dupré@exämple.com")
NFC = unicodedata.normalize("NFC", NFD)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sql_forms(db: Conn, values: list[str]) -> list[str | None]:
    rows = db.execute(
        "SELECT shared._normalize_email(v) AS form FROM unnest(%s::text[]) WITH ORDINALITY AS"
        " u(v, n) ORDER BY n",
        (values,),
    ).fetchall()
    return [r["form"] for r in rows]


def test_sql_email_rule_gives_the_golden_normalized_form(db: Conn) -> None:
    cases = [c for c in GOLDEN if c["key"] == "em" and c["normalized"] is not None]
    assert len(cases) >= 6
    assert sql_forms(db, [c["raw"] for c in cases]) == [c["normalized"] for c in cases]
    # And the hash SQL keeps for an erasure is the one Meta got.
    rows = db.execute(
        "SELECT shared._sha256_hex(shared._normalize_email(v)) AS h FROM unnest(%s::text[]) AS v",
        ([c["raw"] for c in cases],),
    ).fetchall()
    assert [r["h"] for r in rows] == [c["sha256"] for c in cases]


@pytest.mark.slow
def test_sql_lower_casing_equals_pythons_for_every_code_point(db: Conn) -> None:
    """ICU's root-locale lower() is str.lower() for every code point (the libc one is not)."""
    chars = [
        chr(cp)
        for cp in range(0x21, sys.maxunicode + 1)
        if not 0xD800 <= cp <= 0xDFFF and not chr(cp).isspace() and cp not in (0x85,)
    ]
    invisible = set("\u200b\u200c\u200d\u200e\u200f\u2060\ufeff")
    chars = [c for c in chars if c not in invisible]
    mismatched: list[str] = []
    libc_differs: list[str] = []
    for start in range(0, len(chars), 200_000):
        chunk = chars[start : start + 200_000]
        rows = db.execute(
            'SELECT lower(c COLLATE "und-x-icu") AS icu, lower(c) AS libc,'
            " shared._normalize_email(c) AS form FROM unnest(%s::text[]) WITH ORDINALITY AS"
            " u(c, n) ORDER BY n",
            (chunk,),
        ).fetchall()
        for c, row in zip(chunk, rows, strict=True):
            if row["form"] != nfc_lower(c):
                mismatched.append(f"U+{ord(c):04X}")
            if row["libc"] != c.lower():
                libc_differs.append(f"U+{ord(c):04X}")
    assert mismatched == []
    # Why ICU: the database's own lower() differs from Python's (here at least U+0130 'İ').
    assert "U+0130" in libc_differs or db.execute("SHOW lc_ctype").fetchone() is None


def test_context_and_trim_rules_match_python(db: Conn) -> None:
    samples = [
        "ΟΔΟΣ@ΟΔΟΣ.GR",  # final sigma at the end of a word, not before '@'... as Python does
        "İSTANBUL@EXAMPLE.TR",  # U+0130 lower-cases to 'i' + U+0307 in Python
        "\u200b\u00a0Zoë@Example.com\u3000",  # invisible + Unicode spaces trimmed
        "\x1c a@b.co \x1f",  # str.strip() trims the ASCII separators \x1c-\x1f
        "\u200b \u200bx@y.co",  # two rounds only, as workers/meta/_text.strip
        NFD,
        "STRASSE@ẞ.DE",
    ]
    assert sql_forms(db, samples) == [nfc_lower(s) or None for s in samples]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24)
)
def test_random_text_normalizes_as_python_does(db: Conn, text: str) -> None:
    assert sql_forms(db, [text]) == [nfc_lower(text) or None]


def test_nfd_and_nfc_spellings_are_one_person_with_the_meta_hash(db: Conn) -> None:
    first = add_person(db, NFD)
    second = add_person(db, f"  {NFC.upper()} ")
    assert first == second
    row = db.execute("SELECT email FROM shared.person WHERE id = %s", (first,)).fetchone()
    assert row is not None and row["email"] == NFC
    meta = normalize_user_data({"em": NFD}).user_data["em"]
    assert meta == sha(row["email"])


def test_erasure_removes_every_event_carrying_the_persons_meta_hash(db: Conn) -> None:
    enable_pipeline(db, rules=False)
    person = add_person(db, NFC, phone="+16505551212")
    em, ph = sha(NFC), sha("16505551212")
    other = sha("someone.else@example.com")
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id, meta_user_data)"
        " VALUES ('snapmix', 'own', 'Signup', %s, '{}'),"
        " ('snapmix', 'by-em', 'Signup', NULL, jsonb_build_object('em', %s::text)),"
        " ('snapmix', 'by-list', 'Signup', NULL,"
        "  jsonb_build_object('em', jsonb_build_array(%s::text, %s::text))),"
        " ('snapmix', 'by-ph', 'Signup', NULL, jsonb_build_object('ph', %s::text)),"
        " ('snapmix', 'other', 'Signup', NULL, jsonb_build_object('em', %s::text))",
        (person, em, other, em, ph, other),
    )
    # Erased by another spelling of the address: the same person, the same hash.
    db.execute("SELECT shared.erase_person_by_email(%s, 'test')", (f" {NFD.upper()}",))
    left = db.execute("SELECT event_id FROM shared.event ORDER BY event_id").fetchall()
    assert [r["event_id"] for r in left] == ["other"]
    erasure = db.execute("SELECT email_sha256, phone_sha256 FROM shared.erasure").fetchone()
    assert erasure == {"email_sha256": em, "phone_sha256": ph}
    assert db.execute("SELECT count(*) AS n FROM shared.person").fetchone() == {"n": 0}


def _migration_up() -> str:
    text = MIGRATION.read_text(encoding="utf-8")
    return text.split("-- migrate:up", 1)[1].split("-- migrate:down", 1)[0]


def test_migration_merges_twins_stored_before_into_the_oldest(db: Conn) -> None:
    """Rows stored under the old rule (written here with the person trigger off) are merged."""
    db.execute("ALTER TABLE shared.person DISABLE TRIGGER person_before_write")
    ids = {}
    for name, email, consent, age in (
        ("old_nfd", NFD, "granted", "3 days"),
        ("new_nfc", NFC, "withdrawn", "1 day"),
        ("other_nfc", "renée@exämple.com", "unknown", "2 days"),
        ("lone_nfd", unicodedata.normalize("NFD", "zoë@example.com"), "unknown", "1 day"),
        ("ascii", "plain@example.com", "unknown", "1 day"),
    ):
        row = db.execute(
            "INSERT INTO shared.person (email, consent_status, consent_changed_at, created_at)"
            " VALUES (%s, %s::shared.consent_status, now() - %s::interval, now() - %s::interval)"
            " RETURNING id",
            (email, consent, age, age),
        ).fetchone()
        assert row is not None
        ids[name] = row["id"]
    db.execute("ALTER TABLE shared.person ENABLE TRIGGER person_before_write")
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id) VALUES"
        " ('snapmix', 'e1', 'Signup', %s), ('snapmix', 'e2', 'Signup', %s)",
        (ids["old_nfd"], ids["new_nfc"]),
    )
    db.execute(
        "INSERT INTO shared.identity_link (person_id, provider, external_id) VALUES"
        " (%s, 'stripe', 'cus_1')",
        (ids["new_nfc"],),
    )
    db.execute(
        "INSERT INTO shared.consent_log (person_id, status, source, changed_at) VALUES"
        " (%s, 'withdrawn', 'test', now() - interval '1 day')",
        (ids["new_nfc"],),
    )
    db.execute(_migration_up())
    people = db.execute(
        "SELECT id, email, consent_status FROM shared.person ORDER BY email"
    ).fetchall()
    by_id = {r["id"]: r for r in people}
    assert ids["new_nfc"] not in by_id  # merged into the oldest twin
    survivor = by_id[ids["old_nfd"]]
    assert survivor["email"] == NFC and survivor["consent_status"] == "withdrawn"
    assert by_id[ids["lone_nfd"]]["email"] == "zoë@example.com"
    assert by_id[ids["ascii"]]["email"] == "plain@example.com"
    assert by_id[ids["other_nfc"]]["email"] == "renée@exämple.com"
    moved = db.execute(
        "SELECT (SELECT array_agg(person_id) FROM shared.event) AS events,"
        " (SELECT array_agg(person_id) FROM shared.identity_link) AS links,"
        " (SELECT array_agg(person_id) FROM shared.consent_log) AS consent"
    ).fetchone()
    assert moved == {
        "events": [ids["old_nfd"]] * 2,
        "links": [ids["old_nfd"]],
        "consent": [ids["old_nfd"]],
    }
    # Every stored email is now in Meta's form, and a second run changes nothing.
    forms = db.execute(
        "SELECT count(*) AS n FROM shared.person WHERE email <> shared._normalize_email(email)"
    ).fetchone()
    assert forms == {"n": 0}
    db.execute(_migration_up())
    assert len(db.execute("SELECT id FROM shared.person").fetchall()) == len(people)
    assert re.fullmatch(r"\d{14}_merge_email_twins\.sql", MIGRATION.name)
