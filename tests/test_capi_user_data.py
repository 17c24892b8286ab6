"""What an event row may carry to Meta: Meta-ready keys only, checked when written and again
when sent; events Meta would refuse for a missing website field are left out before sending."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.capi_helpers import (
    FAST,
    PIXEL,
    UA,
    add_person,
    enable_pipeline,
    insert_events,
    lead_events,
    run_once,
    sha,
    statuses,
)
from tests.support.sandbox import SandboxControl
from workers.capi import metrics as capi_metrics
from workers.errors import InvalidInput, from_db_error

Conn = psycopg.Connection[dict[str, Any]]


def refused(db: Conn, rows: list[dict[str, Any]]) -> InvalidInput:
    with pytest.raises(psycopg.Error) as info:
        insert_events(db, rows)
    error = from_db_error(info.value)
    assert isinstance(error, InvalidInput)
    return error


@pytest.mark.parametrize(
    ("user_data", "rule"),
    [
        ({"em": "ann@example.com"}, "em must be a SHA-256 hex digest"),
        ({"ph": ["a" * 64, "+14155550123"]}, "ph must be a SHA-256 hex digest"),
        ({"fn": 12}, "fn must be a SHA-256 hex digest"),
        ({"lead_id": 123}, "lead_id must be a string"),
        ({"client_ip_address": "203.0.113.7"}, "client_ip_address has its own column"),
        ({"email": sha("ann@example.com")}, "email is not a Meta user_data key"),
        ({"ann@example.com": "x"}, "a key that is not a Meta user_data key"),
    ],
)
def test_raw_or_unknown_values_are_refused_in_sql(
    db: Conn, user_data: dict[str, Any], rule: str
) -> None:
    row = {"product_id": "snapmix", "event_id": "raw-1", "event_name": "Lead",
           "meta_user_data": user_data}  # fmt: skip
    error = refused(db, [row, {**row, "event_id": "ok-1", "meta_user_data": {}}])
    assert error.field == "meta_user_data"
    assert rule in str(error) and "raw-1" in str(error)
    assert "ann@example.com" not in str(error)  # the message names the key, never the value
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 0}


def test_an_update_cannot_put_raw_pii_on_a_stored_event(db: Conn) -> None:
    insert_events(db, [{"product_id": "snapmix", "event_id": "u-1", "event_name": "Lead",
                        "meta_user_data": {"em": sha("ann@example.com")}}])  # fmt: skip
    with pytest.raises(psycopg.Error) as info:
        db.execute(
            "UPDATE shared.event SET meta_user_data = '{\"em\": \"ann@example.com\"}' "
            "WHERE event_id = 'u-1'"
        )
    assert "em must be a SHA-256 hex digest" in str(from_db_error(info.value))


def test_stored_hashes_and_ids_are_normalized_again_before_sending(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "zoe@example.com")
    upper = sha("other@example.com").upper()
    insert_events(db, [{
        "product_id": "snapmix", "event_id": "n-1", "event_name": "Lead",
        "meta_event_name": "Lead", "person_id": person,
        "meta_user_data": {"em": upper, "lead_id": " 1234567890 "},
    }])  # fmt: skip
    run_once(db_url, sandbox.url)
    [event] = sandbox.events(PIXEL)
    user_data = event["event"]["user_data"]
    # The person's own email and the stored one, both as lowercase digests.
    assert sorted(user_data["em"]) == sorted([sha("zoe@example.com"), upper.lower()])
    assert user_data["lead_id"] == "1234567890"
    assert statuses(db) == {"sent": 1}


def test_website_events_without_url_or_user_agent_are_left_out_not_sent(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "web@example.com")
    db.execute("SELECT shared.set_setting('META_PIXEL_ID', %s, 'test')", (f'"{PIXEL}"',))
    base = {"product_id": "snapmix", "event_name": "Lead", "meta_event_name": "Lead",
            "person_id": person}  # fmt: skip
    insert_events(db, [
        {**base, "event_id": "w-ok", "event_source_url": "https://snapmix.example.com/",
         "client_user_agent": UA},
        {**base, "event_id": "w-no-ua", "event_source_url": "https://snapmix.example.com/"},
    ])  # fmt: skip
    db.execute("UPDATE shared.event SET action_source = 'website'")
    run_once(db_url, sandbox.url)
    assert [e["event"]["event_id"] for e in sandbox.events(PIXEL)] == ["snapmix:w-ok"]
    assert sandbox.summary()[PIXEL]["requests"] == 1  # no refused request, no bisection
    dead = db.execute("SELECT event_id, reason, error_message FROM shared.capi_dead_letter"
                      ).fetchall()  # fmt: skip
    assert [d["event_id"] for d in dead] == ["w-no-ua"]
    assert dead[0]["error_message"] == "user_data.client_user_agent is required for website events"


def test_partner_agent_setting_goes_with_every_request(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    db.execute("SELECT shared.set_setting('META_CAPI_PARTNER_AGENT', '\"gdp-1.0\"', 'test')")
    person = add_person(db, "agent@example.com")
    insert_events(db, [{"product_id": "snapmix", "event_id": "pa-1", "event_name": "Lead",
                        "meta_event_name": "Lead", "person_id": person}])  # fmt: skip
    run_once(db_url, sandbox.url)
    assert [e["partner_agent"] for e in sandbox.events(PIXEL)] == ["gdp-1.0"]


def test_worker_metrics_count_events_requests_and_batches(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    def value(name: str, **labels: str) -> float:
        return capi_metrics.REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        "sent": value("gdp_capi_events_total", status="sent"),
        "expired": value("gdp_capi_dead_letters_total", reason="expired"),
        "ok": value("gdp_capi_requests_total", result="ok"),
        "batches": value("gdp_capi_batch_size_count"),
        "events_in_batches": value("gdp_capi_batch_size_sum"),
    }
    enable_pipeline(db)
    person = add_person(db, "metrics@example.com")
    rows = lead_events(person, 30, "m")
    rows.append({**rows[0], "event_id": "m-old", "occurred_at": "2020-01-01T00:00:00Z"})
    insert_events(db, rows)
    run_once(db_url, sandbox.url)
    requests = sandbox.summary()[PIXEL]["requests"]
    assert value("gdp_capi_events_total", status="sent") - before["sent"] == 30
    assert value("gdp_capi_dead_letters_total", reason="expired") - before["expired"] == 1
    assert value("gdp_capi_requests_total", result="ok") - before["ok"] == requests
    # The batch-size histogram counts requests, and its sum is the events they carried.
    assert value("gdp_capi_batch_size_count") - before["batches"] == requests
    assert value("gdp_capi_batch_size_sum") - before["events_in_batches"] == 30


def test_a_short_events_received_is_recorded(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "count@example.com")
    insert_events(db, lead_events(person, 10, "c"))
    sandbox.faults(events_received_shortfall=2)
    # One lane, one batch of ten: two lanes reading at once can split them (9 and 1, seen).
    run_once(db_url, sandbox.url, dataclasses.replace(FAST, lanes=1))
    rows = db.execute(
        "SELECT DISTINCT status, events_received, batch_size, error_message "
        "FROM shared.attribution_events"
    ).fetchall()
    assert rows == [{"status": "sent", "events_received": 8, "batch_size": 10,
                     "error_message": "events_received 8 != sent 10"}]  # fmt: skip


def test_meta_ready_values_are_accepted(db: Conn) -> None:
    ready = {"em": [sha("a@example.com"), sha("b@example.com").upper()],
             "ph": sha("+14155550123"), "lead_id": "1234567890"}  # fmt: skip
    insert_events(db, [{"product_id": "snapmix", "event_id": "ok-1", "event_name": "Lead",
                        "meta_user_data": ready}])  # fmt: skip
    assert db.execute("SELECT count(*) AS n FROM shared.event").fetchone() == {"n": 1}


def test_a_guessed_website_event_with_an_unusable_user_agent_goes_as_system_generated(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "guess@example.com")
    insert_events(db, [{"product_id": "snapmix", "event_id": "g-1", "event_name": "Lead",
                        "meta_event_name": "Lead", "person_id": person,
                        "event_source_url": "https://snapmix.app/", "client_user_agent": "f" * 64,
                        }])  # fmt: skip
    run_once(db_url, sandbox.url)
    [event] = sandbox.events(PIXEL)
    assert event["event"]["action_source"] == "system_generated"
    assert "client_user_agent" not in event["event"]["user_data"]  # it looked hashed: dropped


def test_a_token_file_counts_as_the_token_for_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers.settings import Settings

    monkeypatch.delenv("META_CAPI_ACCESS_TOKEN", raising=False)
    token = tmp_path / "token"
    assert "META_CAPI_ACCESS_TOKEN" not in Settings().present_secrets()
    token.write_text("\n")
    settings = Settings(META_CAPI_ACCESS_TOKEN_FILE=str(token))
    assert "META_CAPI_ACCESS_TOKEN" not in settings.present_secrets()  # empty
    token.write_text("EAAB-token\n")
    assert "META_CAPI_ACCESS_TOKEN" in settings.present_secrets()
    token.write_bytes(b"\xff\xfe\x00")  # not UTF-8: absent, never a crash
    assert "META_CAPI_ACCESS_TOKEN" not in settings.present_secrets()
