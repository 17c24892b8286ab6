"""GAP-005: the browser relay POST /api/tracking/meta-event in edge_compat, over HTTP.

The relay runs in the app under test; its upstream (GDP's /api/v1/meta/event) is either a
recording stand-in (what exactly is forwarded, and how upstream failures are answered) or the
same app (the event really stored, as the CAPI worker will send it).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
UPSTREAM = "http://gdp.test"
RELAY_FLAGS = (
    "SHARED_PERSON_TABLE_ENABLED",
    "META_CAPI_INGEST_ENABLED",
    "CONVERSION_TRACKING_ENABLED",
    "META_CAPI_FORWARD_ENABLED",
    "META_CAPI_RELAY_ENABLED",
)
FBP = "fb.1.1596403881668.1116446470"
UA = "Mozilla/5.0 (X11; Linux x86_64) Chromium/156"
Handler = Callable[[httpx.Request], httpx.Response]


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


@dataclass
class Upstream:
    """A recording stand-in for GDP's /api/v1/meta/event."""

    status: int = 200
    answer: Any = field(default_factory=lambda: {"success": True, "status": "queued"})
    fail: bool = False
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.fail:
            raise httpx.ConnectError("refused", request=request)
        self.requests.append(request)
        if isinstance(self.answer, bytes):
            return httpx.Response(self.status, content=self.answer)
        return httpx.Response(self.status, json=self.answer)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


@contextmanager
def relay_client(
    db_url: str,
    key: str | None,
    *,
    upstream: Upstream | None = None,
    same_app: bool = False,
    trusted: str = "127.0.0.1",
    product: str = "snapmix",
    max_body: int = 16 * 1024,
    origins: frozenset[str] = frozenset(),
    rate_limit: str = "",
) -> Iterator[TestClient]:
    app = create_app(db_url, flag_cache_seconds=0, key_cache_seconds=0, pool_min_size=1)
    if not any(getattr(r, "path", None) == PATH for r in app.routes):
        app.include_router(relay.router)
    settings = RelaySettings(
        product_id=product,
        upstream_url=UPSTREAM,
        service_key=key,
        trusted_proxies=parse_networks(trusted),
        max_body_bytes=max_body,
        config_ttl=0,
        allowed_origins=origins,
        rate_limit=rate_limit,
    )
    transport: httpx.AsyncBaseTransport = (
        httpx.ASGITransport(app=app) if same_app else httpx.MockTransport(upstream or Upstream())
    )
    app.state.relay = Relay(settings, httpx.AsyncClient(transport=transport))
    with TestClient(app, client=("127.0.0.1", 51000)) as client:
        yield client


@pytest.fixture
def key(db: Conn) -> str:
    set_flags(db, *RELAY_FLAGS)
    enable_product(db)
    return create_key(db)


def post(client: TestClient, body: Any, **headers: str) -> httpx.Response:
    return client.post(PATH, json=body, headers={"User-Agent": UA, **headers})


def test_disabled_until_the_flag_and_the_product_are_on(db_url: str, db: Conn) -> None:
    upstream = Upstream()
    key = create_key(db)
    with relay_client(db_url, key, upstream=upstream) as client:
        assert post(client, browser_event()).json() == {"disabled": True}
        set_flags(db, *RELAY_FLAGS)
        # The global flag alone is not enough: each product is switched on on its own.
        response = post(client, browser_event())
        assert (response.status_code, response.json()) == (200, {"disabled": True})
        enable_product(db, "softwarehub")
        assert post(client, browser_event()).json() == {"disabled": True}
        enable_product(db)
        assert post(client, browser_event()).json() == {"success": True, "status": "queued"}
        enable_product(db, enabled=False)
        assert post(client, browser_event()).json() == {"disabled": True}
        set_flags(db, "META_CAPI_RELAY_ENABLED", enabled=False)
        enable_product(db)
        # Even a broken body is not read while disabled.
        response = client.post(PATH, content=b"{", headers={"Content-Type": "application/json"})
        assert response.json() == {"disabled": True}
    assert len(upstream.requests) == 1


def test_disabled_without_its_environment(db_url: str, key: str) -> None:
    upstream = Upstream()
    with relay_client(db_url, None, upstream=upstream) as client:
        assert post(client, browser_event()).json() == {"disabled": True}
    with relay_client(db_url, key, upstream=upstream, product="nosuchproduct") as client:
        assert post(client, browser_event()).json() == {"disabled": True}
    assert upstream.requests == []


def test_forwards_with_what_only_the_relay_knows(db_url: str, key: str) -> None:
    upstream = Upstream()
    fbc = fbc_now()
    body = browser_event(user_data={"fbp": "fb.1.1.forged"})
    with relay_client(db_url, key, upstream=upstream) as client:
        response = client.post(
            f"{PATH}?wait=1.5",
            json=body,
            headers={
                "User-Agent": UA,
                "X-Forwarded-For": "10.2.3.4, 2001:4860:4860::8888, 8.8.8.8",
                "Cookie": f"_ga=1; _fbp={FBP}; _fbc={fbc}",
            },
        )
    assert (response.status_code, response.json()) == (200, {"success": True, "status": "queued"})
    [sent] = upstream.requests
    assert str(sent.url) == f"{UPSTREAM}/api/v1/meta/event?wait=1.5"
    assert sent.headers["Authorization"] == f"Bearer {key}"
    assert sent.headers["Content-Type"] == "application/json"
    forwarded = json.loads(sent.content)
    assert abs(forwarded.pop("event_time") - time.time()) < 5
    assert forwarded == {
        "event_name": "Purchase",  # SnapMix's ProUpgrade is a Purchase for Meta
        "event_id": body["event_id"],
        "action_source": "website",
        "event_source_url": "https://snapmix.app/upgrade",
        "user_data": {
            "client_ip_address": "2001:4860:4860::8888",
            "client_user_agent": UA,
            "fbp": FBP,
            "fbc": fbc,
        },
        "custom_data": {
            "value": 9.99,
            "currency": "USD",
            "plan": "pro",
            "source_product": "snapmix",
        },
    }


def test_forwarded_for_is_ignored_from_untrusted_peers(db_url: str, key: str) -> None:
    upstream = Upstream()
    with relay_client(db_url, key, upstream=upstream, trusted="10.0.0.0/8") as client:
        post(client, browser_event(), **{"X-Forwarded-For": "8.8.8.8"})
    with relay_client(db_url, key, upstream=upstream, trusted="") as client:
        post(client, browser_event(), **{"X-Forwarded-For": "8.8.8.8"})
    assert [b["user_data"]["client_ip_address"] for b in upstream.bodies] == ["127.0.0.1"] * 2


def test_product_key_events_and_standard_events_pass_others_do_not(
    db_url: str, key: str, db: Conn
) -> None:
    upstream = Upstream()
    with relay_client(db_url, key, upstream=upstream) as client:
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
    assert [b["event_name"] for b in upstream.bodies] == [
        "SnapCreated",
        "Lead",
        "ViewContent",
        "PageView",
        "ShareMix",
        "ShareMix",
    ]


def test_each_visitor_is_rate_limited(db_url: str, key: str) -> None:
    upstream = Upstream()
    with relay_client(db_url, key, upstream=upstream, rate_limit="3/minute") as client:
        answers = [post(client, browser_event(), **{"X-Forwarded-For": "8.8.8.8"})
                   for _ in range(4)]  # fmt: skip
        other = post(client, browser_event(), **{"X-Forwarded-For": "9.9.9.9"})
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json()["error"]["field"] == "rate"
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    assert other.status_code == 200  # another visitor has their own budget
    assert len(upstream.bodies) == 4
    with pytest.raises(ValueError, match="GDP_RELAY_RATE_LIMIT"):
        VisitorLimiter("lots")


def test_only_allowed_origins_may_post_when_a_list_is_set(db_url: str, key: str) -> None:
    upstream = Upstream()
    allowed = frozenset({"https://snapmix.app"})
    with relay_client(db_url, key, upstream=upstream, origins=allowed) as client:
        other = post(client, browser_event(), Origin="https://evil.example")
        own = post(client, browser_event(event_id="o-2"), Origin="https://SnapMix.app/")
        no_origin = post(client, browser_event(event_id="o-3"))
    assert other.status_code == 403
    assert other.json()["error"]["field"] == "Origin"
    assert (own.status_code, no_origin.status_code) == (200, 200)
    assert [b["event_id"] for b in upstream.bodies] == ["o-2", "o-3"]
    with relay_client(db_url, key, upstream=upstream) as client:  # no list: any origin
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
    ],
)
def test_untrusted_input_is_refused_and_nothing_forwarded(
    db_url: str, key: str, change: dict[str, Any], status: int, field: str
) -> None:
    upstream = Upstream()
    with relay_client(db_url, key, upstream=upstream) as client:
        response = post(client, browser_event(**change))
    assert response.status_code == status
    assert response.json()["error"]["field"] == field
    assert "jane" not in response.text.lower()
    assert upstream.requests == []


def test_body_size_type_and_syntax(db_url: str, key: str) -> None:
    upstream = Upstream()
    with relay_client(db_url, key, upstream=upstream, max_body=2048) as client:
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
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    ("upstream", "status"),
    [
        (Upstream(status=401, answer={"error": {"field": "Authorization"}}), 502),
        (Upstream(status=403, answer={"error": {"field": "custom_data.source_product"}}), 502),
        (Upstream(status=500, answer={"error": {"message": "internal error"}}), 502),
        (Upstream(status=503, answer={"error": {"message": "database unavailable"}}), 503),
        (Upstream(status=200, answer=b"<html>proxy error</html>"), 502),
        (Upstream(fail=True), 502),
        (Upstream(status=422, answer={"error": {"field": "custom_data.value"}}), 422),
    ],
)
def test_upstream_answers(db_url: str, key: str, upstream: Upstream, status: int) -> None:
    with relay_client(db_url, key, upstream=upstream) as client:
        response = post(client, browser_event())
    assert response.status_code == status
    assert key not in response.text
    if status == 422:
        assert response.json()["error"]["field"] == "custom_data.value"


def test_relayed_event_is_stored_for_meta(db_url: str, key: str, db: Conn) -> None:
    """Through the real GAP-001 endpoint: stored once, with the browser's signals, queued."""
    fbc = fbc_now("ClickIdWithCASE_42")
    body = browser_event()
    headers = {
        "X-Forwarded-For": "2a03:2880:f12f:83:face:b00c::25de",
        "Cookie": f"_fbp={FBP}; _fbc={fbc}",
    }
    with relay_client(db_url, key, same_app=True) as client:
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
    with relay_client(db_url, key) as client:
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
        "SELECT c.relrowsecurity, array_agg(p.polname) AS policies FROM pg_class AS c"
        " JOIN pg_policy AS p ON p.polrelid = c.oid"
        " WHERE c.oid = 'shared.product_event'::regclass GROUP BY c.relrowsecurity"
    ).fetchone()
    assert row == {
        "relrowsecurity": True,
        "policies": ["Only the service role can read or change product events"],
    }


def test_settings_feed_the_relay() -> None:
    from workers.settings import Settings

    settings = Settings(
        PRODUCT_ID="snapmix",
        WAITLISTLAB_API_URL="https://gdp.example.com/",
        WAITLISTLAB_SERVICE_KEY="gdp_sk_snapmix_x",
        GDP_TRUSTED_PROXIES="10.0.0.0/8, ::1",
        GDP_RELAY_ALLOWED_ORIGINS="https://snapmix.app/, https://www.snapmix.app",
    )
    got = RelaySettings.from_settings(settings)
    assert got == replace(
        got,
        product_id="snapmix",
        upstream_url="https://gdp.example.com",
        service_key="gdp_sk_snapmix_x",
        max_body_bytes=16 * 1024,
        allowed_origins=frozenset({"https://snapmix.app", "https://www.snapmix.app"}),
    )
    assert [str(n) for n in got.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert got.complete
    assert not RelaySettings.from_settings(Settings(PRODUCT_ID="snapmix")).complete
