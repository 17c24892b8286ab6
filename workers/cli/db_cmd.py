"""`gdp db ...`: bring the schema up, dump it."""

from __future__ import annotations

import typer

from workers.cli._common import one_line_errors
from workers.db import migrate
from workers.db.connection import database_url, redact_url

app = typer.Typer(help="The database: migrations, functions, policies.", no_args_is_help=True)


@app.command("up")
@one_line_errors
def up(dump: bool = typer.Option(False, "--dump", help="Also rewrite db/schema.sql.")) -> None:
    """Create the database if missing, install pgmq, apply migrations, functions and policies."""
    result = migrate.up()
    target = redact_url(database_url())
    created = "created, " if result.database_created else ""
    pgmq = f"pgmq installed ({result.pgmq_installed}), " if result.pgmq_installed else ""
    applied = ", ".join(result.migrations_applied) or "none pending"
    typer.echo(
        f"{target}: {created}{pgmq}migrations: {applied}; "
        f"{len(result.files_applied)} function/policy files re-applied"
    )
    if dump:
        typer.echo(f"wrote {migrate.dump_schema()}")


@app.command("dump")
@one_line_errors
def dump(
    fresh: bool = typer.Option(
        True,
        help="Dump a scratch database built from scratch "
        "(what the drift test compares) instead of DATABASE_URL.",
    ),
) -> None:
    """Rewrite db/schema.sql."""
    path = migrate.dump_fresh_schema() if fresh else migrate.dump_schema()
    typer.echo(f"wrote {path}")
