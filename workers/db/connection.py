"""Connections to the GDP database (DATABASE_URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from workers.db.rows import Row
from workers.errors import DatabaseUnavailable
from workers.settings import get_settings


def database_url(url: str | None = None) -> str:
    return url or get_settings().database_url


def role_options(role: str | None) -> dict[str, str]:
    """Connection keyword arguments that make a session act as `role` from its first statement.

    Each GDP process (HTTP service, each worker kind, the admin CLI) works as its own
    least-privilege role (gdp_api, gdp_capi_worker, gdp_admin, ...): the login in DATABASE_URL
    only needs to be a member of it. libpq's `options` sets the `role` parameter at connection
    start, so pools and reconnects keep it without an extra round trip.
    """
    return {"options": f"-c role={role}"} if role else {}


# The admin CLI's role (gdp flags / checklist / settings / keys / dlq / people / insights): their
# functions and reading what they list, nothing else (db/policies/15_identity.sql).
ADMIN_ROLE = "gdp_admin"
# The HTTP service's role (gdp serve: the event path, the relay, /metrics; the dashboard's pool
# is gdp_dashboard): db/policies/18_process_roles.sql.
API_ROLE = "gdp_api"


def as_role(url: str, role: str | None) -> str:
    """`url` with role_options(role) merged in: for pools and clients that take a conninfo."""
    return make_conninfo(url, **role_options(role))


@contextmanager
def connect(
    url: str | None = None, *, autocommit: bool = False, role: str | None = None
) -> Iterator[psycopg.Connection[Row]]:
    """A connection with dict rows, acting as `role` if given (see role_options); an
    unreachable server becomes one clear error."""
    target = database_url(url)
    try:
        conn = psycopg.connect(
            make_conninfo(target, **role_options(role)),
            autocommit=autocommit,
            row_factory=dict_row,
            connect_timeout=10,
        )
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "no answer"
        raise DatabaseUnavailable(
            f"cannot connect to the database ({redact_url(target)}): {first_line}"
        ) from exc
    with conn:
        yield conn


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    host = info.get("host") or "localhost"
    port = info.get("port") or 5432
    return f"postgresql://{info.get('user') or ''}@{host}:{port}/{info.get('dbname') or ''}"
