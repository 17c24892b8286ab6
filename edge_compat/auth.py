"""`Authorization: Bearer <service key>` -> the key's product (401 otherwise)."""

from __future__ import annotations

import re

from starlette.requests import Request

from edge_compat.errors import ApiError
from edge_compat.state import edge

# Keys are printable ASCII (gdp_sk_<product>_<hex>); anything else is refused without a query.
_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,200}", re.ASCII)
_CHALLENGE = 'Bearer realm="gdp"'


def _unauthorized(message: str, error: str) -> ApiError:
    return ApiError(
        401,
        message,
        field="Authorization",
        rule=message,
        headers={"WWW-Authenticate": f'{_CHALLENGE}, error="{error}"'},
    )


async def authenticate(request: Request) -> str:
    """The product of the request's service key."""
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(
            401,
            "a service key is required: Authorization: Bearer <service key>",
            field="Authorization",
            rule="is required",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise _unauthorized("must be Bearer <service key>", "invalid_request")
    if not _KEY_SHAPE.fullmatch(key):
        raise _unauthorized("unknown or revoked service key", "invalid_token")
    product = await edge(request).keys.product_of(key)
    if product is None:
        raise _unauthorized("unknown or revoked service key", "invalid_token")
    request.state.product = product
    return product
