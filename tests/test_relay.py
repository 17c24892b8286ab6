"""GAP-005: the browser relay POST /api/tracking/meta-event in edge_compat, over HTTP.

The relay runs in the app under test and stores what it accepts in-process, through the same
path as POST /api/v1/meta/event (no HTTP hop, no service key); each test checks the rows.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import psycopg
import pytest

from edge_compat.app import create_app
from edge_compat.client_ip import parse_networks
from edge_compat.rate_limit import VisitorLimiter
from edge_compat.routes import relay
from edge_compat.routes.relay import Relay, RelaySettings
from tests.edge_support import Conn, TestClient, create_key, set_flags

PATH = "/api/tracking/meta-event"
RELAY_FLAGS = (
    "SHARED_PERSON_TABLE_ENABLED",
    "META_CAPI_INGEST_ENABLED",
    "CONVERSION_TRACKING_ENABLED",
    "META_CAPI_FORWARD_ENABLED",
    "META_CAPI_RELAY_ENABLED",
)
FBP = "fb.1.1596403881668.1116446470"
UA = "Mozilla/5.0 (X11; Linux x86_64) Chromium/156"
PROXY = "10.0.0.7"  # the product's reverse proxy, the relay's direct peer in these tests


def enable_product(db: Conn, product: str = "snapmix", enabled: bool = True) -> None:
    db.execute(
        "SELECT shared.set_setting('META_CAPI_RELAY_PRODUCT_ENABLED', %s::jsonb, 'test', %s)",
        (json.dumps(enabled), product),
    )


def fbc_now(fbclid: str = "IwAR0aBcDeF_gh-IJ") -> str:
    return f"fb.2.{int(time.time() * 1000) - 60_000}.{fbclid}"


def browser_event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_name": "ProUpgrade",
        "event_id": str(uuid.uuid4()),
        "event_source_url": "https://snapmix.app/upgrade",
        "custom_data": {"value": 9.99, "currency": "USD", "plan": "pro"},
    }
    body.update(changes)
    return body


@contextmanager
def relay_client(
    db_url: str,
    *,
    peer: str = PROXY,
    trusted: str = PROXY,
    product: str | None = "snapmix",
    max_body: int = 16 * 1024,
    origins: frozenset[str] = frozenset(),
    rate_limit: str = "",
) -> Iterator[TestClient]:
    app = create_app(db_url, flag_cache_seconds=0, key_cache_seconds=0, pool_min_size=1)
    if not any(getattr(r, "path", None) == PATH for r in app.routes):
        app.include_router(relay.router)
    settings = RelaySettings(
        product_id=product,
        trusted_proxies=parse_networks(trusted),
        max_body_bytes=max_body,
        config_ttl=0,
        allowed_origins=origins,
        rate_limit=rate_limit,
    )
    app.state.relay = Relay(settings)
    with TestClient(app, client=(peer, 51000)) as client:
        yield client


@pytest.fixture
def relay_on(db: Conn) -> None:
    set_flags(db, *RELAY_FLAGS)
    enable_product(db)


@pytest.fixture
def key(db: Conn, relay_on: None) -> str:
    return create_key(db)


def post(client: TestClient, body: Any, **headers: str) -> httpx.Response:
    return client.post(PATH, json=body, headers={"User-Agent": UA, **headers})


def stored(db: Conn, column: str = "event_id") -> list[Any]:
    """One column of every stored event, in the order they were stored."""
    rows = db.execute(f"SELECT {column} AS v FROM shared.event ORDER BY id").fetchall()
    return [r["v"] for r in rows]


def test_disabled_until_the_flag_and_the_product_are_on(db_url: str, db: Conn) -> None:
    with relay_client(db_url) as client:
        assert post(client, browser_event()).json() == {"disabled": True}
        set_flags(db, *RELAY_FLAGS)
        # The global flag alone is not enough: each product is switched on on its own.
        response = post(client, browser_event())
        assert (response.status_code, response.json()) == (200, {"disabled": True})
        enable_product(db, "softwarehub")
        assert post(client, browser_event()).json() == {"disabled": True}
        enable_product(db)
        on = browser_event()
        answer = post(client, on).json()
        assert (answer["success"], answer["status"], answer["event_id"]) == (
            True,
            "queued",
            on["event_id"],
        )
        enable_product(db, enabled=False)
        assert post(client, browser_event()).json() == {"disabled": True}
        set_flags(db, "META_CAPI_RELAY_ENABLED", enabled=False)
        enable_product(db)
        # Even a broken body is not read while disabled.
        response = client.post(PATH, content=b"{", headers={"Content-Type": "application/json"})
        assert response.json() == {"disabled": True}
        # The relay on but GAP-001's ingest off: GDP's own disabled answer, nothing stored.
        set_flags(db, "META_CAPI_RELAY_ENABLED")
        set_flags(db, "META_CAPI_INGEST_ENABLED", enabled=False)
        assert post(client, browser_event()).json() == {"success": False, "disabled": True}
    assert stored(db) == [on["event_id"]]


def test_disabled_without_its_environment(db_url: str, db: Conn, relay_on: None) -> None:
    with relay_client(db_url, product=None) as client:
        assert post(client, browser_event()).json() == {"disabled": True}
    with relay_client(db_url, product="nosuchproduct") as client:
        assert post(client, browser_event()).json() == {"disabled": True}
    assert stored(db) == []


def test_stores_in_process_without_a_service_key(db_url: str, db: Conn, relay_on: None) -> None:
    """GDP's own relay needs no key and no HTTP round trip: PRODUCT_ID is its configuration."""
    with relay_client(db_url) as client:
        response = post(client, browser_event(event_id="no-key-1"))
    assert response.status_code == 200, response.text
    assert db.execute("SELECT count(*) AS n FROM shared.service_key").fetchone() == {"n": 0}
    assert stored(db, "product_id") == ["snapmix"]
    assert stored(db) == ["no-key-1"]


def test_stores_what_only_the_relay_knows(db_url: str, db: Conn, relay_on: None) -> None:
    fbc = fbc_now()
    body = browser_event(user_data={"fbp": "fb.1.1.forged"})
    with relay_client(db_url) as client:
        response = client.post(
            f"{PATH}?wait=0.2",
            json=body,
            headers={
                "User-Agent": UA,
                # What the client wrote, then what our proxy appended: the visitor it saw.
                "X-Forwarded-For": "10.2.3.4, 2001:4860:4860::8888, 8.8.8.8",
                "Cookie": f"_ga=1; _fbp={FBP}; _fbc={fbc}",
            },
        )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["event_id"], answer["status"], answer["duplicate"]) == (
        body["event_id"],
        "queued",
        False,
    )
    row = db.execute(
        "SELECT product_id, event_id, event_name, meta_event_name, action_source,"
        " event_source_url, host(client_ip_address) AS ip, client_user_agent, fbp, fbc,"
        " properties, abs(extract(epoch FROM now() - occurred_at)) < 600 AS now"
        " FROM shared.event"
    ).fetchall()
    assert row == [
        {
            "product_id": "snapmix",
            "event_id": body["event_id"],
            "event_name": "Purchase",  # SnapMix's ProUpgrade is a Purchase for Meta
            "meta_event_name": "Purchase",
            "action_source": "website",
            "event_source_url": "https://snapmix.app/upgrade",
            "ip": "8.8.8.8",
            "client_user_agent": UA,
            "fbp": FBP,
            "fbc": fbc,
            "properties": {"value": 9.99, "currency": "USD", "plan": "pro"},
            "now": True,
        }
    ]


def test_forwarded_for_is_ignored_from_untrusted_peers(
    db_url: str, db: Conn, relay_on: None
) -> None:
    with relay_client(db_url, peer="198.51.100.20", trusted="10.0.0.0/8") as client:
        post(client, browser_event(), **{"X-Forwarded-For": "8.8.8.8"})
    with relay_client(db_url, peer="198.51.100.20", trusted="") as client:
        post(client, browser_event(), **{"X-Forwarded-For": "8.8.8.8"})
    assert stored(db, "host(client_ip_address)") == ["198.51.100.20"] * 2


def test_rotating_forwarded_for_neither_escapes_the_limit_nor_reaches_meta(
    db_url: str, db: Conn, relay_on: None
) -> None:
    """A client writing a new address into X-Forwarded-For on every request is still the one
    visitor our proxies saw: one rate-limit budget, and that address is what Meta gets."""
    trusted = f"{PROXY}, 10.9.0.0/16"  # a CDN edge, then the product's proxy
    with relay_client(db_url, trusted=trusted, rate_limit="3/minute") as client:
        answers = [
            post(client, browser_event(), **{"X-Forwarded-For": f"1.1.1.{i}, 8.8.8.8, 10.9.0.4"})
            for i in range(5)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert stored(db, "host(client_ip_address)") == ["8.8.8.8"] * 3


def test_product_key_events_and_standard_events_pass_others_do_not(
    db_url: str, db: Conn, relay_on: None
) -> None:
    with relay_client(db_url) as client:
        for name in ("SnapCreated", "Signup", "ViewContent", "PageView"):
            assert post(client, browser_event(event_name=name)).status_code == 200, name
        for name in ("CourseEnroll", "Snapcreated", "purchase", "DROP TABLE"):
            response = post(client, browser_event(event_name=name))
            assert response.status_code == 422, name
            assert response.json()["error"]["field"] == "event_name"
        # The event list is rows: an admin adds one, the relay takes it, under either name.
        db.execute(
            "INSERT INTO shared.product_event (product_id, event_name, meta_event_name)"
            " VALUES ('snapmix', 'MixShared', 'ShareMix')"
        )
        assert post(client, browser_event(event_name="MixShared")).status_code == 200
        assert post(client, browser_event(event_name="ShareMix")).status_code == 200
    assert stored(db, "event_name") == [
        "SnapCreated",
        "Lead",
        "ViewContent",
        "PageView",
        "ShareMix",
        "ShareMix",
    ]


def test_each_visitor_is_rate_limited(db_url: str, db: Conn, relay_on: None) -> None:
    with relay_client(db_url, rate_limit="3/minute") as client:
        answers = [post(client, browser_event(), **{"X-Forwarded-For": "8.8.8.8"})
                   for _ in range(4)]  # fmt: skip
        other = post(client, browser_event(), **{"X-Forwarded-For": "9.9.9.9"})
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json()["error"]["field"] == "rate"
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert other.status_code == 200  # another visitor has their own budget
    assert len(stored(db)) == 4
    with pytest.raises(ValueError, match="GDP_RELAY_RATE_LIMIT"):
        VisitorLimiter("lots")


def test_only_allowed_origins_may_post_when_a_list_is_set(
    db_url: str, db: Conn, relay_on: None
) -> None:
    allowed = frozenset({"https://snapmix.app"})
    with relay_client(db_url, origins=allowed) as client:
        other = post(client, browser_event(), Origin="https://evil.example")
        own = post(client, browser_event(event_id="o-2"), Origin="https://SnapMix.app/")
        no_origin = post(client, browser_event(event_id="o-3"))
    assert other.status_code == 403
    assert other.json()["error"]["field"] == "Origin"
    assert (own.status_code, no_origin.status_code) == (200, 200)
    assert stored(db) == ["o-2", "o-3"]
    with relay_client(db_url) as client:  # no list: any origin
        assert post(client, browser_event(event_id="o-4"), Origin="https://x.example").is_success


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"user_data": {"email": "jane@example.com"}}, 422, "user_data.email"),
        ({"user_data": {"ph": "16505551212"}}, 422, "user_data.ph"),
        ({"custom_data": {"source_product": "softwarehub"}}, 403, "custom_data.source_product"),
        ({"custom_data": {"first_name": "Jane"}}, 422, "custom_data.first_name"),
        ({"event_time": 1}, 422, "event_time"),
        ({"action_source": "system_generated"}, 422, "action_source"),
        ({"test_event_code": "TEST1"}, 422, "test_event_code"),
        ({"event_id": ""}, 422, "event_id"),
        # GAP-001's own rules, checked by the path the relay stores through.
        ({"custom_data": {"value": 5}}, 422, "custom_data.currency"),
        ({"event_name": "Purchase", "custom_data": {"plan": "pro"}}, 422, "custom_data.value"),
    ],
)
def test_untrusted_input_is_refused_and_nothing_stored(
    db_url: str, db: Conn, relay_on: None, change: dict[str, Any], status: int, field: str
) -> None:
    with relay_client(db_url) as client:
        response = post(client, browser_event(**change))
    assert response.status_code == status
    assert response.json()["error"]["field"] == field
    assert "jane" not in response.text.lower()
    assert stored(db) == []


def test_body_size_type_and_syntax(db_url: str, db: Conn, relay_on: None) -> None:
    with relay_client(db_url, max_body=2048) as client:
        big = browser_event(custom_data={"notes": "x" * 3000})
        assert post(client, big).status_code == 413
        # A chunked body without Content-Length is cut off at the limit as well.
        chunks = iter([json.dumps(big).encode()[:1500], json.dumps(big).encode()[1500:]])
        response = client.post(PATH, content=chunks, headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        response = client.post(PATH, content=b"{", headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()["error"]["field"]) == (400, "body")
        response = client.post(PATH, content=b"a=b", headers={"Content-Type": "text/html"})
        assert response.status_code == 415
        # sendBeacon with a string sends text/plain: accepted.
        text = json.dumps(browser_event()).encode()
        response = client.post(PATH, content=text, headers={"Content-Type": "text/plain"})
        assert response.status_code == 200
    assert len(stored(db)) == 1


def test_database_unavailable_is_503(db: Conn, relay_on: None) -> None:
    app = create_app("postgresql://postgres@127.0.0.1:1/none", pool_timeout=0.3, pool_min_size=1)
    app.state.relay = Relay(RelaySettings(product_id="snapmix", config_ttl=0))
    with TestClient(app, client=(PROXY, 51000)) as client:
        response = post(client, browser_event())
    assert response.status_code == 503
    assert "database unavailable" in response.json()["error"]["message"]


def test_relayed_event_is_stored_once_and_queued_for_meta(
    db_url: str, db: Conn, relay_on: None
) -> None:
    fbc = fbc_now("ClickIdWithCASE_42")
    body = browser_event()
    headers = {
        "X-Forwarded-For": "2a03:2880:f12f:83:face:b00c::25de",
        "Cookie": f"_fbp={FBP}; _fbc={fbc}",
    }
    with relay_client(db_url) as client:
        first = post(client, body, **headers)
        again = post(client, body, **headers)
    assert first.status_code == 200, first.text
    assert first.json()["event_id"] == body["event_id"]
    assert (first.json()["status"], again.json()["status"]) == ("queued", "queued")
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    row = db.execute(
        "SELECT product_id, event_name, meta_event_name, host(client_ip_address) AS ip,"
        " client_user_agent, fbp, fbc, properties, action_source FROM shared.event"
    ).fetchall()
    assert row == [
        {
            "product_id": "snapmix",
            "event_name": "Purchase",
            "meta_event_name": "Purchase",
            "ip": "2a03:2880:f12f:83:face:b00c:0:25de",
            "client_user_agent": UA,
            "fbp": FBP,
            "fbc": fbc,
            "properties": {"value": 9.99, "currency": "USD", "plan": "pro"},
            "action_source": "website",
        }
    ]
    assert db.execute("SELECT count(*) AS n FROM pgmq.q_meta_capi").fetchone() == {"n": 1}


def test_relay_config_for_the_key_product(db_url: str, key: str, db: Conn) -> None:
    with relay_client(db_url) as client:
        assert client.get("/api/v1/meta/relay-config").status_code == 401
        answer = client.get(
            "/api/v1/meta/relay-config", headers={"Authorization": f"Bearer {key}"}
        ).json()
        other = create_key(db, "gapradar")
        gapradar = client.get(
            "/api/v1/meta/relay-config", headers={"Authorization": f"Bearer {other}"}
        ).json()
    assert answer["product_id"] == "snapmix"
    assert (answer["enabled"], answer["relay_enabled"], answer["product_enabled"]) == (
        True,
        True,
        True,
    )
    assert answer["events"]["ProUpgrade"] == "Purchase"
    assert answer["events"]["SnapCreated"] == "SnapCreated"
    assert answer["events"]["Purchase"] == "Purchase"
    assert "ReportGenerated" not in answer["events"]
    assert gapradar["enabled"] is False
    assert gapradar["events"]["ReportGenerated"] == "ReportGenerated"


def test_every_prd_product_has_its_key_events(db: Conn) -> None:
    rows = db.execute(
        "SELECT product_id, array_agg(event_name ORDER BY product_event_id) AS events"
        " FROM shared.product_event WHERE product_id IS NOT NULL GROUP BY product_id"
    ).fetchall()
    assert {r["product_id"]: r["events"] for r in rows} == {
        "snapmix": ["Signup", "SnapCreated", "ProUpgrade"],
        "softwarehub": ["Signup", "CourseEnroll", "Purchase"],
        "velvethold": ["Signup", "DateReserved", "Upgrade"],
        "steadyletters": ["Signup", "LetterSent", "Purchase"],
        "blogcanvas": ["Signup", "PostPublished"],
        "vellopad": ["Signup", "BookPublished"],
        "gapradar": ["Signup", "ReportGenerated"],
    }


def test_product_events_are_service_role_only(db: Conn) -> None:
    for role in ("anon", "authenticated"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
            db.execute(f"SET LOCAL ROLE {role}")
            db.execute("SELECT * FROM shared.product_event")
    row = db.execute(
        "SELECT c.relrowsecurity, array_agg(p.polname ORDER BY p.polname) AS policies"
        " FROM pg_class AS c"
        " JOIN pg_policy AS p ON p.polrelid = c.oid"
        " WHERE c.oid = 'shared.product_event'::regclass GROUP BY c.relrowsecurity"
    ).fetchone()
    assert row == {
        "relrowsecurity": True,
        "policies": [
            "Only the service role can read or change product events",
            # gdp serve reads them as its own role (db/policies/18_process_roles.sql).
            "The HTTP service reads relay events",
        ],
    }


def test_settings_feed_the_relay() -> None:
    from workers.settings import Settings

    settings = Settings(
        PRODUCT_ID="snapmix",
        GDP_TRUSTED_PROXIES="10.0.0.0/8, ::1",
        GDP_RELAY_ALLOWED_ORIGINS="https://snapmix.app/, https://www.snapmix.app",
    )
    got = RelaySettings.from_settings(settings)
    assert got == replace(
        got,
        product_id="snapmix",
        max_body_bytes=16 * 1024,
        allowed_origins=frozenset({"https://snapmix.app", "https://www.snapmix.app"}),
    )
    assert [str(n) for n in got.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert RelaySettings.from_settings(Settings()).product_id is None


@pytest.mark.parametrize("prefix", ["GDP", "WAITLISTLAB"])
def test_product_side_relay_settings_say_what_they_are(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GDP_API_URL / GDP_SERVICE_KEY; the PRD's WAITLISTLAB_* names are accepted as well."""
    from workers.settings import Settings

    monkeypatch.setenv(f"{prefix}_API_URL", "https://gdp.example.com")
    monkeypatch.setenv(f"{prefix}_SERVICE_KEY", "gdp_sk_snapmix_x")
    settings = Settings()
    assert settings.gdp_api_url == "https://gdp.example.com"
    assert settings.gdp_service_key is not None
    assert settings.gdp_service_key.get_secret_value() == "gdp_sk_snapmix_x"
    assert "GDP_SERVICE_KEY" in settings.present_secrets()
