"""Service keys: shown once, stored as a hash, scoped to one product, revocable."""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
import pytest

from workers.errors import InvalidInput, from_db_error

Conn = psycopg.Connection[dict[str, Any]]


def create(db: Conn, product: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT * FROM shared.create_service_key(%s, 'alice', 'test')", (product,)
    ).fetchone()
    assert row is not None
    return row


def test_key_is_stored_only_as_its_hash(db: Conn) -> None:
    key = create(db, "snapmix")
    assert key["service_key"].startswith("gdp_sk_snapmix_")
    assert len(key["service_key"]) == len("gdp_sk_snapmix_") + 64
    stored = db.execute("SELECT * FROM shared.service_key").fetchone()
    assert stored is not None
    assert stored["key_sha256"] == hashlib.sha256(key["service_key"].encode()).hexdigest()
    assert key["service_key"] not in " ".join(str(v) for v in stored.values())


def test_authenticate_returns_the_product_until_revoked(db: Conn) -> None:
    snap, hub = create(db, "snapmix"), create(db, "softwarehub")
    assert snap["service_key"] != hub["service_key"]
    auth = "SELECT shared.authenticate_service_key(%s) AS product"
    assert db.execute(auth, (snap["service_key"],)).fetchone() == {"product": "snapmix"}
    assert db.execute(auth, (hub["service_key"],)).fetchone() == {"product": "softwarehub"}
    assert db.execute(auth, (snap["service_key"] + "x",)).fetchone() == {"product": None}
    assert db.execute(auth, ("",)).fetchone() == {"product": None}
    used = db.execute(
        "SELECT last_used_at FROM shared.service_key WHERE id = %s", (snap["key_id"],)
    ).fetchone()
    assert used is not None and used["last_used_at"] is not None
    db.execute("SELECT shared.revoke_service_key(%s, 'alice')", (snap["key_id"],))
    assert db.execute(auth, (snap["service_key"],)).fetchone() == {"product": None}
    assert db.execute(auth, (hub["service_key"],)).fetchone() == {"product": "softwarehub"}


def test_unknown_product_is_refused(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as info:
        create(db, "nope")
    error = from_db_error(info.value)
    assert isinstance(error, InvalidInput) and "nope is not a known product" in error.message
