"""The rows the CAPI worker reads, as types (read with `workers.db.rows.fetch_all`; the columns
are those of the named queries in workers/db/queries/capi.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from workers.statuses import BreakerState


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """A message leased from the meta_capi queue (`capi_read_messages`); it names an event."""

    msg_id: int
    read_ct: int
    enqueued_at: datetime
    message: dict[str, Any]

    @property
    def event_ref(self) -> int:
        return int(self.message["event"])

    @property
    def meta_event_name(self) -> str | None:
        """The Meta event name the trigger resolved when it queued the event, if any."""
        name = self.message.get("meta_event_name")
        return str(name) if name else None


# A message's answer at a request's check (shared.capi_claim_request).
Verdict = Literal["send", "gone", "withdrawn", "lost"]


@dataclass(frozen=True, slots=True)
class ClaimVerdict:
    """One row of `capi_claim_request`."""

    msg_id: int
    event_ref: int | None
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """The run-time settings the worker re-reads (`capi_worker_config`)."""

    max_events_per_second: str | None
    ldu_us_states: Any  # a JSON array of state codes, or null
    partner_agent: str | None


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """pgmq.metrics('meta_capi') (`capi_queue_metrics`)."""

    queue_length: int | None
    oldest_msg_age_sec: int | None
    newest_msg_age_sec: int | None
    total_messages: int | None


class PixelState(BaseModel):
    """A row of shared.capi_pixel_state (`capi_pixel_states`): what the workers last wrote for
    a pixel's circuit breaker (pydantic: the text column becomes a BreakerState)."""

    model_config = ConfigDict(frozen=True)

    pixel_id: str
    breaker: BreakerState
    opened_at: datetime | None = None
    last_probe_at: datetime | None = None
    last_error_code: int | None = None
    last_error_message: str | None = None
