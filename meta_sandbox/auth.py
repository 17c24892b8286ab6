"""Access tokens and `appsecret_proof`, checked on every Graph call.

Meta answers token problems with HTTP 400 and code 190 (type OAuthException): subcode 463 for an
expired token, 467 for an invalid one, plus a `WWW-Authenticate` header. A *missing* token is
answered with code 190 and no subcode here; the real Graph API sometimes answers 104 ("An access
token is required") instead. 190 is the safer choice for clients: every documented token error
they must handle is 190, and it must never be retried.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from starlette.requests import Request

from meta_sandbox.errors import GraphError
from meta_sandbox.state import Sandbox

_WWW = 'OAuth "Facebook Platform" "invalid_token" "{}"'


def _token_error(message: str, subcode: int | None) -> GraphError:
    return GraphError(
        message,
        code=190,
        subcode=subcode,
        headers={"WWW-Authenticate": _WWW.format(message.replace('"', "'"))},
    )


def request_token(request: Request, params: dict[str, Any]) -> str | None:
    token = params.get("access_token")
    if isinstance(token, str) and token:
        return token
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in {"bearer", "oauth"} and value.strip():
        return value.strip()
    return None


def appsecret_proof(app_secret: str, token: str) -> str:
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def check_auth(sandbox: Sandbox, request: Request, params: dict[str, Any]) -> None:
    config = sandbox.config
    token = request_token(request, params)
    if token is None:
        raise _token_error("An access token is required to request this resource.", None)
    if sandbox.faults.token_malformed:
        # Meta's own wording, token included: the reason clients must redact Graph messages.
        raise _token_error(f"Malformed access token {token}", None)
    if token in config.expired_tokens or (
        sandbox.faults.token_expired and token in config.access_tokens
    ):
        raise _token_error(
            "Error validating access token: Session has expired. The current time is later "
            "than the token's expiry time.",
            463,
        )
    if not any(hmac.compare_digest(token, valid) for valid in config.access_tokens):
        raise _token_error("Invalid OAuth access token - Cannot parse access token", 467)
    proof = params.get("appsecret_proof")
    if proof is None:
        if config.require_appsecret_proof:
            raise GraphError(
                "API calls from the server require an appsecret_proof argument",
                code=100,
                type_="GraphMethodException",
            )
        return
    expected = appsecret_proof(config.app_secret, token)
    if not isinstance(proof, str) or not hmac.compare_digest(proof.lower(), expected):
        raise GraphError(
            "Invalid appsecret_proof provided in the API argument",
            code=100,
            type_="GraphMethodException",
        )
