"""Business Use Case usage: the `X-Business-Use-Case-Usage` header and BUC throttling.

Per (business-or-account id, use-case type) the sandbox keeps the calls of a sliding window
(default one minute) with their durations. `call_count` is the share of the window's capacity
used; `total_time` the share of a time budget (0.25 s per capacity unit, so slow calls use the
budget faster, as at Meta); `total_cputime` a fixed fraction of the time. When any reaches 100
the next call is refused with the use case's throttling code; the shares fall back as calls age
out of the window.

`estimated_time_to_regain_access` is in minutes, as the official rate-limiting page says
(docs/meta-rules.md §4.4: some third-party code reads seconds; minutes is what Meta documents).
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass

SECONDS_PER_CALL_BUDGET = 0.25
CPU_SHARE_OF_TIME = 0.3

# Which throttling code each use case answers when its usage reaches 100 %:
#   ads_management  -> 80004 (the reference tables tie 80004 to ads management)
#   custom_audience -> 80003 (tied to custom audiences)
#   ads_insights    -> 80000
#   leadgen         -> 17 (subcode 2446079, user request limit)
# CAPI calls count as ads_management usage but answer 17/2446079 (`CAPI_THROTTLE_CODE`): CAPI
# has no dedicated rate limit of its own (docs/meta-rules.md §1.10).
BUC_THROTTLE_CODE: dict[str, int] = {
    "ads_management": 80004,
    "custom_audience": 80003,
    "ads_insights": 80000,
    "leadgen": 17,
}
CAPI_THROTTLE_CODE = 17


@dataclass(frozen=True, slots=True)
class Usage:
    call_count: int
    total_cputime: int
    total_time: int
    estimated_time_to_regain_access: int

    @property
    def exhausted(self) -> bool:
        return max(self.call_count, self.total_cputime, self.total_time) >= 100


class UsageTracker:
    def __init__(self, capacity: int, window_s: float) -> None:
        self.capacity = capacity
        self.window_s = window_s
        self._calls: dict[tuple[str, str], deque[tuple[float, float]]] = {}

    def _window(self, key: str, type_: str, now: float) -> deque[tuple[float, float]]:
        calls = self._calls.setdefault((key, type_), deque())
        while calls and calls[0][0] <= now - self.window_s:
            calls.popleft()
        return calls

    def record(self, key: str, type_: str, now: float, duration_s: float) -> None:
        self._window(key, type_, now).append((now, max(duration_s, 0.0)))

    def usage(self, key: str, type_: str, now: float) -> Usage:
        calls = self._window(key, type_, now)
        budget = self.capacity * SECONDS_PER_CALL_BUDGET
        spent = sum(duration for _, duration in calls)
        call_pct = math.floor(100 * len(calls) / self.capacity)
        time_pct = math.floor(100 * spent / budget)
        cpu_pct = math.floor(100 * spent * CPU_SHARE_OF_TIME / budget)
        regain = 0
        if max(call_pct, time_pct, cpu_pct) >= 100 and calls:
            # The call whose departure brings the count back under capacity.
            index = min(max(len(calls) - self.capacity, 0), len(calls) - 1)
            wait_s = calls[index][0] + self.window_s - now
            regain = max(1, math.ceil(wait_s / 60))
        return Usage(call_pct, cpu_pct, time_pct, regain)

    def header(self, key: str, now: float, current_type: str) -> str:
        entries = []
        types = sorted({t for (k, t) in self._calls if k == key} | {current_type})
        for type_ in types:
            usage = self.usage(key, type_, now)
            entries.append(
                {
                    "type": type_,
                    "call_count": usage.call_count,
                    "total_cputime": usage.total_cputime,
                    "total_time": usage.total_time,
                    "estimated_time_to_regain_access": usage.estimated_time_to_regain_access,
                    "ads_api_access_tier": "standard_access",
                }
            )
        return json.dumps({key: entries}, separators=(",", ":"))

    def ad_account_header(self, key: str, now: float, type_: str) -> str:
        """`X-Ad-Account-Usage`: the account's utilisation and seconds until it resets."""
        usage = self.usage(key, type_, now)
        return json.dumps(
            {
                "acc_id_util_pct": max(usage.call_count, usage.total_time),
                "reset_time_duration": usage.estimated_time_to_regain_access * 60,
                "ads_api_access_tier": "standard_access",
            },
            separators=(",", ":"),
        )
