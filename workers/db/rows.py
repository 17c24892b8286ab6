"""Rows as types: a query whose result has a fixed shape is read into a frozen dataclass or a
pydantic model (psycopg's `class_row`), so its columns are checked by mypy where they are used.

`Row` is the one name for a row read by column name (the connections' default row factory,
`dict_row`), kept for results whose shape is the query's own business (reports, a whole
`capi_load_events` row handed to the event builder).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import psycopg
from psycopg.rows import class_row

Row = dict[str, Any]
T = TypeVar("T")


async def fetch_all(
    conn: psycopg.AsyncConnection[Any],
    sql: str,
    into: type[T],
    params: Mapping[str, Any] | None = None,
) -> list[T]:
    """Every row of `sql`, each as `into(**columns)`."""
    async with conn.cursor(row_factory=class_row(into)) as cursor:
        await cursor.execute(sql, params)
        return await cursor.fetchall()


async def fetch_one(
    conn: psycopg.AsyncConnection[Any],
    sql: str,
    into: type[T],
    params: Mapping[str, Any] | None = None,
) -> T | None:
    """The first row of `sql` as `into(**columns)`, or None."""
    async with conn.cursor(row_factory=class_row(into)) as cursor:
        await cursor.execute(sql, params)
        return await cursor.fetchone()


def fetch_all_sync(
    conn: psycopg.Connection[Any],
    sql: str,
    into: type[T],
    params: Mapping[str, Any] | None = None,
) -> list[T]:
    """`fetch_all` on a blocking connection."""
    with conn.cursor(row_factory=class_row(into)) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
