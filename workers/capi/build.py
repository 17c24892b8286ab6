"""Turn a stored event (and its person) into a Meta Conversions API event, or say why not.

Pure functions: no I/O, so every rule here is tested directly. Raw PII enters as the person's
fields and leaves only as SHA-256 hashes (workers.meta.normalize does the hashing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from workers.event_id import meta_event_id
from workers.meta.capi_rules import EventRejected, validate_event
from workers.meta.fbc import fbc_for_event
from workers.meta.normalize import normalize_user_data
from workers.statuses import DeadLetterReason

SEVEN_DAYS_S = 7 * 24 * 3600
SIXTY_TWO_DAYS_S = 62 * 24 * 3600
FUTURE_TOLERANCE_S = 60

# Meta's documented custom_data keys; anything else a product put in properties stays home, so a
# stray email in properties never reaches Meta (a leak peers have: Jitsu sends all properties).
CUSTOM_DATA_KEYS = frozenset(
    {
        "value",
        "currency",
        "content_name",
        "content_category",
        "content_ids",
        "content_type",
        "contents",
        "order_id",
        "num_items",
        "search_string",
        "predicted_ltv",
        "net_revenue",
        "status",
        "delivery_category",
        "item_number",
        "source_product",
    }
)

# Limited Data Use state codes (docs/meta-rules.md §1.8).
LDU_STATE_CODES: dict[str, int] = {
    "ca": 1000,
    "co": 1001,
    "ct": 1002,
    "fl": 1003,
    "or": 1004,
    "tx": 1005,
    "mt": 1006,
    "de": 1007,
    "ne": 1008,
    "nh": 1009,
    "nj": 1010,
    "mn": 1011,
    "md": 1012,
    "ri": 1013,
}

# Why an event is not sent: a dead-letter reason, or the person withdrew consent.
Skip = DeadLetterReason | Literal["blocked_consent"]


@dataclass(frozen=True)
class BuildConfig:
    now: datetime
    default_region: str = "US"
    ldu_us_states: frozenset[str] = frozenset()
    # Normalized person keys by the person's raw fields: lives for one batch, never logged.
    person_cache: dict[tuple[object, ...], Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltEvent:
    """A Meta-ready event and what the delivery record needs to say about it."""

    event_ref: int
    product_id: str
    event_id: str
    meta_event_name: str
    person_id: str | None
    pixel_id: str
    test_event_code: str | None
    payload: dict[str, Any]
    match_keys: tuple[str, ...]
    deadline: datetime


@dataclass(frozen=True)
class Skipped:
    """An event that will not be sent, and why (the reason is logged: it never holds PII)."""

    event_ref: int
    product_id: str
    event_id: str
    meta_event_name: str
    person_id: str | None
    pixel_id: str | None
    reason: Skip
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def build_event(
    row: Mapping[str, Any], meta_event_name: str, config: BuildConfig
) -> BuiltEvent | Skipped:
    """Build one event from a capi_load_events row."""
    person_id = str(row["person_id"]) if row.get("person_id") else None

    def skip(reason: Skip, message: str) -> Skipped:
        return Skipped(
            row["event_ref"],
            row["product_id"],
            row["event_id"],
            meta_event_name,
            person_id,
            row.get("pixel_id"),
            reason,
            message,
        )

    if row.get("consent_status") == "withdrawn":
        return skip("blocked_consent", "the person withdrew consent")
    pixel_id = row.get("pixel_id")
    if not pixel_id:
        return skip("no_pixel", f"no META_PIXEL_ID for {row['product_id']} nor a global one")

    occurred: datetime = row["occurred_at"]
    now = config.now
    event_time = min(int(occurred.timestamp()), int(now.timestamp()))  # clamp the future
    given_source = row.get("action_source")
    window = SIXTY_TWO_DAYS_S if given_source == "physical_store" else SEVEN_DAYS_S
    deadline_ts = int(occurred.timestamp()) + window
    if int(now.timestamp()) >= deadline_ts:
        days = window // 86400
        return skip("expired", f"event_time is older than Meta's {days}-day window")

    user_data = _user_data(row, event_time, now, config)
    # Guessed as website only when both fields Meta requires for it are there, as sent (a user
    # agent the normalizer dropped does not count).
    has_website_fields = bool(row.get("event_source_url") and user_data.get("client_user_agent"))
    action_source = given_source or ("website" if has_website_fields else "system_generated")
    custom_data = _custom_data(row)
    payload: dict[str, Any] = {
        "event_name": meta_event_name,
        "event_time": event_time,
        # Unique per pixel (products may share one); the browser Pixel sends the same id.
        "event_id": meta_event_id(row["product_id"], row["event_id"]),
        "action_source": action_source,
        "user_data": user_data,
    }
    if row.get("event_source_url"):
        payload["event_source_url"] = row["event_source_url"]
    if custom_data:
        payload["custom_data"] = custom_data
    payload.update(_ldu_options(row, config))
    try:
        # Everything Meta checks deterministically, checked here: Meta refuses the whole request
        # for one such event, and finding it again by bisection costs about 2*log2(n) requests.
        validate_event(payload, now.timestamp())
    except EventRejected as rejected:
        return skip("invalid", rejected.rule)
    return BuiltEvent(
        event_ref=row["event_ref"],
        product_id=row["product_id"],
        event_id=row["event_id"],
        meta_event_name=meta_event_name,
        person_id=person_id,
        pixel_id=str(pixel_id),
        test_event_code=row.get("test_event_code"),
        payload=payload,
        match_keys=tuple(sorted(user_data)),
        deadline=datetime.fromtimestamp(deadline_ts, tz=now.tzinfo),
    )


# Keys that come from the person (hashed) and from the event's browser (sent as they are).
_PERSON_KEYS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id")


def _user_data(
    row: Mapping[str, Any], event_time: int, now: datetime, config: BuildConfig
) -> dict[str, Any]:
    merged: dict[str, Any] = dict(_person_user_data(row, config))
    browser: dict[str, object] = {
        "client_ip_address": row.get("client_ip_address"),
        "client_user_agent": row.get("client_user_agent"),
        "fbp": row.get("fbp") or row.get("meta_fbp"),
        "fbc": fbc_for_event(
            row.get("fbc") or row.get("meta_fbc"),
            None,
            now_ms=int(now.timestamp() * 1000),
            event_time_ms=event_time * 1000,
        ),
        # The person's Lead Ads lead (identity_link provider meta_lead), sent unhashed.
        "lead_id": row.get("lead_id"),
    }
    browser = {k: v for k, v in browser.items() if v not in (None, "")}
    if browser:
        merged.update(normalize_user_data(browser, default_region=config.default_region).user_data)
    # Keys the caller sent already hashed (or ids such as lead_id) were stored on the event. They
    # go through the shared module too: a row written by SQL rather than the endpoint could hold
    # a raw value, which must reach Meta hashed (or not at all), never as written.
    stored = row.get("meta_user_data")
    if stored:
        ready = normalize_user_data(stored, default_region=config.default_region).user_data
        for key, value in ready.items():
            merged[key] = _merge_values(merged.get(key), value)
    return merged


def _person_user_data(row: Mapping[str, Any], config: BuildConfig) -> Mapping[str, Any]:
    """The person's hashed match keys; a person with many events in a batch is hashed once."""
    dob = row.get("date_of_birth")
    raw: dict[str, object] = {
        "em": row.get("email"),
        "ph": row.get("phone"),
        "fn": row.get("first_name"),
        "ln": row.get("last_name"),
        "ct": row.get("city"),
        "st": row.get("state"),
        "zp": row.get("zip"),
        "country": row.get("country"),
        "db": dob.strftime("%Y%m%d") if dob is not None else None,
        "ge": row.get("gender"),
        # Meta recommends external_id on every event; the person id is stable across products.
        "external_id": str(row["person_id"]) if row.get("person_id") else None,
    }
    key = tuple(raw[k] for k in _PERSON_KEYS)
    cached = config.person_cache.get(key)
    if cached is None:
        cached = normalize_user_data(
            {k: v for k, v in raw.items() if v not in (None, "")},
            default_region=config.default_region,
        ).user_data
        config.person_cache[key] = cached
    return cached


def _merge_values(current: Any, extra: Any) -> Any:
    if current is None:
        return extra
    values: list[Any] = []
    for item in ([*current] if isinstance(current, list) else [current]) + (
        [*extra] if isinstance(extra, list) else [extra]
    ):
        if item not in values:
            values.append(item)
    return values[0] if len(values) == 1 else values


def _custom_data(row: Mapping[str, Any]) -> dict[str, Any]:
    properties: Mapping[str, Any] = row.get("properties") or {}
    data = {k: v for k, v in properties.items() if k in CUSTOM_DATA_KEYS and v is not None}
    value_property = row.get("value_property")
    if value_property and value_property in properties:
        data["value"] = properties[value_property]
    currency_property = row.get("currency_property") or "currency"
    currency = properties.get(currency_property) or row.get("default_currency")
    if "value" in data:
        try:
            data["value"] = round(float(data["value"]), 2)
        except (TypeError, ValueError):
            del data["value"]
    if currency and isinstance(currency, str) and len(currency.strip()) == 3:
        data["currency"] = currency.strip().upper()
    data.setdefault("source_product", row["product_id"])
    return data


def _ldu_options(row: Mapping[str, Any], config: BuildConfig) -> dict[str, Any]:
    if not config.ldu_us_states:
        return {}
    country = (row.get("country") or "").upper()
    state = _us_state_code(row.get("state"))
    if country == "US" and state and state.upper() in config.ldu_us_states:
        code = LDU_STATE_CODES.get(state)
        if code is not None:
            return {
                "data_processing_options": ["LDU"],
                "data_processing_options_country": 1,
                "data_processing_options_state": code,
            }
        # Outside Meta's state table: let Meta geolocate (country 0, state 0).
        return {
            "data_processing_options": ["LDU"],
            "data_processing_options_country": 0,
            "data_processing_options_state": 0,
        }
    return {}


def _us_state_code(state: object) -> str | None:
    if not isinstance(state, str) or not state.strip():
        return None
    normalized = normalize_user_data({"st": state, "country": "US"}).normalized.get("st")
    return normalized if isinstance(normalized, str) and len(normalized) == 2 else None


def ldu_states(value: object) -> frozenset[str]:
    """The META_LDU_US_STATES setting as a set of upper-case codes."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return frozenset(str(v).strip().upper() for v in value if str(v).strip())
    return frozenset()
