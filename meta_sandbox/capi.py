"""`POST /{version}/{pixel_id}/events`: the Conversions API.

All-or-nothing as Meta documents: the first invalid event rejects the whole request with code
100 and a message naming its index and the rule. The rules are workers.meta.capi_rules, the list
the worker also checks before sending. Accepted events are kept per pixel with their
received time, `test_event_code` and a duplicate flag: a repeat of (pixel, event_name, event_id)
within 48 hours of the first one is accepted by the API (as at Meta) but flagged as deduplicated.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from meta_sandbox.errors import GraphError, invalid_param, new_fbtrace_id, unknown_object
from meta_sandbox.graph import begin, sandbox_of
from meta_sandbox.params import json_param, str_param
from meta_sandbox.state import PixelStats, Sandbox, StoredEvent
from meta_sandbox.usage import CAPI_THROTTLE_CODE
from workers.meta.capi_rules import MAX_EVENTS, EventRejected, validate_event

router = APIRouter()

DEDUP_WINDOW_S = 48 * 3600


def parse_data(params: dict[str, Any]) -> list[Any]:
    """`data` as a JSON array, a JSON string of one (form), or an array of JSON strings (SDK)."""
    if "data" not in params or params["data"] in (None, ""):
        raise invalid_param("The parameter data is required")
    data = json_param(params, "data")
    if not isinstance(data, list):
        raise invalid_param("Param data must be a JSON array of events")
    if not data:
        raise invalid_param("Param data must contain at least one event")
    if len(data) > MAX_EVENTS:
        raise invalid_param(
            f"Param data holds {len(data)} events; at most {MAX_EVENTS} events are allowed "
            "per request"
        )
    events: list[Any] = []
    for item in data:
        if isinstance(item, str):
            try:
                item = json.loads(item)
            except ValueError:
                item = None  # reported by validate_event with its index
        events.append(item)
    return events


def _store(
    sandbox: Sandbox,
    pixel_id: str,
    events: list[dict[str, Any]],
    test_event_code: str | None,
    partner_agent: str | None,
) -> None:
    with sandbox.lock:
        now = sandbox.now()
        sandbox.capi_requests += 1
        request_id = sandbox.capi_requests
        stored = sandbox.events.setdefault(pixel_id, [])
        for index, event in enumerate(events):
            raw_id = event.get("event_id")
            event_id = None if raw_id in (None, "") else str(raw_id)
            duplicate = False
            if event_id is not None:
                key = (pixel_id, str(event["event_name"]), event_id)
                first = sandbox.dedup_first_seen.get(key)
                if first is not None and now - first <= DEDUP_WINDOW_S:
                    duplicate = True
                else:
                    sandbox.dedup_first_seen[key] = now
            stored.append(
                StoredEvent(
                    pixel_id=pixel_id,
                    index=index,
                    request_id=request_id,
                    event_name=str(event["event_name"]),
                    event_id=event_id,
                    event_time=int(event["event_time"]),
                    action_source=str(event["action_source"]),
                    received_at=now,
                    test_event_code=test_event_code,
                    partner_agent=partner_agent,
                    duplicate=duplicate,
                    event=event,
                )
            )


@router.post("/{version}/{pixel_id}/events")
async def post_events(request: Request, version: str, pixel_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="ads_management", buc_code=CAPI_THROTTLE_CODE)
    if not pixel_id.isdigit():
        raise unknown_object(pixel_id, "POST")
    with sandbox.lock:
        stats = sandbox.pixel_stats.setdefault(pixel_id, PixelStats())
        stats.requests += 1
    try:
        events = parse_data(params)
    except GraphError:
        with sandbox.lock:
            stats.rejected_requests += 1
        raise
    request.state.events = len(events)
    test_event_code = str_param(params, "test_event_code") or None
    partner_agent = str_param(params, "partner_agent") or None
    now = sandbox.now()
    refused = frozenset(sandbox.faults.reject_event_ids)
    for index, event in enumerate(events):
        try:
            validate_event(event, now)
            if refused and isinstance(event, dict) and event.get("event_id") in refused:
                raise EventRejected("event_id: refused by the sandbox's reject_event_ids fault")
        except EventRejected as rejected:
            with sandbox.lock:
                stats.rejected_requests += 1
            raise invalid_param(
                f"Invalid parameter: data[{index}]: {rejected.rule}",
                subcode=rejected.subcode,
                user_title=rejected.title,
                user_msg=f"The event at index {index} is invalid: {rejected.rule}. "
                "No events in this request were processed.",
            ) from None
    _store(sandbox, pixel_id, events, test_event_code, partner_agent)
    received = max(0, len(events) - sandbox.faults.events_received_shortfall)
    return JSONResponse(
        {"events_received": received, "messages": [], "fbtrace_id": new_fbtrace_id()}
    )
