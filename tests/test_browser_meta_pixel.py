"""GAP-005 in a real browser: headless Chromium on the demo shop, GDP, the CAPI worker, the sandbox.

The stack per test: GDP's HTTP service with the relay (subprocess, this test's database), the
CAPI worker (subprocess) sending to the Meta sandbox, and the demo shop's web server (thread)
serving clients/demo-shop with the snippet and passing /api/tracking/meta-event to GDP the way a
product's proxy would, behind a "CDN" that reports the visitor as VISITOR_IP. Meta's fbevents.js
cannot load here: the page gets the local stand-in (clients/demo-shop/fbevents-standin.js) that
records fbq calls and reports its hits to the shop server.

Chromium is Debian's (/usr/bin/chromium, `make system-deps`), driven by Playwright for Python
with `executable_path` (no browser download). The shop is opened as www.shop.gdp-demo.test
(Chromium maps the name to 127.0.0.1), so the _fbc cookie's domain and subdomain index are those
of a real multi-label host. Screenshots go to tests/artifacts/browser/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.capi_helpers import enable_pipeline
from tests.edge_support import Conn, set_flags
from tests.support.gdp_app import running_gdp
from tests.support.sandbox import TOKEN, SandboxControl, free_port
from tests.support.waiting import wait_until
from workers.demo.shop import DemoShop, serve_demo_shop
from workers.event_id import meta_event_id

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extras install it
    sync_playwright = None  # type: ignore[assignment]

pytestmark = pytest.mark.timeout(180)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "browser"
HOST = "www.shop.gdp-demo.test"
COOKIE_DOMAIN = "gdp-demo.test"
# Flags known to work headless on these machines (no sandbox as root, no background traffic).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VISITOR_IP = "2a03:2880:f12f:83:face:b00c:0:25de"
PIXEL = "1234567890"
PRODUCT = "snapmix"  # the demo shop's product (workers/demo/shop.py)
UNHASHED = {"client_ip_address", "client_user_agent", "fbc", "fbp"}
HEX64 = re.compile(r"[0-9a-f]{64}")
NINETY_DAYS_S = 90 * 24 * 60 * 60
SHOP_PORT = free_port()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Missing pieces fail the tests (make test installs both); a skip would pass unchecked.
    assert Path(CHROMIUM).exists(), "Chromium is not installed (Debian chromium: make system-deps)"
    assert sync_playwright is not None, "Playwright for Python is not installed (.[dev])"
    origin = f"http://{HOST}:{SHOP_PORT}"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                *CHROMIUM_FLAGS,
                f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
                # Production pages are HTTPS (a secure context: crypto.randomUUID, Secure
                # cookies); this local origin is treated the same way.
                f"--unsafely-treat-insecure-origin-as-secure={origin}",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def running_worker(env: dict[str, str], graph_url: str) -> Iterator[None]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workers.cli.worker_cmd",
            "capi",
            "--no-pacing",
            "--retry-base",
            "1",
        ],
        env={**env, "META_GRAPH_URL": graph_url, "META_CAPI_ACCESS_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Stack:
    shop: DemoShop
    sandbox: SandboxControl
    db: Conn
    context: BrowserContext
    page: Page

    @property
    def url(self) -> str:
        return f"http://{HOST}:{SHOP_PORT}/"

    def log(self) -> dict[str, Any]:
        return self.shop.log.as_json()

    def cookies(self) -> dict[str, dict[str, Any]]:
        return {c["name"]: dict(c) for c in self.context.cookies()}

    def fbq_calls(self) -> list[list[Any]] | None:
        calls: list[list[Any]] | None = self.page.evaluate("window.__fbqCalls || null")
        return calls

    def sandbox_event(self, event_id: str) -> dict[str, Any]:
        """What Meta received for the shop's event: sent under the namespaced id."""
        meta_id = meta_event_id(PRODUCT, event_id)

        def find() -> dict[str, Any] | None:
            for event in self.sandbox.events(PIXEL):
                if event["event_id"] == meta_id:
                    return event
            return None

        return wait_until(find, what=f"the sandbox to receive {meta_id}")

    def screenshot(self, name: str) -> None:
        """Keep what the page showed for a person to look at (tests/artifacts/browser/)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.unlink(missing_ok=True)
        self.page.screenshot(path=str(path), full_page=True)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


@pytest.fixture
def stack(
    db: Conn, env: dict[str, str], sandbox: SandboxControl, browser: Browser
) -> Iterator[Stack]:
    enable_pipeline(db, rules=False)
    set_flags(db, "CONVERSION_TRACKING_ENABLED", "META_CAPI_FORWARD_ENABLED")
    set_flags(db, "META_CAPI_RELAY_ENABLED")
    db.execute(
        "SELECT shared.set_setting('META_CAPI_RELAY_PRODUCT_ENABLED', 'true', 'test', 'snapmix')"
    )
    gdp_env = {
        **env,
        "PRODUCT_ID": "snapmix",
        # The shop's web server is GDP's only trusted proxy.
        "GDP_TRUSTED_PROXIES": "127.0.0.1",
    }
    with (
        running_gdp(gdp_env) as gdp_url,
        running_worker(env, sandbox.url),
        serve_demo_shop(
            gdp_url,
            port=SHOP_PORT,
            pixel_id=PIXEL,
            sandbox_url=sandbox.url,
            visitor_ip=VISITOR_IP,
            echo=None,
        ) as shop,
    ):
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        try:
            yield Stack(shop, sandbox, db, context, context.new_page())
        finally:
            context.close()


def event_count(db: Conn) -> int:
    row = db.execute("SELECT count(*) AS n FROM shared.event").fetchone()
    assert row is not None
    return int(row["n"])


def test_fbc_cookie_is_set_exactly_as_meta_specifies_and_kept(stack: Stack) -> None:
    click = "IwAR2-Case_Sensitive_Click9"
    page = stack.page
    page.goto(f"{stack.url}?utm_source=facebook&fbclid={click}")
    assert "_fbc" not in stack.cookies()  # nothing before consent
    before_ms = int(time.time() * 1000)
    page.click("#accept")
    fbc = wait_until(lambda: stack.cookies().get("_fbc"), what="the _fbc cookie")
    after_ms = int(time.time() * 1000)

    match = re.fullmatch(r"fb\.(\d+)\.(\d+)\.(.+)", fbc["value"])
    assert match is not None, fbc["value"]
    index, created_ms, fbclid = match.groups()
    assert fbclid == click  # case kept
    assert before_ms <= int(created_ms) <= after_ms  # milliseconds, when it was stored
    # A first-party cookie on the registrable domain, whose dots give the subdomain index.
    assert fbc["domain"].lstrip(".") == COOKIE_DOMAIN
    assert index == str(COOKIE_DOMAIN.count("."))
    assert fbc["path"] == "/"
    assert abs(fbc["expires"] - (int(created_ms) / 1000 + NINETY_DAYS_S)) < 5  # 90 days
    # _fbp is the Pixel's own cookie, in Meta's format.
    fbp = wait_until(lambda: stack.cookies().get("_fbp"), what="the _fbp cookie")
    assert re.fullmatch(r"fb\.1\.\d{13}\.\d+", fbp["value"])
    stack.screenshot("fbc-first-landing")

    # A second landing with the same fbclid keeps the cookie as it is.
    time.sleep(0.01)
    page.goto(f"{stack.url}?fbclid={click}")
    page.wait_for_load_state("load")
    again = stack.cookies()["_fbc"]
    assert (again["value"], again["expires"]) == (fbc["value"], fbc["expires"])
    # A landing without one keeps it too; a different fbclid replaces it.
    page.goto(stack.url)
    assert stack.cookies()["_fbc"]["value"] == fbc["value"]
    page.goto(f"{stack.url}?fbclid=iwar2-case_sensitive_click9")
    newer = wait_until(
        lambda: (c := stack.cookies()["_fbc"])["value"] != fbc["value"] and c,
        what="the _fbc cookie to be rewritten",
    )
    assert newer["value"].endswith(".iwar2-case_sensitive_click9")
    stack.screenshot("fbc-second-landing")


def test_nothing_before_consent_then_pageview_and_withdrawal_stops_both(stack: Stack) -> None:
    page = stack.page
    page.goto(f"{stack.url}?fbclid=NoConsentYet1")
    assert page.is_visible("#consent")
    page.click("#buy")
    page.click("#buy")
    assert page.text_content("#result") == (
        "Purchase not tracked (no consent, or the Pixel is disabled)."
    )
    time.sleep(1.5)  # the worker polls several times meanwhile
    log = stack.log()
    assert "GET /fbevents-standin.js" not in log["requests"]  # the Pixel was not even loaded
    assert not any(r.startswith("POST /api/tracking") for r in log["requests"])
    assert log["pixel_hits"] == []
    assert page.evaluate("typeof window.fbq") == "undefined"
    assert stack.fbq_calls() is None
    assert not {"_fbc", "_fbp"} & set(stack.cookies())
    assert event_count(stack.db) == 0
    assert stack.sandbox.events() == []
    stack.screenshot("consent-withheld")

    page.click("#accept")
    hits = wait_until(lambda: stack.log()["pixel_hits"], what="the PageView hit")
    assert [(h["event"], h["pixel_ids"]) for h in hits] == [("PageView", [PIXEL])]
    assert stack.fbq_calls() == [["consent", "grant"], ["init", PIXEL], ["track", "PageView"]]
    stack.screenshot("consent-granted-pageview")

    page.click("#withdraw")
    page.click("#buy")
    time.sleep(1.5)
    calls = stack.fbq_calls()
    assert calls is not None and calls[-1] == ["consent", "revoke"]
    assert not any(c[0] in ("track", "trackCustom") and c[1] != "PageView" for c in calls)
    assert [h["event"] for h in stack.log()["pixel_hits"]] == ["PageView"]
    assert not any(r.startswith("POST /api/tracking") for r in stack.log()["requests"])
    assert event_count(stack.db) == 0
    assert stack.sandbox.events() == []


def test_purchase_pixel_event_id_is_the_server_event_id_with_relay_match_keys(
    stack: Stack,
) -> None:
    page = stack.page
    page.goto(f"{stack.url}?fbclid=PurchaseClick_42")
    page.click("#accept")
    # The Pixel sets _fbp after consent, asynchronously: the purchase comes once it is there
    # (clicked at once on a loaded machine, the relay could run before the cookie existed).
    wait_until(lambda: stack.cookies().get("_fbp"), what="the _fbp cookie")
    page.click("#buy")
    event_id = wait_until(lambda: page.get_attribute("#result", "data-event-id"), what="event id")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", event_id
    )

    # The Pixel: fbq('track', 'Purchase', params, {eventID}), eventID namespaced by the product
    # exactly as GDP namespaces the CAPI event_id (unique per pixel).
    calls = stack.fbq_calls() or []
    purchases = [c for c in calls if c[:2] == ["track", "Purchase"]]
    assert len(purchases) == 1
    assert purchases[0][3] == {"eventID": f"{PRODUCT}:{event_id}"}
    assert purchases[0][2]["value"] == 29 and purchases[0][2]["currency"] == "USD"
    hit = wait_until(
        lambda: [h for h in stack.log()["pixel_hits"] if h["event"] == "Purchase"],
        what="the Pixel's Purchase hit",
    )[0]
    assert hit["event_id"] == f"{PRODUCT}:{event_id}"

    # The server path: relay -> GDP -> CAPI worker -> sandbox, with the same event id as the
    # Pixel's hit, so Meta deduplicates the pair.
    received = stack.sandbox_event(event_id)
    sent = received["event"]
    assert sent["event_id"] == hit["event_id"]
    assert received["event_name"] == "Purchase" and received["duplicate"] is False
    assert sent["action_source"] == "website"
    assert sent["event_source_url"] == f"{stack.url}?fbclid=PurchaseClick_42"
    assert sent["custom_data"]["value"] == 29 and sent["custom_data"]["currency"] == "USD"
    cookies = stack.cookies()
    user_data = sent["user_data"]
    assert user_data["client_ip_address"] == VISITOR_IP  # added by the relay, via the proxy
    assert user_data["client_user_agent"] == page.evaluate("navigator.userAgent")
    assert user_data["fbp"] == cookies["_fbp"]["value"]
    assert user_data["fbc"] == cookies["_fbc"]["value"]
    # Meta's hashing rules: browser ids as they are, everything else SHA-256 hex.
    for key, value in user_data.items():
        if key in UNHASHED:
            assert not HEX64.fullmatch(str(value)), key
        else:
            for item in value if isinstance(value, list) else [value]:
                assert HEX64.fullmatch(str(item)), key
    # The worker records the send once Meta's answer is back, just after the sandbox has it.
    row = wait_until(
        lambda: stack.db.execute(
            "SELECT status FROM shared.attribution_events WHERE event_id = %s AND status = 'sent'",
            (event_id,),
        ).fetchone(),
        what="the purchase recorded as sent",
        timeout_s=10,
    )
    assert row == {"status": "sent"}
    page.wait_for_timeout(200)
    stack.screenshot("purchase-deduplicated")


def test_navigation_right_after_the_click_still_delivers_the_server_event(stack: Stack) -> None:
    page = stack.page
    page.goto(f"{stack.url}?fbclid=LeaveAtOnce7")
    page.click("#accept")
    with page.expect_navigation():
        page.click("#buy-and-go")  # trackEvent, then location.href = 'thanks.html' at once
    page.wait_for_load_state("load")
    assert page.url.endswith("/thanks.html")
    event_id = page.text_content("#event-id")
    assert event_id and event_id != "-"
    received = stack.sandbox_event(event_id)
    assert received["event_name"] == "Purchase"
    assert received["event"]["user_data"]["client_ip_address"] == VISITOR_IP
    stack.screenshot("navigated-receipt")
