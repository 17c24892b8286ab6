"""The demo shop's web server (workers/demo/shop.py) without a browser.

Its pages, the relay pass-through (cookies, user agent and X-Forwarded-For reach GDP's relay)
and the Pixel stand-in's hits.
"""

from __future__ import annotations

import time

import httpx

from tests.capi_helpers import enable_pipeline
from tests.edge_support import Conn, set_flags
from tests.support.gdp_app import running_gdp
from workers.demo.shop import serve_demo_shop

FBP = "fb.1.1596403881668.1116446470"


def test_demo_shop_serves_the_page_and_passes_events_to_the_relay(
    db: Conn, env: dict[str, str]
) -> None:
    enable_pipeline(db, rules=False)
    set_flags(db, "CONVERSION_TRACKING_ENABLED", "META_CAPI_FORWARD_ENABLED")
    set_flags(db, "META_CAPI_RELAY_ENABLED")
    db.execute(
        "SELECT shared.set_setting('META_CAPI_RELAY_PRODUCT_ENABLED', 'true', 't', 'snapmix')"
    )
    gdp_env = {
        **env,
        "PRODUCT_ID": "snapmix",
        "GDP_TRUSTED_PROXIES": "127.0.0.1",
    }
    printed: list[str] = []
    fbc = f"fb.1.{int(time.time() * 1000) - 1000}.ShopClick1"
    with (
        running_gdp(gdp_env) as gdp_url,
        serve_demo_shop(
            gdp_url, visitor_ip="8.8.8.8", sandbox_url="http://127.0.0.1:1", echo=printed.append
        ) as shop,
        httpx.Client(base_url=shop.url, timeout=10) as http,
    ):
        assert printed == [
            f"   demo shop: {shop.url}  (accept the banner, click Buy, watch the sandbox)"
        ]
        page = http.get("/")
        assert page.status_code == 200 and "meta-pixel.global.js" in page.text
        config = http.get("/gdp-shop-config.js").text
        assert '"pixelId": "1234567890"' in config
        assert "/_sandbox/events?pixel_id=1234567890" in config
        assert "GDPMetaPixel" in http.get("/meta-pixel.global.js").text
        assert http.get("/fbevents-standin.js").status_code == 200
        assert http.get("/thanks.html").status_code == 200
        for missing in ("/../pyproject.toml", "/build.mjs", "/%2e%2e/Makefile", "/nope.html"):
            assert http.get(missing).status_code == 404, missing

        response = http.post(
            "/api/tracking/meta-event",
            json={
                "event_name": "ProUpgrade",
                "event_id": "shop-evt-1",
                "event_source_url": "https://snapmix.app/pro",
                "custom_data": {"value": 29, "currency": "USD"},
            },
            headers={"User-Agent": "ShopTest/1", "Cookie": f"_fbp={FBP}; _fbc={fbc}"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "queued"
        refused = http.post(
            "/api/tracking/meta-event",
            json={"event_name": "Purchase", "event_id": "x", "user_data": {"email": "a@b.co"}},
        )
        assert refused.status_code == 422

        hit = {"event": "PageView", "pixel_ids": ["1234567890"], "event_id": None}
        assert http.post("/_standin/tr", json=hit).status_code == 204
        log = http.get("/_shop/log").json()
    assert [h["event"] for h in log["pixel_hits"]] == ["PageView"]
    assert "GET /" in log["requests"] and "POST /api/tracking/meta-event" in log["requests"]
    row = db.execute(
        "SELECT event_name, host(client_ip_address) AS ip, client_user_agent, fbp, fbc"
        " FROM shared.event WHERE event_id = 'shop-evt-1'"
    ).fetchone()
    assert row == {
        "event_name": "Purchase",
        "ip": "8.8.8.8",
        "client_user_agent": "ShopTest/1",
        "fbp": FBP,
        "fbc": fbc,
    }
