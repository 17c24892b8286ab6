"""Skip re-upserting a person the service has just upserted with exactly the same data.

Most conversions come in funnels (ViewContent, AddToCart, Purchase): the same person with the
same PII, minutes apart. Upserting identical data changes nothing in shared.person (first values
win and an unchanged row is left as it was), so an event whose person object is identical to one
accepted within `ttl` seconds is stored with the person_id that upsert gave, instead of the
person object. Keys are SHA-256 of product + person object: no PII is held.

If that person has since gone (erased, merged), ingest_events answers unknown_person: the entry
is dropped and the event is stored again with its person object, so the answer is what it would
have been without the cache.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import orjson

from edge_compat.batcher import IngestBatcher
from edge_compat.db import Row


class PersonCache:
    def __init__(self, ttl: float = 300.0, max_entries: int = 50_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._ids: OrderedDict[str, tuple[str, float]] = OrderedDict()

    @staticmethod
    def key(product: str, person: dict[str, Any]) -> str:
        data = orjson.dumps([product, person], option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(data).hexdigest()

    def get(self, key: str) -> str | None:
        hit = self._ids.get(key)
        if hit is None:
            return None
        if hit[1] < time.monotonic():
            del self._ids[key]
            return None
        return hit[0]

    def put(self, key: str, person_id: str) -> None:
        if self._ttl <= 0:
            return
        self._ids[key] = (person_id, time.monotonic() + self._ttl)
        self._ids.move_to_end(key)
        while len(self._ids) > self._max:
            self._ids.popitem(last=False)

    def drop(self, key: str) -> None:
        self._ids.pop(key, None)


async def ingest(
    batcher: IngestBatcher,
    cache: PersonCache,
    product: str,
    elements: list[dict[str, Any]],
    source: str = "server",
) -> list[Row]:
    """ingest_events rows for elements (ordinal i+1 = elements[i]), using known person ids."""
    keys: list[str | None] = []
    sent: list[dict[str, Any]] = []
    substituted: list[bool] = []
    for element in elements:
        person = element.get("person")
        key = cache.key(product, person) if person is not None else None
        person_id = cache.get(key) if key is not None else None
        keys.append(key)
        substituted.append(person_id is not None)
        if person_id is None:
            sent.append(element)
        else:
            lean = {k: v for k, v in element.items() if k != "person"}
            lean["person_id"] = person_id
            sent.append(lean)
    rows = await batcher.ingest(product, sent, source)
    retry: list[int] = []
    for row in rows:
        index = row["ordinal"] - 1
        key = keys[index]
        if key is None:
            continue
        if substituted[index] and row["outcome"] == "unknown_person":
            cache.drop(key)
            retry.append(index)
        elif row["outcome"] == "accepted" and row["person_id"] is not None:
            cache.put(key, str(row["person_id"]))
    if not retry:
        return rows
    again = await batcher.ingest(product, [elements[i] for i in retry], source)
    by_index = {row["ordinal"] - 1: row for row in rows}
    for row in again:
        index = retry[row["ordinal"] - 1]
        by_index[index] = {**row, "ordinal": index + 1}
    return [by_index[i] for i in sorted(by_index)]
