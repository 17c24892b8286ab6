"""Every status, reason and kind the database knows, once, as the type Python uses for it.

Each set below is the one the SQL allows: a CHECK constraint (`... = ANY (ARRAY[...])`) or an
enum type in the migrations. `tests/test_enums_match_sql.py` reads the catalog and fails when
the two differ, so a value added on one side and not the other is caught before it is written
(a CHECK violation at run time) or read (an unknown status in a report).
"""

from __future__ import annotations

import enum
from typing import Literal, get_args

# shared.attribution_events.status (attribution_events_status_known): one delivery record per
# outcome of an event (sent, retried, rejected with Meta's reason, expired, blocked by consent,
# held while the pixel's breaker is open, dead-lettered, replayed from the dead letters).
AttributionStatus = Literal[
    "queued", "sent", "retrying", "rejected", "expired", "blocked_consent", "held_auth",
    "dead_lettered", "replayed",
]  # fmt: skip

ATTRIBUTION_STATUSES: tuple[AttributionStatus, ...] = get_args(AttributionStatus)

# Outcomes that are not final: the event is still on its way to Meta.
PENDING_STATUSES: frozenset[AttributionStatus] = frozenset({"queued", "retrying", "held_auth"})

# shared.capi_dead_letter.reason (capi_dead_letter_reason_known): why an event will never be sent.
DeadLetterReason = Literal["expired", "rejected", "invalid", "no_pixel"]

# shared.meta_lead.status (meta_lead_status_known).
LeadStatus = Literal["received", "synced", "failed"]

# shared.insights_pull.status and .mode (insights_pull_status_known, insights_pull_mode_known).
PullStatus = Literal["running", "succeeded", "failed"]
PullMode = Literal["sync", "async"]

# shared.event.source (event_source_known): the door an event came through.
EventSource = Literal["server", "client", "relay", "sql", "lead_form", "import", "segment_engine"]

# shared.event.action_source (event_action_source_known): Meta's action_source values.
ActionSource = Literal[
    "email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
    "business_messaging", "other",
]  # fmt: skip

# The enum types shared.consent_status and shared.lifecycle_stage.
ConsentStatus = Literal["unknown", "granted", "withdrawn"]
LifecycleStage = Literal["lead", "activated", "customer", "churned"]


class BreakerState(enum.Enum):
    """A pixel's circuit breaker: shared.capi_pixel_state.breaker (its CHECK
    capi_pixel_state_breaker_known)."""

    CLOSED = "closed"
    OPEN = "open"
