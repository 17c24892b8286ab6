"""The CAPI worker against the sandbox: delivery, rules, consent, windows, faults, breaker."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from prometheus_client import generate_latest

from tests.capi_helpers import (
    FAST,
    PIXEL,
    UA,
    add_person,
    drain,
    enable_pipeline,
    insert_events,
    run_once,
    sha,
    statuses,
)
from tests.support.cli import gdp_in_process
from tests.support.sandbox import SandboxControl
from workers.capi import metrics as capi_metrics

Conn = psycopg.Connection[dict[str, Any]]


def test_rules_send_product_events_once_with_meta_exact_hashes(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    maya = add_person(
        db,
        " Maya.Chen@Example.com ",
        phone="+1 (650) 555-1212",
        first_name="Maya",
        country="US",
        state="CA",
        source_product="snapmix",
    )
    insert_events(
        db,
        [
            {
                "product_id": "snapmix",
                "event_id": "s1",
                "event_name": "Signup",
                "person_id": maya,
                "event_source_url": "https://snapmix.app/welcome",
                "client_user_agent": UA,
                "client_ip_address": "2001:db8::1",
            },
            {
                "product_id": "snapmix",
                "event_id": "s2",
                "event_name": "ProUpgrade",
                "person_id": maya,
                "properties": {"upgrade_price": 9.99},
            },
            {
                "product_id": "snapmix",
                "event_id": "s3",
                "event_name": "PageScrolled",
                "person_id": maya,
            },
            {
                "product_id": "snapmix",
                "event_id": "s4",
                "event_name": "FeatureUsed",
                "person_id": maya,
            },
            {
                "product_id": "snapmix",
                "event_id": "s5",
                "event_name": "FeatureUsed",
                "person_id": maya,
            },
        ],
    )
    report = run_once(db_url, sandbox.url)
    assert report.sent == 3
    # The id Meta sees is namespaced by the product (workers/event_id.py).
    received = {
        e["event"]["event_id"].removeprefix("snapmix:"): e["event"] for e in sandbox.events(PIXEL)
    }
    assert set(received) == {"s1", "s2", "s4"}  # PageScrolled has no rule; FeatureUsed: first only
    signup = received["s1"]
    assert signup["event_name"] == "Lead"
    assert signup["action_source"] == "website"
    user = signup["user_data"]
    assert user["em"] == sha("maya.chen@example.com")
    assert user["ph"] == sha("16505551212")
    assert user["client_ip_address"] == "2001:db8::1" and user["client_user_agent"] == UA
    assert user["external_id"] == sha(maya)
    upgrade = received["s2"]
    assert upgrade["event_name"] == "Purchase"
    assert upgrade["custom_data"]["value"] == 9.99 and upgrade["custom_data"]["currency"] == "USD"
    assert upgrade["action_source"] == "system_generated"
    assert received["s4"]["event_name"] == "CompleteRegistration"
    assert statuses(db) == {"sent": 3}
    rows = db.execute(
        "SELECT event_id, events_received, batch_size, match_keys, pixel_id "
        "FROM shared.attribution_events ORDER BY event_id"
    ).fetchall()
    assert all(
        r["events_received"] == 3 and r["batch_size"] == 3 and r["pixel_id"] == PIXEL for r in rows
    )
    assert "em" in rows[0]["match_keys"] and "ph" in rows[0]["match_keys"]
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}
    assert sandbox.summary()[PIXEL]["requests"] == 1


def test_nothing_is_queued_while_the_ingest_flag_is_off(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    maya = add_person(db, "maya@example.com")
    insert_events(
        db,
        [
            {
                "product_id": "snapmix",
                "event_id": "x",
                "event_name": "Signup",
                "person_id": maya,
                "meta_event_name": "Lead",
            }
        ],
    )
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}
    enable_pipeline(db, rules=False)
    insert_events(
        db, [{"product_id": "snapmix", "event_id": "y", "event_name": "Signup", "person_id": maya}]
    )  # a rule exists, but GAP-002 is off
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 0}


def test_consent_withdrawn_is_blocked_and_recorded(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    ann = add_person(db, "ann@example.com")
    db.execute("SELECT shared.record_consent(%s, 'withdrawn', 'settings')", (ann,))
    insert_events(
        db,
        [{"product_id": "softwarehub", "event_id": "c1", "event_name": "Signup", "person_id": ann}],
    )
    run_once(db_url, sandbox.url)
    assert sandbox.events(PIXEL) == []
    assert statuses(db) == {"blocked_consent": 1}


def test_events_past_the_7_day_window_are_dead_lettered_as_expired(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    bob = add_person(db, "bob@example.com")
    insert_events(
        db,
        [
            {
                "product_id": "gapradar",
                "event_id": "old",
                "event_name": "Signup",
                "person_id": bob,
                "occurred_at": "2026-11-01T00:00:00Z",
            },
            {"product_id": "gapradar", "event_id": "new", "event_name": "Signup", "person_id": bob},
        ],
    )
    run_once(db_url, sandbox.url)
    assert [e["event"]["event_id"] for e in sandbox.events(PIXEL)] == ["gapradar:new"]
    dead = db.execute("SELECT event_id, reason FROM shared.capi_dead_letter").fetchall()
    assert dead == [{"event_id": "old", "reason": "expired"}]
    assert statuses(db) == {"sent": 1, "expired": 1}


def test_one_bad_event_in_a_thousand_is_isolated_by_bisection(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "many@example.com")
    rows = [
        {
            "product_id": "snapmix",
            "event_id": f"b{i:04d}",
            "event_name": "Checkout",
            "meta_event_name": "Purchase",
            "person_id": person,
            "properties": {"value": 5, "currency": "USD"},
        }
        for i in range(1000)
    ]
    insert_events(db, rows)
    sandbox.faults(reject_event_ids=["snapmix:b0613"])  # Meta rejects any request that carries it
    run_once(db_url, sandbox.url)
    summary = sandbox.summary()[PIXEL]
    assert summary["unique"] == 999
    # Per halving, one refused and one accepted request; the two lanes may each have read part
    # of the queue, so the accepted side may count one more batch.
    depth = math.ceil(math.log2(1000))
    statuses_seen = [r.get("status") for r in sandbox.requests()]
    assert statuses_seen.count(400) <= depth + 1, statuses_seen
    assert statuses_seen.count(200) <= depth + 1, statuses_seen
    assert summary["requests"] <= 2 * depth + 2
    dead = db.execute(
        "SELECT event_id, reason, error_code, error_message FROM shared.capi_dead_letter"
    ).fetchall()
    assert len(dead) == 1 and dead[0]["event_id"] == "b0613" and dead[0]["reason"] == "rejected"
    assert dead[0]["error_code"] == 100 and dead[0]["error_message"]
    assert statuses(db) == {"sent": 999, "rejected": 1}


@pytest.mark.slow
def test_5xx_and_throttling_deliver_everything_without_retrying_permanent_errors(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "flaky@example.com")
    rows = [
        {
            "product_id": "velvethold",
            "event_id": f"f{i}",
            "event_name": "DateReserved",
            "person_id": person,
        }
        for i in range(300)
    ]
    rows.append(
        {
            "product_id": "velvethold",
            "event_id": "bad",
            "event_name": "Checkout",
            "meta_event_name": "Purchase",
            "person_id": person,
        }
    )  # no value: never sent
    insert_events(db, rows)
    # f150 is refused by Meta itself (code 100): a permanent error, among the transient ones.
    sandbox.faults(fail_5xx=0.3, throttle=0.2, seed=7, reject_event_ids=["velvethold:f150"])
    # Small batches so that there are many requests to fail.
    drain(db, db_url, sandbox.url, config=replace(FAST, batch_size=20))
    summary = sandbox.summary()[PIXEL]
    assert summary["unique"] == 299
    requests = sandbox.requests()
    codes = {r["code"] for r in requests if r["status"] >= 400}
    assert codes & {1, 2} and codes & {4, 17, 613, 80004}
    assert statuses(db).get("sent") == 299
    dead = db.execute(
        "SELECT event_id, reason FROM shared.capi_dead_letter ORDER BY event_id"
    ).fetchall()
    assert dead == [{"event_id": "bad", "reason": "invalid"},
                    {"event_id": "f150", "reason": "rejected"}]  # fmt: skip
    # Once Meta refused f150 on its own, it was never sent again.
    refused_alone = [i for i, r in enumerate(requests) if r["code"] == 100 and r["events"] == 1]
    assert len(refused_alone) == 1
    assert all(r["code"] != 100 for r in requests[refused_alone[0] + 1 :])


def test_token_expiry_opens_the_breaker_and_closes_it_when_fixed(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    person = add_person(db, "tok@example.com")
    insert_events(
        db,
        [
            {
                "product_id": "blogcanvas",
                "event_id": f"t{i}",
                "event_name": "Signup",
                "person_id": person,
            }
            for i in range(50)
        ],
    )
    sandbox.faults(token_expired=True)
    # A long probe interval, so that a slow machine cannot make a second probe due mid-test;
    # each new worker still probes once at start (it may carry a fixed token).
    slow_probe = replace(FAST, breaker_probe_interval_s=5.0)
    run_once(db_url, sandbox.url, slow_probe)
    state = db.execute("SELECT breaker, last_error_code FROM shared.capi_pixel_state").fetchone()
    assert state == {"breaker": "open", "last_error_code": 190}
    first_requests = len(sandbox.requests())
    # No storm: at most one failed request per lane (lanes read concurrently and may both have
    # sent before either learned the token was bad).
    assert 1 <= first_requests <= slow_probe.lanes
    for _ in range(3):  # still expired: one probe per worker start, no storm
        run_once(db_url, sandbox.url, slow_probe)
    assert len(sandbox.requests()) - first_requests <= 3 * slow_probe.lanes
    assert sandbox.events(PIXEL) == []
    sandbox.faults(token_expired=False)
    drain(db, db_url, sandbox.url, config=slow_probe)
    assert sandbox.summary()[PIXEL]["unique"] == 50
    state = db.execute("SELECT breaker FROM shared.capi_pixel_state").fetchone()
    assert state == {"breaker": "closed"}
    assert statuses(db)["sent"] == 50 and statuses(db)["held_auth"] >= 50


def test_dead_letters_replay_with_their_original_event_id(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    db.execute("SELECT shared.unset_setting('META_PIXEL_ID', 'test')")
    person = add_person(db, "replay@example.com")
    insert_events(
        db,
        [
            {
                "product_id": "vellopad",
                "event_id": "r1",
                "event_name": "BookPublished",
                "person_id": person,
            }
        ],
    )
    run_once(db_url, sandbox.url)
    dead = db.execute("SELECT id, reason FROM shared.capi_dead_letter").fetchone()
    assert dead is not None and dead["reason"] == "no_pixel"
    db.execute("SELECT shared.set_setting('META_PIXEL_ID', '\"555555555\"', 'test', 'vellopad')")
    replayed = db.execute("SELECT shared.replay_dead_letters(NULL, 'ops') AS n").fetchone()
    assert replayed == {"n": 1}
    run_once(db_url, sandbox.url)
    events = sandbox.events("555555555")
    assert [e["event"]["event_id"] for e in events] == ["vellopad:r1"]
    assert events[0]["event"]["event_name"] == "BookPublished"


def test_no_raw_pii_in_queue_delivery_records_or_logs(
    db: Conn, db_url: str, sandbox: SandboxControl, caplog: Any
) -> None:
    enable_pipeline(db)
    person = add_person(
        db,
        "secret.person@example.com",
        phone="+14155550199",
        first_name="Zebulon",
        last_name="Quixote",
    )
    insert_events(
        db,
        [
            {"product_id": "snapmix", "event_id": "p1", "event_name": "Signup",
             "person_id": person},
            # and one that is dead-lettered (past Meta's window), for the dead-letter table
            {"product_id": "snapmix", "event_id": "p2", "event_name": "Signup",
             "person_id": person, "occurred_at": "2020-01-01T00:00:00Z"},
        ],
    )  # fmt: skip
    queued = db.execute("SELECT message::text AS m FROM pgmq.q_meta_capi").fetchall()
    caplog.set_level("DEBUG")
    run_once(db_url, sandbox.url)
    archived = db.execute("SELECT message::text AS m FROM pgmq.a_meta_capi").fetchall()
    records = db.execute(
        "SELECT row_to_json(a)::text AS r FROM shared.attribution_events a"
    ).fetchall()
    dead = db.execute("SELECT row_to_json(d)::text AS r FROM shared.capi_dead_letter d").fetchall()
    assert len(dead) == 1
    haystack = " ".join(
        [
            *(q["m"] for q in queued),
            *(a["m"] for a in archived),
            *(r["r"] for r in records),
            *(d["r"] for d in dead),
            caplog.text,
            generate_latest(capi_metrics.REGISTRY).decode(),
        ]
    ).lower()
    for secret in ("secret.person", "4155550199", "zebulon", "quixote"):
        assert secret not in haystack
    assert sandbox.events(PIXEL)[0]["event"]["user_data"]["fn"] == sha("zebulon")


def test_limited_data_use_and_test_event_code_are_applied(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    db.execute("SELECT shared.set_setting('META_LDU_US_STATES', '[\"CA\"]', 'test')")
    db.execute(
        "SELECT shared.set_setting('META_TEST_EVENT_CODE', '\"TEST123\"', 'test', 'snapmix')"
    )
    ca = add_person(db, "ca@example.com", country="US", state="California")
    ny = add_person(db, "ny@example.com", country="US", state="NY")
    insert_events(
        db,
        [
            {
                "product_id": "snapmix",
                "event_id": "ldu-ca",
                "event_name": "Signup",
                "person_id": ca,
            },
            {
                "product_id": "snapmix",
                "event_id": "ldu-ny",
                "event_name": "Signup",
                "person_id": ny,
            },
            {
                "product_id": "gapradar",
                "event_id": "no-code",
                "event_name": "Signup",
                "person_id": ny,
            },
        ],
    )
    run_once(db_url, sandbox.url)
    received = {e["event"]["event_id"].split(":", 1)[1]: e for e in sandbox.events(PIXEL)}
    assert received["ldu-ca"]["event"]["data_processing_options"] == ["LDU"]
    assert received["ldu-ca"]["event"]["data_processing_options_country"] == 1
    assert received["ldu-ca"]["event"]["data_processing_options_state"] == 1000
    assert "data_processing_options" not in received["ldu-ny"]["event"]
    assert received["ldu-ca"]["test_event_code"] == "TEST123"
    assert received["no-code"]["test_event_code"] is None
    codes = db.execute(
        "SELECT event_id, test_event_code FROM shared.attribution_events ORDER BY event_id"
    ).fetchall()
    assert codes == [
        {"event_id": "ldu-ca", "test_event_code": "TEST123"},
        {"event_id": "ldu-ny", "test_event_code": "TEST123"},
        {"event_id": "no-code", "test_event_code": None},
    ]


@pytest.mark.slow
def test_dlq_commands_list_and_replay(
    db: Conn, db_url: str, env: dict[str, str], sandbox: SandboxControl
) -> None:
    import subprocess
    import sys

    enable_pipeline(db)
    person = add_person(db, "dlq@example.com")
    insert_events(
        db,
        [
            {
                "product_id": "steadyletters",
                "event_id": "letter-1",
                "event_name": "LetterSent",
                "person_id": person,
            }
        ],
    )  # no letter_cost
    run_once(db_url, sandbox.url)

    def gdp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "workers.cli.main", "dlq", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    listed = gdp("list")  # as a process once; the rest in this process (tests/support/cli.py)
    assert listed.returncode == 0, listed.stderr
    assert "letter-1" in listed.stdout and "invalid" in listed.stdout
    assert "custom_data.value is required for Purchase events" in listed.stdout
    refused = gdp_in_process(env, "dlq", "replay")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    db.execute(
        "UPDATE shared.event SET properties = '{\"letter_cost\": 2.5}' WHERE event_id = 'letter-1'"
    )
    replayed = gdp_in_process(env, "dlq", "replay", "--all", "--by", "ops")
    assert replayed.returncode == 0 and replayed.stdout.strip() == "1 dead letters re-queued"
    run_once(db_url, sandbox.url)
    sent = sandbox.events(PIXEL)
    assert [e["event"]["event_id"] for e in sent] == ["steadyletters:letter-1"]
    assert sent[0]["event"]["custom_data"]["value"] == 2.5
    assert "no dead letters" in gdp_in_process(env, "dlq", "list").stdout
