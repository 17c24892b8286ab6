"""`gdp people ...`: load, list, consent and erase people through the SQL API."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import typer
from tqdm import tqdm

from workers.cli._common import default_actor, one_line_errors
from workers.db.connection import ADMIN_ROLE, connect
from workers.db.queries import query
from workers.errors import InvalidInput, mapped_db_errors

app = typer.Typer(help="People in shared.person.", no_args_is_help=True)


def read_json_lines(stream: TextIO) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise InvalidInput(f"line {number}: must be a JSON object")
        yield value


@app.command("import")
@one_line_errors
def import_people(
    path: Path = typer.Argument(..., help="JSON lines, one person each ('-' for stdin)."),
    batch: int = typer.Option(1000, min=1, max=10000, help="People per SQL call."),
) -> None:
    """Upsert people from JSON lines (the PRD's lead shape plus identities)."""
    stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    people = list(read_json_lines(stream))
    created: set[object] = set()
    seen: set[object] = set()
    with (
        connect(role=ADMIN_ROLE) as conn,
        mapped_db_errors(),
        tqdm(total=len(people), unit="person", disable=not sys.stderr.isatty()) as bar,
    ):
        for start in range(0, len(people), batch):
            chunk = people[start : start + batch]
            with conn.transaction():
                rows = conn.execute(
                    query("upsert_people"), {"people": json.dumps(chunk)}
                ).fetchall()
            seen.update(r["person_id"] for r in rows)
            created.update(r["person_id"] for r in rows if r["created"])
            bar.update(len(chunk))
    typer.echo(f"{len(people)} records upserted into {len(seen)} people ({len(created)} new)")


@app.command("list")
@one_line_errors
def list_people(limit: int = typer.Option(20, min=1, max=1000)) -> None:
    """The newest people with their linked identities (contains PII: for admins)."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(query("stitched_people"), {"limit": limit}).fetchall()
    for r in rows:
        typer.echo(
            f"{r['email']:<32} {r['source_product'] or '-':<13} {r['lifecycle_stage']:<9} "
            f"consent={r['consent_status']:<9} {', '.join(r['identities']) or '-'}"
        )


@app.command("consent")
@one_line_errors
def consent(person_id: str, status: str, source: str = typer.Option("cli")) -> None:
    """Record a consent change (granted, withdrawn, unknown)."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("record_consent"), {"person_id": person_id, "status": status, "source": source}
        ).fetchone()
    assert row is not None
    typer.echo(f"consent is now {row['consent_status']}")


@app.command("erase")
@one_line_errors
def erase(
    email: str, by: str | None = typer.Option(None, "--by"), reason: str | None = typer.Option(None)
) -> None:
    """Erase a person (GDPR): person, links and events go; a hash-only record remains."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("erase_person_by_email"),
            {"email": email, "requested_by": by or default_actor(), "reason": reason},
        ).fetchone()
    assert row is not None
    typer.echo(f"erased (erasure record {row['erasure_id']})")
