"""GAP-001: POST /api/v1/meta/event (one event or {"data": [...]}) and its status.

Order of checks: key (401), flag (200 disabled, nothing stored), content type (415), size (413),
JSON (400), fields (422 / 403), then one `ingest_events` call. Raw PII upserts shared.person and
is not stored anywhere else; it is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from edge_compat import people
from edge_compat.auth import authenticate
from edge_compat.db import INGEST_FLAG, Database, Row
from edge_compat.errors import ApiError, FieldError, json_response
from edge_compat.ingest import Accepted, meta_event_element, validate_meta_event
from edge_compat.models import (
    MAX_BATCH,
    Disabled,
    ErrorResponse,
    EventStatus,
    MetaEventBatchResult,
    MetaEventResult,
)
from edge_compat.state import EdgeState, edge
from edge_compat.validation import has_control, read_json
from workers.errors import redact_secrets
from workers.statuses import PENDING_STATUSES

log = logging.getLogger("gdp.edge")
router = APIRouter(tags=["Meta Conversions API (GAP-001)"])
ENDPOINT = "meta_event"
POLL_S = 0.05
MAX_WAIT_S = 5

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "Malformed JSON (names line and column)"),
        (401, "Missing, unknown or revoked service key"),
        (403, "custom_data.source_product is not the key's product"),
        (413, "Body over 1 MB"),
        (415, "Content-Type is not application/json"),
        (422, "A field breaks a rule (names the field path and the rule)"),
        (503, "Database unavailable"),
    )
}
_WAIT_PARAMETER = {
    "name": "wait",
    "in": "query",
    "required": False,
    "schema": {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S, "default": 0},
    "description": "Seconds (0-5) to wait for Meta's acknowledgement of the batch carrying "
    "the event; 0 answers at once with status queued.",
}
_REQUEST_BODY = {
    "parameters": [_WAIT_PARAMETER],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/MetaEvent"},
                        {"$ref": "#/components/schemas/MetaEventBatch"},
                    ]
                }
            }
        },
    },
}


@router.post(
    "/api/v1/meta/event",
    summary="Send a conversion to Meta (one event, or a batch of up to 1,000)",
    responses={
        200: {"model": MetaEventResult | MetaEventBatchResult | Disabled},
        **_ERRORS,
    },
    openapi_extra=_REQUEST_BODY,
)
async def post_meta_event(request: Request) -> Response:
    # Parameters are read here rather than declared: FastAPI's parameter machinery costs more
    # than the rest of the request on the hot path. The OpenAPI document still lists them.
    wait = _wait_seconds(request.query_params.get("wait"))
    state = edge(request)
    product = await authenticate(request)
    if not await state.flags.enabled(INGEST_FLAG):
        state.metrics.count(product, ENDPOINT, ("disabled",))
        return json_response({"success": False, "disabled": True})
    body = await read_json(request)
    if isinstance(body, dict) and "data" in body:
        return await _batch(state, product, body, wait)
    return await _single(state, product, body, wait)


async def _single(state: EdgeState, product: str, body: Any, wait: float) -> Response:
    return json_response(await store_event(state, product, body, wait))


async def store_event(
    state: EdgeState, product: str, body: Any, wait: float, *, endpoint: str = ENDPOINT
) -> dict[str, Any]:
    """Validate and store one GAP-001 event of `product`; the answer of the endpoint.

    The browser relay (routes/relay.py) stores its events through here too, in-process.
    FieldError (422, or 403 for another product) names what is wrong; nothing is stored then.
    """
    try:
        event = validate_meta_event(body, product)
    except FieldError as exc:
        state.metrics.count(product, endpoint, ("forbidden" if exc.status == 403 else "invalid",))
        log.info("event refused", extra={"product": product, "field": exc.field, "rule": exc.rule})
        raise
    accepted = meta_event_element(event, body, product, state.default_region)
    rows = await people.ingest(state.ingest, state.people, product, [accepted.element])
    outcome = rows[0]["outcome"] if rows else "unknown_person"
    state.metrics.count(product, endpoint, (outcome,))
    if outcome == "unknown_person":
        raise FieldError("user_data.person_id", "names no known person")
    duplicate = outcome == "duplicate"
    answer: dict[str, Any] = {
        "success": True,
        "event_id": accepted.event_id,
        "hashed": True,
        "status": "duplicate" if duplicate else "queued",
        "duplicate": duplicate,
        "meta_response": None,
    }
    if wait > 0 or duplicate:
        # A resend answers with what became of the event, as the first call would now.
        statuses = await _wait_for(state.db, product, [accepted.event_id], wait)
        row = statuses.get(accepted.event_id)
        if row is not None:
            answer["status"] = row["status"]
            answer["meta_response"] = _meta_response(row)
    log.debug(
        "event stored",
        extra={"product": product, "event_id": accepted.event_id, "outcome": outcome},
    )
    return answer


async def _batch(state: EdgeState, product: str, body: dict[str, Any], wait: float) -> Response:
    extra = sorted(k for k in body if k != "data")
    if extra:
        raise FieldError(extra[0], 'is not an accepted field (a batch is {"data": [...]})')
    data = body["data"]
    if not isinstance(data, list):
        raise FieldError("data", "must be a JSON array of events")
    if not 1 <= len(data) <= MAX_BATCH:
        raise FieldError("data", f"must hold 1 to {MAX_BATCH} events")
    results: list[dict[str, Any]] = [{} for _ in data]
    accepted: list[Accepted] = []
    positions: list[int] = []
    for index, raw in enumerate(data):
        try:
            event = validate_meta_event(raw, product)
        except FieldError as exc:
            results[index] = _rejected(index, raw, exc)
            continue
        accepted.append(meta_event_element(event, raw, product, state.default_region))
        positions.append(index)
    elements = [a.element for a in accepted]
    rows = await people.ingest(state.ingest, state.people, product, elements) if accepted else []
    for row in rows:
        index = positions[row["ordinal"] - 1]
        outcome = row["outcome"]
        if outcome == "unknown_person":
            results[index] = _rejected(
                index, data[index], FieldError("user_data.person_id", "names no known person")
            )
            continue
        duplicate = outcome == "duplicate"
        results[index] = {
            "index": index,
            "event_id": row["event_id"],
            "status": "duplicate" if duplicate else "queued",
            "duplicate": duplicate,
            "meta_response": None,
            "error": None,
        }
    stored = [r["event_id"] for r in results if r.get("error") is None]
    resent = [r["event_id"] for r in results if r.get("duplicate")]
    if (wait > 0 and stored) or resent:
        # Without ?wait=, one read for the resends: they answer with the event's current status.
        statuses = await _wait_for(state.db, product, stored if wait > 0 else resent, wait)
        for result in results:
            found = statuses.get(result["event_id"]) if result.get("error") is None else None
            if found is not None:
                result["status"] = found["status"]
                result["meta_response"] = _meta_response(found)
    outcomes = [
        "duplicate" if r.get("duplicate") else "accepted" if r.get("error") is None
        else "forbidden" if r["status"] == "forbidden" else "invalid"
        for r in results
    ]  # fmt: skip
    state.metrics.count(product, ENDPOINT, outcomes)
    rejected = sum(1 for r in results if r.get("error") is not None)
    duplicates = sum(1 for r in results if r.get("duplicate"))
    log.debug(
        "batch stored",
        extra={"product": product, "events": len(data), "rejected": rejected},
    )
    return json_response(
        {
            "success": rejected == 0,
            "hashed": True,
            "received": len(data),
            "accepted": len(data) - rejected - duplicates,
            "duplicates": duplicates,
            "rejected": rejected,
            "results": results,
        }
    )


def _wait_seconds(raw: str | None) -> float:
    if raw is None or raw == "":
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        raise FieldError("wait", f"must be a number of seconds from 0 to {MAX_WAIT_S}") from None
    if not 0 <= seconds <= MAX_WAIT_S:  # also refuses nan and inf
        raise FieldError("wait", f"must be a number of seconds from 0 to {MAX_WAIT_S}")
    return seconds


def _rejected(index: int, raw: Any, exc: FieldError) -> dict[str, Any]:
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 200 or has_control(event_id):
        event_id = None
    return {
        "index": index,
        "event_id": event_id,
        "status": "forbidden" if exc.status == 403 else "rejected",
        "duplicate": False,
        "meta_response": None,
        "error": exc.detail(),
    }


async def _wait_for(
    db: Database, product: str, event_ids: list[str], seconds: float
) -> dict[str, Row]:
    """Poll the delivery status until no event is pending any more or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        rows = await db.fetch(
            "edge_event_statuses", {"product_id": product, "event_ids": event_ids}
        )
        statuses = {row["event_id"]: row for row in rows}
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not any(
            statuses.get(e, {}).get("status") in PENDING_STATUSES for e in event_ids
        ):
            return statuses
        await asyncio.sleep(min(POLL_S, remaining))


def _meta_response(row: Row) -> dict[str, Any] | None:
    if row.get("events_received") is None and row.get("fbtrace_id") is None:
        return None
    return {"events_received": row["events_received"], "fbtrace_id": row["fbtrace_id"]}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@router.get(
    "/api/v1/meta/event/{event_id:path}",
    summary="Delivery status of one event of the key's product",
    responses={
        200: {"model": EventStatus},
        401: _ERRORS[401],
        404: {"model": ErrorResponse, "description": "No such event for this product"},
        422: _ERRORS[422],
    },
)
async def get_meta_event(
    request: Request,
    event_id: Annotated[str, Path(description="The event_id it was sent with.")],
) -> Response:
    state = edge(request)
    product = await authenticate(request)
    if not 0 < len(event_id) <= 200 or has_control(event_id):
        raise FieldError("event_id", "must be 1 to 200 characters, without control characters")
    rows = await state.db.fetch("capi_event_status", {"product_id": product, "event_id": event_id})
    if not rows:
        raise ApiError(
            404, "event_id: no such event for this product", field="event_id",
            rule="no such event for this product",
        )  # fmt: skip
    row = rows[0]
    error = None
    if row["error_code"] is not None or row["error_message"] is not None:
        message = row["error_message"]
        error = {
            "code": row["error_code"],
            "subcode": row["error_subcode"],
            # Redacted when stored (workers.errors); again here for rows written before that.
            "message": redact_secrets(message) if message is not None else None,
        }
    return json_response(
        {
            "event_id": row["event_id"],
            "product_id": row["product_id"],
            "status": row["status"],
            "meta_event_name": row["meta_event_name"],
            "attempt": row["attempt"],
            "pixel_id": row["pixel_id"],
            "received_at": _iso(row["received_at"]),
            "updated_at": _iso(row["updated_at"]),
            "test_event_code": row["test_event_code"],
            "meta_response": _meta_response(row),
            "error": error,
        }
    )
