"""One normalizer per Meta `user_data` key (docs/meta-rules.md §1.4, §1.5, §3.3).

Every normalizer takes the raw text, the person's country (lowercase alpha-2, or None) and the
phone region (upper-case alpha-2), and returns the normalized text or raises `Invalid` with a
reason that never contains the value (reasons are logged; values are PII).

Choices where Meta's sources are silent, UNVERIFIED or in CONFLICT (the safer behaviour wins):

* Already hashed: only a 64-hex SHA-256 digest passes through (lower-cased). The SDK also passes
  32-hex MD5 look-alikes through unhashed; Meta asks for SHA-256 only, so an MD5 is treated as
  an ordinary value (and fails validation for em/ph).
* Names (`fn`/`ln`): docs say "no punctuation" and show `Valéry` -> `valéry`; the SDK keeps
  hyphens (`mary-jane`). CONFLICT: we follow the docs (hyphens, apostrophes, spaces removed),
  keep accents and non-Latin letters.
* City/state (`ct`/`st`): Meta asks for a-z with no special characters. Latin diacritics are
  folded (`Zürich` -> `zurich`); letters of other scripts have no a-z form and are kept rather
  than dropped.
* UK postcodes: the docs say "area/district/sector" but their example `m11ae` is the full
  postcode (sector *and* unit). CONFLICT: we follow the example (full postcode, no space).
* A must-not-hash key (ip, user agent, fbc, fbp, ids) holding a 64-hex value is dropped: it
  looks hashed, and Meta rejects hashed values there.
* `client_ip_address`: syntax checked with `ipaddress`; loopback, unspecified, link-local and
  multicast addresses can never be a visitor's address and are dropped; IPv4-mapped IPv6 is sent
  as the IPv4 it carries.
* `external_id`: trimmed, case kept (ids can be case-sensitive), then hashed. Meta only
  *recommends* hashing it; what matters is that every channel sends the same form, so use this
  module for every channel (the audience `EXTERN_ID` gets the same value, see audience.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from workers.meta import _tables
from workers.meta._dob import DobError, parse_dob
from workers.meta._ip import IpError, normalize_ip
from workers.meta._phone import PhoneError, normalize_phone
from workers.meta._text import alnum_lower, fold_letters, name_chars, nfc_lower, strip
from workers.meta._text import lower as _text_lower
from workers.meta.fbc import CookieError, check_cookie

_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_EMAIL: Final = re.compile(
    r"[^\s@\"(),:;<>\[\]\\]{1,64}@(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+"
    r"(?:[^\W\d_]{2,63}|xn--[a-z0-9\-]{1,59})"
)
_US_ZIP: Final = re.compile(r"([0-9]{5})(?:[\s\-]?[0-9]{4})?", re.ASCII)
_US_ZIP_NO_COUNTRY: Final = re.compile(r"([0-9]{5})(?:-[0-9]{4})?", re.ASCII)
_UK_POSTCODE: Final = re.compile(r"(?:[a-z]{1,2}[0-9][a-z0-9]?[0-9][a-z]{2}|gir0aa)", re.ASCII)
_DIGITS: Final = re.compile(r"[0-9]{1,20}", re.ASCII)
_MADID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII
)
_TOKEN: Final = re.compile(r"[^\s\x00-\x1f\x7f]{1,512}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


class Invalid(ValueError):
    """A value that cannot be sent; `reason` never contains the value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Sets a field of a frozen dataclass in its own __init__. The __init__ a frozen dataclass gets
# from `dataclasses` is Python code run by the interpreter even in the compiled build (about
# 200 ns a call); one written out with this is compiled. Still frozen: assignment raises.
set_field: Final = object.__setattr__


@dataclass(frozen=True, slots=True, init=False)
class Dropped:
    """A value (or key) left out, and why. `reason` never contains the value itself."""

    key: str
    reason: str

    def __init__(self, key: str, reason: str) -> None:
        set_field(self, "key", key)
        set_field(self, "reason", reason)


def sha256_hex(value: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of `value`."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_sha256_hex(value: object) -> bool:
    """True for exactly 64 hex digits (either case), i.e. a value that is already hashed."""
    return isinstance(value, str) and len(value) == 64 and _SHA256.fullmatch(value) is not None


Rule = Callable[[str, "str | None", str], str]


def em(value: str, country: str | None, region: str) -> str:
    text = nfc_lower(value)
    if _EMAIL.fullmatch(text) is None:
        raise Invalid("not a valid email address")
    return text


def ph(value: str, country: str | None, region: str) -> str:
    # Region for numbers without a country code: the person's country, else the default.
    if country is not None:
        region = country.upper()
    try:
        return normalize_phone(value, region)
    except PhoneError as exc:
        raise Invalid(str(exc)) from None


def name(value: str, country: str | None, region: str) -> str:
    text = name_chars(value)
    if not text or text.isdigit():
        raise Invalid("no letters left after removing punctuation and spaces")
    return text


def ge(value: str, country: str | None, region: str) -> str:
    gender = _tables.GENDERS.get(value.strip().lower()) or _tables.GENDERS.get(fold_letters(value))
    if gender is None:
        raise Invalid("not a gender word that maps to f or m")
    return gender


def db(value: str, country: str | None, region: str) -> str:
    try:
        year, month, day = parse_dob(value)
    except DobError as exc:
        raise Invalid(str(exc)) from None
    return str(year * 10000 + month * 100 + day)  # YYYYMMDD: the year is 1900 or later


def ct(value: str, country: str | None, region: str) -> str:
    text = fold_letters(value)
    if not text:
        raise Invalid("no letters left after removing punctuation, digits and spaces")
    return text


def st(value: str, country: str | None, region: str) -> str:
    text = fold_letters(value)
    if not text:
        raise Invalid("no letters left after removing punctuation, digits and spaces")
    if country is None or country == "us":
        code = text if text in _tables.US_STATE_CODES else _tables.US_STATES.get(text)
        if code is not None:
            return code
        if country == "us":
            raise Invalid("not a US state, territory or 2-letter state code")
    if country is None or country == "ca":
        code = text if text in _tables.CA_PROVINCE_CODES else _tables.CA_PROVINCES.get(text)
        if code is not None:
            return code
    return text  # outside the US: lowercase, no punctuation, special characters or spaces


def zp(value: str, country: str | None, region: str) -> str:
    text = _text_lower(strip(value))
    if country == "us" or (country is None and _US_ZIP_NO_COUNTRY.fullmatch(text)):
        match = _US_ZIP.fullmatch(text)
        if match is None:
            raise Invalid("not a US ZIP code (5 digits or ZIP+4)")
        return match.group(1)  # Meta: US zip codes are the first 5 digits only
    compact = alnum_lower(text)
    if country == "gb" or (country is None and _UK_POSTCODE.fullmatch(compact)):
        if _UK_POSTCODE.fullmatch(compact) is None:
            raise Invalid("not a UK postcode")
        return compact
    if not compact:
        raise Invalid("no letters or digits")
    return compact


def country_code(value: str, country: str | None, region: str) -> str:
    text = value.strip().lower()
    if len(text) == 2 and text in _tables.alpha_2_codes():
        return text
    code = _tables.countries().get(fold_letters(value))
    if code is None:
        raise Invalid("not an ISO 3166-1 country code or known country name")
    return code


def external_id(value: str, country: str | None, region: str) -> str:
    text = strip(value)
    if not text or _CONTROL.search(text):
        raise Invalid("empty or contains control characters")
    return text


def client_ip_address(value: str, country: str | None, region: str) -> str:
    try:
        return normalize_ip(value)
    except IpError as exc:
        raise Invalid(str(exc)) from None


def client_user_agent(value: str, country: str | None, region: str) -> str:
    text = value.strip()
    if not text or _CONTROL.search(text):
        raise Invalid("empty or contains control characters")
    return text


def fbc(value: str, country: str | None, region: str) -> str:
    try:
        return check_cookie("fbc", value)
    except CookieError as exc:
        raise Invalid(str(exc).removeprefix("fbc: ")) from None


def fbp(value: str, country: str | None, region: str) -> str:
    try:
        return check_cookie("fbp", value)
    except CookieError as exc:
        raise Invalid(str(exc).removeprefix("fbp: ")) from None


def numeric_id(value: str, country: str | None, region: str) -> str:
    text = value.strip()
    if _DIGITS.fullmatch(text) is None:
        raise Invalid("not a numeric Meta id")
    return text


def madid(value: str, country: str | None, region: str) -> str:
    # Meta (audiences): do not hash; lowercase, keep hyphens. IDFA and GAID are UUIDs; the
    # all-zero UUID is what a device with limited ad tracking reports, not an id.
    text = value.strip().lower()
    if _MADID.fullmatch(text) is None:
        raise Invalid("not a mobile advertiser id (IDFA/GAID UUID)")
    if text == "00000000-0000-0000-0000-000000000000":
        raise Invalid("all-zero advertiser id (limited ad tracking)")
    return text


def token(value: str, country: str | None, region: str) -> str:
    text = value.strip()
    if _TOKEN.fullmatch(text) is None:
        raise Invalid("empty, too long, or contains spaces or control characters")
    return text


# Keys Meta requires (or, for external_id, recommends) to be SHA-256 hashed after normalizing.
HASHED: Final[dict[str, Rule]] = {
    "em": em, "ph": ph, "fn": name, "ln": name, "ge": ge, "db": db, "ct": ct, "st": st,
    "zp": zp, "country": country_code, "external_id": external_id,
}  # fmt: skip
# Keys Meta says must never be hashed; they are validated and sent as they are.
UNHASHED: Final[dict[str, Rule]] = {
    "client_ip_address": client_ip_address, "client_user_agent": client_user_agent,
    "fbc": fbc, "fbp": fbp, "subscription_id": token, "fb_login_id": numeric_id,
    "lead_id": numeric_id, "anon_id": token, "madid": madid, "page_id": numeric_id,
    "page_scoped_user_id": numeric_id, "ctwa_clid": token, "ig_account_id": numeric_id,
    "ig_sid": token,
}  # fmt: skip
