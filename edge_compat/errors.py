"""Every error is JSON `{"error": {"field", "rule", "message"}}` with the right status.

Bad input is always a 4xx that names the field and the rule, never a 500 or a traceback; the
project's errors (workers/errors.py) keep their http_status. Messages never contain the values
that were sent (they may be personal data): only field paths and rules.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from workers.errors import DatabaseUnavailable, GdpError

log = logging.getLogger("gdp.edge")


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


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.message, field=exc.field, rule=exc.rule, headers=exc.headers
    )


async def _gdp_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GdpError)
    api = from_gdp_error(exc)
    if api.status >= 500:
        log.warning("request failed", extra={"error": type(exc).__name__, "status": api.status})
    return error_response(api.status, api.message, field=api.field, rule=api.rule)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = {404: "no such route", 405: "method not allowed"}.get(
        exc.status_code, str(exc.detail)
    )
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, message, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    from edge_compat.validation import first_error

    assert isinstance(exc, RequestValidationError)
    field, rule = first_error(exc.errors(), skip_roots=("query", "path", "header", "body"))
    return error_response(422, f"{field}: {rule}", field=field, rule=rule)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # A bug, not bad input: logged with its type only (a message could hold a value).
    log.error("unhandled error", extra={"error": type(exc).__name__, "path": request.url.path})
    return error_response(500, "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(GdpError, _gdp_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
