"""Sandbox configuration: one frozen dataclass, built by `gdp sandbox` or by a test.

Nothing here is a real secret: the defaults are the sandbox's own well-known values. A caller that
passes real ones (say the demo's `META_APP_SECRET`, so its webhook receiver can verify signatures)
gets them kept in memory only; they are never logged or returned by the inspection API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from meta_sandbox.synthetic import Shape

Clock = Callable[[], float]
"""Seconds since the epoch. Injectable so tests can move time (90-minute sessions, 48 h dedup)."""

THROTTLE_CODES: frozenset[int] = frozenset({4, 17, 613, 80004})


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """Failures injected on Graph calls (never on `/_sandbox/` control calls)."""

    fail_5xx: float = 0.0  # share of Graph calls answered with HTTP 500/503 (code 1 or 2)
    throttle: float = 0.0  # share answered with HTTP 400 and one of `throttle_codes`
    throttle_codes: tuple[int, ...] = (4, 17, 613, 80004)
    token_expired: bool = False  # every token answers 190/463 while set
    # Every token answers 190 "Malformed access token <the token>" while set: Meta quotes a
    # token it cannot parse, so a client must never store or show Graph messages verbatim.
    token_malformed: bool = False
    latency_ms: int = 0  # added to every Graph call
    seed: int | None = None  # seeds the fault dice; None = the sandbox seed
    # Events Meta rejects for a reason a sender cannot check beforehand (an unknown parameter
    # value, say): a CAPI request carrying one is refused whole, code 100, naming its index.
    reject_event_ids: tuple[str, ...] = ()
    # Answer events_received this many short of what was sent (a sender must notice).
    events_received_shortfall: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fail_5xx <= 1.0:
            raise ValueError("fail_5xx must be between 0 and 1")
        if not 0.0 <= self.throttle <= 1.0:
            raise ValueError("throttle must be between 0 and 1")
        if not self.throttle_codes or not set(self.throttle_codes) <= THROTTLE_CODES:
            raise ValueError(
                f"throttle_codes must be a non-empty subset of {sorted(THROTTLE_CODES)}"
            )
        if not 0 <= self.latency_ms <= 120_000:
            raise ValueError("latency_ms must be between 0 and 120000")


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    access_tokens: frozenset[str] = frozenset({"sandbox-token"})
    # Tokens that always answer "expired" (190/463), to test re-authentication without faults.
    expired_tokens: frozenset[str] = frozenset({"sandbox-expired-token"})
    app_secret: str = field(default="sandbox-app-secret", repr=False)
    require_appsecret_proof: bool = False
    ad_account_id: str = "act_1000000001"
    account_currency: str = "USD"
    lead_webhook_url: str | None = None
    webhook_timeout_s: float = 5.0
    faults: FaultSettings = FaultSettings()
    seed: int = 42
    clock: Clock = time.time
    # X-Business-Use-Case-Usage: calls per sliding window that make 100 %. High by default so
    # ordinary tests and the demo are never throttled; lower it to exercise BUC throttling.
    buc_capacity: int = 100_000
    buc_window_s: float = 60.0
    # Graph answers at most this many rows per page.
    max_page_limit: int = 5_000
    # Insights: months of synthetic history, and Meta's 37-month look-back limit.
    insights_history_days: int = 548
    # Data-per-call limit (100/1487534): rows a single insights call may span, counted as
    # entities at the level x time buckets. The default makes "level=ad, time_increment=1,
    # more than 400 days" too large, as the issue asks.
    insights_max_cells: int | None = None
    # Insights paging: serve one empty page that still has `next`, as Meta can.
    insights_empty_page: bool = True
    # Size of the synthetic account (campaigns per product, ad sets, ads).
    insights_shape: Shape = field(default_factory=Shape)
    # Async report runs: status reads until "Job Completed" (Not Started, Running..., Completed),
    # and every Nth run fails ("Job Failed" with error_code), 0 = never.
    insights_async_polls: int = 2
    insights_async_fail_every: int = 0
    # Lead webhooks answered non-2xx (or not at all) are sent again after these delays, then
    # dropped (Meta retries for 36 hours, immediately and then with decreasing frequency; the
    # sandbox compresses that).
    webhook_retry_delays_s: tuple[float, ...] = (0.2, 1.0, 3.0)
    # Audience delivery_status 300 below this size. UNVERIFIED: Meta documents no number for
    # customer-file audiences; 100 is the lookalike-source minimum, the safer (stricter) choice.
    min_audience_size: int = 100
    # Uploads reach an audience's reported size (approximate_count_*) this many seconds after
    # Meta acknowledged them: Meta processes them asynchronously (up to 24 hours), so a client
    # must not expect exact, instant counts. 0 = immediately (tests switch it per run through
    # POST /_sandbox/audience-processing).
    audience_processing_s: float = 60.0
    request_log_size: int = 5_000

    def __post_init__(self) -> None:
        if not self.ad_account_id.startswith("act_") or not self.ad_account_id[4:].isdigit():
            raise ValueError("ad_account_id must look like act_<digits>")
        if self.buc_capacity < 1 or self.buc_window_s <= 0:
            raise ValueError("buc_capacity and buc_window_s must be positive")
        if not self.access_tokens:
            raise ValueError("at least one access token is required")
        if not 0 <= self.audience_processing_s <= 86_400:
            raise ValueError("audience_processing_s must be between 0 and 86400")
