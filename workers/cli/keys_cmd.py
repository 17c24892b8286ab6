"""`gdp keys ...`: a product's credentials, shown once.

Two kinds, one product each: an HTTP service key (the ingest endpoint, the relay, the edge
function; stored as its hash) and, with --jwt, a JWT for the Supabase client (role gdp_product,
signed with the project's JWT secret; only its id is stored). Both are listed and revoked here.
The commands act as the admin role (gdp_admin): keys change only through the audited functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import typer

from workers import product_token
from workers.cli._common import default_actor, one_line_errors
from workers.db.connection import ADMIN_ROLE, connect
from workers.db.queries import query
from workers.errors import InvalidInput, mapped_db_errors
from workers.settings import get_settings

app = typer.Typer(help="Service keys for products calling the GDP API.", no_args_is_help=True)


@app.command("create")
@one_line_errors
def create(
    product: str,
    label: str | None = typer.Option(None, help="What the key is for."),
    by: str | None = typer.Option(None, "--by"),
    jwt: bool = typer.Option(
        False,
        "--jwt",
        help="A JWT for the Supabase client (role gdp_product), signed with SUPABASE_JWT_SECRET, "
        "instead of an HTTP service key.",
    ),
    expires_days: int = typer.Option(
        3650, "--expires-days", help="With --jwt: days until the token expires (0: never)."
    ),
) -> None:
    """Create a credential for PRODUCT and print it once (it cannot be shown again)."""
    if jwt:
        _create_jwt(product, label, by or default_actor(), expires_days)
        return
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("create_service_key"),
            {"product_id": product, "actor": by or default_actor(), "label": label},
        ).fetchone()
    assert row is not None
    typer.echo(row["service_key"])
    typer.echo(
        f"key id {row['key_id']} for {product}: store it now, it cannot be shown again", err=True
    )


def _create_jwt(product: str, label: str | None, actor: str, expires_days: int) -> None:
    if expires_days < 0:
        raise InvalidInput("--expires-days: must be 0 (never) or more", field="expires_days")
    secret = get_settings().jwt_secret
    raw_secret = secret.get_secret_value() if secret is not None else None
    product_token.checked_secret(raw_secret)  # refused before anything is written
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + timedelta(days=expires_days) if expires_days else None
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("create_product_credential"),
            {"product_id": product, "actor": actor, "label": label, "expires_at": expires_at},
        ).fetchone()
        assert row is not None
        # Signed inside the transaction: a failure leaves no credential row behind.
        token = product_token.sign(
            product_token.ProductClaims(
                product_id=row["product_id"],
                credential_id=row["id"],
                issued_at=now,
                expires_at=expires_at,
            ),
            raw_secret,
        )
    typer.echo(token)
    until = f"expires {expires_at:%Y-%m-%d}" if expires_at else "never expires"
    typer.echo(
        f"key id {row['id']} for {product} (role {product_token.PRODUCT_ROLE}, {until}): "
        "store it now, it cannot be shown again",
        err=True,
    )


@app.command("revoke")
@one_line_errors
def revoke(key_id: str, by: str | None = typer.Option(None, "--by")) -> None:
    """Revoke a key by its id (see gdp keys list), a service key or a product JWT."""
    try:
        UUID(key_id)
    except ValueError:
        raise InvalidInput(
            "key_id: must be a key id (a UUID, see gdp keys list)", field="key_id"
        ) from None
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("revoke_key"), {"key_id": key_id, "actor": by or default_actor()}
        ).fetchone()
    assert row is not None
    kind = "JWT" if row["kind"] == "product_jwt" else "key"
    typer.echo(
        f"{kind} {row['id']} ({row['product_id']}) revoked at {row['revoked_at']:%Y-%m-%d %H:%M}"
    )


@app.command("list")
@one_line_errors
def list_keys() -> None:
    """Keys by product (prefix only), with their kind and state."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(query("list_keys")).fetchall()
    now = datetime.now(UTC)
    for r in rows:
        if r["revoked_at"]:
            state = f"revoked {r['revoked_at']:%Y-%m-%d}"
        elif r["expires_at"] and r["expires_at"] <= now:
            state = f"expired {r['expires_at']:%Y-%m-%d}"
        else:
            state = "active"
        used = (
            f"last used {r['last_used_at']:%Y-%m-%d %H:%M}"
            if r["last_used_at"]
            else ("" if r["kind"] == "product_jwt" else "never used")
        )
        what = "jwt (gdp_product)" if r["kind"] == "product_jwt" else f"{r['key_prefix']}…"
        typer.echo(
            f"{r['id']}  {r['product_id']:<14} {what}  {state}"
            + (f", {used}" if used else "")
            + (f"  ({r['label']})" if r["label"] else "")
        )
