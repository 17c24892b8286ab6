"""The service's database access: one async pool, named queries only, short caches.

Every request takes one pooled connection for one statement (autocommit: no extra COMMIT round
trip). Flags and service keys are cached for about a second, so the hot path is one SQL call.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from workers.db.queries import query
from workers.db.rows import Row as Row
from workers.errors import DatabaseUnavailable, from_db_error

INGEST_FLAG = "META_CAPI_INGEST_ENABLED"
TRACKING_FLAG = "CONVERSION_TRACKING_ENABLED"
FORWARD_FLAG = "META_CAPI_FORWARD_ENABLED"
FLAGS = (INGEST_FLAG, TRACKING_FLAG, FORWARD_FLAG)


class Database:
    """An AsyncConnectionPool opened in the app's lifespan; errors become the project's own."""

    def __init__(
        self, url: str, *, min_size: int = 2, max_size: int = 10, timeout: float = 5.0
    ) -> None:
        self.timeout = timeout
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=timeout,
            kwargs={"autocommit": True, "row_factory": dict_row},
            name="gdp-edge",
        )

    async def open(self) -> None:
        # Does not wait for the server: /healthz says 503 until it answers.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    async def fetch(self, name: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Rows of one named query. The queries used here are idempotent, so a connection the
        server dropped (restart, failover) is retried once on a fresh one."""
        sql = query(name)
        for attempt in (1, 2):
            try:
                async with self.pool.connection() as conn:
                    cursor = await conn.execute(sql, params)
                    return await cursor.fetchall() if cursor.description else []
            except PoolTimeout as exc:
                raise DatabaseUnavailable("no database connection available") from exc
            except psycopg.OperationalError as exc:
                if attempt == 2 or exc.sqlstate is not None:
                    raise from_db_error(exc) from exc
            except psycopg.Error as exc:
                raise from_db_error(exc) from exc
        raise AssertionError("unreachable")


class FlagCache:
    """The service's feature flags, read in one query at most once per `ttl` seconds."""

    def __init__(self, db: Database, ttl: float = 1.0, flags: Iterable[str] = FLAGS) -> None:
        self._db = db
        self._ttl = ttl
        self._flags = list(flags)
        self._values: dict[str, bool] = {}
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def enabled(self, flag: str) -> bool:
        if time.monotonic() >= self._expires:
            async with self._lock:
                if time.monotonic() >= self._expires:
                    rows = await self._db.fetch("edge_flags", {"flags": self._flags})
                    self._values = {r["flag_key"]: bool(r["enabled"]) for r in rows}
                    self._expires = time.monotonic() + self._ttl
        return self._values.get(flag, False)


class KeyCache:
    """Service key -> product, through shared.authenticate_service_key, cached for `ttl` seconds.

    Only successes are cached (a revoked key stops working within `ttl`); keys are held as their
    SHA-256, never as given.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, db: Database, ttl: float = 1.0) -> None:
        self._db = db
        self._ttl = ttl
        self._products: dict[str, tuple[str, float]] = {}

    async def product_of(self, service_key: str) -> str | None:
        digest = hashlib.sha256(service_key.encode()).hexdigest()
        hit = self._products.get(digest)
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            return hit[0]
        rows = await self._db.fetch("authenticate_service_key", {"service_key": service_key})
        product = rows[0]["product_id"] if rows else None
        if product is None:
            self._products.pop(digest, None)
            return None
        if len(self._products) >= self.MAX_ENTRIES:
            self._products.clear()
        if self._ttl > 0:
            self._products[digest] = (str(product), now + self._ttl)
        return str(product)
