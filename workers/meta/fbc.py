"""The `fbc` (click id) and `fbp` (browser id) values: build, validate, keep or drop.

Formats (docs/meta-rules.md §1.6, §2.5): `fb.{subdomainIndex}.{creationTimeMs}.{payload}` with an
optional fifth `.appendix` part added by Meta's parameter builder, which Meta accepts.

* `fbc` payload: the `fbclid` from the landing URL, **case kept** (it is case-sensitive). Real
  fbclids are base64url text; anything else (spaces, dots, quotes) is rejected.
* `fbp` payload: a random integer.
* `subdomainIndex`: 0 (`com`), 1 (`example.com`), 2 (`www.example.com`); a server-built value
  uses 1.
* `creationTimeMs` is in **milliseconds**: a 10-digit seconds value is rejected, as is a time
  before 2010 or after 2100 (a corrupt cookie, not a browser's).
* Appendix: 2 characters (a language token such as `AQ`) or 8 characters (v2), base64url.
  The parameter builder only knows a few 2-character tokens; any base64url pair is accepted so a
  newer builder's cookies are not thrown away.

Freshness: the `_fbc` cookie lives 90 days and is rewritten only when the URL carries a
different fbclid. `fbc_for_event` applies that server-side: it never re-dates a click (a stale
click is dropped, not renewed with a new timestamp) and never invents a click.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

FBC_MAX_AGE_MS: Final = 90 * 24 * 60 * 60 * 1000
MIN_CREATED_MS: Final = 1_262_304_000_000  # 2010-01-01T00:00:00Z
MAX_CREATED_MS: Final = 4_102_444_800_000  # 2100-01-01T00:00:00Z
FUTURE_SKEW_MS: Final = 5 * 60 * 1000  # a cookie "created" later than now + 5 min is corrupt

_COOKIE: Final = re.compile(
    r"fb\.(0|[1-9][0-9]?)\.([0-9]+)\.([A-Za-z0-9_\-]+)(?:\.([A-Za-z0-9_\-]{2}|[A-Za-z0-9_\-]{8}))?",
    re.ASCII,
)
_FBCLID: Final = re.compile(r"[A-Za-z0-9_\-]{1,500}", re.ASCII)
_RANDOM: Final = re.compile(r"[0-9]{1,19}", re.ASCII)


class CookieError(ValueError):
    """An fbc/fbp value that is not usable; the message never contains the value."""


@dataclass(frozen=True, slots=True)
class Fbc:
    subdomain_index: int
    created_ms: int
    fbclid: str
    appendix: str | None = None

    @property
    def value(self) -> str:
        base = f"fb.{self.subdomain_index}.{self.created_ms}.{self.fbclid}"
        return base if self.appendix is None else f"{base}.{self.appendix}"


@dataclass(frozen=True, slots=True)
class Fbp:
    subdomain_index: int
    created_ms: int
    random: str
    appendix: str | None = None

    @property
    def value(self) -> str:
        base = f"fb.{self.subdomain_index}.{self.created_ms}.{self.random}"
        return base if self.appendix is None else f"{base}.{self.appendix}"


def _parts(kind: str, value: object) -> tuple[int, int, str, str | None]:
    if not isinstance(value, str):
        raise CookieError(f"{kind}: not a string")
    match = _COOKIE.fullmatch(value.strip())
    if match is None:
        raise CookieError(f"{kind}: not in fb.<subdomain>.<creation ms>.<id>[.<appendix>] format")
    index, created, payload, appendix = match.groups()
    if len(created) == 10:
        raise CookieError(f"{kind}: creation time is in seconds, Meta requires milliseconds")
    created_ms = int(created)
    if not MIN_CREATED_MS <= created_ms < MAX_CREATED_MS:
        raise CookieError(f"{kind}: creation time is not a plausible millisecond timestamp")
    return int(index), created_ms, payload, appendix


def check_cookie(kind: str, value: str) -> str:
    """The trimmed fbc/fbp text if valid (it round-trips through Fbc/Fbp.value exactly)."""
    text = value.strip()
    payload = _parts(kind, text)[2]
    if kind == "fbp" and not _RANDOM.fullmatch(payload):
        raise CookieError("fbp: the browser id part is not a number")
    return text


def check_fbc(value: object) -> Fbc:
    """The parsed `fbc`, or CookieError with a value-free reason."""
    index, created_ms, payload, appendix = _parts("fbc", value)
    return Fbc(index, created_ms, payload, appendix)


def check_fbp(value: object) -> Fbp:
    """The parsed `fbp`, or CookieError with a value-free reason."""
    index, created_ms, payload, appendix = _parts("fbp", value)
    if not _RANDOM.fullmatch(payload):
        raise CookieError("fbp: the browser id part is not a number")
    return Fbp(index, created_ms, payload, appendix)


def parse_fbc(value: object) -> Fbc | None:
    """The parsed `fbc` (`fb.<idx>.<ms>.<fbclid>[.<appendix>]`), or None if it is not valid."""
    try:
        return check_fbc(value)
    except CookieError:
        return None


def parse_fbp(value: object) -> Fbp | None:
    """The parsed `fbp` (`fb.<idx>.<ms>.<random>[.<appendix>]`), or None if it is not valid."""
    try:
        return check_fbp(value)
    except CookieError:
        return None


def validate_fbc(value: object) -> str | None:
    """The trimmed `fbc` if it is valid, else None."""
    parsed = parse_fbc(value)
    return None if parsed is None else parsed.value


def validate_fbp(value: object) -> str | None:
    """The trimmed `fbp` if it is valid, else None."""
    parsed = parse_fbp(value)
    return None if parsed is None else parsed.value


def is_valid_fbclid(fbclid: object) -> bool:
    return isinstance(fbclid, str) and _FBCLID.fullmatch(fbclid) is not None


def build_fbc(fbclid: str, *, created_ms: int, subdomain_index: int = 1) -> str:
    """`fb.<subdomain_index>.<created_ms>.<fbclid>`, the fbclid's case kept.

    `created_ms` is when the click was first seen (the landing event's time), in milliseconds.
    Raises ValueError for an fbclid that is not base64url text or an implausible time.
    """
    if not is_valid_fbclid(fbclid):
        raise ValueError("fbclid must be non-empty base64url text (letters, digits, '-', '_')")
    if isinstance(created_ms, bool) or not isinstance(created_ms, int):
        raise TypeError("created_ms must be an int (milliseconds since the epoch)")
    if not MIN_CREATED_MS <= created_ms < MAX_CREATED_MS:
        raise ValueError("created_ms must be milliseconds since the epoch (2010..2100)")
    if not 0 <= subdomain_index <= 99:
        raise ValueError("subdomain_index must be between 0 and 99")
    return f"fb.{subdomain_index}.{created_ms}.{fbclid}"


def fbc_for_event(
    existing_fbc: str | None, fbclid: str | None, *, now_ms: int, event_time_ms: int
) -> str | None:
    """The `fbc` to send with an event, or None when there is no usable click.

    * An existing valid cookie is kept as it is (its own timestamp and appendix), unless the
      event carries a *different* fbclid: then the new click replaces it.
    * A new click is dated when it was first seen: the event's time (never later than now),
      not the time of sending, so a replayed or queued event does not re-date it.
    * A click older than 90 days at the event's time is dropped; it is never renewed with a new
      timestamp, even when the same fbclid is seen again on the URL (Meta rewrites the cookie
      only for a *different* fbclid).
    * A cookie dated in the future (beyond a few minutes of clock skew) is corrupt and ignored.
    * An fbclid that is not base64url text is ignored; its case is never changed.
    """
    existing = parse_fbc(existing_fbc) if existing_fbc else None
    if existing is not None and existing.created_ms > now_ms + FUTURE_SKEW_MS:
        existing = None
    click = fbclid.strip() if isinstance(fbclid, str) else ""
    if not is_valid_fbclid(click):
        click = ""
    if existing is not None and (not click or click == existing.fbclid):
        if event_time_ms - existing.created_ms > FBC_MAX_AGE_MS:
            return None  # stale: the cookie would have expired; never re-date it
        return existing.value
    if not click:
        return None
    seen_ms = min(event_time_ms, now_ms)
    if now_ms - seen_ms > FBC_MAX_AGE_MS:
        return None  # the click itself is older than the cookie's lifetime
    try:
        return build_fbc(click, created_ms=seen_ms)
    except ValueError:
        return None
