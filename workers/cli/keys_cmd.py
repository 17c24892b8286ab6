"""`gdp keys ...`: service keys, one product each, shown once."""

from __future__ import annotations

import typer

from workers.cli._common import default_actor, one_line_errors
from workers.db.connection import connect
from workers.db.queries import query
from workers.errors import mapped_db_errors

app = typer.Typer(help="Service keys for products calling the GDP API.", no_args_is_help=True)


@app.command("create")
@one_line_errors
def create(
    product: str,
    label: str | None = typer.Option(None, help="What the key is for."),
    by: str | None = typer.Option(None, "--by"),
) -> None:
    """Create a key for PRODUCT and print it once (only its hash is kept)."""
    with connect() as conn, mapped_db_errors():
        row = conn.execute(
            query("create_service_key"),
            {"product_id": product, "actor": by or default_actor(), "label": label},
        ).fetchone()
    assert row is not None
    typer.echo(row["service_key"])
    typer.echo(
        f"key id {row['key_id']} for {product}: store it now, it cannot be shown again", err=True
    )


@app.command("revoke")
@one_line_errors
def revoke(key_id: str, by: str | None = typer.Option(None, "--by")) -> None:
    """Revoke a key by its id (see gdp keys list)."""
    with connect() as conn, mapped_db_errors():
        row = conn.execute(
            query("revoke_service_key"), {"key_id": key_id, "actor": by or default_actor()}
        ).fetchone()
    assert row is not None
    typer.echo(
        f"key {row['id']} ({row['product_id']}) revoked at {row['revoked_at']:%Y-%m-%d %H:%M}"
    )


@app.command("list")
@one_line_errors
def list_keys() -> None:
    """Keys by product (prefix only), with their state."""
    with connect() as conn, mapped_db_errors():
        rows = conn.execute(query("list_service_keys")).fetchall()
    for r in rows:
        state = f"revoked {r['revoked_at']:%Y-%m-%d}" if r["revoked_at"] else "active"
        used = (
            f"last used {r['last_used_at']:%Y-%m-%d %H:%M}" if r["last_used_at"] else "never used"
        )
        typer.echo(
            f"{r['id']}  {r['product_id']:<14} {r['key_prefix']}…  {state}, {used}"
            + (f"  ({r['label']})" if r["label"] else "")
        )
