"""What every request handler reaches through `request.app.state.edge`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.requests import Request

from edge_compat.batcher import IngestBatcher
from edge_compat.db import Database, FlagCache, KeyCache
from edge_compat.metrics import EdgeMetrics
from edge_compat.people import PersonCache


@dataclass(frozen=True, slots=True)
class EdgeState:
    db: Database
    flags: FlagCache
    keys: KeyCache
    ingest: IngestBatcher
    people: PersonCache
    metrics: EdgeMetrics
    default_region: str


def edge(request: Request) -> EdgeState:
    return cast(EdgeState, request.app.state.edge)
