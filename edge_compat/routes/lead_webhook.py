"""Lead Ads webhook: Meta's `leadgen` notifications into shared.meta_lead and pgmq meta_leads.

    GET  /webhooks/meta   the verification handshake: hub.mode=subscribe, hub.verify_token
                          (META_WEBHOOK_VERIFY_TOKEN), hub.challenge echoed back
    POST /webhooks/meta   a delivery: X-Hub-Signature-256 (HMAC-SHA256 of the raw body with
                          META_APP_SECRET) checked before anything is read; every entry and
                          every change stored in one SQL call, deduplicated by leadgen_id; 200

The body is verified byte for byte as it arrived (re-serialized JSON would not match), with a
constant-time comparison. A refused delivery stores nothing. The answer is fast: the lead itself
is fetched later by `gdp worker leads`; when the database cannot take the delivery the answer is
503, so Meta sends it again (it retries for 36 hours). See
https://developers.facebook.com/docs/graph-api/webhooks/getting-started and
https://developers.facebook.com/docs/marketing-api/guides/lead-ads/retrieving
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import orjson
from fastapi import APIRouter, Request
from starlette.responses import PlainTextResponse, Response

from edge_compat.errors import ApiError, FieldError, json_response
from edge_compat.models import ErrorResponse
from edge_compat.state import edge
from workers.errors import DatabaseUnavailable, GdpError
from workers.settings import get_settings

log = logging.getLogger("gdp.edge")
router = APIRouter(tags=["Lead Ads webhook"])
PATH = "/webhooks/meta"
MAX_BODY_BYTES = 4 * 1024 * 1024  # Meta batches up to 1,000 changes per delivery
_SIGNATURE_PREFIX = "sha256="


@router.get(
    PATH,
    summary="Meta's verification handshake: echoes hub.challenge for the right verify token",
    response_class=PlainTextResponse,
    responses={403: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def verify(request: Request) -> Response:
    params = request.query_params
    if params.get("hub.mode") != "subscribe":
        raise FieldError("hub.mode", "must be subscribe")
    challenge = params.get("hub.challenge") or ""
    if not challenge or len(challenge) > 200 or not challenge.isascii() or not challenge.isalnum():
        raise FieldError("hub.challenge", "is required (Meta sends a number to echo back)")
    expected = get_settings().meta_webhook_verify_token
    given = params.get("hub.verify_token") or ""
    if expected is None or not hmac.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        raise ApiError(403, "hub.verify_token: does not match", field="hub.verify_token",
                       rule="does not match")  # fmt: skip
    return PlainTextResponse(challenge)


def check_signature(body: bytes, header: str | None) -> None:
    secret = get_settings().meta_app_secret
    if secret is None or not secret.get_secret_value():
        # Without the app secret nothing can be verified: refuse, Meta will retry.
        raise ApiError(503, "META_APP_SECRET is not configured; deliveries cannot be verified")
    if not header:
        raise ApiError(403, "X-Hub-Signature-256: is required", field="X-Hub-Signature-256",
                       rule="is required")  # fmt: skip
    given = header.strip()
    if not given.startswith(_SIGNATURE_PREFIX):
        raise ApiError(403, "X-Hub-Signature-256: must be sha256=<hex>",
                       field="X-Hub-Signature-256", rule="must be sha256=<hex>")  # fmt: skip
    expected = hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given[len(_SIGNATURE_PREFIX) :].lower().encode(), expected.encode()):
        raise ApiError(403, "X-Hub-Signature-256: does not match the body",
                       field="X-Hub-Signature-256", rule="does not match the body")  # fmt: skip


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, f"body: must be at most {MAX_BODY_BYTES} bytes", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(413, f"body: must be at most {MAX_BODY_BYTES} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    PATH,
    summary="A Lead Ads delivery: verified, stored, deduplicated by leadgen_id, answered 200",
    responses={
        200: {"description": 'Stored; {"disabled": true} while LEAD_ADS_SYNC_ENABLED is off'},
        400: {"model": ErrorResponse, "description": "Verified but not a Lead Ads notification"},
        403: {"model": ErrorResponse, "description": "Missing or wrong X-Hub-Signature-256"},
        503: {"model": ErrorResponse, "description": "Not configured, or the database is away"},
    },
)  # fmt: skip
async def receive(request: Request) -> Response:
    body = await read_body(request)
    check_signature(body, request.headers.get("x-hub-signature-256"))
    try:
        orjson.loads(body)  # valid JSON (and so valid UTF-8) before it goes to the database
    except orjson.JSONDecodeError:
        raise ApiError(400, "body: must be JSON", field="body", rule="must be JSON") from None
    if b"\\u0000" in body.lower():
        # PostgreSQL's jsonb cannot hold NUL characters; Meta's notifications never carry them.
        raise ApiError(400, "body: must not contain \\u0000", field="body",
                       rule="must not contain \\u0000")  # fmt: skip
    try:
        [row] = await edge(request).db.fetch("receive_lead_webhook", {"payload": body.decode()})
    except DatabaseUnavailable:
        raise
    except GdpError as exc:
        if exc.http_status == 422:
            raise ApiError(400, exc.message, field=exc.field, rule=exc.message) from None
        raise
    if not row["enabled"]:
        return json_response({"disabled": True})
    counts = {
        "changes": row["changes"],
        "new": row["new_leads"],
        "duplicates": row["duplicates"],
        "skipped": row["skipped"],
    }
    log.info("lead webhook", extra=counts)
    return json_response({"received": True, **counts})
