"""The project's errors, and the one place that maps database and Graph API errors onto them.

SQL functions raise with SQLSTATEs of class GD (db/functions/00_common.sql) and name the field;
Meta answers with Graph error objects whose `code`/`error_subcode` (not the HTTP status) say what
to do. Everything that reaches a user becomes one of these, with a one-line message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Literal

import psycopg
from psycopg import errors as pg_errors


class GdpError(Exception):
    """Something went wrong in the Growth Data Plane."""

    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(GdpError):
    """The input breaks a rule; the message names the field and the rule."""

    http_status = 422
    exit_code = 2


class Forbidden(GdpError):
    http_status = 403


class Unauthorized(GdpError):
    http_status = 401


class NotFound(GdpError):
    http_status = 404


class Conflict(GdpError):
    http_status = 409


class GateRefused(GdpError):
    """The deployment gate refused a change; the message names what is missing."""

    http_status = 423
    exit_code = 3


class FeatureDisabled(GdpError):
    http_status = 503


class DatabaseUnavailable(GdpError):
    exit_code = 4


class ConfigError(GdpError):
    """The process configuration (environment) is unusable; the message names the variable."""

    exit_code = 2


_SQLSTATE_TO_ERROR: dict[str, type[GdpError]] = {
    "GD400": InvalidInput,
    "GD403": Forbidden,
    "GD404": NotFound,
    "GD409": Conflict,
    "GD423": GateRefused,
}


def from_db_error(exc: psycopg.Error) -> GdpError:
    """Translate a database error into the project's own, keeping the server's message line."""
    diag = exc.diag
    message = (diag.message_primary or str(exc)).strip()
    field = diag.column_name or None
    sqlstate = exc.sqlstate or ""
    if sqlstate in _SQLSTATE_TO_ERROR:
        return _SQLSTATE_TO_ERROR[sqlstate](message, field=field)
    if isinstance(exc, pg_errors.UniqueViolation):
        return Conflict(f"{diag.constraint_name or 'unique constraint'}: already exists")
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        return InvalidInput(
            f"{diag.constraint_name or 'reference'}: refers to nothing", field=field
        )
    if isinstance(exc, pg_errors.CheckViolation | pg_errors.NotNullViolation):
        return InvalidInput(message, field=field)
    if isinstance(exc, pg_errors.InvalidTextRepresentation | pg_errors.DataException):
        return InvalidInput(message, field=field)
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return Forbidden(message)
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailable(f"database unavailable: {message}")
    return GdpError(message)


@contextmanager
def mapped_db_errors() -> Iterator[None]:
    """Run a block, turning any psycopg error into the project's own."""
    try:
        yield
    except psycopg.Error as exc:
        raise from_db_error(exc) from exc


# --- Graph API ---------------------------------------------------------------------------------

GraphErrorKind = Literal["transient", "throttled", "invalid", "auth", "permanent"]

# Decided by Meta's error code, not by the HTTP status: Meta answers throttling with HTTP 400.
_TRANSIENT_CODES = frozenset({1, 2, 341, 368})
_THROTTLE_CODES = frozenset(
    {4, 17, 32, 613, 80000, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014}
)
_AUTH_CODES = frozenset({102, 190, 10}) | frozenset(range(200, 300))
_UNKNOWN_OBJECT_SUBCODE = 33  # "Object with ID ... does not exist, cannot be loaded due to ..."


class MetaApiError(GdpError):
    """An error answered by the Graph API (or by the transport on the way to it)."""

    http_status = 502

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        http_status_code: int | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.http_status_code = http_status_code
        self.fbtrace_id = fbtrace_id
        # From X-Business-Use-Case-Usage on the failed answer, when Meta sent one.
        self.usage_pct = 0.0
        self.regain_access_s = 0.0

    @property
    def kind(self) -> GraphErrorKind:
        return classify_graph_error(self.code, self.http_status_code, self.subcode)

    @property
    def retryable(self) -> bool:
        return self.kind in ("transient", "throttled")

    def __repr__(self) -> str:
        return (
            f"MetaApiError(code={self.code}, subcode={self.subcode}, "
            f"http={self.http_status_code}, message={self.message!r})"
        )


def classify_graph_error(
    code: int | None, http_status: int | None, subcode: int | None = None
) -> GraphErrorKind:
    if code in _THROTTLE_CODES:
        return "throttled"
    if code in _AUTH_CODES:
        return "auth"
    if code == 100 and subcode == _UNKNOWN_OBJECT_SUBCODE:
        # The pixel (or audience) does not exist for this token, or the token may not use it:
        # configuration, not a bad event. Handled like an auth failure (sending stops, events
        # are held until it is fixed); splitting the batch would dead-letter every event.
        return "auth"
    if code in _TRANSIENT_CODES:
        return "transient"
    if code == 100:
        return "invalid"
    if code is None and (http_status is None or http_status >= 500 or http_status == 429):
        # No Graph error object: a timeout, a reset, an HTML 5xx page. Worth another try.
        return "transient"
    if http_status is not None and http_status >= 500:
        return "transient"
    return "permanent"


# Graph error text can quote what was sent: code 190 answers "Malformed access token EAAB..." for
# a token it cannot parse. Every message is redacted here, before anything stores, logs or
# returns it. Meta's user, page and system-user tokens start with "EAA"; an app token is
# "<app id>|<app secret>". Each pattern's group 1, when it has one, is kept (the name of the
# parameter or scheme, so the message still says what was wrong).
REDACTED = "[redacted]"
_SECRET_PATTERNS = (
    re.compile(r"\bEAA[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\b[0-9]{5,}\|[A-Za-z0-9_\-]{16,}"),
    re.compile(
        r"(?i)\b((?:access_token|appsecret_proof|client_secret|input_token|fb_exchange_token)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"
    ),
    # A credential after an HTTP auth scheme; it must hold a digit, so "OAuth credentials" stays.
    re.compile(r"(?i)\b((?:bearer|oauth)\s+)(?=[A-Za-z._~+/=\-]*[0-9])[A-Za-z0-9._~+/=\-]{8,}"),
)
_MIN_SECRET_LENGTH = 8  # shorter configured values would redact ordinary words


def _redacted(match: re.Match[str]) -> str:
    return (match.group(1) if match.re.groups else "") + REDACTED


def redact_secrets(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with the given secrets, anything shaped like a Meta token, `access_token=` /
    `appsecret_proof=` values and bearer credentials replaced by "[redacted]"."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_redacted, text)
    return text


def from_graph_error(
    payload: Mapping[str, object],
    http_status: int | None,
    *,
    secrets: Iterable[str | None] = (),
) -> MetaApiError:
    """Build a MetaApiError from a Graph response body ({"error": {...}}); its message is
    redacted (`secrets`: the token and app secret the request used, plus every token-shaped
    string)."""
    error = payload.get("error")
    if not isinstance(error, Mapping):
        return MetaApiError(
            f"Graph API answered HTTP {http_status} without an error object",
            http_status_code=http_status,
        )

    def _int(key: str) -> int | None:
        value = error.get(key)
        return value if isinstance(value, int) else None

    message = error.get("message")
    trace = error.get("fbtrace_id")
    return MetaApiError(
        message=redact_secrets(message, secrets) if isinstance(message, str) else "Graph API error",
        code=_int("code"),
        subcode=_int("error_subcode"),
        http_status_code=http_status,
        fbtrace_id=trace if isinstance(trace, str) else None,
    )
