"""GET /healthz (the database answers) and GET /metrics (Prometheus text)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import Response

from edge_compat.errors import json_response
from edge_compat.metrics import CONTENT_TYPE
from edge_compat.state import edge
from workers.errors import GdpError

log = logging.getLogger("gdp.edge")
router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="200 when the database answers, 503 otherwise")
async def healthz(request: Request) -> Response:
    try:
        await edge(request).db.fetch("edge_ping")
    except GdpError:
        return json_response({"status": "unavailable", "database": False}, 503)
    return json_response({"status": "ok", "database": True})


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, ingested events, queue, breakers, dead letters",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}},
)
async def metrics(request: Request) -> Response:
    state = edge(request)
    try:
        rows = await state.db.fetch("edge_metrics")
    except GdpError as exc:
        log.warning("metrics query failed", extra={"error": type(exc).__name__})
        rows = None
    return Response(state.metrics.render(rows), media_type=CONTENT_TYPE)
