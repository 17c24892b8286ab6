"""`gdp audiences ...`: Meta Custom Audiences kept in step with segments (GAP-007).

    gdp audiences list
    gdp audiences diff NAME                 (dry run: what the next sync would send)
    gdp audiences sync [NAME] [--force]
    gdp audiences replace NAME [--force]    (a full refresh with a usersreplace session)
    gdp audiences allow-removals NAME COUNT --by NAME [--reason TEXT]
    gdp audiences guards NAME [--min-size N] [--max-removed-share 0.2]
    gdp audiences runs [NAME] [--limit 20]

NAME is a segment id or its audience's name. A refusal (a guard, the flag off, Meta busy) is one
line on stderr and a non-zero exit.
"""

from __future__ import annotations

import asyncio
import sys

import typer
from tqdm import tqdm

from workers import logs
from workers.cli._common import default_actor, fail, one_line_errors
from workers.db.connection import connect
from workers.db.queries import query
from workers.errors import mapped_db_errors
from workers.settings import get_settings, require

app = typer.Typer(
    help="Meta Custom Audiences kept in step with segments (GAP-007).", no_args_is_help=True
)
EXIT = {"succeeded": 0, "skipped": 0, "refused": 3, "waiting": 5, "failed": 1}


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@app.command("list")
@one_line_errors
def list_audiences() -> None:
    """Mapped segments: audience, members, acknowledged rows, Meta's size, last run, lag."""
    with connect() as conn, mapped_db_errors():
        # Mapped segments get their audience row on first sight (shared.audience_targets).
        conn.execute(query("audience_targets"), {"segment_id": None}).fetchall()
        conn.commit()
        rows = conn.execute(query("audience_status")).fetchall()
    if not rows:
        typer.echo("no mapped segments (set META_CUSTOM_AUDIENCE_IDS)")
    for r in rows:
        size = (
            f"{r['approximate_lower']}-{r['approximate_upper']}"
            if r["approximate_lower"] is not None else "?"
        )  # fmt: skip
        typer.echo(
            f"{r['segment_id']:<28} {r['audience_name'][:24]:<24} {r['audience_id'] or '-':<20} "
            f"{r['members']:>9} members {r['acknowledged']:>9} acked  meta {size:<15} "
            f"{r['last_status'] or 'no run':<11} lag {_lag(r['lag_seconds']):<8} "
            f"{r['failures_24h']} failed/24h" + ("  DRIFT" if r["drift_detected_at"] else "")
        )


@app.command("diff")
@one_line_errors
def diff(
    name: str,
    force: bool = typer.Option(False, help="Show the plan as --force would run it."),
) -> None:
    """Dry run: what the next sync of NAME would remove and add; nothing is sent."""
    from workers.audiences.plan import plan_diff
    from workers.audiences.worker import AudienceWorker

    plan = asyncio.run(plan_diff(AudienceWorker(get_settings()), name, force=force))
    typer.echo(
        f"{plan.segment_id} -> {plan.audience_name} ({plan.audience_id or 'to be created'}): "
        f"{plan.members} members, {plan.acknowledged} acknowledged"
    )
    typer.echo(
        f"  remove {plan.removals} ({plan.leaving} leaving, {plan.identity_changes} under an "
        f"old email/phone); add {plan.additions} ({plan.joining} joining, "
        f"{plan.identity_changes} under a new email/phone, {plan.other_changes} changed); "
        f"{plan.unchanged} re-checked unchanged; {plan.requests} requests"
    )
    if plan.drift_detected:
        typer.echo("  drift was detected: the next automatic run replaces the audience")
    if plan.replace_in_flight:
        typer.echo("  a replace session is in flight: the next run resumes it")
    if plan.refusal:
        raise fail(f"the sync would be refused: {plan.refusal}", 3)


def _run(name: str | None, force: bool, mode: str) -> None:
    from workers.audiences.worker import AudienceWorker

    settings = get_settings()
    require(settings.graph_url_problem())
    logs.configure(settings.log_level)
    with tqdm(unit="row", disable=not sys.stderr.isatty(), desc="rows Meta acknowledged") as bar:

        def advance(op: str, rows: int) -> None:
            bar.update(rows)

        worker = AudienceWorker(settings, progress=advance)
        reports = asyncio.run(worker.sync(name, force=force, mode=mode))
    worst = 0
    for r in reports:
        typer.echo(
            f"{r.segment_id}: {r.kind} {r.status}, {r.rows_added} added, {r.rows_removed} "
            f"removed, {r.upload_requests} uploads ({r.requests} requests), "
            f"{r.elapsed_s:.1f} s" + (f": {r.message}" if r.message else "")
        )
        worst = max(worst, EXIT[r.status])
    if worst:
        raise typer.Exit(worst)


@app.command("sync")
@one_line_errors
def sync(
    name: str | None = typer.Argument(None, help="A segment id or audience name; default all."),
    force: bool = typer.Option(False, help="Send even past the size and removal guards."),
) -> None:
    """Send what changed since Meta last acknowledged (a replace when drift was found)."""
    _run(name, force, "auto")


@app.command("replace")
@one_line_errors
def replace(
    name: str,
    force: bool = typer.Option(False, help="Replace even below the minimum size."),
) -> None:
    """Replace the audience's members with the segment's, in one usersreplace session."""
    _run(name, force, "replace")


@app.command("allow-removals")
@one_line_errors
def allow_removals(
    name: str,
    count: int = typer.Argument(..., help="Most people the next sync may remove."),
    by: str | None = typer.Option(None, "--by", help="Who acknowledges (default: GDP_ACTOR)."),
    reason: str | None = typer.Option(None, help="Why so many leave."),
) -> None:
    """Acknowledge that the next sync of NAME may remove up to COUNT people (over the cap)."""
    with connect() as conn, mapped_db_errors():
        row = conn.execute(
            query("audience_allow_removals"),
            {"segment_id": name, "max_removals": count, "actor": by or default_actor(),
             "reason": reason},
        ).fetchone()  # fmt: skip
        conn.commit()
    assert row is not None
    typer.echo(f"acknowledgement {row['id']}: the next sync of {name} may remove up to {count}")


@app.command("guards")
@one_line_errors
def guards(
    name: str,
    min_size: int | None = typer.Option(
        None, help="Fewest members before the first upload (Meta needs about 100 to deliver)."
    ),
    max_removed_share: float | None = typer.Option(
        None, help="Largest share of the audience one sync may remove (0 to 1; more needs "
        "allow-removals or --force)."
    ),
) -> None:
    """Show NAME's guards, or change those given."""
    with connect() as conn, mapped_db_errors():
        row = conn.execute(
            query("audience_set_guards"),
            {"segment_id": name, "min_size": min_size, "max_removed_share": max_removed_share},
        ).fetchone()
        conn.commit()
    assert row is not None
    typer.echo(
        f"{row['segment_id']}: first upload at {row['min_size_first_upload']} members or more; "
        f"one sync removes at most {float(row['max_removed_share']):.1%} of the audience"
    )


@app.command("runs")
@one_line_errors
def runs(
    name: str | None = typer.Argument(None),
    limit: int = typer.Option(20, min=1, max=1000),
) -> None:
    """The latest sync runs: kind, status, rows, requests, Meta's counts, errors by code."""
    with connect() as conn, mapped_db_errors():
        rows = conn.execute(query("audience_recent_runs"),
                            {"segment_id": name, "limit": limit}).fetchall()  # fmt: skip
    for r in rows:
        typer.echo(
            f"{r['id']:>6} {r['segment_id']:<26} {r['kind']:<7} {r['status']:<11} "
            f"+{r['rows_added']} -{r['rows_removed']} {r['requests']} req "
            f"received {r['num_received']} invalid {r['num_invalid_entries']}"
            + (f" session {r['session_id']}" if r["session_id"] else "")
            + (f" errors {r['errors']}" if r["errors"] else "")
            + (f"  {r['error_message']}" if r["error_message"] else "")
        )
