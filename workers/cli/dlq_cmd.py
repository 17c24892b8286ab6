"""`gdp dlq ...`: inspect and replay dead letters (events Meta will not take as they are)."""

from __future__ import annotations

import typer

from workers.cli._common import default_actor, one_line_errors
from workers.db.connection import ADMIN_ROLE, connect
from workers.db.queries import query
from workers.errors import mapped_db_errors

app = typer.Typer(help="Dead letters of the Conversions API path.", no_args_is_help=True)


@app.command("list")
@one_line_errors
def list_dead_letters(
    include_replayed: bool = typer.Option(False, "--all", help="Also those already replayed."),
    limit: int = typer.Option(100, min=1, max=10000),
) -> None:
    """Dead letters with their reason and Meta's answer."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(
            query("dlq_list"), {"include_replayed": include_replayed, "limit": limit}
        ).fetchall()
    if not rows:
        typer.echo("no dead letters")
    for r in rows:
        meta = f" (code {r['error_code']}/{r['error_subcode']})" if r["error_code"] else ""
        replayed = f" replayed {r['replayed_at']:%Y-%m-%d %H:%M}" if r["replayed_at"] else ""
        typer.echo(
            f"{r['id']:>6} {r['dead_lettered_at']:%Y-%m-%d %H:%M} {r['product_id']:<13} "
            f"{r['event_id']:<24} {r['meta_event_name']:<20} {r['reason']:<9} "
            f"{r['error_message'] or ''}{meta}{replayed}"
        )


@app.command("replay")
@one_line_errors
def replay(
    ids: list[int] = typer.Argument(None, help="Dead letter ids (see gdp dlq list)."),
    replay_all: bool = typer.Option(False, "--all", help="Replay every pending dead letter."),
    by: str | None = typer.Option(None, "--by"),
) -> None:
    """Re-queue dead letters with their original event_id; the worker re-normalizes them."""
    if not ids and not replay_all:
        raise typer.BadParameter("name dead letter ids, or pass --all")
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("dlq_replay"),
            {"ids": None if replay_all else ids, "actor": by or default_actor()},
        ).fetchone()
    assert row is not None
    typer.echo(f"{row['replayed']} dead letters re-queued")
