"""The SQL side of Meta's rules against the golden vectors (tests/golden/*.json).

SQL keeps only what must run in the database: SHA-256 (erasure records, service keys), the
check that `meta_user_data` written by products holds hashes where Meta wants hashes, and the
one list of user_data keys. Each is checked here against the same vectors as the Python rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from workers.meta._tables import GENDERS

GOLDEN = Path(__file__).parent / "golden"
VECTORS = json.loads((GOLDEN / "user_data.json").read_text())["cases"]
KEYS = json.loads((GOLDEN / "user_data_keys.json").read_text())
Conn = psycopg.Connection[dict[str, Any]]


def test_sha256_of_every_normalized_value(db: Conn) -> None:
    sent = [(c["normalized"], c["sha256"]) for c in VECTORS if c["normalized"] is not None]
    rows = db.execute(
        "SELECT shared._sha256_hex(v.form) AS digest, v.expected,"
        " shared._is_sha256_hex(shared._sha256_hex(v.form)) AS looks_hashed"
        " FROM unnest(%s::text[], %s::text[]) AS v(form, expected)",
        ([form for form, _ in sent], [digest for _, digest in sent]),
    ).fetchall()
    assert len(rows) == len(sent) > 80
    assert [r["digest"] for r in rows] == [r["expected"] for r in rows]
    assert all(r["looks_hashed"] for r in rows)


def test_key_kinds_are_the_golden_ones(db: Conn) -> None:
    expected = {**dict.fromkeys(KEYS["hashed"], "hashed"), **dict.fromkeys(KEYS["id"], "id"),
                **dict.fromkeys(KEYS["browser"], "column")}  # fmt: skip
    names = [*expected, "email", "phone", "person_id", "EM", "em "]
    rows = db.execute(
        "SELECT k, shared._meta_user_data_key_kind(k) AS kind FROM unnest(%s::text[]) AS k",
        (names,),
    ).fetchall()
    not_keys = dict.fromkeys(["email", "phone", "person_id", "EM", "em "])
    assert {r["k"]: r["kind"] for r in rows} == {**expected, **not_keys}


def test_hashed_keys_take_the_golden_hashes_and_refuse_the_raw_values(db: Conn) -> None:
    """What products write to shared.event.meta_user_data: a hash where Meta wants one, never
    the raw value (which would put PII in the events table)."""
    for case in VECTORS:
        if case["normalized"] is None or case["key"] not in KEYS["hashed"]:
            continue
        key, digest = case["key"], case["sha256"]
        row = db.execute(
            "SELECT shared._meta_user_data_entry_ok(%s, %s) AS hashed,"
            " shared._meta_user_data_entry_ok(%s, %s) AS upper,"
            " shared._meta_user_data_entry_ok(%s, %s) AS listed,"
            " shared._meta_user_data_entry_ok(%s, %s) AS raw,"
            " shared._meta_user_data_problem(%s) AS problem",
            (key, Jsonb(digest), key, Jsonb(digest.upper()), key, Jsonb([digest, digest]),
             key, Jsonb(case["raw"]), Jsonb({key: case["raw"]})),
        ).fetchone()  # fmt: skip
        assert row is not None
        assert (row["hashed"], row["upper"], row["listed"], row["raw"]) == (True, True, True, False)
        assert row["problem"] == (  # names the key, never echoes the raw value
            f"{key} must be a SHA-256 hex digest (or a list of them): raw values go in "
            "user_data of POST /api/v1/meta/event, which hashes them"
        )


def test_stored_email_is_the_golden_em_form_for_ascii(db: Conn) -> None:
    """shared._normalize_email (how shared.person stores emails, trim + lowercase) gives Meta's
    em form for the ASCII vectors, so a stored email hashes to what CAPI sends."""
    cases = [c for c in VECTORS if c["key"] == "em" and c["normalized"] and c["raw"].isascii()]
    rows = db.execute(
        "SELECT shared._normalize_email(r) AS stored FROM unnest(%s::text[]) AS r",
        ([c["raw"] for c in cases],),
    ).fetchall()
    assert [r["stored"] for r in rows] == [c["normalized"] for c in cases]


def test_stored_gender_never_disagrees_with_the_ge_rule(db: Conn) -> None:
    """shared._normalize_gender (shared.person's f/m column) knows fewer words than the ge rule
    (workers/meta/_tables.py); where it knows one, it must give the rule's answer."""
    words = sorted({*GENDERS, *(w.upper() for w in GENDERS), " Female ", "x", "unknown"})
    rows = db.execute(
        "SELECT w, shared._normalize_gender(w) AS stored FROM unnest(%s::text[]) AS w", (words,)
    ).fetchall()
    stored = {r["w"]: r["stored"] for r in rows}
    assert {w for w, g in stored.items() if g is not None} >= {"f", "female", "M", " Female "}
    for word, gender in stored.items():
        assert gender in (None, GENDERS.get(word.strip().lower())), word
    for case in VECTORS:
        if case["key"] == "ge" and stored.get(case["raw"]) is not None:
            assert stored[case["raw"]] == case["normalized"]
