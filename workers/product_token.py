"""Product credentials for the Supabase client: JWTs signed with the project's JWT secret.

PostgREST (the Supabase Data API) verifies a bearer token's signature with the project's JWT
secret, switches to the role the token names and hands the claims to SQL. A product's token names
the role `gdp_product` and its `product_id`; its `jti` is the id of the row in
shared.product_credential, so it can be listed and revoked (shared.product_claim refuses a
revoked one from the next statement on). Signed HS256, the way Supabase signs its own API keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import jwt

from workers.errors import ConfigError

PRODUCT_ROLE = "gdp_product"
ALGORITHM = "HS256"
ISSUER = "gdp"
# RFC 7518 3.2: an HS256 key must be at least as long as the hash (256 bits).
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class ProductClaims:
    product_id: str
    credential_id: UUID
    issued_at: datetime
    expires_at: datetime | None
    role: str = PRODUCT_ROLE


def checked_secret(secret: str | None) -> bytes:
    """The JWT secret as bytes, or a ConfigError naming the variable and the rule."""
    if not secret:
        raise ConfigError(
            "SUPABASE_JWT_SECRET: is required to sign product credentials (the project's JWT "
            "secret: Supabase Project Settings -> API -> JWT secret; GDP_JWT_SECRET elsewhere)"
        )
    raw = secret.encode()
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"SUPABASE_JWT_SECRET: must be at least {MIN_SECRET_BYTES} bytes for HS256 "
            f"(it has {len(raw)})"
        )
    return raw


def sign(claims: ProductClaims, secret: str | None) -> str:
    """The compact JWT for `claims`, signed with the project's secret."""
    payload: dict[str, object] = {
        "iss": ISSUER,
        "role": claims.role,
        "product_id": claims.product_id,
        "jti": str(claims.credential_id),
        "iat": int(claims.issued_at.timestamp()),
    }
    if claims.expires_at is not None:
        payload["exp"] = int(claims.expires_at.timestamp())
    return jwt.encode(payload, checked_secret(secret), algorithm=ALGORITHM)


def verify(token: str, secret: str | None) -> ProductClaims:
    """The claims of a product token, checked as PostgREST checks them (signature, expiry).

    Raises jwt.InvalidTokenError for a token that is not one.
    """
    data = jwt.decode(
        token,
        checked_secret(secret),
        algorithms=[ALGORITHM],
        options={"require": ["role", "product_id", "jti", "iat"]},
    )
    if data["role"] != PRODUCT_ROLE:
        raise jwt.InvalidTokenError(f"role must be {PRODUCT_ROLE}, not {data['role']!r}")
    exp = data.get("exp")
    return ProductClaims(
        product_id=str(data["product_id"]),
        credential_id=UUID(str(data["jti"])),
        issued_at=datetime.fromtimestamp(int(data["iat"]), UTC),
        expires_at=datetime.fromtimestamp(int(exp), UTC) if exp is not None else None,
    )
