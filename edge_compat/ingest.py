"""From a validated request to the elements of one `shared.ingest_events` call.

Raw PII goes only into `person` (upserted into shared.person by the SQL function); the event row
gets Meta-ready hashes and ids (`meta_user_data`) and the browser signals in their own columns.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from edge_compat.errors import FieldError
from edge_compat.models import FUTURE_TOLERANCE_S, MetaEvent
from edge_compat.validation import (
    as_field_error,
    check_properties,
    check_text,
    has_control,
    looks_like_email,
)
from workers.meta.normalize import is_sha256_hex, normalize_user_data
from workers.meta.phone import SUPPORTED_REGIONS, PhoneError, normalize_phone

# Kept in their own shared.event columns (Meta sends them unhashed), not in meta_user_data.
BROWSER_KEYS = ("client_ip_address", "client_user_agent", "fbc", "fbp")
_TRIM = " \t\n\r\f\v"
# shared.person's own checks (person_email_normalized, person_phone_e164); Python's \s covers
# at least the whitespace PostgreSQL's does, so what passes here passes there.
_PERSON_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
_DOB = re.compile(r"[0-9]{8}", re.ASCII)
MAX_PERSON_TEXT = 200


@dataclass(frozen=True, slots=True)
class Accepted:
    """One valid event: its id and the element for ingest_events."""

    event_id: str
    element: dict[str, Any]


def validate_meta_event(raw: object, key_product: str) -> MetaEvent:
    """Check one GAP-001 event; FieldError (422, or 403 for another product) names the field."""
    if not isinstance(raw, dict):
        raise FieldError("body", 'must be a JSON object (one event) or {"data": [events]}')
    check_text(raw, "")
    try:
        event = MetaEvent.model_validate(raw)
    except ValidationError as exc:
        raise as_field_error(exc) from None
    if event.event_time > time.time() + FUTURE_TOLERANCE_S:
        raise FieldError(
            "event_time", f"must not be more than {FUTURE_TOLERANCE_S} s in the future "
            "(unix seconds, not milliseconds)",
        )  # fmt: skip
    if event.event_source_url is not None and looks_like_email(event.event_source_url):
        raise FieldError(
            "event_source_url", "contains an email address: personal data belongs in user_data"
        )
    custom = event.custom_data
    if custom is not None:
        product = custom.source_product
        if product is not None and product != key_product:
            raise FieldError(
                "custom_data.source_product", "must be the product of the service key", status=403
            )
        if custom.value is not None and custom.currency is None:
            raise FieldError("custom_data.currency", "is required when value is given")
        check_properties(raw["custom_data"], "custom_data", pii_hint="user_data")
    if event.event_name == "Purchase" and (custom is None or custom.value is None):
        raise FieldError("custom_data.value", "is required for Purchase (with currency)")
    return event


def meta_event_element(
    event: MetaEvent, raw: Mapping[str, Any], product: str, default_region: str
) -> Accepted:
    """The ingest_events element of a validated GAP-001 event."""
    raw_user: Mapping[str, Any] = raw["user_data"]
    user_input = {k: v for k, v in raw_user.items() if v is not None and k != "person_id"}
    region = _phone_region(user_input.get("country"), default_region)
    normalized = normalize_user_data(user_input, default_region=region)
    sent = normalized.user_data
    element: dict[str, Any] = {
        "event_id": event.event_id,
        "event_name": event.event_name,
        "meta_event_name": event.event_name,
        "occurred_at": datetime.fromtimestamp(event.event_time, UTC).isoformat(),
        "meta_user_data": {k: v for k, v in sent.items() if k not in BROWSER_KEYS},
    }
    for key in BROWSER_KEYS:
        value = sent.get(key)
        if isinstance(value, str):
            element[key] = value
    if event.event_source_url is not None:
        element["event_source_url"] = event.event_source_url
    if event.action_source is not None:
        element["action_source"] = event.action_source
    if event.user_data.person_id is not None:
        element["person_id"] = event.user_data.person_id
    custom = raw.get("custom_data")
    if custom:
        properties = {k: v for k, v in custom.items() if k != "source_product"}
        if event.custom_data is not None and event.custom_data.currency is not None:
            properties["currency"] = event.custom_data.currency
        element["properties"] = properties
    person = person_fields(user_input, sent, normalized.normalized, product, region)
    if person is not None:
        element["person"] = person
    return Accepted(event.event_id, element)


def person_fields(
    raw: Mapping[str, Any],
    sent: Mapping[str, Any],
    normalized: Mapping[str, Any],
    product: str,
    region: str,
) -> dict[str, str] | None:
    """The upsert_people object for the raw PII of user_data, or None without a valid email.

    Only values upsert_people accepts are kept; anything else is left out, never an error.
    """
    email = _raw_single(raw, "email", "em")
    if email is None:
        return None
    email = email.strip(_TRIM).lower()
    if len(email) > 254 or has_control(email) or not _PERSON_EMAIL.fullmatch(email):
        return None
    person: dict[str, str] = {"email": email, "source_product": product}
    phone = _raw_single(raw, "phone", "ph")
    if phone is not None:
        digits = normalized.get("ph")  # what Meta gets: the same phonenumbers rules, done once
        if not isinstance(digits, str) or ("phone" in raw and "ph" in raw):
            try:
                digits = normalize_phone(phone, region)
            except PhoneError:
                digits = ""
        if _E164.fullmatch("+" + digits):
            person["phone"] = "+" + digits
    for field, keys in (
        ("first_name", ("first_name", "fn")),
        ("last_name", ("last_name", "ln")),
        ("city", ("city", "ct")),
        ("state", ("state", "st")),
        ("zip", ("zip", "zp")),
    ):
        text = _raw_single(raw, *keys)
        if text is not None:
            text = text.strip(_TRIM)
            if text and len(text) <= MAX_PERSON_TEXT and not has_control(text):
                person[field] = text
    country = normalized.get("country")
    if isinstance(country, str) and len(country) == 2 and country.isalpha() and country.isascii():
        person["country"] = country.upper()
    gender = normalized.get("ge")
    if gender in ("f", "m"):
        person["gender"] = str(gender)
    dob = normalized.get("db")
    if isinstance(dob, str) and _DOB.fullmatch(dob):
        person["date_of_birth"] = f"{dob[:4]}-{dob[4:6]}-{dob[6:]}"
    for field, key in (("meta_fbp", "fbp"), ("meta_fbc", "fbc")):
        value = sent.get(key)
        if isinstance(value, str):
            person[field] = value
    return person


def _raw_single(raw: Mapping[str, Any], *keys: str) -> str | None:
    """The first raw (not already hashed) single string value among keys."""
    for key in keys:
        value = raw.get(key)
        if isinstance(value, str) and value.strip(_TRIM) and not is_sha256_hex(value.strip()):
            return value
    return None


def _phone_region(country: object, default_region: str) -> str:
    if isinstance(country, list):
        country = country[0] if country else None
    if isinstance(country, str):
        code = country.strip().upper()
        if code in SUPPORTED_REGIONS:
            return code
    return default_region


def track_conversion_element(
    *,
    event_id: str,
    event_name: str,
    person_id: str,
    properties: dict[str, Any],
    forward: bool,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "event_id": event_id,
        "event_name": event_name,
        "person_id": person_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "properties": properties,
    }
    if forward:
        # Sent to Meta under its own name (a custom event) unless a conversion rule maps it
        # (SubscriptionPurchased -> Purchase, first time per person...): decided in SQL.
        element["forward_as"] = event_name
    return element
