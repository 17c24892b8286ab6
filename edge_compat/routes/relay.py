"""GAP-005: POST /api/tracking/meta-event, a product's browser relay, run by edge_compat.

A product whose pages route `/api/tracking/meta-event` to this service (a rewrite or a proxy
location) gets the PRD's relay: the page's `trackEvent` posts `{event_name, event_id,
event_source_url, custom_data}`; the relay adds the visitor's IP (X-Forwarded-For believed only
from GDP_TRUSTED_PROXIES), user agent, `_fbp`/`_fbc` cookies and `source_product = PRODUCT_ID`,
and forwards it to `{WAITLISTLAB_API_URL}/api/v1/meta/event` with the product's service key
(WAITLISTLAB_SERVICE_KEY) over one shared HTTP client. The answer is GDP's.

Off until the global flag META_CAPI_RELAY_ENABLED *and* the
product's own setting META_CAPI_RELAY_PRODUCT_ENABLED are on (and the environment names the
product, the GDP URL and the key); until then `{"disabled": true}` and nothing is forwarded.
Only the product's key events and Meta's standard events pass (shared.product_event), renamed to
their Meta names. GET /api/v1/meta/relay-config tells another relay (the Next.js drop-in) the
same configuration for its service key's product.

Register with `app.include_router(relay.router)`; the router's lifespan opens and closes the
shared client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

import httpx
import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from starlette.responses import Response

from edge_compat.auth import authenticate
from edge_compat.client_ip import Network, client_ip, parse_networks
from edge_compat.db import Database
from edge_compat.errors import ApiError, FieldError, error_response, json_response
from edge_compat.rate_limit import VisitorLimiter
from edge_compat.relay_event import browser_signals, relay_event
from edge_compat.state import edge
from workers.settings import Settings, get_settings

log = logging.getLogger("gdp.edge")
ENDPOINT = "meta_relay"
PATH = "/api/tracking/meta-event"
CONFIG_PATH = "/api/v1/meta/relay-config"
UPSTREAM_PATH = "/api/v1/meta/event"
_ACCEPTED_TYPES = ("application/json", "text/plain")  # text/plain: sendBeacon with a string


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """The relay's process configuration (workers.settings), checked once."""

    product_id: str | None
    upstream_url: str | None
    service_key: str | None
    trusted_proxies: tuple[Network, ...] = ()
    max_body_bytes: int = 16 * 1024
    config_ttl: float = 1.0
    timeout_s: float = 10.0
    # Origins whose pages may post to the relay (empty: any). Another site's page could
    # otherwise send events in this product's name through its visitors' browsers.
    allowed_origins: frozenset[str] = frozenset()
    rate_limit: str = ""  # per visitor, e.g. "20/second;300/minute"; empty: none

    @classmethod
    def from_settings(cls, settings: Settings) -> RelaySettings:
        VisitorLimiter(settings.gdp_relay_rate_limit)  # a malformed limit fails at start, named
        key = settings.waitlistlab_service_key
        return cls(
            product_id=settings.product_id or None,
            upstream_url=(settings.waitlistlab_api_url or "").rstrip("/") or None,
            service_key=key.get_secret_value() if key is not None else None,
            trusted_proxies=parse_networks(settings.gdp_trusted_proxies),
            max_body_bytes=settings.relay_max_body_bytes,
            allowed_origins=frozenset(
                _origin(o) for o in settings.gdp_relay_allowed_origins.split(",") if o.strip()
            ),
            rate_limit=settings.gdp_relay_rate_limit,
        )

    @property
    def complete(self) -> bool:
        return bool(self.product_id and self.upstream_url and self.service_key)


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """One product's relay configuration, as the database holds it."""

    relay_enabled: bool
    product_enabled: bool
    known_product: bool
    events: dict[str, str]

    @property
    def enabled(self) -> bool:
        return self.relay_enabled and self.product_enabled and self.known_product

    def as_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "relay_enabled": self.relay_enabled,
            "product_enabled": self.product_enabled,
            "events": self.events,
        }


@dataclass
class Relay:
    """Settings, the shared upstream client and a short cache of each product's configuration."""

    settings: RelaySettings
    client: httpx.AsyncClient | None = None
    _configs: dict[str, tuple[RelayConfig, float]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _owns_client: bool = False
    _limiter: VisitorLimiter | None = None

    def limiter(self) -> VisitorLimiter:
        if self._limiter is None:
            self._limiter = VisitorLimiter(self.settings.rate_limit)
        return self._limiter

    def http(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.settings.timeout_s, connect=3.0),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                follow_redirects=False,
            )
            self._owns_client = True
        return self.client

    async def aclose(self) -> None:
        if self.client is not None and self._owns_client:
            await self.client.aclose()
            self.client = None

    async def config(self, db: Database, product: str) -> RelayConfig:
        now = time.monotonic()
        hit = self._configs.get(product)
        if hit is not None and hit[1] > now:
            return hit[0]
        async with self._lock:
            rows = await db.fetch("relay_config", {"product_id": product})
        row = rows[0]
        mapped = {str(k): str(v) for k, v in (row["events"] or {}).items()}
        # A Meta name is accepted as itself: a page whose snippet maps ProUpgrade -> Purchase
        # sends Purchase, the name its Pixel fired.
        config = RelayConfig(
            relay_enabled=bool(row["relay_enabled"]),
            product_enabled=bool(row["product_enabled"]),
            known_product=bool(row["known_product"]),
            events={**{meta: meta for meta in mapped.values()}, **mapped},
        )
        if self.settings.config_ttl > 0:
            self._configs[product] = (config, now + self.settings.config_ttl)
        return config


def _origin(text: str) -> str:
    """An origin as compared: scheme://host[:port], lower case, no trailing slash."""
    return text.strip().rstrip("/").lower()


def relay_of(request: Request) -> Relay:
    """The app's Relay (made by the router's lifespan; made here if the app runs without one)."""
    state = request.app.state
    relay = getattr(state, "relay", None)
    if relay is None:
        relay = Relay(RelaySettings.from_settings(get_settings()))
        state.relay = relay
    return cast(Relay, relay)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the relay (unless a test put one on app.state) and close its client at the end."""
    relay = getattr(app.state, "relay", None)
    owned = relay is None
    if relay is None:
        relay = Relay(RelaySettings.from_settings(get_settings()))
        app.state.relay = relay
    try:
        yield
    finally:
        await relay.aclose()
        if owned:
            app.state.relay = None


router = APIRouter(tags=["Browser relay (GAP-005)"], lifespan=lifespan)

WaitParam = Annotated[
    float,
    Query(ge=0, le=5, description="Seconds (0-5) to wait for Meta's acknowledgement (passed on)."),
]


@router.post(
    PATH,
    summary="Relay a browser conversion to GDP (adds IP, user agent, fbp/fbc, source_product)",
    responses={
        200: {"description": 'GDP\'s answer, or {"disabled": true} while the relay is off.'},
        400: {"description": "Malformed JSON"},
        403: {"description": "custom_data.source_product is another product"},
        413: {"description": "Body over GDP_RELAY_MAX_BODY_BYTES (16 KB)"},
        415: {"description": "Content-Type is not application/json (or text/plain)"},
        422: {"description": "A field the browser may not send, or an event not allowed"},
        429: {"description": "Over GDP_RELAY_RATE_LIMIT for this visitor (see Retry-After)"},
        502: {"description": "GDP is unreachable or refused the relay's service key"},
    },
)
async def relay_meta_event(request: Request, wait: WaitParam = 0) -> Response:
    state = edge(request)
    relay = relay_of(request)
    settings = relay.settings
    if not settings.complete or settings.product_id is None:
        return json_response({"disabled": True})
    product = settings.product_id
    config = await relay.config(state.db, product)
    if not config.enabled:
        state.metrics.count(product, ENDPOINT, ("disabled",))
        return json_response({"disabled": True})
    origin = request.headers.get("origin")
    if settings.allowed_origins and origin is not None and (
        _origin(origin) not in settings.allowed_origins
    ):  # no Origin header: not a cross-site browser request (a server, a same-origin beacon)
        state.metrics.count(product, ENDPOINT, ("forbidden",))
        raise FieldError("Origin", "is not an allowed origin for this relay", status=403)
    peer = request.client.host if request.client else None
    visitor = client_ip(peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies)
    wait_s = relay.limiter().refused(visitor or "unknown")
    if wait_s is not None:
        state.metrics.count(product, ENDPOINT, ("rate_limited",))
        raise ApiError(429, f"too many events from this visitor; retry in {wait_s} s",
                       field="rate", rule="GDP_RELAY_RATE_LIMIT",
                       headers={"Retry-After": str(wait_s)})  # fmt: skip
    body = await _read_body(request, settings.max_body_bytes)
    signals = browser_signals(
        visitor,
        request.headers.get("user-agent"),
        request.headers.getlist("cookie"),
        request.headers.get("referer"),
    )
    try:
        event = relay_event(body, product=product, events=config.events, signals=signals)
    except FieldError as exc:
        state.metrics.count(product, ENDPOINT, ("forbidden" if exc.status == 403 else "invalid",))
        log.info("relay refused", extra={"product": product, "field": exc.field})
        raise
    response = await _forward(relay, product, event, wait)
    status = response.status_code
    outcome = "relayed" if status < 300 else "upstream_error" if status >= 500 else "refused"
    state.metrics.count(product, ENDPOINT, (outcome,))
    return response


@router.get(
    CONFIG_PATH,
    summary="The browser relay's configuration for the service key's product",
    responses={401: {"description": "Missing, unknown or revoked service key"}},
)
async def relay_config(request: Request) -> Response:
    product = await authenticate(request)
    config = await relay_of(request).config(edge(request).db, product)
    return json_response({"product_id": product, **config.as_json()})


async def _read_body(request: Request, limit: int) -> Any:
    content_type = request.headers.get("content-type")
    if content_type is not None:
        media = content_type.partition(";")[0].strip().lower()
        if media not in _ACCEPTED_TYPES:
            raise ApiError(
                415, "Content-Type must be application/json", field="Content-Type",
                rule="must be application/json",
            )  # fmt: skip
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise ApiError(400, "malformed JSON", field="body", rule="must be valid JSON") from None


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, f"body larger than {limit} bytes", field="body", rule=f"must be at most {limit} bytes"
    )


async def _forward(relay: Relay, product: str, event: dict[str, Any], wait: float) -> Response:
    settings = relay.settings
    assert settings.upstream_url is not None and settings.service_key is not None
    try:
        upstream = await relay.http().post(
            f"{settings.upstream_url}{UPSTREAM_PATH}",
            params={"wait": wait} if wait > 0 else None,
            content=orjson.dumps(event),
            headers={
                "Authorization": f"Bearer {settings.service_key}",
                "Content-Type": "application/json",
            },
        )
    except httpx.HTTPError as exc:
        log.warning(
            "relay upstream unreachable", extra={"product": product, "error": type(exc).__name__}
        )
        return error_response(502, "GDP is unreachable; the event was not relayed")
    try:
        answer = upstream.json()
    except ValueError:
        answer = None
    status = upstream.status_code
    if status in (401, 403):
        # 401: the service key; 403: PRODUCT_ID is not the key's product. Not the browser's fault.
        log.warning("relay refused by GDP", extra={"product": product, "status": status})
        return error_response(
            502, "the relay is misconfigured: GDP refused its service key or PRODUCT_ID"
        )
    if status >= 500 or not isinstance(answer, dict):
        log.warning("relay upstream error", extra={"product": product, "status": status})
        return error_response(503 if status == 503 else 502, "GDP could not take the event now")
    log.debug(
        "event relayed", extra={"product": product, "event_id": event["event_id"], "status": status}
    )
    return json_response(answer, status)
