"""The demo's segment step: the six PRD segments evaluated, then one audience sync run."""

from __future__ import annotations

import asyncio

import psycopg

from workers.audiences.run import run_audiences
from workers.db.queries import query
from workers.demo import Echo
from workers.settings import Settings

# The two PRD segments the demo maps to Meta audiences (ids made by the worker on its first run).
DEMO_AUDIENCES = {"all_leads": None, "all_customers": None}


def show_segments_and_audiences(
    conn: psycopg.Connection[dict[str, object]], settings: Settings, echo: Echo
) -> None:
    conn.execute(query("segments_evaluate"), {"full": True}).fetchall()
    conn.commit()
    echo("   shared.evaluate_segments(true): the six PRD segments, as views in schema segments")
    for r in conn.execute(query("segments_list")).fetchall():
        audience = r["audience_name"] or "-"
        echo(f"   {r['segment_id']:<28} {r['members']!s:>4} members  -> {audience}")
    echo("\n   gdp worker audiences --once (all_leads and all_customers are mapped):")
    echo(f"   {asyncio.run(run_audiences(settings, once=True))}")
    runs = conn.execute(query("audience_recent_runs"), {"segment_id": None, "limit": 10})
    for r in runs.fetchall():
        note = f"  {r['error_message']}" if r["error_message"] else ""
        echo(f"   {r['segment_id']:<16} {r['kind']:<7} {r['status']:<10} "
             f"+{r['rows_added']} -{r['rows_removed']} {r['requests']} requests{note}")  # fmt: skip
