"""`gdp dashboard keys ...`: credentials for dashboard users, shown once, stored as hashes.

A dashboard key opens /dashboard and the insights API (read-only views, as gdp_dashboard); it
cannot ingest events or change anything.
"""

from __future__ import annotations

import typer

from workers.cli._common import default_actor, one_line_errors
from workers.db.connection import ADMIN_ROLE, connect
from workers.db.queries import query
from workers.errors import mapped_db_errors

app = typer.Typer(help="The dashboard (/dashboard) and its users' keys.", no_args_is_help=True)
keys_app = typer.Typer(help="Dashboard users' keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
@one_line_errors
def create(
    label: str = typer.Argument(..., help="Who or what the key is for, e.g. 'Dana (growth)'."),
    by: str | None = typer.Option(None, "--by"),
) -> None:
    """Create a dashboard key and print it once (only its hash is kept)."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("create_dashboard_key"), {"label": label, "actor": by or default_actor()}
        ).fetchone()
    assert row is not None
    typer.echo(row["dashboard_key"])
    typer.echo(
        f"dashboard key {row['key_id']} for {label}: store it now, it cannot be shown again; "
        f"open /dashboard#key=<the key>",
        err=True,
    )


@keys_app.command("list")
@one_line_errors
def list_keys() -> None:
    """Dashboard keys (prefix only) and their state."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(query("list_dashboard_keys")).fetchall()
    for r in rows:
        state = f"revoked {r['revoked_at']:%Y-%m-%d}" if r["revoked_at"] else "active"
        used = f"last used {r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "never"
        typer.echo(f"{r['id']}  {r['key_prefix']}...  {r['label']:<24} {state:<18} {used}")


@keys_app.command("revoke")
@one_line_errors
def revoke(key_id: str, by: str | None = typer.Option(None, "--by")) -> None:
    """Revoke a dashboard key by id (see gdp dashboard keys list)."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("revoke_dashboard_key"), {"key_id": key_id, "actor": by or default_actor()}
        ).fetchone()
    assert row is not None
    typer.echo(f"dashboard key {row['id']} ({row['label']}) revoked")
