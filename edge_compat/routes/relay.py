"""GAP-005: POST /api/tracking/meta-event, a product's browser relay, run by edge_compat.

A product whose pages route `/api/tracking/meta-event` to this service (a rewrite or a proxy
location) gets the PRD's relay: the page's `trackEvent` posts `{event_name, event_id,
event_source_url, custom_data}`; the relay adds the visitor's IP (edge_compat.client_ip: the
address GDP_TRUSTED_PROXIES vouch for), user agent, `_fbp`/`_fbc` cookies and
`source_product = PRODUCT_ID`, and stores it through the same path as POST /api/v1/meta/event,
in this process (no HTTP round trip, no service key: PRODUCT_ID is the operator's own
configuration). The answer is that endpoint's.

Off until the global flag META_CAPI_RELAY_ENABLED *and* the product's own setting
META_CAPI_RELAY_PRODUCT_ENABLED are on (and the environment names the product); until then
`{"disabled": true}` and nothing is stored. Only the product's key events and Meta's standard
events pass (shared.product_event), renamed to their Meta names. Each visitor (the address the
rate limit keys on is the one Meta gets) is held to GDP_RELAY_RATE_LIMIT; pages of other origins
are refused when GDP_RELAY_ALLOWED_ORIGINS is set (it must be, in production).
GET /api/v1/meta/relay-config tells another relay (the Next.js drop-in, which posts over HTTP
with its service key) the same configuration for its service key's product.

Register with `app.include_router(relay.router)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from starlette.responses import Response

from edge_compat.auth import authenticate
from edge_compat.client_ip import Network, client_ip, parse_networks
from edge_compat.db import INGEST_FLAG, Database
from edge_compat.errors import ApiError, FieldError, json_response
from edge_compat.rate_limit import VisitorLimiter
from edge_compat.relay_event import browser_signals, relay_event
from edge_compat.routes.meta_event import store_event
from edge_compat.state import edge
from workers.settings import Settings, get_settings

log = logging.getLogger("gdp.edge")
ENDPOINT = "meta_relay"
PATH = "/api/tracking/meta-event"
CONFIG_PATH = "/api/v1/meta/relay-config"
_ACCEPTED_TYPES = ("application/json", "text/plain")  # text/plain: sendBeacon with a string


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """The relay's process configuration (workers.settings), checked once."""

    product_id: str | None
    trusted_proxies: tuple[Network, ...] = ()
    max_body_bytes: int = 16 * 1024
    config_ttl: float = 1.0
    # Origins whose pages may post to the relay (empty: any). Another site's page could
    # otherwise send events in this product's name through its visitors' browsers.
    allowed_origins: frozenset[str] = frozenset()
    rate_limit: str = ""  # per visitor, e.g. "20/second;300/minute"; empty: none

    @classmethod
    def from_settings(cls, settings: Settings) -> RelaySettings:
        VisitorLimiter(settings.gdp_relay_rate_limit)  # a malformed limit fails at start, named
        return cls(
            product_id=settings.product_id or None,
            trusted_proxies=parse_networks(settings.gdp_trusted_proxies),
            max_body_bytes=settings.relay_max_body_bytes,
            allowed_origins=frozenset(
                _origin(o) for o in settings.gdp_relay_allowed_origins.split(",") if o.strip()
            ),
            rate_limit=settings.gdp_relay_rate_limit,
        )


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
    """Settings, the visitor limiter and a short cache of each product's configuration."""

    settings: RelaySettings
    _configs: dict[str, tuple[RelayConfig, float]] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _limiter: VisitorLimiter | None = None

    def limiter(self) -> VisitorLimiter:
        if self._limiter is None:
            self._limiter = VisitorLimiter(self.settings.rate_limit)
        return self._limiter

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
    """Create the relay from the settings (unless a test put one on app.state)."""
    owned = getattr(app.state, "relay", None) is None
    if owned:
        settings = RelaySettings.from_settings(get_settings())
        if settings.product_id and not settings.allowed_origins:
            # Refused at start in production (workers.settings); said once here elsewhere.
            log.warning(
                "relay accepts posts from any origin: set GDP_RELAY_ALLOWED_ORIGINS",
                extra={"product": settings.product_id},
            )
        app.state.relay = Relay(settings)
    try:
        yield
    finally:
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
        200: {"description": 'As POST /api/v1/meta/event, or {"disabled": true} while off.'},
        400: {"description": "Malformed JSON"},
        403: {"description": "custom_data.source_product is another product"},
        413: {"description": "Body over GDP_RELAY_MAX_BODY_BYTES (16 KB)"},
        415: {"description": "Content-Type is not application/json (or text/plain)"},
        422: {"description": "A field the browser may not send, or an event not allowed"},
        429: {"description": "Over GDP_RELAY_RATE_LIMIT for this visitor (see Retry-After)"},
        503: {"description": "Database unavailable"},
    },
)
async def relay_meta_event(request: Request, wait: WaitParam = 0) -> Response:
    state = edge(request)
    relay = relay_of(request)
    settings = relay.settings
    if settings.product_id is None:
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
    # Unknown visitors (a proxy passed "unknown") share their proxy's budget.
    wait_s = relay.limiter().refused(visitor or f"via {peer}")
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
    if not await state.flags.enabled(INGEST_FLAG):
        state.metrics.count(product, ENDPOINT, ("disabled",))
        return json_response({"success": False, "disabled": True})
    return json_response(await store_event(state, product, event, wait, endpoint=ENDPOINT))


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
