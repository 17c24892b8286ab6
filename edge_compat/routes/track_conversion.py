"""GAP-006: POST /functions/v1/track-conversion, the PRD's edge-function contract.

`{event_name, person_id, product, value, currency, metadata}` (+ optional `event_id`) is stored
in shared.event (source 'server') for the person. While META_CAPI_FORWARD_ENABLED is on the event
carries its Meta event name, so the enqueue trigger sends it to Meta through the CAPI path;
otherwise it is only stored. Idempotent per (product, event_id): without an `event_id`, the id is
uuid5 of the product and the `Idempotency-Key` header when one is sent (a retry with the same key
is the same event), else a new random UUID (no deduplication possible).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from edge_compat.auth import authenticate
from edge_compat.db import FORWARD_FLAG, INGEST_FLAG, TRACKING_FLAG
from edge_compat.errors import FieldError, json_response
from edge_compat.ingest import track_conversion_element
from edge_compat.models import ErrorResponse, TrackConversionRequest, TrackConversionResult
from edge_compat.state import edge
from edge_compat.validation import as_field_error, check_properties, check_text, read_json

log = logging.getLogger("gdp.edge")
router = APIRouter(tags=["Conversion tracking (GAP-006)"])
ENDPOINT = "track_conversion"
# Namespace of ids derived from Idempotency-Key (fixed: the same key gives the same id forever).
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0c6f1e-2f4a-5d8e-9a51-6d1f3c0e7a42")
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}", re.ASCII)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": TrackConversionResult,
        "description": 'Stored; or {"disabled": true} while CONVERSION_TRACKING_ENABLED is off.',
    },
    **{
        code: {"model": ErrorResponse, "description": text}
        for code, text in (
            (400, "Malformed JSON"),
            (401, "Missing, unknown or revoked service key"),
            (403, "product is not the key's product"),
            (413, "Body over 1 MB"),
            (415, "Content-Type is not application/json"),
            (422, "A field breaks a rule, or person_id names no known person"),
        )
    },
}
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/TrackConversionRequest"}}
        },
    },
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 255},
            "description": "Used to derive event_id when the body has none.",
        }
    ],
}


@router.post(
    "/functions/v1/track-conversion",
    summary="Track a product conversion (and forward it to Meta when enabled)",
    responses=_RESPONSES,
    openapi_extra=_REQUEST_BODY,
)
async def track_conversion(request: Request) -> Response:
    state = edge(request)
    product = await authenticate(request)
    if not await state.flags.enabled(TRACKING_FLAG):
        state.metrics.count(product, ENDPOINT, ("disabled",))
        return json_response({"disabled": True})
    body = await read_json(request)
    try:
        conversion = _validate(body, product)
    except FieldError as exc:
        state.metrics.count(product, ENDPOINT, ("forbidden" if exc.status == 403 else "invalid",))
        log.info("conversion refused", extra={"product": product, "field": exc.field})
        raise
    event_id = conversion.event_id or _derived_event_id(request, product)
    properties: dict[str, Any] = dict(body.get("metadata") or {})
    if conversion.value is not None:
        properties["value"] = conversion.value
    if conversion.currency is not None:
        properties["currency"] = conversion.currency
    forward = await state.flags.enabled(FORWARD_FLAG)
    element = track_conversion_element(
        event_id=event_id,
        event_name=conversion.event_name,
        person_id=conversion.person_id,
        properties=properties,
        forward=forward,
    )
    rows = await state.ingest.ingest(product, [element])
    outcome = rows[0]["outcome"] if rows else "unknown_person"
    state.metrics.count(product, ENDPOINT, (outcome,))
    if outcome == "unknown_person":
        raise FieldError("person_id", "names no known person")
    forwarded = forward and await state.flags.enabled(INGEST_FLAG)
    log.debug(
        "conversion stored",
        extra={"product": product, "event_id": event_id, "outcome": outcome},
    )
    return json_response(
        {
            "success": True,
            "event_id": event_id,
            "forwarded": forwarded,
            "status": "duplicate" if outcome == "duplicate" else "accepted",
        }
    )


def _validate(body: Any, product: str) -> TrackConversionRequest:
    if not isinstance(body, dict):
        raise FieldError("body", "must be a JSON object")
    check_text(body, "")
    try:
        conversion = TrackConversionRequest.model_validate(body)
    except ValidationError as exc:
        raise as_field_error(exc) from None
    if conversion.product != product:
        raise FieldError("product", "must be the product of the service key", status=403)
    if conversion.value is not None and conversion.currency is None:
        raise FieldError("currency", "is required when value is given")
    metadata = body.get("metadata") or {}
    for key in ("value", "currency"):
        if key in metadata:
            raise FieldError(f"metadata.{key}", f"send {key} at the top level, not in metadata")
    if metadata:
        check_properties(body["metadata"], "metadata", pii_hint="shared.person, not metadata")
    return conversion


def _derived_event_id(request: Request, product: str) -> str:
    key = request.headers.get("idempotency-key")
    if key is None:
        return str(uuid.uuid4())
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise FieldError("Idempotency-Key", "must be 1 to 255 printable ASCII characters")
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{product}:{key}"))
