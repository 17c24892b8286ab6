"""GET /healthz (the database answers). Metrics are not served here: they name products and
pixels, so they have a listener of their own (edge_compat.metrics.serve_metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from edge_compat.errors import json_response
from edge_compat.state import edge
from workers.errors import GdpError

router = APIRouter(tags=["Operations"])


@router.get("/healthz", summary="200 when the database answers, 503 otherwise")
async def healthz(request: Request) -> Response:
    try:
        await edge(request).db.fetch("edge_ping")
    except GdpError:
        return json_response({"status": "unavailable", "database": False}, 503)
    return json_response({"status": "ok", "database": True})
