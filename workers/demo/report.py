"""The demo's closing summary, read from the database and the sandbox's inspection API."""

from __future__ import annotations

import httpx
import psycopg

from workers.db.queries import query
from workers.db.rows import Row
from workers.demo import Echo
from workers.demo.traffic import TrafficReport


def summarize(
    conn: psycopg.Connection[Row], sandbox_url: str, traffic: TrafficReport, echo: Echo
) -> None:
    echo("   events per product (shared.event) and what became of them:")
    echo(f"   {'product':<14}{'events':>7}{'delivered':>10}{'blocked':>9}{'dead-lettered':>15}")
    totals = [0, 0, 0, 0]
    for r in conn.execute(query("demo_events_per_product")).fetchall():
        values = [r["events"], r["delivered"], r["blocked"], r["dead_lettered"]]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        echo(f"   {r['product_id']:<14}{values[0]:>7}{values[1]:>10}{values[2]:>9}{values[3]:>15}")
    echo(f"   {'total':<14}{totals[0]:>7}{totals[1]:>10}{totals[2]:>9}{totals[3]:>15}")
    stored = totals[0] - totals[1] - totals[2] - totals[3]
    echo(
        f"   ({stored} stored without a Meta event: no rule maps them, e.g. FeatureUsed "
        "after the first)"
    )

    pixels = httpx.get(f"{sandbox_url}/_sandbox/events/summary").json()["pixels"]
    received = sum(p["received"] for p in pixels.values())
    unique = sum(p["unique"] for p in pixels.values())
    requests = sum(p["requests"] for p in pixels.values())
    echo(
        f"\n   Meta (sandbox) received {received} events in {requests} requests over "
        f"{len(pixels)} pixel(s): {unique} unique, {received - unique} duplicates"
    )
    echo(
        f"   requests per 1,000 events: {requests / max(unique, 1) * 1000:.1f} here, where events "
        "trickle in one HTTP call at a time and the worker sends what has arrived; at volume "
        "it is 1.0 (bench/RESULTS.md); one request per event, as RudderStack, Segment and "
        "PostHog send, is 1,000"
    )
    echo(
        f"   deduplicated before Meta: {traffic.http_duplicates} resends answered as "
        "duplicates by the ingest endpoint, nothing sent twice"
    )
    for r in conn.execute(query("demo_dead_letters_by_reason")).fetchall():
        echo(f'   dead-lettered ({r["reason"]}): {r["n"]}, e.g. "{r["example"]}"')
    outcomes = ", ".join(
        f"{r['status']} {r['n']}" for r in conn.execute(query("demo_outcomes")).fetchall()
    )
    echo(f"   delivery records (shared.attribution_events): {outcomes}")
    lat = conn.execute(query("demo_latency")).fetchone()
    if lat and lat["sent"]:
        echo(
            f"   latency, arrival -> Meta's acknowledgement recorded: "
            f"p50 {lat['p50'] * 1000:.0f} ms, p95 {lat['p95'] * 1000:.0f} ms, "
            f"p99 {lat['p99'] * 1000:.0f} ms"
        )

    example = httpx.get(f"{sandbox_url}/_sandbox/events", params={"limit": 1}).json()["events"]
    if example:
        event = example[-1]["event"]
        keys = ", ".join(
            f"{k}={'<sha256>' if len(str(v)) == 64 else v}"
            for k, v in sorted(event["user_data"].items())
        )
        echo(f"\n   what Meta receives (last event, {event['event_name']}): {keys}")
