"""The dashboard in a real browser: headless Chromium (Debian's, driven by Playwright) opens
/dashboard on GDP's HTTP service over a database holding pulled insights, leads and delivered
conversions. The page renders with no console errors and no request leaving the service, the
numbers on it equal the views' numbers, a wrong key gets the key form, and screenshots (laptop
and phone) are written to tests/artifacts/dashboard/ for a person to look at.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pytest

from meta_sandbox.config import SandboxConfig
from tests.insights_helpers import Conn, configure_insights, pull, served_sandbox
from tests.support.gdp_app import running_gdp

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extras install it
    sync_playwright = None  # type: ignore[assignment]

DIST = Path(__file__).resolve().parents[1] / "edge_compat" / "dashboard" / "dist" / "index.html"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "dashboard"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.timeout(300)


def money(v: Any) -> str:
    return "—" if v is None else f"${Decimal(v):,.2f}"


def count(v: Any) -> str:
    if v is None:
        return "—"
    text = f"{Decimal(v):,.2f}".rstrip("0").rstrip(".")
    return text


def ratio(v: Any) -> str:
    return "—" if v is None else f"{Decimal(v):.2f}×"


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Missing pieces fail the test (make test installs Chromium and builds the dashboard).
    assert Path(CHROMIUM).exists(), "Chromium is not installed (make system-deps)"
    assert sync_playwright is not None, "Playwright is not installed (.[dev])"
    assert DIST.exists(), "the dashboard is not built (make dashboard)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def load_demo_data(db: Conn, db_url: str) -> str:
    """Insights pulled from the sandbox, leads in the funnel, delivered conversions; a key."""
    configure_insights(db, repull_days=30)
    with served_sandbox(SandboxConfig()) as sb:
        assert pull(db_url, sb.url).status == "succeeded"
    db.execute("UPDATE shared.feature_flag SET enabled = true WHERE flag_key = ANY(%s)",
               (["SHARED_PERSON_TABLE_ENABLED", "LEAD_ADS_SYNC_ENABLED"],))  # fmt: skip
    changes = [
        {"field": "leadgen", "value": {"leadgen_id": str(5000 + i), "page_id": "1",
                                       "form_id": "7770001", "ad_id": "120210000000100101"}}
        for i in range(6)
    ]  # fmt: skip
    db.execute("SELECT * FROM shared.receive_lead_webhook(%s::jsonb)",
               (json.dumps({"object": "page", "entry": [{"id": "1", "changes": changes}]}),))
    for i in range(6):
        db.execute("SELECT * FROM shared.sync_lead(NULL, %s::jsonb)", (json.dumps({
            "id": str(5000 + i), "form_id": "7770001", "ad_id": "120210000000100101",
            "field_data": [{"name": "email", "values": [f"lead{i}@example.com"]}]}),))
    db.execute("UPDATE shared.person SET lifecycle_stage = 'customer' "
               "WHERE email IN ('lead0@example.com', 'lead1@example.com')")  # fmt: skip
    people = [r["id"] for r in db.execute("SELECT id FROM shared.person ORDER BY email")]
    for i, person in enumerate(people[:4]):
        row = db.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name, person_id, properties)"
            " VALUES ('snapmix', %s, 'SubscriptionPurchased', %s, %s) RETURNING id",
            (f"buy-{i}", person, json.dumps({"plan_price": 40 + i})),
        ).fetchone()
        assert row is not None
        db.execute(
            "INSERT INTO shared.attribution_events (event_ref, product_id, event_id,"
            " meta_event_name, person_id, status, match_keys)"
            " VALUES (%s, 'snapmix', %s, 'Purchase', %s, 'sent', %s)",
            (row["id"], f"buy-{i}", person, ["em", "external_id"] + (["ph"] if i % 2 else [])),
        )
    key = db.execute("SELECT dashboard_key FROM shared.create_dashboard_key('browser test', 't')")
    found = key.fetchone()
    assert found is not None
    return str(found["dashboard_key"])


def values(page: Page, selector: str) -> list[tuple[str, str | None]]:
    found = page.query_selector_all(selector)
    return [(el.inner_text(), el.get_attribute("data-value")) for el in found]


@pytest.fixture
def key(db: Conn, db_url: str) -> str:
    # Loaded before the browser starts: Playwright's sync API keeps an event loop running.
    return load_demo_data(db, db_url)


@pytest.mark.slow
def test_the_dashboard_shows_the_views_numbers(
    key: str, browser: Browser, db: Conn, env: dict[str, str]
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_gdp(env) as api:
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        hosts: set[str] = set()
        page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
        page.goto(f"{api}/dashboard#key={key}")
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert "#key" not in page.url  # the key left the address bar
        page.screenshot(path=str(ARTIFACTS / "dashboard-laptop.png"), full_page=True)

        summary = db.execute("SELECT * FROM shared.insights_summary").fetchone()
        assert summary is not None
        [(text, raw)] = values(page, "[data-testid=summary-spend] span")
        assert Decimal(raw or "0") == summary["spend"] and text == money(summary["spend"])
        [(meta, _), (gdp, _)] = values(page, "[data-testid=summary-roas] span")
        assert meta == ratio(summary["meta_roas"]) and gdp == ratio(summary["gdp_roas"])
        assert summary["gdp_roas"] is not None  # GDP's delivered purchases are on the page

        rows = db.execute("SELECT * FROM shared.insights_by_project ORDER BY spend DESC").fetchall()
        table = [
            [td.inner_text() for td in tr.query_selector_all("td")]
            for tr in page.query_selector_all("[data-testid=projects] tbody tr")
        ]
        assert table == [
            [r["project"], money(r["spend"]), count(r["meta_conversions"]),
             count(r["gdp_conversions"]), money(r["meta_cost_per_conversion"]),
             money(r["gdp_cost_per_conversion"]), ratio(r["meta_roas"]), ratio(r["gdp_roas"])]
            for r in rows
        ]  # fmt: skip

        funnel = db.execute("SELECT * FROM shared.lead_funnel ORDER BY leads DESC").fetchall()
        shown = [[td.inner_text() for td in tr.query_selector_all("td")]
                 for tr in page.query_selector_all("[data-testid=funnel] tbody tr")]  # fmt: skip
        assert shown == [
            [r["project"], count(r["leads"]), count(r["synced"]), count(r["activated"]),
             count(r["customers"])]
            for r in funnel
        ]  # fmt: skip

        metrics = db.execute("SELECT metric, met FROM shared.success_metrics").fetchall()
        for metric in metrics:
            row = page.query_selector(f"[data-metric={metric['metric']}] td:nth-child(4)")
            assert row is not None
            assert row.inner_text() == ("✓ met" if metric["met"] else "✗ not met")
        assert len(page.query_selector_all("[data-testid=gate] li")) == db.execute(
            "SELECT count(*) AS n FROM shared.feature_flag").fetchone()["n"]  # type: ignore[index]
        capi = dict(values(page, "[data-testid=capi] dd[data-value]"))
        assert "4" in capi  # delivered in the last 24 hours
        assert len(page.query_selector_all("#chart-projects, #chart-daily, #chart-funnel")) == 3
        assert page.evaluate("document.querySelector('#chart-daily').width") > 0

        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    device_scale_factor=2)  # fmt: skip
        small = phone.new_page()
        small.on("pageerror", lambda e: problems.append(str(e)))
        small.goto(f"{api}/dashboard#key={key}")
        small.wait_for_selector("body[data-ready=true]", timeout=30_000)
        width = small.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1  # nothing wider than the phone; tables scroll in their cards
        small.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)

        wrong = browser.new_context().new_page()
        wrong.goto(f"{api}/dashboard#key=gdp_dk_{'0' * 64}")
        wrong.wait_for_selector("#login:not([hidden])", timeout=30_000)
        assert "unknown or revoked" in wrong.inner_text("#login-error")
        wrong.screenshot(path=str(ARTIFACTS / "dashboard-locked.png"))
        context.close()
        phone.close()
    # The 401 of the wrong key is the only error the browser may log.
    assert [p for p in problems if "401" not in p] == []
    assert hosts == {urlparse(api).netloc}  # no CDN, nothing external
