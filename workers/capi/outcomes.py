"""What to write for a batch: an attribution_events row per event, the messages to archive and
the messages to put back on the queue with a delay (retries and breaker holds)."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime

from workers.capi import metrics
from workers.capi.build import Skipped
from workers.capi.delivery import Delivery
from workers.capi.rows import QueueMessage
from workers.db.rows import Row
from workers.statuses import AttributionStatus, DeadLetterReason

log = logging.getLogger("gdp.capi")


@dataclass(frozen=True)
class WorkerConfig:
    batch_size: int = 1000
    # Short: a crash lets unsettled messages reappear soon. A batch at work keeps extending it
    # (workers.capi.settle.Leases); a request in flight holds its messages locked.
    visibility_timeout_s: int = 30
    poll_interval_s: float = 1.0
    retry_base_s: float = 30.0
    retry_max_s: float = 3600.0
    breaker_probe_interval_s: float = 30.0
    pacing: bool = True
    quick_retry_initial_s: float = 0.2
    # 1000 is Meta's limit; 1 reproduces the one-request-per-event delivery of most peers.
    events_per_request: int = 1000
    # Concurrent batches in one process (one database connection each).
    lanes: int = 2
    # A request's check waits this long at most for a person or event another session holds
    # (an erasure in progress); past it, the request's events are tried again later.
    claim_lock_timeout_s: float = 5.0


@dataclass
class BatchReport:
    messages: int = 0
    sent: int = 0
    retried: int = 0
    dead_lettered: int = 0
    blocked: int = 0
    held: int = 0
    requests: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One shared.attribution_events row (and a dead letter when `dead_letter_reason` is set),
    as shared.record_capi_outcomes reads it (JSON; None is NULL)."""

    event_ref: int
    product_id: str
    event_id: str
    meta_event_name: str
    person_id: str | None
    pixel_id: str | None
    status: AttributionStatus
    attempt: int
    test_event_code: str | None = None
    error_message: str | None = None
    dead_letter_reason: DeadLetterReason | None = None
    batch_size: int | None = None
    match_keys: tuple[str, ...] = ()
    fbtrace_id: str | None = None
    error_code: int | None = None
    error_subcode: int | None = None
    events_received: int | None = None


@dataclass
class Plan:
    """What to write for one batch: outcome rows, messages to archive, messages to delay."""

    outcomes: list[Outcome] = field(default_factory=list)
    archive: list[int] = field(default_factory=list)
    delay: dict[int, int] = field(default_factory=dict)


def settle_skipped(
    plan: Plan,
    skipped: Skipped,
    msgs: list[QueueMessage],
    attempt: int,
    row: Row,
    report: BatchReport,
) -> None:
    reason = skipped.reason
    status: AttributionStatus
    dead_letter: DeadLetterReason | None
    if reason == "blocked_consent":
        status, dead_letter = "blocked_consent", None
    else:
        status, dead_letter = ("expired" if reason == "expired" else "rejected"), reason
    plan.outcomes.append(
        Outcome(
            skipped.event_ref,
            skipped.product_id,
            skipped.event_id,
            skipped.meta_event_name,
            skipped.person_id,
            skipped.pixel_id,
            status,
            attempt,
            test_event_code=row.get("test_event_code"),
            error_message=skipped.message,
            dead_letter_reason=dead_letter,
        )
    )
    plan.archive.extend(m.msg_id for m in msgs)
    if status == "blocked_consent":
        report.blocked += 1
    else:
        report.dead_lettered += 1
        metrics.DEAD_LETTERS.labels(skipped.reason).inc()


def settle_delivery(
    config: WorkerConfig,
    plan: Plan,
    d: Delivery,
    msgs: list[QueueMessage],
    now: datetime,
    report: BatchReport,
) -> None:
    e = d.event
    attempt = max(m.read_ct for m in msgs)

    def record(
        status: AttributionStatus,
        *,
        events_received: int | None = None,
        dead_letter_reason: DeadLetterReason | None = None,
    ) -> None:
        plan.outcomes.append(Outcome(
            e.event_ref, e.product_id, e.event_id, e.meta_event_name, e.person_id, e.pixel_id,
            status, attempt, batch_size=d.batch_size or None, match_keys=tuple(e.match_keys),
            test_event_code=e.test_event_code, fbtrace_id=d.fbtrace_id, error_code=d.error_code,
            error_subcode=d.error_subcode, error_message=d.error_message,
            events_received=events_received, dead_letter_reason=dead_letter_reason))  # fmt: skip

    if d.status == "sent":
        record("sent", events_received=d.events_received)
        plan.archive.extend(m.msg_id for m in msgs)
        report.sent += 1
        return
    if d.status == "rejected":
        record("rejected", dead_letter_reason="rejected")
        plan.archive.extend(m.msg_id for m in msgs)
        report.dead_lettered += 1
        metrics.DEAD_LETTERS.labels("rejected").inc()
        return
    # retry or held: back on the queue, later, never past the event's deadline.
    if d.status == "auth":
        delay = config.breaker_probe_interval_s
        report.held += 1
    else:
        backoff = config.retry_base_s * (2 ** max(0, attempt - 1))
        delay = min(config.retry_max_s, backoff) * random.uniform(0.8, 1.2)
        delay = max(delay, d.retry_after_s)
        report.retried += 1
    remaining = (e.deadline - now).total_seconds()
    delay_s = int(max(1, min(delay, remaining + 1)))
    if d.record:
        record("held_auth" if d.status == "auth" else "retrying")
    for m in msgs:
        plan.delay[m.msg_id] = delay_s


def add_report(total: BatchReport, report: BatchReport) -> None:
    for name in ("messages", "sent", "retried", "dead_lettered", "blocked", "held"):
        setattr(total, name, getattr(total, name) + getattr(report, name))
    total.requests = report.requests


def count_report(report: BatchReport) -> None:
    for status, n in (
        ("sent", report.sent),
        ("retrying", report.retried),
        ("dead_lettered", report.dead_lettered),
        ("blocked_consent", report.blocked),
        ("held_auth", report.held),
    ):
        if n:
            metrics.EVENTS.labels(status).inc(n)
    log.info(
        "batch",
        extra={
            "messages": report.messages,
            "sent": report.sent,
            "retried": report.retried,
            "dead_lettered": report.dead_lettered,
            "blocked": report.blocked,
            "held": report.held,
        },
    )
