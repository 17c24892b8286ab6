"""A product writes only as itself, acting exactly as PostgREST does.

PostgREST verifies the bearer JWT, then runs each request in one transaction:
`SET LOCAL ROLE <the token's role>` and `set_config('request.jwt.claims', <claims>, true)`, then
the INSERT or RPC. The tokens here are made by `gdp keys create PRODUCT --jwt` and verified with
the same secret, so the claims in the transaction are the ones a real request would carry.
Each attempt of the finding (another product's events, a flag flipped past the gate, a key for
another product, every person's PII) must be refused with a clear error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from workers import product_token
from workers.cli.main import app
from workers.errors import Forbidden, from_db_error
from workers.settings import get_settings

Conn = psycopg.Connection[dict[str, Any]]
SECRET = "test-jwt-secret-with-at-least-32-bytes!"


def gdp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli.main", *args],
        env={**env, "SUPABASE_JWT_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def product_jwt(env: dict[str, str], product: str) -> str:
    """`gdp keys create PRODUCT --jwt`, run in this process (the command's own code, without a
    Python start-up per token: most tests here need two); `gdp` itself is run as a process by
    the tests of the command and of revocation."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", env["DATABASE_URL"])
        patch.setenv("SUPABASE_JWT_SECRET", SECRET)
        get_settings.cache_clear()
        try:
            done = CliRunner().invoke(app, ["keys", "create", product, "--jwt", "--label", "test"])
        finally:
            get_settings.cache_clear()
    assert done.exit_code == 0, (done.output, done.exception)
    assert "cannot be shown again" in done.stderr
    return done.stdout.strip()


@contextmanager
def as_postgrest(db: Conn, token: str | None, role: str | None = None) -> Iterator[Conn]:
    """One request as PostgREST makes it: verified claims, SET LOCAL ROLE, then the statement.

    The transaction is rolled back afterwards; statements that must fail use a savepoint.
    """
    if token is not None:
        claims = product_token.verify(token, SECRET)
        payload: dict[str, Any] = {
            "role": claims.role,
            "product_id": claims.product_id,
            "jti": str(claims.credential_id),
        }
    else:
        payload = {"role": role}
    with db.transaction(force_rollback=True):
        db.execute(
            "SELECT set_config('request.jwt.claims', %s, true)",
            (json.dumps(payload) if payload.get("role") != "anon" else None,),
        )
        db.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(payload["role"])))
        yield db


def refused(db: Conn, statement: str, params: tuple[Any, ...] = ()) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as info, db.transaction():
        db.execute(statement, params)
    return info.value


INSERT_EVENT = (
    "INSERT INTO shared.event (product_id, event_id, event_name, properties) "
    "VALUES (%s, %s, 'Signup', '{}')"
)


@pytest.fixture
def tokens(env: dict[str, str]) -> dict[str, str]:
    return {p: product_jwt(env, p) for p in ("snapmix", "waitlistlab")}


def test_the_token_carries_role_and_product_signed_with_the_project_secret(
    tokens: dict[str, str], db: Conn
) -> None:
    claims = product_token.verify(tokens["snapmix"], SECRET)
    assert claims.role == "gdp_product" and claims.product_id == "snapmix"
    assert claims.expires_at is not None and claims.expires_at > claims.issued_at
    row = db.execute(
        "SELECT product_id, revoked_at FROM shared.product_credential WHERE id = %s",
        (claims.credential_id,),
    ).fetchone()
    assert row == {"product_id": "snapmix", "revoked_at": None}
    with pytest.raises(Exception, match="Signature verification failed"):
        product_token.verify(tokens["snapmix"], SECRET + "x")
    stored = json.dumps(
        db.execute("SELECT * FROM shared.product_credential").fetchall(), default=str
    )
    assert tokens["snapmix"] not in stored and SECRET not in stored


def test_a_product_inserts_its_own_events_and_they_are_queued(
    tokens: dict[str, str], db: Conn
) -> None:
    with as_postgrest(db, tokens["snapmix"]):
        db.execute(INSERT_EVENT, ("snapmix", "own-1"))
        db.execute(INSERT_EVENT + " ON CONFLICT DO NOTHING", ("snapmix", "own-1"))
        rows = db.execute("SELECT product_id, event_id FROM shared.event").fetchall()
        assert rows == [{"product_id": "snapmix", "event_id": "own-1"}]
        db.execute("RESET ROLE")
        stored = db.execute("SELECT count(*) AS n FROM shared.event").fetchone()
        assert stored == {"n": 1}


def test_finding_1_events_for_another_product_are_refused_naming_the_field(
    tokens: dict[str, str], db: Conn
) -> None:
    with as_postgrest(db, tokens["snapmix"]):
        error = refused(db, INSERT_EVENT, ("waitlistlab", "spoof-1"))
        mapped = from_db_error(error)
        assert isinstance(mapped, Forbidden)
        assert mapped.message == (
            "product_id: a credential of snapmix writes only rows of snapmix, not waitlistlab"
        )
        # One foreign row in a batch refuses the whole statement.
        error = refused(
            db,
            "INSERT INTO shared.event (product_id, event_id, event_name) "
            "VALUES ('snapmix', 'b-1', 'Signup'), ('waitlistlab', 'b-2', 'Signup')",
        )
        assert "not waitlistlab" in str(error)
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}


def test_finding_1_a_product_cannot_flip_a_flag_or_touch_the_gate(
    tokens: dict[str, str], db: Conn
) -> None:
    with as_postgrest(db, tokens["snapmix"]):
        for statement in (
            "UPDATE shared.feature_flag SET enabled = true",
            "SELECT * FROM shared.feature_flag",
            "UPDATE shared.setting SET value = '1'",
            "INSERT INTO shared.gate_audit (subject_kind, subject_key, actor) "
            "VALUES ('flag', 'X', 'me')",
        ):
            error = refused(db, statement)
            assert isinstance(error, psycopg.errors.InsufficientPrivilege), statement
            assert "permission denied for table" in str(error)
        error = refused(db, "SELECT shared.enable_flag('SHARED_PERSON_TABLE_ENABLED', 'me')")
        assert "permission denied for function enable_flag" in str(error)
    assert db.execute("SELECT count(*) AS n FROM shared.feature_flag WHERE enabled").fetchone() == {
        "n": 0
    }


def test_finding_1_a_product_cannot_make_keys_for_anyone(tokens: dict[str, str], db: Conn) -> None:
    with as_postgrest(db, tokens["snapmix"]):
        for statement in (
            "SELECT * FROM shared.create_service_key('waitlistlab', 'me')",
            "SELECT * FROM shared.create_service_key('snapmix', 'me')",
            "SELECT * FROM shared.create_product_credential('waitlistlab', 'me')",
            "SELECT * FROM shared.list_keys()",
        ):
            error = refused(db, statement)
            assert isinstance(error, psycopg.errors.InsufficientPrivilege), statement
        error = refused(db, "SELECT * FROM shared.service_key")
        assert "permission denied for table service_key" in str(error)
    assert db.execute("SELECT count(*) AS n FROM shared.service_key").fetchone() == {"n": 0}


def test_finding_1_a_product_cannot_read_peoples_pii(tokens: dict[str, str], db: Conn) -> None:
    db.execute(
        "SELECT shared.upsert_person('someone@example.com', p_first_name => 'Someone', "
        "p_source_product => 'waitlistlab')"
    )
    with as_postgrest(db, tokens["snapmix"]):
        for statement in (
            "SELECT email FROM shared.person",
            "SELECT * FROM shared.identity_link",
            "SELECT * FROM shared.consent_log",
            "SELECT * FROM pgmq.q_meta_capi",
        ):
            error = refused(db, statement)
            assert isinstance(error, psycopg.errors.InsufficientPrivilege), statement


def test_a_product_upserts_people_only_as_itself(tokens: dict[str, str], db: Conn) -> None:
    with as_postgrest(db, tokens["snapmix"]):
        row = db.execute(
            "SELECT person_id, created FROM shared.upsert_people(%s::jsonb)",
            (json.dumps([{"email": "New@Example.com", "first_name": "New"}]),),
        ).fetchone()
        assert row is not None and row["created"] is True
        error = refused(
            db,
            "SELECT * FROM shared.upsert_people(%s::jsonb)",
            (json.dumps([{"email": "x@example.com", "source_product": "waitlistlab"}]),),
        )
        assert str(error).startswith(
            "source_product: a credential of snapmix upserts people only for snapmix, "
            "not waitlistlab (entry 1)"
        )
        assert db.execute("SELECT shared.upsert_person('p2@example.com') AS id").fetchone()
        db.execute("RESET ROLE")
        people = db.execute(
            "SELECT email, source_product FROM shared.person ORDER BY email"
        ).fetchall()
    assert people == [
        {"email": "new@example.com", "source_product": "snapmix"},
        {"email": "p2@example.com", "source_product": "snapmix"},
    ]


def test_a_product_reads_only_its_own_delivery_records_and_events(
    tokens: dict[str, str], db: Conn
) -> None:
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name) VALUES "
        "('snapmix', 's-1', 'Signup'), ('waitlistlab', 'w-1', 'Signup')"
    )
    db.execute(
        "INSERT INTO shared.attribution_events (product_id, event_id, meta_event_name, status) "
        "VALUES ('snapmix', 's-1', 'Lead', 'sent'), ('waitlistlab', 'w-1', 'Lead', 'sent')"
    )
    for product, other in (("snapmix", "waitlistlab"), ("waitlistlab", "snapmix")):
        with as_postgrest(db, tokens[product]):
            seen = db.execute("SELECT product_id FROM shared.attribution_events").fetchall()
            assert seen == [{"product_id": product}]
            events = db.execute("SELECT product_id FROM shared.event").fetchall()
            assert events == [{"product_id": product}]
            none = db.execute(
                "SELECT count(*) AS n FROM shared.attribution_events WHERE product_id = %s",
                (other,),
            ).fetchone()
            assert none == {"n": 0}


def test_claims_without_a_valid_credential_are_worthless(
    env: dict[str, str], tokens: dict[str, str], db: Conn
) -> None:
    claims = product_token.verify(tokens["snapmix"], SECRET)
    # Forged claims (no credential row behind the jti), as any session could set them.
    forged = {
        "role": "gdp_product",
        "product_id": "snapmix",
        "jti": "00000000-0000-4000-8000-000000000000",
    }
    # A real jti with another product's name in the claims.
    swapped = {"role": "gdp_product", "product_id": "waitlistlab", "jti": str(claims.credential_id)}
    for payload in (forged, swapped, {"role": "gdp_product"}):
        with db.transaction(force_rollback=True):
            db.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(payload),))
            db.execute("SET LOCAL ROLE gdp_product")
            error = refused(db, INSERT_EVENT, (payload.get("product_id", "snapmix"), "f-1"))
            assert "carries no valid product credential" in str(error), payload
            assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}


def test_claims_count_only_for_the_product_role(tokens: dict[str, str], db: Conn) -> None:
    """Finding 6: a session that sets request.jwt.claims itself gains nothing by it."""
    claims = product_token.verify(tokens["snapmix"], SECRET)
    payload = {"role": "service_role", "product_id": "snapmix", "jti": str(claims.credential_id)}
    for role in ("anon", "authenticated"):
        with db.transaction(force_rollback=True):
            db.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(payload),))
            db.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            error = refused(db, INSERT_EVENT, ("snapmix", "x-1"))
            assert isinstance(error, psycopg.errors.InsufficientPrivilege)
    with db.transaction(force_rollback=True):
        db.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(payload),))
        row = db.execute("SELECT shared.product_claim() AS p").fetchone()
        assert row == {"p": None}


def test_a_revoked_token_stops_at_once(
    env: dict[str, str], tokens: dict[str, str], db: Conn
) -> None:
    claims = product_token.verify(tokens["snapmix"], SECRET)
    with as_postgrest(db, tokens["snapmix"]):
        db.execute(INSERT_EVENT, ("snapmix", "before"))
    done = gdp(env, "keys", "revoke", str(claims.credential_id))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"JWT {claims.credential_id} (snapmix) revoked at ")
    with as_postgrest(db, tokens["snapmix"]):
        error = refused(db, INSERT_EVENT, ("snapmix", "after"))
        assert "carries no valid product credential" in str(error)
        error = refused(
            db, 'SELECT * FROM shared.upsert_people(\'[{"email": "r@example.com"}]\'::jsonb)'
        )
        assert "carries no valid product credential" in str(error)
    listing = gdp(env, "keys", "list").stdout
    assert f"{claims.credential_id}  snapmix" in listing and "revoked" in listing
    audit = db.execute(
        "SELECT to_value FROM shared.gate_audit WHERE subject_kind = 'product_credential' "
        "AND subject_key = %s ORDER BY id",
        (str(claims.credential_id),),
    ).fetchall()
    assert audit == [{"to_value": "created"}, {"to_value": "revoked"}]


def test_keys_create_jwt_refuses_without_a_usable_secret(env: dict[str, str], db: Conn) -> None:
    bare = {k: v for k, v in env.items() if k not in ("SUPABASE_JWT_SECRET", "GDP_JWT_SECRET")}
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", "keys", "create", "snapmix", "--jwt"],
        env=bare,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.startswith("gdp: SUPABASE_JWT_SECRET: is required")
    done = subprocess.run(
        [sys.executable, "-m", "workers.cli.main", "keys", "create", "snapmix", "--jwt"],
        env={**bare, "GDP_JWT_SECRET": "short"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "must be at least 32 bytes" in done.stderr
    assert done.stdout == ""
    bad = gdp(env, "keys", "create", "nope", "--jwt")
    assert bad.returncode == 2 and bad.stderr.strip() == "gdp: product: nope is not a known product"
    assert db.execute("SELECT count(*) AS n FROM shared.product_credential").fetchone() == {"n": 0}


def test_the_service_role_changes_the_gate_and_keys_only_through_the_audited_functions(
    db: Conn,
) -> None:
    with as_postgrest(db, None, role="service_role"):
        for statement in (
            "UPDATE shared.feature_flag SET enabled = true",
            "UPDATE shared.deploy_checklist_item SET acknowledged_by = 'me'",
            "DELETE FROM shared.setting",
            "DELETE FROM shared.gate_audit",
            "UPDATE shared.service_key SET revoked_at = NULL",
            "INSERT INTO shared.product_credential (product_id, created_by) "
            "VALUES ('snapmix', 'x')",
        ):
            error = refused(db, statement)
            assert isinstance(error, psycopg.errors.InsufficientPrivilege), statement
        db.execute("SELECT shared.acknowledge_checklist_item('privacy_policy_updated', 'ops')")
        db.execute("SELECT * FROM shared.create_service_key('snapmix', 'ops')")
        kinds = db.execute(
            "SELECT subject_kind, actor FROM shared.gate_audit ORDER BY id"
        ).fetchall()
        assert kinds == [
            {"subject_kind": "checklist", "actor": "ops"},
            {"subject_kind": "service_key", "actor": "ops"},
        ]


def test_a_revoke_committed_by_another_session_stops_a_request_in_flight(
    env: dict[str, str], tokens: dict[str, str], db: Conn, db_url: str
) -> None:
    """Two sessions: a product's transaction is open when an admin revokes its credential; the
    product's next statement (READ COMMITTED: a new snapshot) is refused, and nothing it wrote
    after the revoke lands."""
    claims = product_token.verify(tokens["snapmix"], SECRET)
    payload = json.dumps(
        {"role": "gdp_product", "product_id": "snapmix", "jti": str(claims.credential_id)}
    )
    with psycopg.connect(db_url) as product:
        product.execute("SELECT set_config('request.jwt.claims', %s, true)", (payload,))
        product.execute("SET LOCAL ROLE gdp_product")
        product.execute(INSERT_EVENT, ("snapmix", "in-flight-1"))
        # The admin's session commits the revoke while the product's transaction is open.
        db.execute("SELECT shared.revoke_key(%s, 'ops')", (claims.credential_id,))
        with pytest.raises(psycopg.Error) as info:
            product.execute(INSERT_EVENT, ("snapmix", "in-flight-2"))
        assert "carries no valid product credential" in str(info.value)
        product.rollback()
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}
