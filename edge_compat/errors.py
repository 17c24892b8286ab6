"""Every error is JSON `{"error": {"field", "rule", "message"}}` with the right status.

Bad input is always a 4xx that names the field and the rule, never a 500 or a traceback; the
project's errors (workers/errors.py) keep their http_status. Messages never contain the values
that were sent (they may be personal data): only field paths and rules.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from workers.errors import DatabaseUnavailable, GdpError


class ApiError(Exception):
    """An answer other than success: status, the field at fault (if any) and the rule broken."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.rule = rule
        self.headers = headers

    def detail(self) -> dict[str, Any]:
        return error_detail(self.message, field=self.field, rule=self.rule)


class FieldError(ApiError):
    """A request field breaks a rule (422 unless told otherwise)."""

    def __init__(self, field: str, rule: str, *, status: int = 422) -> None:
        super().__init__(status, f"{field}: {rule}", field=field, rule=rule)


def error_detail(
    message: str, *, field: str | None = None, rule: str | None = None
) -> dict[str, Any]:
    return {"field": field, "rule": rule, "message": message}


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(content), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(
    status: int,
    message: str,
    *,
    field: str | None = None,
    rule: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return json_response({"error": error_detail(message, field=field, rule=rule)}, status, headers)


def from_gdp_error(exc: GdpError) -> ApiError:
    """A project error as an answer: its own http_status; an unreachable database is a 503."""
    if isinstance(exc, DatabaseUnavailable):
        return ApiError(503, "database unavailable, try again shortly")
    status = exc.http_status
    field = exc.field or None
    rule = exc.message
    if field and rule.startswith(f"{field}: "):
        rule = rule[len(field) + 2 :]
    return ApiError(status, exc.message, field=field, rule=rule if field else None)
