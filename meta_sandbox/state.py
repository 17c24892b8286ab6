"""In-memory sandbox state: what Meta would have received, behind one lock.

Route handlers run on one event loop and never await while they hold the lock, but tests and the
inspection API may read from other threads, so every mutation and every snapshot takes the lock.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from meta_sandbox.config import FaultSettings, SandboxConfig
from meta_sandbox.synthetic import SyntheticAccount
from meta_sandbox.usage import UsageTracker


@dataclass(slots=True)
class StoredEvent:
    pixel_id: str
    index: int  # position in its request's `data`
    request_id: int
    event_name: str
    event_id: str | None
    event_time: int
    action_source: str
    received_at: float
    test_event_code: str | None
    partner_agent: str | None
    duplicate: bool
    event: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(slots=True)
class PixelStats:
    requests: int = 0
    rejected_requests: int = 0


class MemberSet:
    """Audience members. A member is the set of its keys ("EMAIL:<hash>", "EXTERN_ID:x", ...);
    an uploaded row matches a member when any key is shared, as Meta matches on any key."""

    def __init__(self) -> None:
        self._members: dict[int, set[str]] = {}
        self._index: dict[str, int] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._members)

    def add(self, keys: set[str]) -> None:
        hits = sorted({self._index[k] for k in keys if k in self._index})
        if not hits:
            member_id = next(self._ids)
            self._members[member_id] = set()
        else:
            member_id = hits[0]
            for other in hits[1:]:  # the row links members that were separate: merge them
                self._members[member_id] |= self._members.pop(other)
        self._members[member_id] |= keys
        for key in self._members[member_id]:
            self._index[key] = member_id

    def remove(self, keys: set[str]) -> int:
        hits = {self._index[k] for k in keys if k in self._index}
        for member_id in hits:
            for key in self._members.pop(member_id):
                del self._index[key]
        return len(hits)

    def snapshot(self) -> list[list[str]]:
        return sorted(sorted(keys) for keys in self._members.values())

    def keys(self) -> list[str]:
        return sorted(self._index)


@dataclass(slots=True)
class ReplaceSession:
    session_id: int
    started_at: float
    schema: tuple[str, ...]
    staged: MemberSet
    num_received: int = 0
    num_invalid: int = 0
    batches: int = 0
    state: Literal["running", "completed", "timed_out"] = "running"


@dataclass(slots=True)
class Audience:
    id: str
    account_id: str
    name: str
    description: str | None
    subtype: str
    customer_file_source: str
    created_at: float
    updated_at: float
    members: MemberSet = field(default_factory=MemberSet)
    uploads: int = 0
    replace: ReplaceSession | None = None
    finished_sessions: dict[int, str] = field(default_factory=dict)
    user_sessions: dict[int, int] = field(default_factory=dict)
    # Rows received by /users, by op (a client's resends show here, not in the members).
    rows_added: int = 0
    rows_removed: int = 0
    # (when, size) after each change: the reported size lags by the processing delay.
    sizes: list[tuple[float, int]] = field(default_factory=list)

    def changed(self, now: float) -> None:
        self.updated_at = now
        self.sizes.append((now, len(self.members)))
        if len(self.sizes) > 10_000:
            del self.sizes[:5_000]

    def reported_size(self, now: float, processing_s: float) -> int:
        size = 0
        for at, count in self.sizes:
            if at <= now - processing_s:
                size = count
        return size


@dataclass(slots=True)
class Lead:
    id: str
    created_at: float
    page_id: str
    form_id: str
    ad_id: str | None
    field_data: list[dict[str, Any]]
    deliveries: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class ReportRun:
    """An async insights job (AdReportRun): POST .../insights, poll /{id}, read /{id}/insights."""

    id: str
    account_id: str
    created_at: float
    date_start: str
    date_stop: str
    rows: list[dict[str, Any]] | None  # None while the job computes them
    polls: int = 0
    failed: bool = False


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    at: float
    method: str
    path: str  # query string included, access_token and appsecret_proof redacted
    status: int
    code: int | None
    subcode: int | None
    events: int | None
    duration_ms: float


class Sandbox:
    """Everything the sandbox remembers, for one app instance."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.clock_offset = 0.0
        self.faults = config.faults
        self.fault_rng = random.Random(self._fault_seed(config.faults))
        self.usage = UsageTracker(config.buc_capacity, config.buc_window_s)
        self.events: dict[str, list[StoredEvent]] = {}
        self.dedup_first_seen: dict[tuple[str, str, str], float] = {}
        self.pixel_stats: dict[str, PixelStats] = {}
        self.audiences: dict[str, Audience] = {}
        self.audience_processing_s = config.audience_processing_s
        self.leads: dict[str, Lead] = {}
        self.report_runs: dict[str, ReportRun] = {}
        self.report_run_count = 0
        # Webhook retries in flight (kept so they are not garbage-collected mid-sleep).
        self.webhook_tasks: set[Any] = set()
        self.request_log: deque[RequestLogEntry] = deque(maxlen=config.request_log_size)
        self.capi_requests = 0
        self.synthetic: SyntheticAccount | None = None  # built on first insights call

    def _fault_seed(self, faults: FaultSettings) -> int:
        return self.config.seed if faults.seed is None else faults.seed

    def now(self) -> float:
        return self.config.clock() + self.clock_offset

    def new_id(self, base: int) -> str:
        """A Graph-style numeric id, unique in this process (ids survive a reset)."""
        return str(base + next(self._ids))

    def set_faults(self, faults: FaultSettings) -> None:
        with self.lock:
            reseed = faults.seed != self.faults.seed or faults.seed is not None
            self.faults = faults
            if reseed:
                self.fault_rng = random.Random(self._fault_seed(faults))

    def reset(self) -> None:
        with self.lock:
            self.clock_offset = 0.0
            self.faults = self.config.faults
            self.fault_rng = random.Random(self._fault_seed(self.config.faults))
            self.usage = UsageTracker(self.config.buc_capacity, self.config.buc_window_s)
            self.events.clear()
            self.dedup_first_seen.clear()
            self.pixel_stats.clear()
            self.audiences.clear()
            self.audience_processing_s = self.config.audience_processing_s
            self.leads.clear()
            self.report_runs.clear()
            self.report_run_count = 0
            for task in list(self.webhook_tasks):
                task.cancel()
            self.webhook_tasks.clear()
            self.request_log.clear()
            self.capi_requests = 0

    def log_request(self, entry: RequestLogEntry) -> None:
        with self.lock:
            self.request_log.append(entry)
