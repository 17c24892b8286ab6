"""From an untrusted browser request to the GAP-001 event the relay forwards (GAP-005).

The browser names the event, its id (shared with the Pixel's eventID), the page and custom
properties; everything else is the relay's: the visitor's IP, user agent, `_fbp` and `_fbc`
cookies, `source_product`, `event_time` and `action_source`. So a page cannot report for another
product, send personal data (email, phone, names: those belong to the product's server), or set
fields the server owns. Errors name the field and the rule, never the value.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

from edge_compat.errors import FieldError
from edge_compat.validation import check_properties, has_control, looks_like_email
from workers.meta.fbc import fbc_for_event, validate_fbc, validate_fbp

MAX_TEXT = 2048
MAX_EVENT_ID = 200
ACTION_SOURCE = "website"

BROWSER_FIELDS = frozenset(
    {"event_name", "event_id", "event_source_url", "custom_data", "user_data"}
)
# Set by the relay (or by GDP) whatever the browser says.
SERVER_FIELDS = frozenset(
    {
        "event_time", "action_source", "opt_out", "data_processing_options",
        "data_processing_options_country", "data_processing_options_state", "test_event_code",
        "referrer_url", "original_event_data", "customer_segmentation", "app_data", "data",
    }
)  # fmt: skip
# The user_data keys the relay fills in itself; a browser's values for them are ignored.
RELAY_USER_KEYS = frozenset({"client_ip_address", "client_user_agent", "fbp", "fbc"})
_PII_HINT = "the product's server (POST /api/v1/meta/event), not the browser"


@dataclass(frozen=True, slots=True)
class BrowserSignals:
    """What the relay knows about the visitor from the request itself."""

    ip: str | None
    user_agent: str | None
    fbp: str | None
    fbc: str | None
    referer: str | None


def cookie_values(headers: list[str]) -> dict[str, str]:
    """`_fbp` and `_fbc` from Cookie headers (the first of each wins; broken pairs skipped)."""
    found: dict[str, str] = {}
    for header in headers:
        for pair in header.split(";"):
            name, sep, value = pair.partition("=")
            name = name.strip()
            if not sep or name not in ("_fbp", "_fbc") or name in found:
                continue
            value = value.strip()
            if value.startswith('"') and value.endswith('"') and len(value) >= 2:
                try:
                    parsed = SimpleCookie(f"{name}={value}")
                    value = parsed[name].value
                except (CookieError, KeyError):
                    continue
            found[name] = value
    return found


def browser_signals(
    ip: str | None, user_agent: str | None, cookie_headers: list[str], referer: str | None
) -> BrowserSignals:
    cookies = cookie_values(cookie_headers)
    agent = user_agent.strip() if user_agent else None
    if not agent or len(agent) > MAX_TEXT or has_control(agent):
        agent = None
    return BrowserSignals(
        ip=ip,
        user_agent=agent,
        fbp=validate_fbp(cookies["_fbp"]) if "_fbp" in cookies else None,
        fbc=validate_fbc(cookies["_fbc"]) if "_fbc" in cookies else None,
        referer=referer if referer and _http_url(referer) else None,
    )


def _http_url(text: str) -> bool:
    if len(text) > MAX_TEXT or has_control(text) or any(c.isspace() for c in text):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _fbclid(url: str | None) -> str | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("fbclid")
    return values[0] if values else None


def relay_event(
    body: Any,
    *,
    product: str,
    events: Mapping[str, str],
    signals: BrowserSignals,
    now: float | None = None,
) -> dict[str, Any]:
    """The GAP-001 event to forward; FieldError (422, or 403 for another product) otherwise."""
    if not isinstance(body, dict):
        raise FieldError("body", "must be a JSON object")
    for key in body:
        if key not in BROWSER_FIELDS:
            rule = (
                "is set by the server, not the browser"
                if key in SERVER_FIELDS
                else "is not an accepted field"
            )
            raise FieldError(str(key)[:100], rule)

    name = body.get("event_name")
    if not isinstance(name, str):
        raise FieldError("event_name", "is required (a string)")
    meta_name = events.get(name)
    if meta_name is None:
        raise FieldError(
            "event_name", "is not an event this product sends to Meta (its key events or a "
            "Meta standard event)",
        )  # fmt: skip

    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID:
        raise FieldError("event_id", f"is required: 1 to {MAX_EVENT_ID} characters")
    if has_control(event_id) or "\n" in event_id or "\t" in event_id or "\r" in event_id:
        raise FieldError("event_id", "must not contain control characters")

    url = body.get("event_source_url")
    if url is not None:
        if not isinstance(url, str) or not _http_url(url):
            raise FieldError("event_source_url", "must be an http(s) URL without spaces")
        if looks_like_email(url):
            raise FieldError("event_source_url", f"contains an email address: {_PII_HINT}")
    else:
        url = signals.referer if signals.referer and not looks_like_email(signals.referer) else None

    user = body.get("user_data")
    if user is not None:
        if not isinstance(user, dict):
            raise FieldError("user_data", "must be a JSON object")
        for key in user:
            if key not in RELAY_USER_KEYS:
                raise FieldError(
                    f"user_data.{str(key)[:100]}",
                    "is not accepted from the browser: the relay sends only the visitor's IP "
                    f"address, user agent, fbp and fbc; personal data goes through {_PII_HINT}",
                )

    custom = body.get("custom_data")
    properties: dict[str, Any] = {}
    if custom is not None:
        if not isinstance(custom, dict):
            raise FieldError("custom_data", "must be a JSON object")
        source = custom.get("source_product")
        if source is not None and source != product:
            raise FieldError(
                "custom_data.source_product", "must be this site's product", status=403
            )
        check_properties(custom, "custom_data", pii_hint=_PII_HINT)
        properties = {k: v for k, v in custom.items() if k != "source_product"}
    properties["source_product"] = product

    sent_at = time.time() if now is None else now
    user_data: dict[str, str] = {}
    if signals.ip:
        user_data["client_ip_address"] = signals.ip
    if signals.user_agent:
        user_data["client_user_agent"] = signals.user_agent
    if signals.fbp:
        user_data["fbp"] = signals.fbp
    # No _fbc cookie (consent banner pending, cookies blocked): a click id on the page's URL is
    # still a click; Meta asks for subdomain index 1 when the server builds the value.
    now_ms = int(sent_at * 1000)
    fbc = fbc_for_event(signals.fbc, _fbclid(url), now_ms=now_ms, event_time_ms=now_ms)
    if fbc:
        user_data["fbc"] = fbc

    forwarded: dict[str, Any] = {
        "event_name": meta_name,
        "event_time": int(sent_at),
        "event_id": event_id,
        "action_source": ACTION_SOURCE,
        "user_data": user_data,
        "custom_data": properties,
    }
    if url:
        forwarded["event_source_url"] = url
    return forwarded
