"""The dashboard: GET /dashboard (the page, built from edge_compat/dashboard/ at build time) and
GET /api/dashboard (everything the page shows, in one answer, read from the views as
gdp_dashboard).

The page holds no data and needs no key to load; it reads the key from the URL fragment
(/dashboard#key=gdp_dk_..., never sent to the server or logged), keeps it in the tab's
sessionStorage and sends it as `Authorization: Bearer` with each data request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from edge_compat.errors import ApiError
from edge_compat.insights_state import as_number, insights_state

router = APIRouter(tags=["Dashboard"])
DIST = Path(__file__).resolve().parents[1] / "dashboard" / "dist"
ASSET_TYPES = {
    ".js": "text/javascript", ".css": "text/css", ".map": "application/json", ".txt": "text/plain",
}  # fmt: skip
# The page loads only its own files: no CDN, no inline script.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _built(name: str) -> Path:
    path = (DIST / name).resolve()
    if DIST not in path.parents or not path.is_file():
        if not (DIST / "index.html").is_file():
            raise ApiError(503, "the dashboard is not built: run `make dashboard`")
        raise ApiError(404, "no such file")
    return path


@router.get("/dashboard", summary="The dashboard page", response_class=FileResponse)
async def page() -> Response:
    return FileResponse(
        _built("index.html"),
        media_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                 "Referrer-Policy": "no-referrer"},
    )  # fmt: skip


@router.get("/dashboard/assets/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    path = _built(f"assets/{name}")
    return FileResponse(
        path, media_type=ASSET_TYPES.get(path.suffix, "application/octet-stream"),
        headers={"Cache-Control": "public, max-age=3600"},
    )  # fmt: skip


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item: dict[str, Any] = {}
        for key, value in row.items():
            if hasattr(value, "isoformat"):
                item[key] = value.isoformat()
            elif value is not None and type(value).__name__ == "Decimal":
                item[key] = as_number(value)
            elif value is not None and type(value).__name__ == "UUID":
                item[key] = str(value)
            else:
                item[key] = value
        out.append(item)
    return out


@router.get("/api/dashboard", summary="Everything the dashboard shows, from the views")
async def dashboard_data(request: Request) -> Response:
    state = insights_state(request)
    await state.authenticate(request)
    db = state.db
    panels: dict[str, Any] = {}
    for name, query_name in (
        ("byProject", "dashboard_by_project"),
        ("daily", "dashboard_daily"),
        ("summary", "dashboard_summary"),
        ("leadFunnel", "dashboard_lead_funnel"),
        ("leadForms", "lead_forms_list"),
        ("capiHealth", "dashboard_capi_health"),
        ("matchKeys", "dashboard_match_keys"),
        ("successMetrics", "dashboard_success_metrics"),
        ("gate", "dashboard_gate"),
        ("pulls", "dashboard_pulls"),
        ("audiences", "dashboard_audiences"),
    ):
        panels[name] = _jsonable(await db.fetch(query_name))
    return Response(
        orjson.dumps({"success": True, "data": panels}),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
