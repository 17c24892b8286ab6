"""No secret in any stored or returned text: Meta's error messages are redacted.

Graph error 190 can quote the token it could not parse ("Malformed access token EAAB..."). The
sandbox's `token_malformed` fault answers exactly that; the worker runs against it, then every
place that text could land is searched for the token: the whole database (attribution_events,
dead letters, capi_pixel_state, every other table), the logs, the status endpoint and metrics.
"""

from __future__ import annotations

import logging
import secrets
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from tests.capi_helpers import PIXEL, add_person, enable_pipeline, insert_events, lead_events
from tests.capi_helpers import run_once as run_worker_once
from tests.edge_support import INGEST, Conn, running_edge
from tests.support.sandbox import SandboxControl
from workers.capi import metrics as capi_metrics
from workers.errors import REDACTED, from_graph_error, redact_secrets
from workers.logs import QUIET_LOGGERS

ROOT = Path(__file__).resolve().parents[1]


def _database_text(db_url: str) -> str:
    """Every row of the database as text (pg_dump --data-only)."""
    done = subprocess.run(
        ["pg_dump", "--data-only", "--no-owner", db_url],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


# A fresh token per run (the same parameter ids on every pytest worker).
TOKENS = {
    # Shaped like Meta's tokens: redacted even by a process that does not hold it.
    "meta_shaped": lambda: "EAAGm0PX4ZCpsBA" + secrets.token_hex(16),
    # Not token-shaped: redacted because it is the token the worker sent.
    "configured": lambda: "gdp-test-token-" + secrets.token_hex(8),
}


@pytest.mark.parametrize("kind", sorted(TOKENS))
def test_a_quoted_token_is_stored_logged_and_returned_nowhere(
    db_url: str,
    db: Conn,
    sandbox: SandboxControl,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    token = TOKENS[kind]()
    caplog.set_level(logging.DEBUG)
    for name in QUIET_LOGGERS:  # as workers.logs.configure leaves them in every process
        caplog.set_level(logging.WARNING, logger=name)
    enable_pipeline(db, rules=False)
    person = add_person(db, "jane.roe@example.com")
    insert_events(db, lead_events(person, 3, "redact-"))
    sandbox.faults(token_malformed=True)

    report = run_worker_once(db_url, sandbox.url, token=token)

    assert report.held == 3  # 190 is an auth failure: held behind the breaker, not lost
    assert {(r["code"], r["subcode"]) for r in sandbox.requests()} == {(190, None)}
    quoted = httpx.post(f"{sandbox.url}/v25.0/{PIXEL}/events", json={"access_token": token})
    assert token in quoted.json()["error"]["message"]  # what the worker was answered
    messages = db.execute("SELECT DISTINCT error_message FROM shared.attribution_events").fetchall()
    assert messages == [{"error_message": f"Malformed access token {REDACTED}"}]
    state = db.execute(
        "SELECT last_error_message FROM shared.capi_pixel_state WHERE pixel_id = %s", (PIXEL,)
    ).fetchone()
    assert state == {"last_error_message": f"Malformed access token {REDACTED}"}

    # A dead letter carries the message it had when it was dead-lettered.
    db.execute(
        "INSERT INTO shared.capi_dead_letter (event_ref, product_id, event_id, meta_event_name,"
        " reason, error_code, error_message) SELECT event_ref, product_id, event_id,"
        " meta_event_name, 'rejected', error_code, error_message FROM shared.attribution_events"
        " LIMIT 1"
    )
    assert token not in _database_text(db_url)
    assert token not in caplog.text
    assert token not in generate_latest(capi_metrics.REGISTRY).decode()

    with running_edge(db_url, db, INGEST) as edge:
        answer = edge.client.get("/api/v1/meta/event/redact-0", headers=edge.auth)
        assert answer.status_code == 200
        assert answer.json()["status"] == "held_auth"
        assert answer.json()["error"]["message"] == f"Malformed access token {REDACTED}"
        assert token not in answer.text
        assert token not in generate_latest(edge.client.app.state.edge.metrics.registry).decode()


def test_a_message_stored_before_redaction_is_redacted_when_returned(db: Conn, db_url: str) -> None:
    leaked = "EAAB" + secrets.token_hex(20)
    enable_pipeline(db, rules=False)
    insert_events(db, lead_events(None, 1, "old-"))
    db.execute(
        "INSERT INTO shared.attribution_events (event_ref, product_id, event_id,"
        " meta_event_name, status, error_code, error_message) SELECT id, product_id, event_id,"
        " meta_event_name, 'held_auth', 190, %s FROM shared.event",
        (f"Malformed access token {leaked}",),
    )
    with running_edge(db_url, db, INGEST) as edge:
        answer = edge.client.get("/api/v1/meta/event/old-0", headers=edge.auth)
    assert answer.json()["error"] == {
        "code": 190,
        "subcode": None,
        "message": f"Malformed access token {REDACTED}",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Malformed access token EAABwzLixnjYBAKZBZC", f"Malformed access token {REDACTED}"),
        ("GET /me?access_token=abc.def-1&fields=id", f"GET /me?access_token={REDACTED}&fields=id"),
        ('{"appsecret_proof": "9f86d08188"}', f'{{"appsecret_proof": "{REDACTED}"}}'),
        ("Authorization: Bearer gdp_sk_snapmix_0a1b2c", f"Authorization: Bearer {REDACTED}"),
        ("app token 1234567890|AbCdEfGhIjKlMnOpQrSt", f"app token {REDACTED}"),
        # Meta's ordinary wording is left alone.
        ("Invalid OAuth access token - Cannot parse access token", None),
        ("Invalid OAuth credentials; (#100) Invalid parameter", None),
        ("Error validating access token: Session has expired.", None),
    ],
)
def test_redact_secrets(text: str, expected: str | None) -> None:
    assert redact_secrets(text) == (text if expected is None else expected)


def test_the_configured_secrets_are_redacted_whatever_their_shape() -> None:
    error = from_graph_error(
        {"error": {"message": "token t0k3n-value and proof 1a2b3c4d5e were refused", "code": 190}},
        400,
        secrets=("t0k3n-value", "1a2b3c4d5e", None, "short"),
    )
    assert error.message == f"token {REDACTED} and proof {REDACTED} were refused"
    assert "t0k3n" not in repr(error)


def test_messages_stored_before_the_fix_are_cleaned_by_the_migration(db: Conn) -> None:
    """The migration that cleans old rows, applied again to rows with tokens in them (the same
    patterns as redact_secrets)."""
    migration = next((ROOT / "db" / "migrations").glob("*_redact_stored_meta_errors.sql"))
    up = migration.read_text().split("-- migrate:up", 1)[1].split("-- migrate:down", 1)[0]
    leaked = "EAAB" + secrets.token_hex(20)
    texts = [
        f"Malformed access token {leaked}",
        f"(#100) bad request /events?access_token={leaked[4:]}&x=1",
        "Invalid OAuth access token - Cannot parse access token",
    ]
    for text in texts:
        db.execute(
            "INSERT INTO shared.capi_dead_letter (event_ref, product_id, event_id,"
            " meta_event_name, reason, error_message) VALUES (1, 'snapmix', 'e', 'Lead',"
            " 'rejected', %s)",
            (text,),
        )
    db.execute(
        "INSERT INTO shared.attribution_events (product_id, event_id, meta_event_name, status,"
        " error_message) VALUES ('snapmix', 'e', 'Lead', 'held_auth', %s)",
        (texts[0],),
    )
    db.execute("SELECT shared.capi_set_breaker('1', 'open', 190, %s)", (texts[0],))
    with db.transaction():
        db.execute(up)
    stored = [
        r["m"]
        for r in db.execute(
            "SELECT error_message AS m FROM shared.capi_dead_letter UNION ALL"
            " SELECT error_message FROM shared.attribution_events UNION ALL"
            " SELECT last_error_message FROM shared.capi_pixel_state"
        ).fetchall()
    ]
    assert sorted(stored) == sorted(
        [redact_secrets(t) for t in texts] + [redact_secrets(texts[0])] * 2
    )
    assert not any(leaked[4:] in m for m in stored)
