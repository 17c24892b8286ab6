"""Events Meta would refuse for a reason known in advance are never sent: they are dead-lettered
as `invalid` with the rule named, and the rest go without a refused request or a bisection."""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest

from tests.capi_helpers import FAST, PIXEL, add_person, enable_pipeline, insert_events, run_once
from tests.support.sandbox import SandboxControl
from workers.meta.capi_rules import EventRejected, validate_event

Conn = psycopg.Connection[dict[str, Any]]


def event_row(person: str, event_id: str, **fields: Any) -> dict[str, Any]:
    return {"product_id": "snapmix", "event_id": event_id, "event_name": "Signup",
            "meta_event_name": "Lead", "person_id": person, **fields}  # fmt: skip


def test_one_percent_invalid_costs_no_refused_request(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    people = [add_person(db, f"valid{i}@example.com") for i in range(10)]
    total = 3_000
    invalid: dict[str, str] = {}
    rows = []
    for i in range(total):
        person = people[i % len(people)]
        if i % 100 == 17:  # an app event without app_data
            rows.append(event_row(person, f"e{i}"))
            invalid[f"e{i}"] = "app_data is required for app events"
        elif i % 100 == 67:  # a currency that is not ISO 4217
            rows.append(event_row(person, f"e{i}", meta_event_name="Purchase",
                                  properties={"value": 12.5, "currency": "XYZ"}))  # fmt: skip
            invalid[f"e{i}"] = "custom_data.currency must be a valid ISO 4217 3-letter code"
        else:
            rows.append(event_row(person, f"e{i}"))
    insert_events(db, rows)
    app_ids = [eid for eid, rule in invalid.items() if rule.startswith("app_data")]
    db.execute("UPDATE shared.event SET action_source = 'app' WHERE event_id = ANY(%s)", (app_ids,))

    # One lane: two lanes reading at once share the queue between them (pgmq.read skips the
    # rows the other is locking), so on a loaded machine the last 1,000 messages could go as
    # two batches, a fourth request. The bound below is about rows per request.
    run_once(db_url, sandbox.url, dataclasses.replace(FAST, lanes=1))

    summary = sandbox.summary()[PIXEL]
    assert summary["unique"] == total - len(invalid)
    assert summary["rejected_requests"] == 0
    assert summary["requests"] / total * 1000 <= 1.10, summary
    dead = db.execute(
        "SELECT event_id, reason, error_message FROM shared.capi_dead_letter"
    ).fetchall()
    assert {d["event_id"]: d["error_message"] for d in dead} == invalid
    assert {d["reason"] for d in dead} == {"invalid"}
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}


def test_what_cannot_be_known_in_advance_is_still_isolated_by_bisection(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "bisect@example.com")
    insert_events(db, [event_row(person, f"m{i}") for i in range(64)])
    sandbox.faults(reject_event_ids=["snapmix:m40"])  # Meta refusing an event for its own reasons
    run_once(db_url, sandbox.url)
    assert sandbox.summary()[PIXEL]["unique"] == 63
    dead = db.execute("SELECT event_id, reason FROM shared.capi_dead_letter").fetchall()
    assert dead == [{"event_id": "m40", "reason": "rejected"}]


GOOD: dict[str, Any] = {
    "event_name": "Lead",
    "event_time": 1_800_000_000,
    "action_source": "system_generated",
    "user_data": {"em": "a" * 64, "client_ip_address": "203.0.113.9"},
}


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"action_source": "app"}, "app_data is required for app events"),
        ({"custom_data": {"currency": "usd "}},
         "custom_data.currency must be a valid ISO 4217 3-letter code"),
        ({"event_name": "Purchase", "custom_data": {"currency": "USD"}},
         "custom_data.value is required for Purchase events"),
        ({"user_data": {"fn": "b" * 64, "ge": "c" * 64}}, "user_data has too few"),
        ({"user_data": {"em": "Person@Example.com"}}, "user_data.em must be SHA-256 hashed"),
        ({"action_source": "website"}, "event_source_url is required for website events"),
        ({"event_time": 1_800_000_000 - 8 * 86400}, "event_time is more than 7 days"),
        ({"data_processing_options": ["LDU"], "data_processing_options_country": 1},
         "data_processing_options_country and data_processing_options_state go together"),
    ],
)  # fmt: skip
def test_the_shared_rules_name_what_meta_would_refuse(change: dict[str, Any], rule: str) -> None:
    validate_event(GOOD, 1_800_000_000)  # the reference event is valid
    with pytest.raises(EventRejected) as refused:
        validate_event({**GOOD, **change}, 1_800_000_000)
    assert refused.value.rule.startswith(rule), refused.value.rule
