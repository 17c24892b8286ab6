"""Lead Ads: the webhook (handshake, signature over the raw body, batched deliveries, dedup,
races), the lead worker (fetch, syncLeadToPerson, retries by code), and the loop closed: a
later conversion of that person reaches Meta carrying the lead id."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from meta_sandbox.config import FaultSettings, SandboxConfig
from tests.capi_helpers import PIXEL, enable_pipeline, run_once
from tests.edge_support import TestClient
from tests.insights_helpers import TOKEN, Conn, served_sandbox
from tests.support.gdp_app import running_gdp
from workers.leads.worker import LeadReport, LeadWorker, LeadWorkerConfig
from workers.settings import Settings, get_settings

SECRET = "lead-test-app-secret"
VERIFY = "lead-test-verify-token"
PATH = "/webhooks/meta"
AD = "120210000000100101"  # snapmix | Prospecting | Broad 25-54 | Video A
FORM = "7770001"
PAGE = "5550001"


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(*changes: dict[str, Any], page: str = PAGE) -> bytes:
    payload = {
        "object": "page",
        "entry": [{"id": page, "time": 1780000000, "changes": [
            {"field": "leadgen", "value": {"page_id": page, "form_id": FORM, **c}}
            for c in changes
        ]}],
    }  # fmt: skip
    return json.dumps(payload).encode()


@pytest.fixture
def lead_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    values = {"META_APP_SECRET": SECRET, "META_WEBHOOK_VERIFY_TOKEN": VERIFY}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


@pytest.fixture
def client(db_url: str, db: Conn, lead_env: dict[str, str]) -> Iterator[TestClient]:
    from edge_compat.app import create_app

    db.execute("UPDATE shared.feature_flag SET enabled = true WHERE flag_key = ANY(%s)",
               (["SHARED_PERSON_TABLE_ENABLED", "LEAD_ADS_SYNC_ENABLED"],))  # fmt: skip
    app = create_app(db_url, flag_cache_seconds=0, key_cache_seconds=0, pool_min_size=1)
    with TestClient(app) as test_client:
        yield test_client


def post(client: TestClient, body: bytes, signature: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature != "":
        headers["X-Hub-Signature-256"] = signature or sign(body)
    return client.post(PATH, content=body, headers=headers)


def leads(db: Conn) -> dict[str, dict[str, Any]]:
    rows = db.execute("SELECT * FROM shared.meta_lead").fetchall()
    return {r["leadgen_id"]: r for r in rows}


def queued(db: Conn) -> list[str]:
    rows = db.execute("SELECT message ->> 'leadgen_id' AS id FROM pgmq.q_meta_leads").fetchall()
    return sorted(r["id"] for r in rows)


# --- the handshake ------------------------------------------------------------------------------


def test_verification_handshake(client: TestClient) -> None:
    ok = client.get(PATH, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                  "hub.challenge": "1158201444"})  # fmt: skip
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = client.get(PATH, params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                     "hub.challenge": "1"})  # fmt: skip
    assert wrong.status_code == 403 and wrong.json()["error"]["field"] == "hub.verify_token"
    mode = client.get(PATH, params={"hub.verify_token": VERIFY, "hub.challenge": "1"})
    assert mode.status_code == 422 and mode.json()["error"]["field"] == "hub.mode"


# --- the signature ------------------------------------------------------------------------------


def test_unsigned_or_wrongly_signed_deliveries_store_nothing(client: TestClient, db: Conn) -> None:
    body = delivery({"leadgen_id": "901", "ad_id": AD})
    for signature, rule in (
        ("", "is required"),
        ("sha1=abc", "must be sha256=<hex>"),
        (sign(body, "another-secret"), "does not match the body"),
        (sign(body + b" "), "does not match the body"),
    ):
        answer = post(client, body, signature)
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["rule"] == rule
    tampered = body.replace(b"901", b"902")
    assert post(client, tampered, sign(body)).status_code == 403
    assert leads(db) == {} and queued(db) == []


def test_the_signature_is_over_the_raw_bytes_not_reserialized_json(
    client: TestClient, db: Conn
) -> None:
    # Meta's bytes: unusual spacing and escaped unicode a JSON round trip would change.
    body = (
        b'{ "object" : "page", "entry": [{"id": "5550001", "time": 1, "changes": [{"field":'
        b' "leadgen", "value": {"leadgen_id": "903", "page_id": "5550001", "form_id": "7770001",'
        b' "note": "caf\\u00e9"}}]}]}'
    )
    assert json.dumps(json.loads(body)).encode() != body
    answer = post(client, body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": True, "changes": 1, "new": 1, "duplicates": 0,
                             "skipped": 0}  # fmt: skip


# --- deliveries ---------------------------------------------------------------------------------


def test_every_entry_and_change_is_stored_once(client: TestClient, db: Conn) -> None:
    payload = {
        "object": "page",
        "entry": [
            {"id": PAGE, "time": 1, "changes": [
                {"field": "leadgen", "value": {"leadgen_id": "911", "page_id": PAGE,
                                               "form_id": FORM, "ad_id": AD,
                                               "created_time": 1780000000}},
                {"field": "leadgen", "value": {"leadgen_id": "912", "page_id": PAGE,
                                               "form_id": FORM}},
                {"field": "feed", "value": {"item": "status"}},
            ]},
            {"id": "5550002", "time": 1, "changes": [
                {"field": "leadgen", "value": {"leadgen_id": "913", "page_id": "5550002",
                                               "form_id": FORM}},
                {"field": "leadgen", "value": {"leadgen_id": "911", "page_id": PAGE,
                                               "form_id": FORM}},
            ]},
        ],
    }  # fmt: skip
    body = json.dumps(payload).encode()
    answer = post(client, body).json()
    assert answer == {"received": True, "changes": 5, "new": 3, "duplicates": 1, "skipped": 1}
    stored = leads(db)
    assert set(stored) == {"911", "912", "913"} and queued(db) == ["911", "912", "913"]
    assert stored["911"]["ad_id"] == AD and stored["912"]["is_organic"] is True
    assert stored["911"]["created_time"].timestamp() == 1780000000
    # Meta retries a delivery it thinks failed: counted, not queued again.
    again = post(client, body).json()
    assert again["new"] == 0 and again["duplicates"] == 4  # 911 is in it twice
    assert leads(db)["911"]["deliveries"] == 2 and queued(db) == ["911", "912", "913"]


def test_verified_but_not_a_lead_notification_is_400(client: TestClient, db: Conn) -> None:
    for body, field in ((b'{"object": "user", "entry": []}', "object"),
                        (b'{"object": "page", "entry": {}}', "entry"),
                        (b"[1, 2]", "body"), (b"not json", "body")):  # fmt: skip
        answer = post(client, body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]["field"] == field
    assert leads(db) == {}


def test_with_the_flag_off_nothing_is_stored(client: TestClient, db: Conn) -> None:
    db.execute("UPDATE shared.feature_flag SET enabled = false "
               "WHERE flag_key = 'LEAD_ADS_SYNC_ENABLED'")  # fmt: skip
    answer = post(client, delivery({"leadgen_id": "921"}))
    assert answer.status_code == 200 and answer.json() == {"disabled": True}
    assert leads(db) == {} and queued(db) == []


def test_two_sessions_storing_the_same_lead_at_once_queue_it_once(db_url: str, db: Conn) -> None:
    db.execute("UPDATE shared.feature_flag SET enabled = true "
               "WHERE flag_key = 'LEAD_ADS_SYNC_ENABLED'")  # fmt: skip
    body = delivery({"leadgen_id": "931"}, {"leadgen_id": "932"}).decode()
    barrier = threading.Barrier(2)
    results: list[dict[str, Any]] = []

    def deliver() -> None:
        with psycopg.connect(db_url, row_factory=dict_row) as conn:
            conn.execute("SET ROLE service_role")
            barrier.wait()
            row = conn.execute("SELECT * FROM shared.receive_lead_webhook(%s::jsonb)",
                               (body,)).fetchone()  # fmt: skip
            time.sleep(0.2)  # hold the transaction open while the other one arrives
            conn.commit()
            assert row is not None
            results.append(row)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r["new_leads"] for r in results) == [0, 2]
    assert sorted(r["duplicates"] for r in results) == [0, 2]
    assert queued(db) == ["931", "932"]
    assert {r["deliveries"] for r in leads(db).values()} == {2}


# --- the lead worker -----------------------------------------------------------------------------


def worker_settings(db_url: str, graph_url: str) -> Settings:
    return Settings(DATABASE_URL=db_url, META_GRAPH_URL=graph_url, META_CAPI_ACCESS_TOKEN=TOKEN)


def run_leads(db_url: str, graph_url: str, **config: Any) -> LeadReport:
    async def go() -> LeadReport:
        worker = LeadWorker(worker_settings(db_url, graph_url), LeadWorkerConfig(**config))
        try:
            return await worker.run(asyncio.Event(), once=True)
        finally:
            await worker.close()

    return asyncio.run(go())


LEAD_FIELDS = {
    "email": " Lea.Dupont@Example.COM ",
    "full_name": "Léa Dupont",
    "phone_number": "+33 6 12 34 56 78",
    "city": "Lyon",
    "country": "fr",
    "which_plan_are_you_interested_in?": "Pro",
}


def test_webhook_to_person_and_a_later_conversion_carries_the_lead_id(
    db_url: str, db: Conn, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The whole loop: Meta's signed delivery (sandbox) -> gdp serve -> queue -> lead worker ->
    person with first touch from the campaign -> a purchase later -> CAPI with lead_id."""
    enable_pipeline(db)
    db.execute("UPDATE shared.feature_flag SET enabled = true "
               "WHERE flag_key = 'LEAD_ADS_SYNC_ENABLED'")  # fmt: skip
    sandbox_secret = "sandbox-app-secret"
    with served_sandbox(SandboxConfig(app_secret=sandbox_secret)) as sb, running_gdp(
        {**env, "META_APP_SECRET": sandbox_secret, "META_WEBHOOK_VERIFY_TOKEN": VERIFY}
    ) as api:
        created = sb.http.post("/_sandbox/leads", json={
            "page_id": PAGE, "form_id": FORM, "ad_id": AD, "field_data": LEAD_FIELDS,
            "webhook_url": f"{api}{PATH}",
        }).json()  # fmt: skip
        assert created["delivered"] is True, created
        lead_id = created["leadgen_id"]
        assert queued(db) == [lead_id]
        with caplog.at_level(logging.INFO):
            report = run_leads(db_url, sb.url)
        assert (report.synced, report.new_people, report.failed) == (1, 1, 0)

        person = db.execute("SELECT * FROM shared.person").fetchone()
        assert person is not None
        assert (person["email"], person["first_name"], person["last_name"], person["phone"]) == (
            "lea.dupont@example.com", "Léa", "Dupont", "+33612345678",
        )  # fmt: skip
        assert (person["utm_source"], person["utm_medium"], person["utm_campaign"]) == (
            "meta", "paid", "snapmix | Prospecting | Signup",
        )  # fmt: skip
        assert (person["source_product"], person["meta_lead_form_id"], person["country"]) == (
            "snapmix", FORM, "FR",
        )  # fmt: skip
        assert person["properties"]["lead_answers"] == {"which_plan_are_you_interested_in?": "Pro"}
        link = db.execute("SELECT provider, external_id, metadata FROM shared.identity_link"
                          ).fetchone()  # fmt: skip
        assert link is not None
        assert (link["provider"], link["external_id"]) == ("meta_lead", lead_id)
        assert link["metadata"]["ad_id"] == AD
        assert link["metadata"]["campaign_id"] == "120210000000100000"
        stored = leads(db)[lead_id]
        assert (stored["status"], stored["project_id"], stored["person_id"]) == (
            "synced", "snapmix", person["id"],
        )  # fmt: skip
        assert queued(db) == []
        # No PII left the person table: not in the lead row, the queue archive, or the logs.
        for text in (json.dumps(stored, default=str),
                     json.dumps(db.execute("SELECT message FROM pgmq.a_meta_leads").fetchall()),
                     caplog.text):  # fmt: skip
            for secret in ("lea.dupont", "Dupont", "612345678", "Lyon"):
                assert secret not in text
        event = db.execute("SELECT event_name, product_id, source FROM shared.event").fetchone()
        assert event == {"event_name": "LeadFormSubmitted", "product_id": "snapmix",
                         "source": "lead_form"}  # fmt: skip

        # Later, the lead buys: the conversion reaches Meta with the lead id, unhashed.
        db.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name, person_id, properties) "
            "VALUES ('snapmix', 'buy-1', 'SubscriptionPurchased', %s, "
            "'{\"plan_price\": 49, \"currency\": \"USD\"}')",
            (person["id"],),
        )
        sent = run_once(db_url, sb.url)
        assert sent.sent == 1
        [received] = sb.sandbox.events[PIXEL]
        assert received.event["user_data"]["lead_id"] == lead_id
        assert received.event_name == "Purchase"


def test_a_lead_meta_will_not_give_is_retried_then_recorded_failed(
    db_url: str, db: Conn, client: TestClient
) -> None:
    db.execute("SELECT shared.set_setting('LEAD_ADS_MAX_ATTEMPTS', '3', 'test')")
    assert post(client, delivery({"leadgen_id": "999000111"})).status_code == 200
    with served_sandbox(SandboxConfig()) as sb:
        report = run_leads(db_url, sb.url, retry_base_s=0)
    assert report.outcomes == [("999000111", "retrying")] * 2 + [("999000111", "failed")]
    stored = leads(db)["999000111"]
    assert (stored["status"], stored["attempts"], stored["error_code"]) == ("failed", 3, 100)
    assert queued(db) == []


def test_a_lead_without_email_is_recorded_failed_not_lost(
    db_url: str, db: Conn, client: TestClient
) -> None:
    with served_sandbox(SandboxConfig(app_secret=SECRET)) as sb:
        created = sb.http.post("/_sandbox/leads", json={
            "page_id": PAGE, "form_id": FORM, "field_data": {"full_name": "No Mail"},
        }).json()  # fmt: skip
        assert post(client, delivery({"leadgen_id": created["leadgen_id"]})).status_code == 200
        report = run_leads(db_url, sb.url)
    assert (report.synced, report.failed) == (0, 1)
    stored = leads(db)[created["leadgen_id"]]
    assert stored["status"] == "failed" and "no usable email" in stored["error_message"]
    assert db.execute("SELECT count(*) AS n FROM shared.person").fetchone() == {"n": 0}


def test_the_lead_worker_role_can_sync_and_nothing_else(db: Conn) -> None:
    with db.transaction(force_rollback=True):
        db.execute("SET LOCAL ROLE gdp_lead_worker")
        assert db.execute("SELECT * FROM shared.lead_queue_read(1, 1)").fetchall() == []
        for statement in (
            "SELECT email FROM shared.person LIMIT 1",
            "SELECT * FROM pgmq.q_meta_leads",
            "SELECT * FROM shared.insights_worker_config()",
            "DELETE FROM shared.meta_lead",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
                db.execute(statement)


def test_a_killed_lead_worker_loses_no_lead_and_duplicates_none(
    db_url: str, db: Conn, env: dict[str, str]
) -> None:
    """SIGKILL the lead worker mid-run, start another: every lead becomes exactly one person,
    one identity link and one LeadFormSubmitted event; the queue ends empty."""
    import signal
    import subprocess
    import sys

    db.execute("UPDATE shared.feature_flag SET enabled = true "
               "WHERE flag_key = 'LEAD_ADS_SYNC_ENABLED'")  # fmt: skip
    count = 60
    with served_sandbox(SandboxConfig(faults=FaultSettings(latency_ms=40))) as sb:
        created = sb.http.post("/_sandbox/leads/batch", json={"leads": [
            {"page_id": PAGE, "form_id": FORM, "ad_id": AD,
             "field_data": {"email": f"kill{i}@example.com"}} for i in range(count)
        ]}).json()["leadgen_ids"]  # fmt: skip
        db.execute("SELECT * FROM shared.receive_lead_webhook(%s::jsonb)",
                   (delivery(*({"leadgen_id": lead} for lead in created)).decode(),))
        script = (
            "import asyncio, sys\n"
            "from workers.leads.worker import LeadWorker, LeadWorkerConfig\n"
            "from workers.settings import Settings\n"
            "s = Settings(DATABASE_URL=sys.argv[1], META_GRAPH_URL=sys.argv[2],"
            " META_CAPI_ACCESS_TOKEN='sandbox-token')\n"
            "w = LeadWorker(s, LeadWorkerConfig(batch_size=5, fetches_in_flight=2,"
            " visibility_timeout_s=2))\n"
            "asyncio.run(w.run(asyncio.Event()))\n"
        )
        worker = subprocess.Popen([sys.executable, "-c", script, db_url, sb.url], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                done = db.execute("SELECT count(*) AS n FROM shared.meta_lead "
                                  "WHERE status = 'synced'").fetchone()  # fmt: skip
                if done and done["n"] >= 10:
                    break
                time.sleep(0.05)
            worker.send_signal(signal.SIGKILL)
        finally:
            worker.wait(timeout=10)
        synced_at_kill = leads(db)
        assert 10 <= sum(r["status"] == "synced" for r in synced_at_kill.values()) < count
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run_leads(db_url, sb.url, visibility_timeout_s=2)
            if all(r["status"] == "synced" for r in leads(db).values()):
                break
            time.sleep(0.5)
    row = db.execute(
        "SELECT (SELECT count(*) FROM shared.meta_lead WHERE status = 'synced') AS synced,"
        " (SELECT count(*) FROM shared.person) AS people,"
        " (SELECT count(*) FROM shared.identity_link WHERE provider = 'meta_lead') AS links,"
        " (SELECT count(*) FROM shared.event WHERE event_name = 'LeadFormSubmitted') AS events,"
        " (SELECT count(*) FROM pgmq.q_meta_leads) AS queued"
    ).fetchone()
    assert row == {"synced": count, "people": count, "links": count, "events": count,
                   "queued": 0}  # fmt: skip
