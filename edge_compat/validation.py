"""Request bodies: content type, size, JSON syntax, and rules pydantic cannot express.

Errors name the field path (`user_data.email`, `custom_data.contents[0].id`) and the rule, never
the value that was sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import orjson
import pycountry
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import Request

from edge_compat.errors import ApiError, FieldError

META_EVENT_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,49}$"
PRODUCT_ID = r"^[a-z][a-z0-9_]{1,39}$"
UUID_TEXT = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
EVENT_ID = r"^[^\x00-\x1f\x7f]{1,200}$"
CURRENCY = r"^[A-Za-z]{3}$"
HTTP_URL = r"^https?://\S+$"
_PATTERN_RULES = {
    META_EVENT_NAME: "must look like a Meta event name: a letter, then up to 49 letters, "
    "digits or underscores",
    PRODUCT_ID: "must be a product id (lowercase letters, digits, underscores)",
    UUID_TEXT: "must be a UUID",
    EVENT_ID: "must be 1 to 200 characters, without control characters",
    CURRENCY: "must be a 3-letter ISO 4217 currency code, e.g. USD",
    HTTP_URL: "must be an http(s) URL without spaces",
}

MAX_BODY_BYTES = 1024 * 1024
MAX_PROPERTY_DEPTH = 8
MAX_PROPERTY_KEY_LENGTH = 100
MAX_PROPERTY_TEXT_LENGTH = 8192

# Keys that say "personal data" (compared without case, spaces, '-' or '_'): such values belong
# in user_data (and so in shared.person), never in event properties.
_PII_KEYS = frozenset(
    {
        "email", "emailaddress", "mail", "em", "phone", "phonenumber", "telephone", "tel",
        "mobile", "mobilephone", "cellphone", "ph", "firstname", "lastname", "fn", "ln",
        "givenname", "familyname", "surname", "name", "fullname", "address", "streetaddress",
        "street", "homeaddress", "postaladdress", "billingaddress", "shippingaddress",
        "dateofbirth", "dob", "birthday", "birthdate", "ssn", "socialsecuritynumber",
        "ipaddress", "clientipaddress",
    }
)  # fmt: skip
_KEY_FOLD = str.maketrans("", "", " \t\n\r\f\v_-.")
_EMAIL_LIKE = re.compile(r"[^\s@<>()\[\],;:\"]+@[^\s@<>()\[\],;:\"]+\.[^\W\d_]{2,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def is_pii_key(key: str) -> bool:
    return key.lower().translate(_KEY_FOLD) in _PII_KEYS


def looks_like_email(text: str) -> bool:
    if "@" not in text and "%40" not in text:
        return False
    return _EMAIL_LIKE.search(unquote(text) if "%" in text else text) is not None


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def check_text(value: Any, path: str) -> None:
    """Refuse NUL and other control characters anywhere in a request's JSON, naming the field.

    PostgreSQL stores neither NUL (U+0000) in text nor in jsonb: unrefused, one such value
    failed the whole SQL call (a 500, and a batch lost its good events). Tab, newline and
    carriage return stay allowed where a field's own rule allows them.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise FieldError(where, "must not contain NUL (U+0000) characters")
            if _CONTROL.search(item) is not None:
                raise FieldError(where, "must not contain control characters")
        elif isinstance(item, dict):
            for key, child in item.items():
                if _CONTROL.search(key) is not None:
                    raise FieldError(where or "body", "keys must not contain control characters")
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))


@lru_cache(maxsize=1)
def currency_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


# --- the body ----------------------------------------------------------------------------------


async def read_json(request: Request, *, limit: int = MAX_BODY_BYTES) -> Any:
    """The parsed JSON body; 415 wrong content type, 413 too large, 400 malformed (line/column)."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise ApiError(
            415, "Content-Type must be application/json", field="Content-Type",
            rule="must be application/json",
        )  # fmt: skip
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise ApiError(
            415, "Content-Type must be application/json", field="Content-Type",
            rule="must be application/json",
        )  # fmt: skip
    charset = _charset(params)
    if charset not in (None, "utf-8", "utf8"):
        raise ApiError(
            415, "Content-Type charset must be utf-8", field="Content-Type",
            rule="charset must be utf-8",
        )  # fmt: skip
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Content-Length must be a number", field="Content-Length")
        if int(declared) > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = str(exc.msg)[:120]
        raise ApiError(
            400,
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {reason}",
            field="body",
            rule=f"must be valid JSON (line {exc.lineno}, column {exc.colno}: {reason})",
        ) from None


def _charset(params: str) -> str | None:
    for part in params.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413, f"body larger than {limit} bytes", field="body", rule=f"must be at most {limit} bytes"
    )


# --- pydantic errors -> field + rule -----------------------------------------------------------


def field_path(loc: Iterable[int | str], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "body"


def _rule(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    simple = {
        "missing": "is required",
        "extra_forbidden": "is not an accepted field",
        "string_type": "must be a string",
        "int_type": "must be an integer",
        "int_parsing": "must be an integer",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "bool_type": "must be true or false",
        "dict_type": "must be a JSON object",
        "model_type": "must be a JSON object",
        "model_attributes_type": "must be a JSON object",
        "list_type": "must be a JSON array",
        "finite_number": "must be a finite number",
        "uuid_type": "must be a UUID",
        "uuid_parsing": "must be a UUID",
    }
    if kind in simple:
        return simple[kind]
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return "must not be empty" if n == 1 else f"must be at least {n} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern"))
        return _PATTERN_RULES.get(pattern, f"must match {pattern}")
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} items"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} items"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    for name, word in (("greater_than_equal", "ge"), ("less_than_equal", "le")):
        if kind == name:
            op = "≥" if word == "ge" else "≤"
            return f"must be {op} {ctx.get(word)}"
    for name, word in (("greater_than", "gt"), ("less_than", "lt")):
        if kind == name:
            op = ">" if word == "gt" else "<"
            return f"must be {op} {ctx.get(word)}"
    message = str(error.get("msg", "is not valid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message[:1].lower() + message[1:]


def first_error(
    errors: Sequence[ErrorDetails] | Sequence[Any],
    *,
    prefix: str = "",
    skip_roots: tuple[str, ...] = (),
) -> tuple[str, str]:
    """(field, rule) of the first error pydantic (or FastAPI) reported."""
    if not errors:
        return prefix or "body", "is not valid"
    error: ErrorDetails = errors[0]
    loc = list(error.get("loc", ()))
    if loc and loc[0] in skip_roots:
        loc = loc[1:]
    return field_path(loc, prefix), _rule(error)


def as_field_error(exc: ValidationError, *, prefix: str = "") -> FieldError:
    field, rule = first_error(exc.errors(include_url=False, include_input=False), prefix=prefix)
    return FieldError(field, rule)


# --- free-form properties (custom_data, metadata) ----------------------------------------------


def check_properties(value: Mapping[str, Any], path: str, *, pii_hint: str) -> None:
    """Refuse personal data, control characters and unbounded nesting in free-form properties."""
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_PROPERTY_DEPTH:
                raise FieldError(where, f"nested deeper than {MAX_PROPERTY_DEPTH} levels")
            for key, child in item.items():
                if len(key) > MAX_PROPERTY_KEY_LENGTH or has_control(key) or not key:
                    raise FieldError(
                        where, f"keys must be 1 to {MAX_PROPERTY_KEY_LENGTH} printable characters"
                    )
                if is_pii_key(key):
                    raise FieldError(f"{where}.{key}", f"personal data belongs in {pii_hint}")
                stack.append((child, f"{where}.{key}", depth + 1))
        elif isinstance(item, list):
            if depth > MAX_PROPERTY_DEPTH:
                raise FieldError(where, f"nested deeper than {MAX_PROPERTY_DEPTH} levels")
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            if len(item) > MAX_PROPERTY_TEXT_LENGTH:
                raise FieldError(where, f"must be at most {MAX_PROPERTY_TEXT_LENGTH} characters")
            if "\x00" in item:
                raise FieldError(where, "must not contain NUL characters")
            if looks_like_email(item):
                raise FieldError(
                    where, f"looks like an email address: personal data belongs in {pii_hint}"
                )
