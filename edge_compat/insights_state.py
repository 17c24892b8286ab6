"""What the insights API and the dashboard share: a small pool acting as gdp_dashboard (which
can read the views and nothing else), dashboard-key authentication, and the answer cache.

The cache holds whole answers for META_INSIGHTS_CACHE_TTL_SEC (a settings row, default 900) and
is dropped as soon as a newer pull has succeeded: the TTL, the newest succeeded pull and the
flag are read in one round trip (shared.insights_cache_state) at most once a second
(`state_ttl_s`), so a pull landing, a TTL changed or the flag switched off takes effect within
a second in every server process, and a cached answer costs no database round trip.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, cast

from psycopg.conninfo import make_conninfo
from starlette.requests import Request

from edge_compat.db import Database
from edge_compat.errors import ApiError
from workers.db.connection import role_options

ROLE = "gdp_dashboard"
_KEY_SHAPE = re.compile(r"gdp_dk_[0-9a-f]{64}", re.ASCII)
_CHALLENGE = 'Bearer realm="gdp-dashboard"'


def dashboard_database(url: str) -> Database:
    conninfo = make_conninfo(url, application_name="gdp-dashboard", **role_options(ROLE))
    return Database(conninfo, min_size=1, max_size=4)


@dataclass(frozen=True, slots=True)
class CacheState:
    ttl_s: int
    last_pull_id: int | None
    enabled: bool


@dataclass(slots=True)
class AnswerCache:
    """Answers by request key, each tagged with the pull it was computed after and when.

    Age is checked against the TTL in force now, so lowering the setting takes effect at once.
    """

    max_entries: int = 512
    entries: OrderedDict[str, tuple[int | None, float, bytes]] = field(default_factory=OrderedDict)
    hits: int = 0
    misses: int = 0

    def get(self, key: str, state: CacheState) -> bytes | None:
        entry = self.entries.get(key)
        if (
            entry is None
            or entry[0] != state.last_pull_id
            or time.monotonic() - entry[1] >= state.ttl_s
        ):
            self.misses += 1
            return None
        self.entries.move_to_end(key)
        self.hits += 1
        return entry[2]

    def put(self, key: str, state: CacheState, body: bytes) -> None:
        if state.ttl_s <= 0:
            return
        self.entries[key] = (state.last_pull_id, time.monotonic(), body)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


@dataclass(slots=True)
class InsightsState:
    db: Database
    cache: AnswerCache = field(default_factory=AnswerCache)
    key_ttl_s: float = 1.0
    state_ttl_s: float = 1.0
    _keys: dict[str, tuple[str, float]] = field(default_factory=dict)
    _state: tuple[CacheState, float] | None = None

    async def cache_state(self) -> CacheState:
        now = time.monotonic()
        if self._state is not None and self._state[1] > now:
            return self._state[0]
        [row] = await self.db.fetch("insights_cache_state")
        state = CacheState(int(row["ttl_s"]), row["last_pull_id"], bool(row["enabled"]))
        if self.state_ttl_s > 0:
            self._state = (state, now + self.state_ttl_s)
        return state

    async def authenticate(self, request: Request) -> str:
        """The dashboard key's label (401 otherwise). Successes are cached for a second."""
        header = request.headers.get("authorization") or ""
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if not header:
            raise ApiError(
                401, "a dashboard key is required: Authorization: Bearer <dashboard key>",
                field="Authorization", rule="is required", headers={"WWW-Authenticate": _CHALLENGE},
            )  # fmt: skip
        if scheme.lower() != "bearer" or not _KEY_SHAPE.fullmatch(key):
            raise _unauthorized()
        digest = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        hit = self._keys.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        rows = await self.db.fetch("authenticate_dashboard_key", {"dashboard_key": key})
        label = rows[0]["label"] if rows else None
        if label is None:
            self._keys.pop(digest, None)
            raise _unauthorized()
        if len(self._keys) > 10_000:
            self._keys.clear()
        if self.key_ttl_s > 0:
            self._keys[digest] = (str(label), now + self.key_ttl_s)
        return str(label)


def _unauthorized() -> ApiError:
    return ApiError(
        401, "unknown or revoked dashboard key", field="Authorization",
        rule="unknown or revoked dashboard key",
        headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
    )  # fmt: skip


def insights_state(request: Request) -> InsightsState:
    return cast(InsightsState, request.app.state.insights)


def as_number(value: Any) -> float | int | None:
    """JSON numbers for the PRD's shapes (Decimals from numeric columns)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return value
    number = float(value)
    return int(number) if number.is_integer() and "." not in str(value) else number
