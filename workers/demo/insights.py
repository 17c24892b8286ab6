"""The demo's return path: ad performance pulled from the sandbox's Ads Insights, Lead Ads leads
delivered by its signed webhook through `gdp serve` to the lead worker, one lead buying later (the
purchase reaches Meta with the lead id), the PRD's success metrics, and the dashboard's URL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import psycopg

from workers.db.queries import query
from workers.db.rows import Row
from workers.demo import Echo
from workers.event_id import meta_event_id
from workers.insights.worker import InsightsWorker
from workers.settings import Settings

Conn = psycopg.Connection[Row]
PAGE = "104500000000001"
# (form, ad) pairs: snapmix's and softwarehub's lead-gen ads, and an organic lead (no ad).
FORMS = (
    ("771000000101", "120210000000120101"),  # snapmix | Lead Gen
    ("771000000202", "120210000000220201"),  # softwarehub | Lead Gen
    ("771000000303", None),
)
FIRST = (
    "Ava", "Noah", "Mia", "Liam", "Zoe", "Ezra", "Ines", "Omar", "Lena", "Theo", "Nora", "Yuki",
)  # fmt: skip
LAST = ("Moreau", "Okafor", "Silva", "Kowalski", "Haddad", "Lindqvist")


def demo_leads() -> list[dict[str, Any]]:
    leads = []
    for i, first in enumerate(FIRST):
        form, ad = FORMS[i % len(FORMS)]
        last = LAST[i % len(LAST)]
        fields: dict[str, Any] = {
            "email": f"{first}.{last}@Example.org".replace(" ", ""),
            "full_name": f"{first} {last}",
            "phone_number": f"+1 415 555 {1200 + i:04d}",
            "which_plan_fits_you?": ["Pro", "Team"][i % 2],
        }
        lead: dict[str, Any] = {"page_id": PAGE, "form_id": form, "field_data": fields}
        if ad:
            lead["ad_id"] = ad
        leads.append(lead)
    return leads


def show_return_path(
    conn: Conn, settings: Settings, sandbox_url: str, api_url: str, echo: Echo
) -> None:
    echo("   Ads Insights: the last 28 days at ad level, one row per ad per day")
    report = asyncio.run(InsightsWorker(settings).pull())
    echo(
        f"   pull {report.pull_id} {report.status}: {report.since} .. {report.until} "
        f"({report.mode}, {report.report_runs} report runs) -> {report.rows} ad-day rows in "
        f"{report.requests} requests, {report.elapsed_s:.1f} s"
    )
    rows = conn.execute(query("insights_by_project_range"), {
        "date_from": report.since, "date_to": report.until}).fetchall()  # fmt: skip
    echo(f"   {'project':<14}{'spend':>12}{'conv.':>8}{'CPA':>9}{'ROAS':>7}")
    for r in rows[:4]:
        cpa = f"{r['cost_per_conversion']:.2f}" if r["cost_per_conversion"] else "-"
        roas = f"{r['roas']:.2f}" if r["roas"] is not None else "-"
        echo(f"   {r['project']:<14}{r['spend']:>12,.2f}{r['conversions']:>8.0f}{cpa:>9}{roas:>7}")
    echo(f"   ... {len(rows)} projects; campaigns mapped by name (gdp insights campaigns)")

    leads = demo_leads()
    echo(f"\n   Lead Ads: {len(leads)} leads in one signed webhook delivery, then Meta retries it")
    webhook = f"{api_url}/webhooks/meta"
    sent = httpx.post(f"{sandbox_url}/_sandbox/leads/batch",
                      json={"leads": leads, "webhook_url": webhook}, timeout=30).json()  # fmt: skip
    httpx.post(f"{sandbox_url}/_sandbox/leads/{sent['leadgen_ids'][0]}/redeliver",
               json={"webhook_url": webhook}, timeout=30)  # fmt: skip
    echo(f"   the delivery was answered {sent['delivery_status']}; Meta sent the first lead again")
    deadline = time.monotonic() + 60
    while True:
        state = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'synced') AS synced,"
            " count(*) FILTER (WHERE status = 'received') AS pending, count(*) AS n,"
            " sum(deliveries) AS deliveries FROM shared.meta_lead"
        ).fetchone()
        conn.commit()
        if state and state["n"] and not state["pending"]:
            break
        if time.monotonic() > deadline:
            echo("   (the lead worker did not finish in a minute)")
            break
        time.sleep(0.3)
    assert state is not None
    echo(f"   shared.meta_lead: {state['n']} leads, {state['deliveries']} deliveries, "
         f"{state['synced']} synced to people by the lead worker")  # fmt: skip
    for r in conn.execute(
        "SELECT l.leadgen_id, p.email, p.utm_medium, p.utm_campaign, p.source_product"
        " FROM shared.meta_lead AS l JOIN shared.person AS p ON p.id = l.person_id"
        " ORDER BY l.leadgen_id LIMIT 3"
    ).fetchall():
        echo(f"   lead {r['leadgen_id']} -> {r['email']:<26} {r['source_product']:<12} "
             f"utm {r['utm_medium']}/{r['utm_campaign'] or '-'}")  # fmt: skip

    buyer = conn.execute(
        "SELECT p.id, p.source_product FROM shared.meta_lead AS l"
        " JOIN shared.person AS p ON p.id = l.person_id WHERE l.ad_id IS NOT NULL"
        " ORDER BY l.leadgen_id LIMIT 1"
    ).fetchone()
    if buyer:
        conn.execute("SELECT shared.set_lifecycle_stage(%s, 'customer')", (buyer["id"],))
        conn.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name, person_id, properties)"
            " VALUES (%s, 'demo-lead-purchase-1', 'SubscriptionPurchased', %s,"
            ' \'{"plan_price": 99, "currency": "USD"}\')',
            (buyer["source_product"], buyer["id"]),
        )
        conn.commit()
        deadline = time.monotonic() + 30
        carried = None
        while time.monotonic() < deadline and carried is None:
            events = httpx.get(f"{sandbox_url}/_sandbox/events", timeout=10).json()["events"]
            carried = next(
                (
                    e
                    for e in events
                    if e["event_id"]
                    == meta_event_id(buyer["source_product"], "demo-lead-purchase-1")
                ),
                None,
            )
            time.sleep(0.3)
        lead_id = (carried or {}).get("event", {}).get("user_data", {}).get("lead_id")
        shown = lead_id or "(not yet)"
        echo(f"   a lead buys later: its Purchase reached Meta with lead_id {shown}")

    echo("\n   The PRD's success metrics (shared.success_metrics):")
    for r in conn.execute(query("dashboard_success_metrics")).fetchall():
        value = "-" if r["value"] is None else (
            f"{100 * r['value']:.1f}%" if r["unit"] in ("share", "change") else f"{r['value']} min"
        )  # fmt: skip
        echo(f"   {'met ' if r['met'] else 'not '} {r['name']:<52} {r['target']:<28} now {value}")
