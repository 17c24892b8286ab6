"""What every Graph call goes through: version check, faults, auth, BUC usage, logging.

A route calls `begin(...)` first; it returns the merged request parameters or raises the
`GraphError` Meta would answer. The HTTP middleware then stamps `X-Business-Use-Case-Usage`,
records the call in the usage window and the request log (tokens redacted), and logs one
structured line without secrets.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

import structlog
from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from meta_sandbox.auth import check_auth
from meta_sandbox.errors import (
    GraphError,
    new_fbtrace_id,
    server_error,
    throttle_error,
    unknown_object,
    unknown_path,
)
from meta_sandbox.params import read_params
from meta_sandbox.state import RequestLogEntry, Sandbox
from meta_sandbox.usage import BUC_THROTTLE_CODE

log = structlog.get_logger("meta_sandbox")

VERSION = re.compile(r"v[0-9]+\.[0-9]+")
GRAPH_PATH = re.compile(r"/v[0-9]+\.[0-9]+/")
SECRET_PARAMS = frozenset({"access_token", "appsecret_proof", "client_secret"})
AD_ACCOUNT_USAGE_TYPES = frozenset({"ads_insights", "ads_management"})


def sandbox_of(request: Request) -> Sandbox:
    return cast(Sandbox, request.app.state.sandbox)


def account_key(sandbox: Sandbox) -> str:
    """BUC usage is keyed by business or ad-account id; the sandbox uses the ad account's."""
    return sandbox.config.ad_account_id.removeprefix("act_")


async def begin(
    request: Request,
    *,
    usage_type: str,
    usage_key: str | None = None,
    buc_code: int | None = None,
) -> dict[str, Any]:
    """Checks and faults every Graph call goes through; returns the merged parameters.

    `buc_code` overrides the throttling code answered when the use case's usage reaches 100 %.
    """
    sandbox = sandbox_of(request)
    version = str(request.path_params.get("version", ""))
    if VERSION.fullmatch(version) is None:
        raise unknown_path(request.url.path)
    key = usage_key or account_key(sandbox)
    request.state.usage = (key, usage_type)
    params = await read_params(request)
    faults = sandbox.faults
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    with sandbox.lock:
        fail_code = None
        if faults.fail_5xx and sandbox.fault_rng.random() < faults.fail_5xx:
            fail_code = sandbox.fault_rng.choice((1, 2))
    if fail_code is not None:
        raise server_error(fail_code)
    check_auth(sandbox, request, params)
    with sandbox.lock:
        usage = sandbox.usage.usage(key, usage_type, sandbox.now())
        throttle_code = None
        if faults.throttle and sandbox.fault_rng.random() < faults.throttle:
            throttle_code = sandbox.fault_rng.choice(faults.throttle_codes)
    if usage.exhausted:
        request.state.throttled = True
        raise throttle_error(buc_code or BUC_THROTTLE_CODE.get(usage_type, 80004))
    if throttle_code is not None:
        raise throttle_error(throttle_code)
    return params


def redact(path: str, query: str) -> str:
    if not query:
        return path
    pairs = [
        (k, "REDACTED" if k in SECRET_PARAMS else v)
        for k, v in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{path}?{urlencode(pairs, safe=',{}:')}"


def page_url(request: Request, **changes: str | None) -> str:
    """The request's own URL with some query parameters changed (for `paging.next`)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    return str(request.url.replace(query=urlencode(pairs)))


def graph_error_response(request: Request, error: GraphError) -> JSONResponse:
    request.state.graph_error = (error.code, error.subcode)
    return JSONResponse(
        error.body(new_fbtrace_id()), status_code=error.http_status, headers=error.headers
    )


def install(app: FastAPI) -> None:
    """Register the Graph exception handlers and the middleware on `app`."""

    async def on_graph_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, GraphError)
        return graph_error_response(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if GRAPH_PATH.match(request.url.path) is None:
            return await http_exception_handler(request, exc)
        if exc.status_code == 405:
            node = request.url.path.split("/")[2] if request.url.path.count("/") >= 2 else ""
            return graph_error_response(request, unknown_object(node, request.method))
        return graph_error_response(request, unknown_path(request.url.path))

    app.add_exception_handler(GraphError, on_graph_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)

    @app.middleware("http")
    async def graph_calls(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if GRAPH_PATH.match(request.url.path) is None:
            return await call_next(request)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("graph_call_crashed", method=request.method, path=request.url.path)
            response = graph_error_response(request, server_error(1))
        duration = time.perf_counter() - started
        sandbox = sandbox_of(request)
        usage: tuple[str, str] | None = getattr(request.state, "usage", None)
        code, subcode = getattr(request.state, "graph_error", (None, None))
        path = redact(request.url.path, request.url.query)
        with sandbox.lock:
            now = sandbox.now()
            if usage is not None:
                key, usage_type = usage
                if not getattr(request.state, "throttled", False):
                    sandbox.usage.record(key, usage_type, now, duration)
                response.headers["X-Business-Use-Case-Usage"] = sandbox.usage.header(
                    key, now, usage_type
                )
                if usage_type in AD_ACCOUNT_USAGE_TYPES:
                    # Sent on errors too: a client pacing by headers must see them when throttled.
                    response.headers["X-Ad-Account-Usage"] = sandbox.usage.ad_account_header(
                        key, now, usage_type
                    )
            sandbox.log_request(
                RequestLogEntry(
                    at=now,
                    method=request.method,
                    path=path,
                    status=response.status_code,
                    code=code,
                    subcode=subcode,
                    events=getattr(request.state, "events", None),
                    duration_ms=round(duration * 1000, 3),
                )
            )
        log.info(
            "graph_call",
            method=request.method,
            path=path,
            status=response.status_code,
            code=code,
            subcode=subcode,
            duration_ms=round(duration * 1000, 1),
        )
        return response
