"""Inspection and control under `/_sandbox/` (never faulted, never authenticated: local only).

What Meta would have received: events per pixel with their duplicate flags, per-pixel counts,
each audience's members, the request log (tokens redacted); plus `reset`, `health` and a clock
offset for demos that cannot inject a clock.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from meta_sandbox.audiences import describe, expire_replace
from meta_sandbox.faults import faults_json
from meta_sandbox.graph import sandbox_of

router = APIRouter(prefix="/_sandbox")
STARTED = time.monotonic()


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    return JSONResponse(
        {
            "status": "ok",
            "ad_account_id": sandbox.config.ad_account_id,
            "uptime_s": round(time.monotonic() - STARTED, 3),
            "now": sandbox.now(),
        }
    )


@router.get("/events")
async def events(
    request: Request, pixel_id: str | None = None, limit: int = 10_000
) -> JSONResponse:
    sandbox = sandbox_of(request)
    with sandbox.lock:
        pixels = [pixel_id] if pixel_id else sorted(sandbox.events)
        stored = [e.as_json() for p in pixels for e in sandbox.events.get(p, [])]
    return JSONResponse({"pixel_id": pixel_id, "count": len(stored), "events": stored[-limit:]})


@router.get("/events/summary")
async def events_summary(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    summary: dict[str, dict[str, int]] = {}
    with sandbox.lock:
        for pixel in sorted(set(sandbox.events) | set(sandbox.pixel_stats)):
            stored = sandbox.events.get(pixel, [])
            duplicates = sum(1 for e in stored if e.duplicate)
            stats = sandbox.pixel_stats.get(pixel)
            summary[pixel] = {
                "received": len(stored),
                "unique": len(stored) - duplicates,
                "duplicates": duplicates,
                "test_events": sum(1 for e in stored if e.test_event_code),
                "requests": stats.requests if stats else 0,
                "rejected_requests": stats.rejected_requests if stats else 0,
            }
    return JSONResponse({"pixels": summary})


def _audience_json(request: Request, audience_id: str, members: bool) -> dict[str, Any] | None:
    sandbox = sandbox_of(request)
    with sandbox.lock:
        audience = sandbox.audiences.get(audience_id)
        if audience is None:
            return None
        expire_replace(audience, sandbox.now())
        out = describe(sandbox, audience)
        out["count"] = len(audience.members)
        out["rows_received"] = {"add": audience.rows_added, "remove": audience.rows_removed}
        replace = audience.replace
        out["replace_session"] = (
            None
            if replace is None
            else {
                "session_id": replace.session_id,
                "started_at": replace.started_at,
                "batches": replace.batches,
                "num_received": replace.num_received,
                "staged": len(replace.staged),
            }
        )
        out["finished_sessions"] = {str(k): v for k, v in audience.finished_sessions.items()}
        if members:
            out["members"] = audience.members.snapshot()
            out["member_keys"] = audience.members.keys()
    return out


@router.get("/audiences")
async def audiences(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    with sandbox.lock:
        ids = list(sandbox.audiences)
    listed = [_audience_json(request, audience_id, members=False) for audience_id in ids]
    return JSONResponse({"audiences": [a for a in listed if a is not None]})


@router.get("/audiences/{audience_id}")
async def audience(request: Request, audience_id: str) -> JSONResponse:
    found = _audience_json(request, audience_id, members=True)
    if found is None:
        return JSONResponse({"detail": f"no audience {audience_id}"}, status_code=404)
    return JSONResponse(found)


@router.get("/requests")
async def requests(request: Request, limit: int = 1_000) -> JSONResponse:
    sandbox = sandbox_of(request)
    with sandbox.lock:
        entries = [
            {
                "at": e.at,
                "method": e.method,
                "path": e.path,
                "status": e.status,
                "code": e.code,
                "subcode": e.subcode,
                "events": e.events,
                "duration_ms": e.duration_ms,
            }
            for e in list(sandbox.request_log)[-limit:]
        ]
    return JSONResponse({"requests": entries})


@router.post("/reset")
async def reset(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    sandbox.reset()
    return JSONResponse({"reset": True, "faults": faults_json(sandbox.faults)})


class ClockChange(BaseModel):
    advance_s: float = Field(ge=0, le=10 * 365 * 86400)


@router.post("/clock")
async def advance_clock(request: Request, change: ClockChange) -> JSONResponse:
    """Move the sandbox's clock forward (session timeouts, BUC decay) without waiting."""
    sandbox = sandbox_of(request)
    with sandbox.lock:
        sandbox.clock_offset += change.advance_s
        return JSONResponse({"now": sandbox.now(), "offset_s": sandbox.clock_offset})
