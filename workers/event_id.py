"""The event id Meta sees: unique per pixel, the same from the browser Pixel and from CAPI.

`shared.event` keeps `event_id` unique per product, but Meta deduplicates per pixel (and event
name): two products sharing a pixel that both send `order-1` would see the second dropped as a
duplicate of the first. Every channel therefore sends `<product_id>:<event_id>`:

* the CAPI worker (workers/capi/build.py) through `meta_event_id` below;
* SQL through `shared.meta_event_id(product_id, event_id)` (db/functions/40_capi.sql), for
  looking a Meta event id up from the database;
* the browser snippet (`clients/web/meta-pixel.js`, `metaEventId`) as the Pixel's `eventID`,
  while the relay posts the product's own `event_id`, so both copies carry the same id.

All three are checked against the golden vectors in tests/golden/meta_event_id.json. Product ids
are `[a-z][a-z0-9_]{1,39}` (no `:`), so the namespaced id is never ambiguous.
"""

from __future__ import annotations

from typing import Final

SEPARATOR: Final = ":"


def meta_event_id(product_id: str, event_id: str) -> str:
    """The `event_id` / `eventID` Meta gets for `event_id` of `product_id`."""
    return f"{product_id}{SEPARATOR}{event_id}"


def split_meta_event_id(meta_id: str) -> tuple[str, str] | None:
    """(product_id, event_id) of a namespaced id, or None when it is not one."""
    product_id, sep, event_id = meta_id.partition(SEPARATOR)
    if not sep or not product_id or not event_id:
        return None
    return product_id, event_id
