"""The Meta Graph API sandbox: `create_app(config)` builds the FastAPI application.

Graph routes live under `/{version}/` (any `vN.N`); inspection and control under `/_sandbox/`.
The control routers are registered first so `/_sandbox/...` never falls into a Graph route.
"""

from __future__ import annotations

from fastapi import FastAPI

from meta_sandbox import (
    audiences,
    capi,
    faults,
    graph,
    insights_async,
    inspect,
    leads,
    nodes,
)
from meta_sandbox.config import SandboxConfig
from meta_sandbox.state import Sandbox


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    config = config or SandboxConfig()
    app = FastAPI(
        title="GDP Meta Graph API sandbox",
        description="A local stand-in for the Graph endpoints GDP uses; see meta_sandbox/.",
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
    )
    app.state.sandbox = Sandbox(config)
    graph.install(app)
    app.include_router(inspect.router)
    app.include_router(faults.router)
    app.include_router(leads.control)
    app.include_router(capi.router)
    app.include_router(audiences.router)
    app.include_router(leads.router)
    app.include_router(insights_async.router)
    app.include_router(nodes.router)
    return app


def sandbox_of(app: FastAPI) -> Sandbox:
    """The app's state, for tests and embedding code that inspect it directly."""
    state = app.state.sandbox
    assert isinstance(state, Sandbox)
    return state
