"""Graph cursor paging: `paging.cursors.before/after`, `next` and `previous` URLs.

Cursors are opaque (base64url JSON of a position). `next` is absent on the last page; that is
the only signal a client may stop on, because a page can be empty and still have `next`
(`inject_empty` serves one such page, as Meta can).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.requests import Request

from meta_sandbox.errors import invalid_param
from meta_sandbox.graph import page_url
from meta_sandbox.params import int_param, str_param
from meta_sandbox.state import Sandbox


def encode_cursor(position: int, served_empty: bool) -> str:
    raw = json.dumps({"p": position, "e": int(served_empty)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, bool]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(raw["p"]), bool(raw["e"])
    except (ValueError, KeyError, TypeError):
        raise invalid_param("Invalid cursor") from None


def paginate(
    request: Request,
    sandbox: Sandbox,
    rows: list[Any],
    params: dict[str, Any],
    *,
    inject_empty: bool,
) -> dict[str, Any]:
    limit = int_param(params, "limit", minimum=1, maximum=sandbox.config.max_page_limit) or 25
    start, served_empty = 0, False
    after, before = str_param(params, "after"), str_param(params, "before")
    if after:
        start, served_empty = decode_cursor(after)
    elif before:
        end, served_empty = decode_cursor(before)
        start = max(0, end - limit)
    start = min(max(start, 0), len(rows))
    if inject_empty and not served_empty and start == limit and len(rows) > limit:
        page: list[Any] = []
        end, served_empty = start, True
        has_next = True
    else:
        end = min(start + limit, len(rows))
        page = rows[start:end]
        has_next = end < len(rows)
    paging: dict[str, Any] = {
        "cursors": {
            "before": encode_cursor(start, served_empty),
            "after": encode_cursor(end, served_empty),
        }
    }
    if has_next:
        paging["next"] = page_url(request, after=paging["cursors"]["after"], before=None)
    if start > 0:
        paging["previous"] = page_url(request, before=paging["cursors"]["before"], after=None)
    return {"data": page, "paging": paging}
