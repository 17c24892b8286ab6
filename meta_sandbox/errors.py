"""Graph API error objects: `{"error": {message, type, code, error_subcode, fbtrace_id, ...}}`.

Every failure a Graph route answers is a `GraphError`; the app's exception handler turns it into
Meta's shape with a fresh `fbtrace_id`. Keys Meta leaves out when empty (`error_subcode`,
`error_user_title`, `error_user_msg`) are left out here too.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

GRAPH_DOCS = (
    "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
)


def new_fbtrace_id() -> str:
    """An opaque id shaped like Meta's (base64url, 27 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(20)).decode().rstrip("=")


class GraphError(Exception):
    def __init__(
        self,
        message: str,
        *,
        code: int,
        http_status: int = 400,
        type_: str = "OAuthException",
        subcode: int | None = None,
        user_title: str | None = None,
        user_msg: str | None = None,
        is_transient: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.type = type_
        self.subcode = subcode
        self.user_title = user_title
        self.user_msg = user_msg
        self.is_transient = is_transient
        self.headers = headers or {}

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "is_transient": self.is_transient,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


def invalid_param(
    detail: str,
    *,
    subcode: int | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
) -> GraphError:
    """Code 100, Meta's "Invalid parameter" (never retry)."""
    return GraphError(
        f"(#100) {detail}",
        code=100,
        subcode=subcode,
        user_title=user_title,
        user_msg=user_msg or detail,
    )


def unknown_object(object_id: str, method: str) -> GraphError:
    """Meta's answer for an id that does not exist or does not support the call (100/33)."""
    return GraphError(
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        f"cannot be loaded due to missing permissions, or does not support this operation. "
        f"{GRAPH_DOCS}",
        code=100,
        subcode=33,
        type_="GraphMethodException",
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(f"Unknown path components: {path}", code=2500, type_="OAuthException")


def nonexisting_field(field: str, node_type: str) -> GraphError:
    return GraphError(
        f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})",
        code=100,
    )


def audience_update_error(subcode: int, detail: str) -> GraphError:
    """`/usersreplace` and `/users` session failures: all code 2650 with a subcode [CA]."""
    return GraphError(
        f"(#2650) Failed to update the custom audience: {detail}",
        code=2650,
        subcode=subcode,
        user_title="Failed to update the custom audience",
        user_msg=detail,
    )


def server_error(code: int) -> GraphError:
    """Injected 5xx: code 1 (API Unknown, HTTP 500) or 2 (API Service, HTTP 503); both transient."""
    if code == 2:
        return GraphError(
            "(#2) Service temporarily unavailable", code=2, http_status=503, is_transient=True
        )
    return GraphError("An unknown error occurred", code=1, http_status=500, is_transient=True)


_THROTTLE: dict[int, tuple[str, int | None]] = {
    4: ("(#4) Application request limit reached", None),
    17: ("(#17) User request limit reached", 2446079),
    613: ("(#613) Calls to this api have exceeded the rate limit.", 1487742),
    80000: (
        "(#80000) There have been too many calls from this ad-account. Wait a bit and try "
        "again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-insights.",
        2446079,
    ),
    80003: (
        "(#80003) There have been too many calls for this ad-account. Wait a bit and try "
        "again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#custom-audience.",
        2446079,
    ),
    80004: (
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again. "
        "For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
        2446079,
    ),
}


def throttle_error(code: int) -> GraphError:
    """Throttling is HTTP 400 at Meta, never 429; `is_transient` tells clients to back off."""
    message, subcode = _THROTTLE[code]
    return GraphError(message, code=code, subcode=subcode, is_transient=True)
