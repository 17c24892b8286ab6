"""`gdp db roles`: GDP's process roles, and logins for the processes that act as them.

Each process connects with its own least-privilege role (role_options: `-c role=<role>` at
connection start), so the login in its DATABASE_URL needs only membership. Run as the role that
deployed GDP (on Supabase, postgres): making a login needs CREATEROLE.
"""

from __future__ import annotations

import secrets

import typer

from workers.cli._common import one_line_errors
from workers.db.connection import connect
from workers.db.queries import query
from workers.errors import mapped_db_errors


@one_line_errors
def roles(
    login: str | None = typer.Option(
        None, "--login", help="Make (or update) this login and grant it the --role roles."
    ),
    role: list[str] = typer.Option(
        [], "--role", help="A process role for --login (repeat for several), e.g. gdp_api."
    ),
    password: bool = typer.Option(
        True,
        "--password/--no-password",
        help="With --login: set a new random password and print it once (default).",
    ),
) -> None:
    """List GDP's process roles and their logins; with --login, make a login for processes."""
    with connect() as conn, mapped_db_errors():
        if login is None:
            for r in conn.execute(query("process_roles")).fetchall():
                members = ", ".join(r["logins"]) if r["logins"] else "no login yet"
                state = "" if r["present"] else "  (missing: run gdp db up)"
                typer.echo(f"{r['role_name']:<20} {r['purpose']:<52} {members}{state}")
            return
        secret = secrets.token_urlsafe(32) if password else None
        verifier = (
            conn.pgconn.encrypt_password(secret.encode(), login.encode(), b"scram-sha-256").decode()
            if secret is not None
            else None
        )
        row = conn.execute(
            query("make_process_login"),
            {"login": login, "roles": role, "password_hash": verifier},
        ).fetchone()
        info = conn.info
        target = f"postgresql://{login}:<password>@{info.host}:{info.port}/{info.dbname}"
    assert row is not None
    done = "created" if row["created"] else "updated"
    typer.echo(f"login {row['login']} {done}; member of: {', '.join(row['roles'])}", err=True)
    if secret is not None:
        typer.echo(secret)
        typer.echo(
            f"the password above is shown once; the processes' DATABASE_URL: {target}",
            err=True,
        )
