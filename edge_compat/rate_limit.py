"""Per-visitor rate limits for the browser relay, with the `limits` library (moving window,
in this process's memory): a page, or a script posing as one, cannot flood a product's events.

    limiter = VisitorLimiter("20/second;300/minute")
    retry_after = limiter.refused("203.0.113.7")   # None: allowed; else seconds to wait
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class VisitorLimiter:
    def __init__(self, spec: str) -> None:
        """`spec`: limits' notation, several separated by ';' (e.g. "20/second;300/minute");
        empty: no limit. A malformed spec raises ValueError naming it."""
        try:
            self._items: list[RateLimitItem] = parse_many(spec) if spec.strip() else []
        except ValueError as exc:
            raise ValueError(
                f"GDP_RELAY_RATE_LIMIT {spec!r} is not a rate such as '20/second;300/minute'"
            ) from exc
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def refused(self, visitor: str) -> int | None:
        """Count one request of `visitor`; None when allowed, else whole seconds to wait."""
        for item in self._items:
            if not self._limiter.hit(item, "relay", visitor):
                stats = self._limiter.get_window_stats(item, "relay", visitor)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None
