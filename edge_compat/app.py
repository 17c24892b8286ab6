"""The edge_compat HTTP service: the PRD's HTTP contracts on top of the GDP database.

    gdp serve   /   python -m workers.cli.serve_cmd --port 8080 [--metrics-port 9465]
    uvicorn --factory edge_compat.app:create_app --no-proxy-headers

Each request is one pooled connection and one SQL call; flags and service keys are cached for a
second. OpenAPI at /openapi.json, docs at /docs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from edge_compat import error_handlers
from edge_compat.batcher import IngestBatcher
from edge_compat.db import Database, FlagCache, KeyCache
from edge_compat.insights_state import InsightsState, dashboard_database
from edge_compat.metrics import EdgeMetrics, MetricsMiddleware
from edge_compat.models import MetaEvent, MetaEventBatch, TrackConversionRequest
from edge_compat.people import PersonCache
from edge_compat.routes import (
    dashboard,
    insights,
    lead_webhook,
    meta_event,
    ops,
    relay,
    track_conversion,
)
from edge_compat.state import EdgeState
from workers.db.connection import API_ROLE, as_role
from workers.meta.normalize import check_region
from workers.settings import get_settings, require

TITLE = "Growth Data Plane edge API"
VERSION = "0.1.0"
DESCRIPTION = """\
The PRD's HTTP contracts: **GAP-001** `POST /api/v1/meta/event` (conversions for Meta's
Conversions API, one event or `{"data": [...]}` up to 1,000) and **GAP-006**
`POST /functions/v1/track-conversion`.

**GAP-004** `GET /api/meta/insights`, `/api/meta/insights/{projectId}`, `/api/meta/lead-forms`
and the page `/dashboard` are for dashboard users (`Authorization: Bearer <dashboard key>`,
`gdp dashboard keys create NAME`); they read the insight views only. Meta's Lead Ads
notifications arrive at `/webhooks/meta` (signed with the app secret).

Authenticate with `Authorization: Bearer <service key>` (`gdp keys create <product>`).
Each feature answers `{"disabled": true}` until its flag is enabled through the deployment
gate (`gdp flags enable ...`). Errors are `{"error": {"field", "rule", "message"}}`.
"""


def create_app(
    database_url: str | None = None,
    *,
    flag_cache_seconds: float = 1.0,
    key_cache_seconds: float = 1.0,
    pool_min_size: int = 2,
    pool_max_size: int = 10,
    pool_timeout: float = 5.0,
    ingest_in_flight: int = 4,
    person_cache_seconds: float = 300.0,
) -> FastAPI:
    """The ASGI app. Without database_url, DATABASE_URL (workers.settings) is used.

    Refuses (ConfigError) a configuration production must not run with."""
    settings = get_settings()
    require(settings.relay_problem())
    db = Database(
        as_role(database_url or settings.database_url, API_ROLE),
        min_size=pool_min_size,
        max_size=pool_max_size,
        timeout=pool_timeout,
    )
    metrics = EdgeMetrics()
    state = EdgeState(
        db=db,
        flags=FlagCache(db, ttl=flag_cache_seconds),
        keys=KeyCache(db, ttl=key_cache_seconds),
        ingest=IngestBatcher(
            db, max_in_flight=ingest_in_flight, on_call=metrics.call_events.observe
        ),
        people=PersonCache(ttl=person_cache_seconds),
        metrics=metrics,
        default_region=check_region(settings.meta_default_phone_region),
    )

    # Dashboard users and the insights API read the views as gdp_dashboard, in a pool of their own.
    insights_state = InsightsState(
        dashboard_database(database_url or settings.database_url),
        key_ttl_s=key_cache_seconds,
        state_ttl_s=flag_cache_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await db.open()
        await insights_state.db.open()
        try:
            yield
        finally:
            await state.ingest.drain()
            await insights_state.db.close()
            await db.close()

    app = FastAPI(title=TITLE, version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.state.edge = state
    app.state.insights = insights_state
    app.include_router(meta_event.router)
    app.include_router(track_conversion.router)
    app.include_router(ops.router)
    app.include_router(relay.router)  # GAP-005: answers {"disabled": true} until configured
    app.include_router(insights.router)  # GAP-004
    app.include_router(lead_webhook.router)  # Lead Ads into shared.person
    app.include_router(dashboard.router)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    error_handlers.install(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=TITLE, version=VERSION, description=DESCRIPTION, routes=app.routes
            )
            # Bodies are read and validated by the routes themselves (one parse, strict rules,
            # field paths in errors); their models are added here so the docs show them.
            _, defs = models_json_schema(
                [
                    (MetaEvent, "validation"),
                    (MetaEventBatch, "validation"),
                    (TrackConversionRequest, "validation"),
                ],
                ref_template="#/components/schemas/{model}",
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(defs.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
