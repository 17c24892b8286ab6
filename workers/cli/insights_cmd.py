"""`gdp insights ...`: pull now, see the pulls, map campaigns to projects.

    gdp insights pull [--since 2026-01-01 --until 2026-01-31] [--force]
    gdp insights pulls [--limit 20]
    gdp insights campaigns
    gdp insights assign CAMPAIGN_ID PROJECT [--by NAME]
"""

from __future__ import annotations

import asyncio
import datetime as dt

import typer

from workers import logs
from workers.cli._common import default_actor, fail, one_line_errors
from workers.db.connection import ADMIN_ROLE, connect
from workers.db.queries import query
from workers.errors import mapped_db_errors
from workers.settings import get_settings, require

app = typer.Typer(help="Ad performance from Meta's Ads Insights (GAP-004).", no_args_is_help=True)


def _date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"{name}: must be a date as YYYY-MM-DD", 2) from None


@app.command("pull")
@one_line_errors
def pull(
    since: str | None = typer.Option(None, help="First day (YYYY-MM-DD); default: the window."),
    until: str | None = typer.Option(None, help="Last day (YYYY-MM-DD); default: today."),
    force: bool = typer.Option(False, help="Pull even while ACD_META_INSIGHTS_ENABLED is off."),
) -> None:
    """Pull insights now (the rolling re-pull window unless a range is given)."""
    from workers.insights.worker import InsightsWorker

    settings = get_settings()
    # The token goes with every request: never to an unsafe META_GRAPH_URL.
    require(settings.graph_url_problem())
    logs.configure(settings.log_level)
    report = asyncio.run(
        InsightsWorker(settings).pull(
            since=_date(since, "since"), until=_date(until, "until"), force=force
        )
    )
    typer.echo(
        f"pull {report.pull_id} {report.status}: {report.since}..{report.until} ({report.mode}), "
        f"{report.rows} rows, {report.requests} requests, {report.retries} retries, "
        f"{report.report_runs} report runs, {report.splits} splits, "
        f"{report.throttle_wait_s:.1f} s throttled, {report.elapsed_s:.1f} s"
        + (f": {report.error}" if report.error else "")
    )
    if report.status != "succeeded":
        raise typer.Exit(1)


@app.command("pulls")
@one_line_errors
def pulls(limit: int = typer.Option(20, min=1, max=1000)) -> None:
    """The latest pulls: range, rows, requests, retries, duration, error."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(query("insights_recent_pulls"), {"limit": limit}).fetchall()
    for r in rows:
        typer.echo(
            f"{r['id']:>6} {r['status']:<9} {r['date_from']}..{r['date_to']} {r['mode']:<5} "
            f"{r['rows_written']:>8} rows {r['requests']:>5} req {r['retries']:>3} retries "
            f"{(r['duration_ms'] or 0) / 1000:>7.1f} s"
            + (f"  {r['error_message']}" if r["error_message"] else "")
        )


@app.command("campaigns")
@one_line_errors
def campaigns() -> None:
    """Campaigns and the project each maps to (naming convention or an admin)."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(query("campaign_projects_list")).fetchall()
    for r in rows:
        typer.echo(
            f"{r['campaign_id']}  {r['project_id'] or 'unassigned':<14} "
            f"{r['assigned_by']:<18} {r['campaign_name'] or ''}"
        )


@app.command("assign")
@one_line_errors
def assign(
    campaign_id: str,
    project: str,
    by: str | None = typer.Option(None, "--by", help="Who assigns (default: GDP_ACTOR)."),
) -> None:
    """Map a campaign to a project by hand; pulls never change it afterwards."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("assign_campaign_project"),
            {"campaign_id": campaign_id, "project_id": project, "actor": by or default_actor()},
        ).fetchone()
    if row is None:
        raise fail(f"campaign_id: no campaign {campaign_id} (pull insights first)", 2)
    typer.echo(f"campaign {row['campaign_id']} ({row['campaign_name']}) -> {row['project_id']}")
