"""The app's exception handlers: every error answered as `{"error": {"field", "rule",
"message"}}` (edge_compat/errors.py) with its status; a bug is a logged 500 without details."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from edge_compat.errors import ApiError, error_response, from_gdp_error
from edge_compat.validation import first_error
from workers.errors import GdpError

log = logging.getLogger("gdp.edge")


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
