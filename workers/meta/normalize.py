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
* Only a programming error raises: a non-mapping input or a non-str `default_region`
  (TypeError), or an unknown `default_region` (ValueError).
* `normalized` holds the pre-hash values (for `gdp meta normalize --explain` and the person
  fields of the ingest path): raw-ish PII, kept out of the dataclass repr; never log or store it.
* Per-value results are memoized in a bounded in-process memo (see "memo" below; PII in memory
  only; `GDP_META_NORMALIZE_CACHE=0` or `configure_cache(0)` turns it off).

Speed: this package is compiled with mypyc when built (`make compiled`, or `pip install` with a C
compiler): the same source, so the same results (tests/test_normalize_compiled.py compares the
two builds); `GDP_META_COMPILED=0` runs the source. bench/RESULTS.md has the numbers against the
official SDK.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, cast

from workers.meta._phone import check_region
from workers.meta._rules import (
    HASHED,
    UNHASHED,
    Dropped,
    Invalid,
    Rule,
    is_sha256_hex,
    set_field,
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

HASHED_KEYS: Final[tuple[str, ...]] = tuple(HASHED)
UNHASHED_KEYS: Final[tuple[str, ...]] = tuple(UNHASHED)
_KEY_ORDER: Final[tuple[str, ...]] = HASHED_KEYS + UNHASHED_KEYS
# Keys where Meta accepts a list of values; the others take one string.
_MULTI: Final[frozenset[str]] = frozenset(HASHED_KEYS)

# The PRD's field names -> Meta's keys. `person_id` is deliberately absent: it is our internal
# id, not PII Meta knows; a caller who wants it matched must send it as `external_id`.
KEY_ALIASES: Final[dict[str, str]] = {
    "email": "em", "phone": "ph", "first_name": "fn", "last_name": "ln", "gender": "ge",
    "date_of_birth": "db", "city": "ct", "state": "st", "zip": "zp",
}  # fmt: skip
_NOT_SENT: Final[dict[str, str]] = {
    "person_id": "person_id is never sent to Meta; map it to external_id explicitly",
}
_KEY_MAP: Final[dict[str, str]] = {**{k: k for k in _KEY_ORDER}, **KEY_ALIASES}
_ORDER: Final[dict[str, int]] = {k: i for i, k in enumerate(_KEY_ORDER)}
_RULES: Final[dict[str, Rule]] = {**HASHED, **UNHASHED}
# Keys whose rule depends on the person's country (and, for ph, the default phone region).
_CONTEXT_COUNTRY: Final[frozenset[str]] = frozenset({"ph", "st", "zp"})
_KEY_SHAPE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
_sha256: Final = hashlib.sha256
_REGIONS: Final[dict[str, str]] = {}  # default_region as given -> checked code

UserDataValue = str | list[str]
Outcome = tuple[str, str] | str  # (normalized form, value sent) or the reason it was dropped


@dataclass(frozen=True, slots=True, init=False)
class NormalizedUserData:
    """Meta-ready `user_data`, what was left out and why, and the pre-hash forms."""

    user_data: dict[str, UserDataValue]
    dropped: tuple[Dropped, ...]
    normalized: dict[str, UserDataValue] = field(repr=False)

    def __init__(
        self,
        user_data: dict[str, UserDataValue],
        dropped: tuple[Dropped, ...] = (),
        normalized: dict[str, UserDataValue] | None = None,
    ) -> None:
        # Written out (see _rules.Dropped): one per event, so the generated one cost 3%.
        set_field(self, "user_data", user_data)
        set_field(self, "dropped", dropped)
        set_field(self, "normalized", {} if normalized is None else normalized)


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
    return _Event(raw, default_region, None).run()


def explain_user_data(
    raw: Mapping[str, object], *, default_region: str = "US"
) -> tuple[NormalizedUserData, tuple[Explained, ...]]:
    """`normalize_user_data` plus, per raw value, its normalized form, what is sent, or why not.

    The explanation holds raw PII: show it to the operator who asked, never log or store it.
    """
    trace: list[Explained] = []
    result = _Event(raw, default_region, trace).run()
    return result, tuple(sorted(trace, key=lambda e: _ORDER[e.key]))


def _region(default_region: object) -> str:
    """The upper-case phone region (ValueError if it has no plan), remembered per spelling."""
    if not isinstance(default_region, str):
        raise TypeError("default_region must be a str")
    region = _REGIONS.get(default_region)
    if region is None:
        region = check_region(default_region)
        if len(_REGIONS) < 1000:
            _REGIONS[default_region] = region
    return region


class _Event:
    """One call: the raw values grouped by Meta key, then normalized key by key."""

    def __init__(
        self, raw: Mapping[str, object], default_region: str, trace: list[Explained] | None
    ) -> None:
        if type(raw) is not dict and not isinstance(raw, Mapping):
            raise TypeError(f"user_data must be a mapping, not {type(raw).__name__}")
        # Keys typed `object`: a caller's mapping may hold any key (they are dropped).
        self.raw = cast("Mapping[object, object]", raw)
        self.region = _region(default_region)
        self.trace = trace
        self.dropped: list[Dropped] = []
        self.country: str | None = None  # the person's country, context of ph, st and zp

    def run(self) -> NormalizedUserData:
        raw = self.raw
        keys = _meta_keys(cast("dict[object, object]", raw)) if type(raw) is dict else None
        if keys is not None:  # one value per Meta key: no grouping to do
            values = list(cast("dict[object, object]", raw).values())
        else:
            grouped = self._grouped()
            keys, values = tuple(grouped), list(grouped.values())
        country: tuple[UserDataValue, UserDataValue] | None = None
        if "country" in keys:  # first: phones, states and zips depend on the country
            country = self._key("country", values[keys.index("country")])
            if country is not None:
                first = country[0][0] if isinstance(country[0], list) else country[0]
                self.country = first if len(first) == 2 else None  # not when it came hashed
        user_data: dict[str, UserDataValue] = {}
        normalized: dict[str, UserDataValue] = {}
        for index, key in enumerate(keys):  # in the order keys first appear in the input
            result = country if key == "country" else self._key(key, values[index])
            if result is not None:
                normalized[key], user_data[key] = result
        return NormalizedUserData(user_data, tuple(self.dropped), normalized)

    def _grouped(self) -> dict[str, object]:
        """Raw values by Meta key, in input order; a key given under two spellings gets all
        of them (`_Merged`). Unknown keys are dropped here."""
        grouped: dict[str, object] = {}
        raw = self.raw
        if type(raw) is dict:  # the common case, iterated without the generic protocol
            for raw_key, value in cast("dict[object, object]", raw).items():
                self._group(grouped, raw_key, value)
        else:
            for raw_key, value in raw.items():
                self._group(grouped, raw_key, value)
        return grouped

    def _group(self, grouped: dict[str, object], raw_key: object, value: object) -> None:
        key = _KEY_MAP.get(raw_key) if type(raw_key) is str else None
        if key is None:
            key = _canonical_key(raw_key, self.dropped)
            if key is None:
                return
        if key in grouped:
            grouped[key] = _Merged(grouped[key], value)
        else:
            grouped[key] = value

    def _key(self, key: str, value: object) -> tuple[UserDataValue, UserDataValue] | None:
        """(normalized, sent) for one key, or None when nothing of it is usable."""
        if type(value) is str and self.trace is None and len(value) <= MAX_VALUE_LENGTH:
            if not value or value.isspace():
                return None  # blank: absent, not an error
            outcome = self._outcome(key, value)
            if isinstance(outcome, str):
                self.dropped.append(Dropped(key, outcome))
                return None
            return outcome
        if isinstance(value, _Merged):
            texts = [t for part in value.parts for t in values_of(key, part, self.dropped)]
        else:
            texts = values_of(key, value, self.dropped)
        return self._values(key, texts) if texts else None

    def _values(self, key: str, texts: list[str]) -> tuple[UserDataValue, UserDataValue] | None:
        """Several values of one key (or one value to explain): normalized, deduplicated."""
        trace = self.trace
        sent: list[str] = []
        forms: list[str] = []
        for text in texts:
            outcome = self._outcome(key, text)
            reason: str | None = None
            if isinstance(outcome, str):
                reason = outcome
            else:
                form, value = outcome
                if value in sent:
                    if trace is not None:
                        trace.append(Explained(key, text, form, value, "duplicate"))
                    continue
                if sent and key not in _MULTI:
                    reason = f"{key}: only one value allowed; extra value left out"
            if reason is not None:
                self.dropped.append(Dropped(key, reason))
                if trace is not None:
                    trace.append(Explained(key, text, None, None, reason))
                continue
            sent.append(value)
            forms.append(form)
            if trace is not None:
                trace.append(Explained(key, text, form, value, None))
        if not sent:
            return None
        if len(sent) == 1:
            return forms[0], sent[0]
        return forms, sent

    def _outcome(self, key: str, text: str) -> Outcome:
        """One value: (normalized form, value sent) or why it is left out."""
        if len(text) >= 64 and is_sha256_hex(text.strip()):
            if key in _MULTI:  # already hashed: pass through, never re-hash
                digest = text.strip().lower()
                return digest, digest
            return f"{key}: looks like a SHA-256 hash, but Meta requires this key unhashed"
        if key in _CONTEXT_COUNTRY:
            return _MEMO.now.get(key, text, self.country, self.region if key == "ph" else "")
        return _MEMO.now.get(key, text, None, "")


class _Merged:
    """The values of a key given under two spellings (`email` and `em`)."""

    def __init__(self, first: object, second: object) -> None:
        earlier = first.parts if isinstance(first, _Merged) else [first]
        self.parts: list[object] = [*earlier, second]


# Input key order -> the Meta key of each, or None where the keys need grouping. Lines of one
# input share their keys, so grouping them into a dict for every line (a tenth of the work of
# normalizing one) is done once per key order instead. Only orders of known spellings are kept,
# so the table is bounded by what _KEY_MAP can spell.
_PLANS: Final[dict[tuple[object, ...], tuple[str, ...] | None]] = {}


def _meta_keys(raw: dict[object, object]) -> tuple[str, ...] | None:
    """The Meta key of each of `raw`'s keys, in order, when each is a spelling _KEY_MAP knows
    and no two name the same Meta key; None otherwise (then `_grouped` decides)."""
    names = tuple(raw)
    keys = _PLANS.get(names)
    if keys is not None or names in _PLANS:
        return keys
    mapped = [_KEY_MAP.get(name) if type(name) is str else None for name in names]
    known = [key for key in mapped if key is not None]
    if len(known) < len(names):
        return None  # unknown keys are reported by `_grouped`; not remembered
    keys = tuple(known) if len(set(known)) == len(known) else None
    if len(_PLANS) < 1024:
        _PLANS[names] = keys
    return keys


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


def _compute(key: str, text: str, country: str | None, region: str) -> Outcome:
    """Apply the key's rule (from _rules.py) and hash when Meta wants it hashed."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"{key}: not valid Unicode text"
    try:
        form = _RULES[key](text, country, region)
    except Invalid as exc:
        return f"{key}: {exc.reason}"
    if key in _MULTI:
        return form, _sha256(form.encode()).hexdigest()
    return form, form


# --- memo of per-value results ---------------------------------------------------------------
# The same person's values come back event after event (PageView, AddToCart, Purchase...) and
# names, cities, states and countries repeat across people, so the outcome of one raw value is
# memoized: per key (and, for ph, st and zp, per person's country and phone region), raw text ->
# outcome. It holds PII in this process's memory only (never logged or stored). Two generations
# bound it: new outcomes go to the young one; when that is full it becomes the old one (the
# previous old one is dropped) and a value found only in the old one moves back to the young
# one, so what is used stays and memory stays under `maxsize` entries. A key whose values almost
# never repeat (every event a new person's email) skips the memo for a while after a probe finds
# under 1 hit in 16 lookups: looking up and storing values that never come back costs more than
# it saves. Outcomes depend on the value alone, so the memo never changes a result. Size from
# the environment variable GDP_META_NORMALIZE_CACHE (entries, default 65536; 0 turns it off), or
# `configure_cache()`.
_PROBE: Final = 1024  # lookups of a key before its hit rate is judged
_SKIP: Final = 64 * 1024  # values of a key computed without the memo before the next probe


class _Table:
    """The memo of one key (in one context)."""

    def __init__(self) -> None:
        self.young: dict[str, Outcome] = {}
        self.old: dict[str, Outcome] = {}
        self.lookups = 0
        self.hits = 0
        self.skip = 0


class _Memo:
    def __init__(self, maxsize: int) -> None:
        self.generation = max(1, maxsize // 2)
        self.enabled = maxsize > 0
        self.tables: dict[object, _Table] = {}
        self.size = 0  # entries in the young generations
        self.hits = 0
        self.misses = 0

    def get(self, key: str, text: str, country: str | None, region: str) -> Outcome:
        if not self.enabled:
            return _compute(key, text, country, region)
        # The key alone, or with its context as a tuple (building a string cost more).
        name: object = key if country is None and not region else (key, country, region)
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = _Table()
        if table.skip > 0:
            table.skip -= 1
            self.misses += 1
            return _compute(key, text, country, region)
        table.lookups += 1
        outcome = table.young.get(text)
        if outcome is not None:
            table.hits += 1
            self.hits += 1
            return outcome
        found = table.old.get(text)
        if found is not None:
            table.hits += 1
            self.hits += 1
            outcome = found
        else:
            self.misses += 1
            outcome = _compute(key, text, country, region)
        if self.size >= self.generation:
            for each in self.tables.values():
                each.old, each.young = each.young, {}
            self.size = 0
        table.young[text] = outcome
        self.size += 1
        if table.lookups >= _PROBE:
            if table.hits * 16 < table.lookups:
                table.skip = _SKIP
            table.lookups = table.hits = 0
        return outcome


def _cache_size_from_env() -> int:
    try:
        return max(0, int(os.environ.get("GDP_META_NORMALIZE_CACHE", "65536")))
    except ValueError:
        return 65536


class _Current:
    """Holds the memo in use (a Final holder: compiled code reads it without a dict lookup)."""

    def __init__(self, memo: _Memo) -> None:
        self.now = memo


_MEMO: Final = _Current(_Memo(_cache_size_from_env()))


def configure_cache(maxsize: int) -> None:
    """Memoize up to `maxsize` per-value results (0: no memo). Clears the current memo."""
    if maxsize < 0:
        raise ValueError("maxsize must be >= 0")
    _MEMO.now = _Memo(maxsize)


def cache_info() -> tuple[int, int, int] | None:
    """(hits, misses, current size) of the memo, or None when it is off."""
    memo = _MEMO.now
    if not memo.enabled:
        return None
    size = sum(len(t.young) + len(t.old) for t in memo.tables.values())
    return memo.hits, memo.misses, size
