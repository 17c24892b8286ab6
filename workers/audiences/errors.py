"""What the audience worker does about each Graph error: the one place that decides it.

Audience calls answer the general Graph codes (workers/errors.py maps those) plus their own
(docs: Custom Audience users / usersreplace references; docs/meta-rules.md §3.1-3.2):

  2650/1870145  audience update in progress (a replace runs)    -> busy: stop, try next run
  2650/1870158  replace session timed out, what it had applied  -> session_timed_out
  2650/1870159  session already finished (last batch was sent)  -> session_finished
  2650/1870148  partial update, 2650 alone: failed to update    -> transient (resend: idempotent)
  2650/1870147  first batch_seq not 1, 2650/1870144 100M+ users -> permanent
  100/1713230   audience flagged (operation_status 471)         -> permanent
  200/1870090   Custom Audience terms not accepted              -> auth (configuration)
  80003         custom-audience rate limit                      -> throttled
"""

from __future__ import annotations

from typing import Literal

from workers.errors import classify_graph_error

AudienceErrorKind = Literal[
    "busy", "session_timed_out", "session_finished", "transient", "throttled", "invalid",
    "auth", "permanent",
]  # fmt: skip

AUDIENCE_UPDATE_FAILED = 2650
SUBCODE_IN_PROGRESS = 1870145
SUBCODE_TIMED_OUT = 1870158
SUBCODE_FINISHED = 1870159
SUBCODE_PARTIAL = 1870148
SUBCODE_FLAGGED = 1713230
SUBCODE_TOS = 1870090

_BY_SUBCODE: dict[tuple[int, int], AudienceErrorKind] = {
    (AUDIENCE_UPDATE_FAILED, SUBCODE_IN_PROGRESS): "busy",
    (AUDIENCE_UPDATE_FAILED, SUBCODE_TIMED_OUT): "session_timed_out",
    (AUDIENCE_UPDATE_FAILED, SUBCODE_FINISHED): "session_finished",
    (AUDIENCE_UPDATE_FAILED, SUBCODE_PARTIAL): "transient",
    (100, SUBCODE_FLAGGED): "permanent",
    (200, SUBCODE_TOS): "auth",
}


def classify_audience_error(
    code: int | None, subcode: int | None, http_status: int | None
) -> AudienceErrorKind:
    if code is not None and subcode is not None and (code, subcode) in _BY_SUBCODE:
        return _BY_SUBCODE[(code, subcode)]
    if code == AUDIENCE_UPDATE_FAILED:
        return "transient" if subcode is None else "permanent"
    return classify_graph_error(code, http_status, subcode)


def retryable(kind: AudienceErrorKind) -> bool:
    return kind in ("transient", "throttled")
