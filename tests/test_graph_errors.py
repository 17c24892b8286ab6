"""Graph API errors are decided by Meta's code (and subcode), not by the HTTP status."""

from __future__ import annotations

import pytest

from workers.errors import classify_graph_error, from_graph_error


@pytest.mark.parametrize(
    ("code", "subcode", "http", "kind"),
    [
        (4, None, 400, "throttled"),  # Meta answers throttling with HTTP 400
        (17, 2446079, 400, "throttled"),
        (613, None, 400, "throttled"),
        (80004, None, 400, "throttled"),
        (190, 463, 400, "auth"),
        (102, None, 400, "auth"),
        (10, None, 403, "auth"),
        (200, None, 403, "auth"),
        # An unknown pixel, or one the token may not use: the request, not an event, is wrong.
        (100, 33, 400, "auth"),
        (100, 2804003, 400, "invalid"),  # an event in the batch: split to find it
        (100, None, 400, "invalid"),
        (1, None, 500, "transient"),
        (2, None, 503, "transient"),
        (None, None, 502, "transient"),  # an HTML error page, a reset
        (None, None, None, "transient"),  # a timeout
        (368, None, 400, "transient"),
        (2500, None, 400, "permanent"),
    ],
)
def test_kind_of_error(code: int | None, subcode: int | None, http: int | None, kind: str) -> None:
    assert classify_graph_error(code, http, subcode) == kind


def test_from_a_graph_body() -> None:
    body = {"error": {"message": "Unsupported post request.", "code": 100, "error_subcode": 33,
                      "fbtrace_id": "AbC"}}  # fmt: skip
    error = from_graph_error(body, 400)
    assert (error.code, error.subcode, error.fbtrace_id, error.kind) == (100, 33, "AbC", "auth")
    assert not error.retryable
    assert from_graph_error({"oops": 1}, 502).kind == "transient"
