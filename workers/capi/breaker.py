"""Per-pixel circuit breakers, shared by every lane of one worker.

A pixel's breaker opens when Meta refuses its access token (codes 190/102...): events are held
back instead of each costing a refused request. One event probes the token per interval; an
answer about the event itself (sent, rejected) proves the token and closes the breaker.

One `PixelBreaker` object per pixel lives for the whole run, so a lane that holds a reference
while it awaits Meta never finds it gone: lanes change its state, never remove it. Changes not
yet written to shared.capi_pixel_state are kept as `pending` until `take_changes` hands them to
the writer, and a reload from the table never overwrites a change still pending. Every method is
synchronous: asyncio runs one lane at a time between awaits, so no method can interleave with
another.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from workers.capi.rows import PixelState
from workers.statuses import BreakerState

__all__ = ["BreakerState", "Breakers", "Change", "PixelBreaker", "PixelState"]


class Change(enum.Enum):
    """What the next write records for a pixel."""

    NONE = "none"
    OPENED = "opened"  # opened by this worker: log it, write it
    PROBED = "probed"  # still open after a probe: write the probe time (and the error code)
    CLOSED = "closed"  # a probe went through: write closed


@dataclass
class PixelBreaker:
    pixel_id: str
    state: BreakerState = BreakerState.CLOSED
    opened_at: datetime | None = None
    last_probe_at: datetime | None = None
    last_error_code: int | None = None
    last_error_message: str | None = None
    pending: Change = Change.NONE
    # Probe at the next chance, whatever the interval (a new worker, a new token).
    probe_now: bool = False
    # A lane is probing: the others hold their events rather than probe at the same time.
    probing: bool = False
    # Events already recorded as held_auth in this outage (one record per outage, not per hold).
    held_recorded: set[int] = field(default_factory=set)
    # Bumped by every change; a write clears `pending` only if no change came in the meantime.
    version: int = 0
    # The Breakers.generation at which a change of ours was last written: a reload whose rows
    # were read before that does not overwrite it.
    written_at: int = 0

    @property
    def is_open(self) -> bool:
        return self.state is BreakerState.OPEN


class Breakers:
    def __init__(self) -> None:
        self._pixels: dict[str, PixelBreaker] = {}
        self.generation = 0  # counts writes; read it before fetching rows for `load`
        self._writing: set[tuple[str, int]] = set()  # (pixel, version) being written by a lane

    def get(self, pixel_id: str) -> PixelBreaker:
        breaker = self._pixels.get(pixel_id)
        if breaker is None:
            breaker = self._pixels[pixel_id] = PixelBreaker(pixel_id)
        return breaker

    def is_open(self, pixel_id: str) -> bool:
        breaker = self._pixels.get(pixel_id)
        return breaker is not None and breaker.is_open

    def open_pixels(self) -> list[str]:
        return [p for p, b in self._pixels.items() if b.is_open]

    def load(self, rows: Iterable[PixelState], read_at: int) -> None:
        """Take the states stored in shared.capi_pixel_state (another worker may have opened or
        closed a breaker). A change of ours not yet written, or written after the rows were read
        (`read_at`: the generation before the fetch), wins over the stored row."""
        stored = {r.pixel_id: r for r in rows}
        for pixel_id in set(stored) | set(self._pixels):
            breaker = self.get(pixel_id)
            if breaker.pending is not Change.NONE or breaker.written_at > read_at:
                continue
            row = stored.get(pixel_id)
            if row is None or row.breaker is BreakerState.CLOSED:
                breaker.state = BreakerState.CLOSED
                breaker.held_recorded.clear()
                continue
            breaker.state = BreakerState.OPEN
            breaker.opened_at = row.opened_at
            breaker.last_probe_at = row.last_probe_at
            breaker.last_error_code = row.last_error_code
            breaker.last_error_message = row.last_error_message

    def probe_all_now(self) -> None:
        for breaker in self._pixels.values():
            if breaker.is_open:
                breaker.probe_now = True

    def start_probe(self, pixel_id: str, interval_s: float) -> bool:
        """True when this caller should probe the open breaker now (and is the only one)."""
        breaker = self.get(pixel_id)
        if not breaker.is_open or breaker.probing:
            return False
        last = breaker.last_probe_at or breaker.opened_at
        due = (
            breaker.probe_now
            or last is None
            or datetime.now(UTC) - last >= timedelta(seconds=interval_s)
        )
        if due:
            breaker.probe_now = False
            breaker.probing = True
        return due

    def probe_failed(self, pixel_id: str, error_code: int | None) -> None:
        """The probe got no proof of the token (refused again, or a pause or a 5xx)."""
        breaker = self.get(pixel_id)
        breaker.probing = False
        breaker.last_probe_at = datetime.now(UTC)
        if error_code is not None:
            breaker.last_error_code = error_code
        if breaker.pending is not Change.OPENED:
            breaker.pending = Change.PROBED
        breaker.version += 1

    def close(self, pixel_id: str) -> None:
        """A probe (or any request) went through: the token works."""
        breaker = self.get(pixel_id)
        breaker.probing = False
        if breaker.is_open or breaker.pending is not Change.NONE:
            breaker.state = BreakerState.CLOSED
            breaker.pending = Change.CLOSED
            breaker.held_recorded.clear()
            breaker.version += 1

    def open(self, pixel_id: str, error_code: int | None, error_message: str | None) -> None:
        breaker = self.get(pixel_id)
        breaker.probing = False
        now = datetime.now(UTC)
        was_open = breaker.is_open
        if not was_open:
            breaker.opened_at = now
        breaker.state = BreakerState.OPEN
        breaker.last_probe_at = now
        breaker.last_error_code = error_code
        breaker.last_error_message = error_message
        if not was_open or breaker.pending is Change.CLOSED:
            breaker.pending = Change.OPENED
        elif breaker.pending is Change.NONE:
            breaker.pending = Change.PROBED
        breaker.version += 1

    def forget_held(self, event_ref: int) -> None:
        """The event was settled (sent, rejected, expired): it is no longer held anywhere."""
        for breaker in self._pixels.values():
            breaker.held_recorded.discard(event_ref)

    def take_changes(self) -> list[PixelBreaker]:
        """Snapshots of the breakers with a change to write and no lane writing it already.
        Their pending marks stay until `written` says the write committed."""
        changes = [
            replace(b, held_recorded=set())
            for b in self._pixels.values()
            if b.pending is not Change.NONE and (b.pixel_id, b.version) not in self._writing
        ]
        self._writing.update((c.pixel_id, c.version) for c in changes)
        return changes

    def written(self, changes: Iterable[PixelBreaker], *, committed: bool) -> None:
        """The write of `changes` ended. Committed: no longer pending, unless a newer change
        came meanwhile. Not committed: still pending, for the next write."""
        if committed:
            self.generation += 1
        for snapshot in changes:
            self._writing.discard((snapshot.pixel_id, snapshot.version))
            if not committed:
                continue
            breaker = self.get(snapshot.pixel_id)
            breaker.written_at = self.generation
            if breaker.version == snapshot.version:
                breaker.pending = Change.NONE
