"""Meta-ready `user_data`: normalize, then SHA-256 the keys Meta hashes (DESIGN invariant 3).

The one module that turns person data into what Meta matches on, for CAPI and Custom Audiences
alike. Rules per key are in `_rules.py` (with every UNVERIFIED/CONFLICT choice documented),
phone numbers in `_phone.py`, dates of birth in `_dob.py`, fbc/fbp in `fbc.py`, audience rows in
`audience.py`.

    >>> out = normalize_user_data({"email": " John_Smith@gmail.com", "phone": "(650)555-1212"})
    >>> out.user_data["em"]
    '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f'
    >>> out.user_data["ph"]
    'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176'

Contract:

* Hashed keys (`em ph fn ln ge db ct st zp country external_id`) come out as lowercase hex
  SHA-256 of the normalized value; a value that already is a 64-hex digest passes through
  lower-cased (never double-hashed). Pass-through keys (`client_ip_address`,
  `client_user_agent`, `fbc`, `fbp`, Meta ids) are validated and sent unhashed.
* One value -> str, several -> list (PII keys and external_id only; other keys keep the first
  valid value), deduplicated after normalization in input order. Keys come out in the order
  they first appear in the input.
* A bad value never raises and never fails the event: it is left out and reported in `dropped`
  with a reason that names the key, never the value (reasons are safe to log). `None` and blank
  strings are treated as absent and not reported.
* Only a programming error raises: a non-mapping input (TypeError) or an unknown
  `default_region` (ValueError).
* `normalized` holds the pre-hash values for `gdp meta normalize --explain` only: it is raw-ish
  PII, kept out of the dataclass repr, and must never be logged or stored.
* Per-value results are memoized in a bounded in-process LRU (see "memo" below; PII in memory
  only; `GDP_META_NORMALIZE_CACHE=0` or `configure_cache(0)` turns it off).

Speed: when built (`make native`; `pip install` builds it when a C compiler and OpenSSL's headers
are there), a compiled single pass (workers/meta/native/, loaded by `_fast.py`) normalizes and
hashes the common printable-ASCII shapes of each key itself and hands every other value, and
every refusal, to the Python rules here, so the results are identical
(tests/test_normalize_native.py); `GDP_META_NATIVE=0` turns it off. bench/RESULTS.md has the
numbers against the official SDK.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from workers.meta import _fast
from workers.meta._phone import check_region
from workers.meta._rules import (
    HASHED,
    UNHASHED,
    Dropped,
    Invalid,
    Rule,
    is_sha256_hex,
    sha256_hex,
)
from workers.meta._values import MAX_VALUE_LENGTH, values_of
from workers.meta.audience import AUDIENCE_KEYS, normalize_audience_rows

__all__ = [
    "AUDIENCE_KEYS",
    "HASHED_KEYS",
    "KEY_ALIASES",
    "UNHASHED_KEYS",
    "Dropped",
    "Explained",
    "NormalizedUserData",
    "cache_info",
    "check_region",
    "configure_cache",
    "explain_user_data",
    "is_sha256_hex",
    "normalize_audience_rows",
    "normalize_user_data",
    "sha256_hex",
]

HASHED_KEYS: tuple[str, ...] = tuple(HASHED)
UNHASHED_KEYS: tuple[str, ...] = tuple(UNHASHED)
_KEY_ORDER: tuple[str, ...] = HASHED_KEYS + UNHASHED_KEYS
# Keys where Meta accepts a list of values; the others take one string.
_MULTI: frozenset[str] = frozenset(HASHED_KEYS)

# The PRD's field names -> Meta's keys. `person_id` is deliberately absent: it is our internal
# id, not PII Meta knows; a caller who wants it matched must send it as `external_id`.
KEY_ALIASES: dict[str, str] = {
    "email": "em", "phone": "ph", "first_name": "fn", "last_name": "ln", "gender": "ge",
    "date_of_birth": "db", "city": "ct", "state": "st", "zip": "zp",
}  # fmt: skip
_NOT_SENT: dict[str, str] = {
    "person_id": "person_id is never sent to Meta; map it to external_id explicitly",
}
_KEY_MAP: dict[str, str] = {**{k: k for k in _KEY_ORDER}, **KEY_ALIASES}
# raw key -> (Meta key, rule depends on the person's country, rule depends on the phone region)
_KEY_INFO: dict[str, tuple[str, bool, bool]] = {
    raw: (key, key in ("ph", "st", "zp"), key == "ph") for raw, key in _KEY_MAP.items()
}
_ORDER: dict[str, int] = {k: i for i, k in enumerate(_KEY_ORDER)}
_RULES: dict[str, tuple[Rule, bool]] = {
    **{k: (rule, True) for k, rule in HASHED.items()},
    **{k: (rule, False) for k, rule in UNHASHED.items()},
}
_REGIONS: dict[str, str] = {}  # default_region as given -> checked code
# The compiled single pass (workers/meta/native/), same results; None without it.
_native_pass = _fast.load(_KEY_MAP)
_sha256 = hashlib.sha256
_KEY_SHAPE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)

UserDataValue = str | list[str]


@dataclass(frozen=True, slots=True)
class NormalizedUserData:
    """Meta-ready `user_data`, what was left out and why, and (for --explain) the pre-hash forms."""

    user_data: dict[str, UserDataValue]
    dropped: tuple[Dropped, ...] = ()
    normalized: dict[str, UserDataValue] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Explained:
    """What happened to one raw value (for `gdp meta normalize --explain` only: holds PII)."""

    key: str
    value: str
    normalized: str | None  # None when dropped
    sent: str | None  # the hash (hashed keys) or the value sent (pass-through keys)
    reason: str | None  # why it was left out; "duplicate" when it repeats an earlier value


def normalize_user_data(
    raw: Mapping[str, object], *, default_region: str = "US"
) -> NormalizedUserData:
    """Normalize and hash raw `user_data` (Meta's key names or the PRD's) as Meta requires."""
    if type(raw) is dict and type(default_region) is str:
        # The same input always takes the same path (the first call for a region included), so
        # the order of `dropped` never depends on what came before.
        region = _REGIONS.get(default_region) or _checked_region(default_region)
        if _native_pass is not None:
            parts = _native_pass(raw, region, _lookup)
            if parts is not None:
                return NormalizedUserData(*parts)
        result = _single_pass(raw, region)
        if result is not None:
            return result
    return _normalize(raw, default_region, None)


def _checked_region(default_region: str) -> str:
    """The upper-case phone region (ValueError if it has no plan), remembered per spelling."""
    region = check_region(default_region)
    if len(_REGIONS) < 1000:
        _REGIONS[default_region] = region
    return region


def _single_pass(raw: dict[str, object], region: str) -> NormalizedUserData | None:
    """The common case in one pass over the input: each Meta key given once (under one
    spelling), country first because phones, states and zips depend on it. None when a key
    comes twice (e.g. `email` and `em`): `_normalize` merges those."""
    dropped: list[Dropped] = []
    user_data: dict[str, UserDataValue] = {}
    normalized: dict[str, UserDataValue] = {}
    country: str | None = None
    country_result: tuple[dict[str, UserDataValue], dict[str, UserDataValue], list[Dropped]]
    country_result = ({}, {}, [])
    if "country" in raw:
        value = raw["country"]
        if type(value) is str and 0 < len(value) < 64 and not value.isspace():
            outcome = _lookup("country", value, None, "")
            if isinstance(outcome, str):
                country_result[2].append(Dropped("country", outcome))
            else:
                country_result[1]["country"], country_result[0]["country"] = outcome
        else:
            texts = values_of("country", value, country_result[2])
            if texts:
                _one_key("country", texts, None, region, *country_result, None)
        first = country_result[1].get("country")
        first = first[0] if isinstance(first, list) else first
        country = first if first is not None and len(first) == 2 else None  # not if hashed
    seen: set[str] = set()
    lookup, key_info, str_, dropped_ = _lookup, _KEY_INFO, str, Dropped
    for raw_key, value in raw.items():
        info = key_info.get(raw_key)
        if info is None:
            key = _canonical_key(raw_key, dropped)
            if key is None:
                continue
            if key == "country":
                return None  # spelled differently: its context was not computed first
            info = _KEY_INFO[key]
        key, uses_country, is_phone = info
        if key in seen:
            return None
        seen.add(key)
        if key == "country":
            user_data.update(country_result[0])
            normalized.update(country_result[1])
            dropped.extend(country_result[2])
        elif type(value) is str_ and (
            len(value) < 64 or (len(value) <= MAX_VALUE_LENGTH and not is_sha256_hex(value.strip()))
        ):
            if not value or value.isspace():
                continue
            outcome = lookup(
                key, value, country if uses_country else None, region if is_phone else ""
            )
            if isinstance(outcome, str_):
                dropped.append(dropped_(key, outcome))
            else:
                normalized[key], user_data[key] = outcome
        else:
            texts = values_of(key, value, dropped)
            if texts:
                _one_key(key, texts, country, region, user_data, normalized, dropped, None)
    return NormalizedUserData(user_data=user_data, dropped=tuple(dropped), normalized=normalized)


def explain_user_data(
    raw: Mapping[str, object], *, default_region: str = "US"
) -> tuple[NormalizedUserData, tuple[Explained, ...]]:
    """`normalize_user_data` plus, per raw value, its normalized form, what is sent, or why not.

    The explanation holds raw PII: show it to the operator who asked, never log or store it.
    """
    trace: list[Explained] = []
    result = _normalize(raw, default_region, trace)
    return result, tuple(sorted(trace, key=lambda e: _ORDER[e.key]))


def _normalize(
    raw: Mapping[str, object], default_region: str, trace: list[Explained] | None
) -> NormalizedUserData:
    if not isinstance(raw, Mapping):
        raise TypeError(f"user_data must be a mapping, not {type(raw).__name__}")
    region = _REGIONS.get(default_region) if isinstance(default_region, str) else None
    if region is None:
        region = _checked_region(default_region)
    dropped: list[Dropped] = []
    grouped: dict[str, list[str]] = {}
    for raw_key, value in raw.items():
        key = _KEY_MAP.get(raw_key) if isinstance(raw_key, str) else None
        if key is None:
            key = _canonical_key(raw_key, dropped)
            if key is None:
                continue
        if type(value) is str and value.isascii() and len(value) <= MAX_VALUE_LENGTH:
            if not value or value.isspace():
                continue
            texts = [value]  # the common case, without the general checks of values_of
        else:
            texts = values_of(key, value, dropped)
            if not texts:
                continue
        group = grouped.get(key)
        if group is None:
            grouped[key] = texts
        else:
            group.extend(texts)

    user_data: dict[str, UserDataValue] = {}
    normalized: dict[str, UserDataValue] = {}
    country: str | None = None
    countries: tuple[UserDataValue, UserDataValue] | None = None
    if "country" in grouped:  # first: phones, states and zips depend on the person's country
        sent: dict[str, UserDataValue] = {}
        forms: dict[str, UserDataValue] = {}
        _one_key("country", grouped["country"], None, region, sent, forms, dropped, trace)
        if forms:
            first = forms["country"]
            first = first[0] if isinstance(first, list) else first
            country = first if len(first) == 2 else None  # not when already hashed
            countries = (sent["country"], forms["country"])
    lookup = _lookup
    for key, group in grouped.items():  # keys in the order they first appear in the input
        if key == "country":
            if countries is not None:
                user_data["country"], normalized["country"] = countries
            continue
        text = group[0]
        if (
            trace is None
            and len(group) == 1
            and (len(text) < 64 or not is_sha256_hex(text.strip()))
        ):  # fast path: one value to normalize, nothing to explain
            outcome = lookup(
                key,
                text,
                country if key in _CONTEXT_COUNTRY else None,
                region if key == "ph" else "",
            )
            if isinstance(outcome, str):
                dropped.append(Dropped(key, outcome))
            else:
                normalized[key], user_data[key] = outcome
        else:
            _one_key(key, group, country, region, user_data, normalized, dropped, trace)
    return NormalizedUserData(user_data=user_data, dropped=tuple(dropped), normalized=normalized)


def _canonical_key(raw_key: object, dropped: list[Dropped]) -> str | None:
    if isinstance(raw_key, str):
        key = raw_key.strip().lower()
        if key in HASHED or key in UNHASHED:
            return key
        alias = KEY_ALIASES.get(key)
        if alias is not None:
            return alias
        if key in _NOT_SENT:
            dropped.append(Dropped(key, _NOT_SENT[key]))
            return None
        shown = raw_key if _KEY_SHAPE.fullmatch(raw_key) else "<unprintable key>"
    else:
        shown = f"<{type(raw_key).__name__} key>"
    dropped.append(Dropped(shown, "unknown user_data key"))
    return None


# --- memo of per-value results ---------------------------------------------------------------
# The same person's values come back event after event (PageView, AddToCart, Purchase...) and
# names, cities, states and countries repeat across people, so the result of normalizing (and
# hashing) one raw value is memoized in a bounded LRU: key, raw text and, only for the keys whose
# rule depends on them, the person's country (ph, st, zp) and the phone region (ph). It holds
# PII in this process's memory only (never logged or stored). Size from the environment variable
# GDP_META_NORMALIZE_CACHE (entries, default 65536; 0 turns it off), or `configure_cache()`.
_CONTEXT_COUNTRY = frozenset({"ph", "st", "zp"})
Outcome = tuple[str, str] | str  # (normalized form, value sent) or the reason it was dropped


def _compute(key: str, text: str, country: str | None, region: str) -> Outcome:
    rule, hashed = _RULES[key]
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"{key}: not valid Unicode text"
    try:
        form = rule(text, country, region)
    except Invalid as exc:
        return f"{key}: {exc.reason}"
    return form, (_sha256(form.encode()).hexdigest() if hashed else form)


_lookup: Callable[[str, str, str | None, str], Outcome] = _compute


def configure_cache(maxsize: int) -> None:
    """Memoize up to `maxsize` per-value results (0: no memo). Clears the current memo."""
    global _lookup
    if maxsize < 0:
        raise ValueError("maxsize must be >= 0")
    _lookup = lru_cache(maxsize=maxsize)(_compute) if maxsize else _compute


def cache_info() -> tuple[int, int, int] | None:
    """(hits, misses, current size) of the memo, or None when it is off."""
    info = getattr(_lookup, "cache_info", None)
    if info is None:
        return None
    stats = info()
    return stats.hits, stats.misses, stats.currsize


def _cache_size_from_env() -> int:
    try:
        return max(0, int(os.environ.get("GDP_META_NORMALIZE_CACHE", "65536")))
    except ValueError:
        return 65536


configure_cache(_cache_size_from_env())


def _one_key(
    key: str,
    texts: list[str],
    country: str | None,
    region: str,
    user_data: dict[str, UserDataValue],
    normalized: dict[str, UserDataValue],
    dropped: list[Dropped],
    trace: list[Explained] | None,
) -> None:
    if key not in _CONTEXT_COUNTRY:  # context-free rules: one memo entry per value
        country, region = None, ""
    elif key != "ph":
        region = ""
    hashed = key in HASHED
    sent: list[str] = []
    forms: list[str] = []
    for text in texts:
        reason: str | None = None
        if len(text) >= 64 and is_sha256_hex(text.strip()):
            if hashed:
                form = value = text.strip().lower()  # already hashed: pass through, never re-hash
            else:
                reason = f"{key}: looks like a SHA-256 hash, but Meta requires this key unhashed"
        else:
            outcome = _lookup(key, text, country, region)
            if isinstance(outcome, str):
                reason = outcome
            else:
                form, value = outcome
        if reason is None and value in sent:
            if trace is not None:
                trace.append(Explained(key, text, form, value, "duplicate"))
            continue
        if reason is None and sent and key not in _MULTI:
            reason = f"{key}: only one value allowed; extra value left out"
        if reason is not None:
            dropped.append(Dropped(key, reason))
            if trace is not None:
                trace.append(Explained(key, text, None, None, reason))
            continue
        sent.append(value)
        forms.append(form)
        if trace is not None:
            trace.append(Explained(key, text, form, value, None))
    if sent:
        user_data[key] = sent[0] if len(sent) == 1 else sent
        normalized[key] = forms[0] if len(forms) == 1 else forms
