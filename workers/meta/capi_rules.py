"""Conversions API event rules, as Meta documents them: one list for both sides of the wire.

Meta's pages: Conversions API "Using the API" (batch limit, 7-day window, all-or-nothing),
"Server Event Parameters", "Customer Information Parameters" (hashing, the minimum-identifier
rule), "Custom Data Parameters" and "Data Processing Options"; summarized with their sources in
docs/meta-rules.md §1.2-1.8.

`validate_event` raises `EventRejected` naming the rule. Two users, one list:
- the worker (workers/capi/build.py) checks every event before it is sent, so an event Meta would
  refuse for a reason known in advance is dead-lettered as `invalid` with the rule named, instead
  of costing a refused request and a bisection;
- the Meta Graph API sandbox (meta_sandbox/capi.py) refuses a request holding such an event with
  code 100, as Meta does (all-or-nothing).
What the sender cannot know in advance (Meta refusing an event for its own reasons) is left to the
sandbox's faults and, in the worker, to bisection. Where Meta's documentation is silent or
contradicts itself, the stricter reading is taken and the comment says so.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from typing import Any
from urllib.parse import urlsplit

import pycountry

MAX_EVENTS = 1000
MAX_AGE_S = 7 * 86400
MAX_AGE_PHYSICAL_STORE_S = 62 * 86400
# UNVERIFIED: Meta documents no tolerance for a future event_time. The strict choice, as the
# only known implementation does (RudderStack): reject more than 60 seconds ahead of the sandbox
# clock, which allows for ordinary clock skew and nothing more.
MAX_FUTURE_S = 60
# Third-party-known subcode (RudderStack's CAPI handler): "event timestamp too old".
SUBCODE_TOO_OLD = 2804003

ACTION_SOURCES = frozenset(
    {
        "email", "website", "app", "phone_call", "chat", "physical_store",
        "system_generated", "business_messaging", "other",
    }
)  # fmt: skip

# Keys Meta requires to be SHA-256 hashed ("Customer Information Parameters"), plus the SDK's
# legacy hashed keys.
HASHED_KEYS = frozenset(
    {
        "em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country",
        "f5first", "f5last", "fi", "dobd", "dobm", "doby",
    }
)  # fmt: skip
# Hashing recommended, not required: either form is accepted.
EITHER_KEYS = frozenset({"external_id"})
# Keys Meta says must never be hashed.
UNHASHED_KEYS = frozenset(
    {
        "client_ip_address", "client_user_agent", "fbc", "fbp", "subscription_id",
        "fb_login_id", "lead_id", "anon_id", "madid", "page_id", "page_scoped_user_id",
        "ctwa_clid", "ig_account_id", "ig_sid",
    }
)  # fmt: skip
LIST_KEYS = HASHED_KEYS | EITHER_KEYS
# Meta ids that clients commonly send as JSON numbers.
NUMERIC_ID_KEYS = frozenset(
    {"lead_id", "fb_login_id", "page_id", "page_scoped_user_id", "ig_account_id"}
)
KNOWN_KEYS = HASHED_KEYS | EITHER_KEYS | UNHASHED_KEYS

# Meta's minimum-identifier rule (Graph v13+): an event whose only user_data keys are a subset
# of one of these combinations is invalid.
WEAK_COMBINATIONS: tuple[frozenset[str], ...] = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)

# Lowercase hex SHA-256, optionally with the parameter builder's ".appendix" (which Meta accepts).
_SHA256 = re.compile(r"[0-9a-f]{64}(?:\.[A-Za-z0-9_-]{1,16})?")
_LOOKS_HASHED = re.compile(r"[0-9a-fA-F]{64}(?:\..*)?")
# fb.{subdomainIndex}.{creationTimeMs}.{fbclid}[.appendix]; the time is in milliseconds.
_FBC = re.compile(r"fb\.[0-9]{1,2}\.[0-9]{13}\.[^\s]+")
# fb.{subdomainIndex}.{creationTimeMs}.{randomNumber}[.appendix]
_FBP = re.compile(r"fb\.[0-9]{1,2}\.[0-9]{13}\.[0-9]{1,20}(?:\.[A-Za-z0-9_-]{1,16})?")
_CURRENCY = re.compile(r"[A-Za-z]{3}")

LDU_COUNTRIES = frozenset({0, 1})
LDU_STATES = frozenset(range(1000, 1014))  # 1000 CA ... 1013 RI ("Data Processing Options")


class EventRejected(Exception):
    def __init__(self, rule: str, *, subcode: int | None = None, title: str | None = None) -> None:
        super().__init__(rule)
        self.rule = rule
        self.subcode = subcode
        self.title = title or "Invalid event"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _values(key: str, value: Any) -> list[str]:
    """The value as a list of strings; lists only where Meta allows them."""
    if isinstance(value, list) and key in LIST_KEYS:
        if not value:
            raise EventRejected(f"user_data.{key} is an empty list")
        items = value
    else:
        items = [value]
    out: list[str] = []
    for item in items:
        if key in NUMERIC_ID_KEYS and _is_int(item):
            item = str(item)
        if not isinstance(item, str):
            shape = "a string or a list of strings" if key in LIST_KEYS else "a string"
            raise EventRejected(f"user_data.{key} must be {shape}")
        out.append(item)
    return out


def check_user_data(user_data: Any) -> None:
    if not isinstance(user_data, dict):
        raise EventRejected("user_data is required and must be an object")
    present: set[str] = set()
    for key, value in user_data.items():
        if value is None or value == "" or value == []:
            continue  # absent, as Meta treats empty values
        if key not in KNOWN_KEYS:
            raise EventRejected(f"user_data.{key} is not a known customer information parameter")
        if type(value) is str:  # the common shape, without building a list
            _check_value(key, value)
        else:
            for item in _values(key, value):
                _check_value(key, item)
        present.add(key)
    if not present:
        raise EventRejected(
            "user_data has no customer information parameters; at least one is required",
            title="Missing customer information",
        )
    for combination in WEAK_COMBINATIONS:
        if present <= combination:
            raise EventRejected(
                "user_data has too few customer information parameters: "
                f"{', '.join(sorted(present))} alone cannot match a person (the only keys are "
                f"a subset of {'+'.join(sorted(combination))})",
                title="Insufficient customer information",
            )


# Valid values are remembered (a person's hashes, a visitor's IP and user agent come back event
# after event: the worker checks every event it sends); a refusal is worked out again each time.
@functools.lru_cache(maxsize=65_536)
def _check_value(key: str, item: str) -> None:
    if key in HASHED_KEYS:
        if _SHA256.fullmatch(item) is None:
            raise EventRejected(
                f"user_data.{key} must be SHA-256 hashed (64 lowercase hex characters); "
                "unhashed or malformed values are rejected",
                title="Unhashed customer information",
            )
        return
    if key in EITHER_KEYS:
        if not item.strip():
            raise EventRejected(f"user_data.{key} is blank")
        return
    if _LOOKS_HASHED.fullmatch(item):
        raise EventRejected(
            f"user_data.{key} must not be hashed; send it as it is", title="Hashed parameter"
        )
    if key == "client_ip_address":
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise EventRejected(
                "user_data.client_ip_address is not a valid IPv4 or IPv6 address"
            ) from None
    elif key == "client_user_agent":
        if not item.strip():
            raise EventRejected("user_data.client_user_agent is blank")
    elif key == "fbc":
        if _FBC.fullmatch(item) is None:
            raise EventRejected(
                "user_data.fbc must look like fb.<subdomainIndex>.<creationTimeMs>.<fbclid>"
            )
    elif key == "fbp":
        if _FBP.fullmatch(item) is None:
            raise EventRejected(
                "user_data.fbp must look like fb.<subdomainIndex>.<creationTimeMs>.<random>"
            )
    elif not item.strip() or any(ch.isspace() for ch in item):
        raise EventRejected(f"user_data.{key} is blank or contains spaces")


def _check_url(event: dict[str, Any], key: str, required: bool) -> None:
    url = event.get(key)
    if url is None or url == "":
        if required:
            raise EventRejected(f"{key} is required for website events")
        return
    if not isinstance(url, str):
        raise EventRejected(f"{key} must be a string")
    if not _absolute_http_url(url):
        raise EventRejected(f"{key} must be an absolute URL beginning with http:// or https://")


@functools.lru_cache(maxsize=4096)
def _absolute_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _check_custom_data(event_name: str, custom_data: Any) -> None:
    if custom_data is None:
        custom_data = {}
    if not isinstance(custom_data, dict):
        raise EventRejected("custom_data must be an object")
    currency = custom_data.get("currency")
    value = custom_data.get("value")
    if event_name == "Purchase":
        if currency is None or currency == "":
            raise EventRejected("custom_data.currency is required for Purchase events")
        if value is None:
            raise EventRejected("custom_data.value is required for Purchase events")
    if (
        currency is not None
        and currency != ""
        and (
            not isinstance(currency, str)
            or _CURRENCY.fullmatch(currency) is None
            or not _iso_4217(currency.upper())
        )
    ):
        raise EventRejected("custom_data.currency must be a valid ISO 4217 3-letter code")
    if value is not None and not _is_number(value):
        raise EventRejected("custom_data.value must be a number")


@functools.lru_cache(maxsize=512)
def _iso_4217(code: str) -> bool:
    return pycountry.currencies.get(alpha_3=code) is not None


def _check_ldu(event: dict[str, Any], user_data: dict[str, Any]) -> None:
    options = event.get("data_processing_options")
    if options is None or options == []:
        return
    if options != ["LDU"]:
        raise EventRejected('data_processing_options must be [] or ["LDU"]')
    country = event.get("data_processing_options_country")
    state = event.get("data_processing_options_state")
    if country is None and state is None:
        # Meta geolocates from the IP; without one it cannot ("Data Processing Options": the
        # state is required when LDU is sent without an IP address).
        if not user_data.get("client_ip_address"):
            raise EventRejected(
                "data_processing_options_country and _state are required with LDU when "
                "user_data.client_ip_address is absent"
            )
        return
    if country is None or state is None:
        raise EventRejected(
            "data_processing_options_country and data_processing_options_state go together"
        )
    if not _is_int(country) or country not in LDU_COUNTRIES:
        raise EventRejected("data_processing_options_country must be 0 (geolocate) or 1 (USA)")
    if not _is_int(state):
        raise EventRejected("data_processing_options_state must be an integer")
    if country == 0 and state != 0:
        raise EventRejected("data_processing_options_state must be 0 when the country is 0")
    if country == 1 and state not in LDU_STATES:
        raise EventRejected(
            "data_processing_options_state must be a US state code from 1000 to 1013"
        )


def validate_event(event: Any, now: float) -> None:
    if not isinstance(event, dict):
        raise EventRejected("event must be a JSON object")
    event_name = event.get("event_name")
    if not isinstance(event_name, str) or not event_name.strip():
        raise EventRejected("event_name is required")
    if "event_time" not in event:
        raise EventRejected("event_time is required")
    event_time = event["event_time"]
    if not _is_int(event_time):
        raise EventRejected("event_time must be an integer Unix timestamp in seconds")
    action_source = event.get("action_source")
    if action_source is None:
        raise EventRejected("action_source is required")
    if action_source not in ACTION_SOURCES:
        raise EventRejected(
            f"action_source {action_source!r} is not one of {', '.join(sorted(ACTION_SOURCES))}"
        )
    max_age = MAX_AGE_PHYSICAL_STORE_S if action_source == "physical_store" else MAX_AGE_S
    if event_time < now - max_age:
        days = max_age // 86400
        raise EventRejected(
            f"event_time is more than {days} days in the past",
            subcode=SUBCODE_TOO_OLD,
            title="Event Timestamp Too Old",
        )
    if event_time > now + MAX_FUTURE_S:
        raise EventRejected("event_time is in the future", title="Event Timestamp In The Future")
    if "user_data" not in event:
        raise EventRejected("user_data is required")
    user_data = event["user_data"]
    check_user_data(user_data)
    website = action_source == "website"
    _check_url(event, "event_source_url", required=website)
    _check_url(event, "referrer_url", required=False)
    if website and not user_data.get("client_user_agent"):
        raise EventRejected("user_data.client_user_agent is required for website events")
    if action_source == "app" and not isinstance(event.get("app_data"), dict):
        raise EventRejected("app_data is required for app events")
    event_id = event.get("event_id")
    if event_id is not None and not (isinstance(event_id, str) or _is_int(event_id)):
        raise EventRejected("event_id must be a string")
    if "opt_out" in event and not isinstance(event["opt_out"], bool):
        raise EventRejected("opt_out must be a boolean")
    _check_custom_data(event_name, event.get("custom_data"))
    _check_ldu(event, user_data)
