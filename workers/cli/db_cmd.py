"""`gdp db ...`: deploy the schema, write release migrations, dump the schema."""

from __future__ import annotations

import typer

from workers.cli import roles_cmd
from workers.cli._common import fail, one_line_errors
from workers.db import migrate, release
from workers.db.connection import database_url, redact_url

app = typer.Typer(help="The database: migrations, functions, policies.", no_args_is_help=True)
app.command("roles")(roles_cmd.roles)


@app.command("up")
@one_line_errors
def up(
    dump: bool = typer.Option(False, "--dump", help="Also rewrite db/schema.sql."),
    release_only: bool = typer.Option(
        False,
        "--release-only",
        help="Refuse db/functions or db/policies changes that no release migration carries "
        "(implied by GDP_ENV=production).",
    ),
) -> None:
    """Create the database if missing, install pgmq, apply the migrations."""
    result = migrate.up(
        release_only=True if release_only else None, db_dir=migrate.default_db_dir()
    )
    target = redact_url(database_url())
    created = "created, " if result.database_created else ""
    pgmq = f"pgmq installed ({result.pgmq_installed}), " if result.pgmq_installed else ""
    adopted = f"{result.history_adopted}, " if result.history_adopted else ""
    applied = ", ".join(result.migrations_applied) or "none pending"
    retried = f" (after {result.lock_retries} lock timeouts)" if result.lock_retries else ""
    typer.echo(f"{target}: {created}{pgmq}{adopted}migrations: {applied}{retried}")
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if dump:
        typer.echo(f"wrote {migrate.dump_schema(db_dir=migrate.default_db_dir())}")


@app.command("status")
@one_line_errors
def status() -> None:
    """Which migrations the database has and which are pending; whether a release is due."""
    db_dir = migrate.default_db_dir()
    applied, pending = migrate.status(database_url(), db_dir)
    typer.echo(
        f"{redact_url(database_url())}: {len(applied)} migrations applied "
        f"(history in {migrate.MIGRATIONS_TABLE}), {len(pending)} pending"
    )
    for name in pending:
        typer.echo(f"  pending {name}")
    if release.release_due(db_dir):
        typer.echo(
            "db/functions or db/policies changed since the last release: run `gdp db release`"
        )


@app.command("pgmq")
@one_line_errors
def pgmq() -> None:
    """Install pgmq (the extension where the server has it, else its SQL-only install): the
    one step plain `dbmate up` needs first on a server without the pgmq extension."""
    with migrate.deploy_lock(database_url()):
        how = migrate.ensure_pgmq(database_url())
    typer.echo(f"pgmq installed ({how})" if how else "pgmq already installed")


@app.command("release")
@one_line_errors
def release_cmd() -> None:
    """Write db/migrations/<version>_release.sql from db/functions and db/policies (when they
    changed since the last release) and copy db/migrations to supabase/migrations.

    Builds scratch databases on the server in DATABASE_URL (a local one while developing)."""
    result = release.generate(
        db_dir=migrate.default_db_dir(), say=lambda step: typer.echo(f"... {step}", err=True)
    )
    if result.path is None:
        typer.echo("db/functions and db/policies are released already; no migration written")
    else:
        dropped = f", dropped {', '.join(result.dropped)}" if result.dropped else ""
        typer.echo(f"wrote {result.path} ({result.statements} statements{dropped})")
    for path in result.mirrored:
        typer.echo(f"synced {path}")


@app.command("check")
@one_line_errors
def check() -> None:
    """Exit non-zero when a release is due or supabase/migrations is out of step."""
    problems = []
    db_dir = migrate.default_db_dir()
    if release.release_due(db_dir):
        problems.append(
            "db/functions or db/policies changed since the last release (run `gdp db release`)"
        )
    if release.supabase_out_of_step(db_dir):
        problems.append("supabase/migrations differs from db/migrations (run `gdp db release`)")
    if problems:
        raise fail("; ".join(problems))
    typer.echo("release and supabase/migrations are up to date")


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
    db_dir = migrate.default_db_dir()
    path = migrate.dump_fresh_schema(db_dir=db_dir) if fresh else migrate.dump_schema(db_dir=db_dir)
    typer.echo(f"wrote {path}")
