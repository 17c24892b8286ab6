"""Faults on demand: `GET/POST /_sandbox/faults`.

The settings are applied by `graph.begin` on every Graph call, in this order: added latency, a
share of 5xx answers (HTTP 500 code 1 or HTTP 503 code 2, both transient), a malformed token
(190 quoting the token sent, as Meta does for a token it cannot parse), token expiry (190/463
for every valid token), then a share of throttling answers (HTTP 400 with code 4, 17, 613 or
80004, Meta's messages). `reject_event_ids` makes CAPI refuse any request carrying one of those
event ids (code 100, naming the event's index), as Meta refuses an event for a reason the sender
could not check beforehand; `events_received_shortfall` answers fewer `events_received` than were
sent. A `seed` makes the dice repeatable: the same settings and the same
sequence of calls give the same faults.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from meta_sandbox.config import THROTTLE_CODES, FaultSettings
from meta_sandbox.graph import sandbox_of

router = APIRouter(prefix="/_sandbox")


class FaultUpdate(BaseModel):
    """Fields left out keep their current value."""

    fail_5xx: float | None = Field(default=None, ge=0.0, le=1.0)
    throttle: float | None = Field(default=None, ge=0.0, le=1.0)
    throttle_codes: list[int] | None = Field(default=None, min_length=1)
    token_expired: bool | None = None
    token_malformed: bool | None = None
    latency_ms: int | None = Field(default=None, ge=0, le=120_000)
    seed: int | None = None
    reject_event_ids: list[str] | None = Field(default=None, max_length=10_000)
    events_received_shortfall: int | None = Field(default=None, ge=0, le=1000)


def faults_json(faults: FaultSettings) -> dict[str, Any]:
    out = dataclasses.asdict(faults)
    out["throttle_codes"] = list(faults.throttle_codes)
    out["reject_event_ids"] = list(faults.reject_event_ids)
    return out


@router.get("/faults")
async def get_faults(request: Request) -> JSONResponse:
    return JSONResponse(faults_json(sandbox_of(request).faults))


@router.post("/faults")
async def set_faults(request: Request, update: FaultUpdate) -> JSONResponse:
    sandbox = sandbox_of(request)
    changes = update.model_dump(exclude_unset=True)
    codes = changes.get("throttle_codes")
    if codes is not None:
        if not set(codes) <= THROTTLE_CODES:
            return JSONResponse(
                {"detail": f"throttle_codes must be a subset of {sorted(THROTTLE_CODES)}"},
                status_code=422,
            )
        changes["throttle_codes"] = tuple(codes)
    if changes.get("reject_event_ids") is not None:
        changes["reject_event_ids"] = tuple(changes["reject_event_ids"])
    with sandbox.lock:
        faults = dataclasses.replace(sandbox.faults, **changes)
        sandbox.set_faults(faults)
    return JSONResponse(faults_json(faults))
