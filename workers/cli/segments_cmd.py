"""`gdp segments ...`: segments as SQL views (create, edit, preview, list, show, members, evaluate).

A segment is the view segments.<name>, one SELECT returning person_id, registered in
shared.segment with the Meta Custom Audience it maps to. The SQL functions do the work and the
refusals (db/functions/70_segments.sql); this module reads the file and prints.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from workers.cli._common import default_actor, one_line_errors
from workers.db.connection import connect
from workers.db.queries import query
from workers.errors import InvalidInput, NotFound, mapped_db_errors

app = typer.Typer(
    help="Segments: SQL views of people, synced to Meta audiences.", no_args_is_help=True
)

NAME = typer.Argument(..., help="The segment (its view is segments.NAME).")
FILE = typer.Option(..., "--file", "-f", help="A file holding one SELECT returning person_id.")


def _read_query(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"--file: cannot read {path} ({exc.strerror})") from None
    if not text.strip():
        raise InvalidInput(f"--file: {path} is empty; it must hold one SELECT returning person_id")
    return text


def _define(
    name: str,
    path: Path,
    create: bool,
    description: str | None,
    owner: str | None,
    audience: str | None,
) -> None:
    params = {
        "segment_id": name,
        "query": _read_query(path),
        "create": create,
        "description": description,
        "owner": owner,
        "audience_name": audience,
    }
    with connect() as conn, mapped_db_errors():
        row = conn.execute(query("segments_define"), params).fetchone()
    assert row is not None
    typer.echo(
        f"{'created' if create else 'changed'} segment {row['segment_id']} "
        f"(audience: {row['audience_name'] or 'none'}); members change at the next "
        "evaluation (gdp segments evaluate)"
    )


@app.command("create")
@one_line_errors
def create(
    name: str = NAME,
    file: Path = FILE,
    description: str = typer.Option(..., help="What the segment is, in a sentence."),
    owner: str = typer.Option(None, help="Who owns it (default: GDP_ACTOR or the login)."),
    audience: str = typer.Option(None, help="The Meta Custom Audience it maps to."),
) -> None:
    """Create a segment from a SELECT (validated: person_id, no duplicates, PII rule)."""
    _define(name, file, True, description, owner or default_actor(), audience)


@app.command("edit")
@one_line_errors
def edit(
    name: str = NAME,
    file: Path = FILE,
    description: str = typer.Option(None, help="A new description."),
    owner: str = typer.Option(None, help="A new owner."),
    audience: str = typer.Option(None, help="A new Meta Custom Audience name."),
) -> None:
    """Replace a segment's SELECT (validated like create)."""
    _define(name, file, False, description, owner, audience)


@app.command("preview")
@one_line_errors
def preview(
    name: str = NAME,
    file: Path = typer.Option(
        None, "--file", "-f", help="The SELECT to try (default: the segment's current view)."
    ),
    sample: int = typer.Option(5, min=0, max=100, help="Person ids shown of each change."),
) -> None:
    """Size and diff against current membership of a SELECT, before saving anything."""
    with connect() as conn, mapped_db_errors():
        if file is None:
            current = conn.execute(query("segments_show"), {"segment_id": name}).fetchone()
            if current is None or current["definition"] is None:
                raise NotFound(f"segment: no segment {name} (give --file to try a new one)")
            text = str(current["definition"])
        else:
            text = _read_query(file)
        row = conn.execute(
            query("segments_preview"), {"segment_id": name, "query": text, "sample": sample}
        ).fetchone()
        conn.rollback()
    assert row is not None
    typer.echo(
        f"{name}: {row['members']} members; {row['joining']} would join, "
        f"{row['leaving']} would leave, {row['staying']} stay (nothing saved)"
    )
    for label, key in (("joining", "sample_joining"), ("leaving", "sample_leaving")):
        if row[key]:
            typer.echo(f"  {label}: " + ", ".join(str(p) for p in row[key]))


@app.command("list")
@one_line_errors
def list_segments() -> None:
    """Every segment: audience, members, last evaluation."""
    with connect() as conn, mapped_db_errors():
        rows = conn.execute(query("segments_list")).fetchall()
    typer.echo(f"{'segment':28} {'audience':24} {'members':>9}  last evaluated")
    for r in rows:
        state = "" if r["enabled"] else " (disabled)"
        error = f"  ERROR: {r['last_error']}" if r["last_error"] else ""
        typer.echo(
            f"{r['segment_id']:28} {r['audience_name'] or '-':24} {r['members']:>9}  "
            f"{_when(r['last_evaluated_at'])}{state}{error}"
        )


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "never"


@app.command("show")
@one_line_errors
def show(name: str = NAME) -> None:
    """One segment: registry row, SQL, members, recent joins and leaves."""
    with connect() as conn, mapped_db_errors():
        row = conn.execute(query("segments_show"), {"segment_id": name}).fetchone()
        if row is None:
            raise NotFound(f"segment: no segment {name}")
        history = conn.execute(
            query("segments_recent_history"), {"segment_id": name, "limit": 10}
        ).fetchall()
    for key in (
        "segment_id",
        "description",
        "owner",
        "audience_name",
        "enabled",
        "members",
        "last_evaluated_at",
        "last_error",
    ):
        typer.echo(f"{key}: {row[key]}")
    typer.echo(f"definition:\n{row['definition']}")
    if history:
        typer.echo("recent changes:")
        for h in history:
            typer.echo(f"  {_when(h['at'])} {h['change']:5} {h['person_id']} (run {h['run_id']})")


@app.command("members")
@one_line_errors
def members(
    name: str = NAME,
    limit: int = typer.Option(100, min=1, max=1_000_000, help="At most this many."),
) -> None:
    """Current members (person ids and when they joined; no PII)."""
    with connect() as conn, mapped_db_errors():
        if conn.execute(query("segments_show"), {"segment_id": name}).fetchone() is None:
            raise NotFound(f"segment: no segment {name}")
        rows = conn.execute(
            query("segments_members"), {"segment_id": name, "limit": limit}
        ).fetchall()
    for r in rows:
        typer.echo(f"{r['person_id']}\t{_when(r['joined_at'])}")


@app.command("evaluate")
@one_line_errors
def evaluate(
    full: bool = typer.Option(False, help="Evaluate everyone, not only who changed."),
) -> None:
    """Evaluate the segments now (whatever SEGMENT_ENGINE_META_CAPI_ENABLED says)."""
    from workers.db.connection import database_url
    from workers.segments.worker import connect as worker_connect
    from workers.segments.worker import evaluate_once

    async def once() -> str:
        async with await worker_connect(database_url(), role=None) as conn:
            run = await evaluate_once(conn, full=full, require_enabled=False)
        lines = [run.summary()]
        lines += [
            f"  {s.segment_id}: +{s.joined} -{s.left}"
            + (f" ({s.members} members)" if s.members is not None else "")
            + (f" ERROR {s.error}" if s.error else "")
            for s in run.segments
        ]
        return "\n".join(lines)

    with mapped_db_errors():
        typer.echo(asyncio.run(once()))
