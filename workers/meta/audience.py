"""Custom Audience multi-key rows (`{schema, data}`), with the CAPI rules (docs/meta-rules.md §3.3).

Rows are mappings keyed by audience names (`EMAIL`, `PHONE`, ...), Meta's CAPI keys (`em`,
`ph`, ...) or the PRD's names (`email`, `phone`, ...). The output has exactly one row per input
row (so callers can map rows back to people), each aligned to `schema` with "" for anything
missing or invalid; a row with nothing usable is reported in `dropped` and comes out all "".
Row keys the schema does not use (e.g. `person_id`) are ignored.

* Everything is SHA-256 hashed except `MADID` (lowercase UUID, hyphens kept) and `EXTERN_ID`.
* `EXTERN_ID`: Meta does not hash it on its side and asks that its format be consistent with
  what the other channels send. CAPI sends `external_id` hashed (normalize.py), so by default the
  audience column carries the *same* value: sha256 of the trimmed id (a 64-hex id passes through
  lower-cased). `hash_extern_id=False` sends the trimmed raw id instead, for an account whose
  other channels send raw ids.
* `PHONE`: the audience guide says to prefix the country code "if COUNTRY is not given"; CAPI
  says always include it. The numbers are matched in E.164 either way, so the code is always
  included (the row's `COUNTRY` picks the region for numbers written without one).
* `FI` is the first character of the normalized first name when the row has no `FI` of its own;
  `DOBY`/`DOBM`/`DOBD` come from a full date of birth (`db`) when not given separately.
* A cell given several values keeps the first valid one (a row is one person).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from workers.meta import _rules
from workers.meta._phone import check_region
from workers.meta._rules import Dropped, Invalid, is_sha256_hex, sha256_hex
from workers.meta._tables import MONTHS
from workers.meta._values import values_of

AUDIENCE_KEYS: Final[tuple[str, ...]] = (
    "EMAIL", "PHONE", "FN", "LN", "FI", "GEN", "DOBY", "DOBM", "DOBD", "CT", "ST", "ZIP",
    "COUNTRY", "EXTERN_ID", "MADID",
)  # fmt: skip
_UNHASHED: Final = frozenset({"MADID"})

# Row keys (besides the audience names themselves) -> audience key; "DOB" is a full date.
_ROW_ALIASES: Final[dict[str, str]] = {
    "em": "EMAIL", "email": "EMAIL", "ph": "PHONE", "phone": "PHONE", "fn": "FN",
    "first_name": "FN", "ln": "LN", "last_name": "LN", "fi": "FI", "ge": "GEN",
    "gender": "GEN", "gen": "GEN", "db": "DOB", "date_of_birth": "DOB", "ct": "CT", "city": "CT",
    "st": "ST", "state": "ST", "zp": "ZIP", "zip": "ZIP", "country": "COUNTRY",
    "external_id": "EXTERN_ID", "extern_id": "EXTERN_ID", "madid": "MADID",
}  # fmt: skip


def _doby(value: str, country: str | None, region: str) -> str:
    text = value.strip()
    if not (len(text) == 4 and text.isascii() and text.isdigit()):
        raise Invalid("not a 4-digit year")
    if not 1900 <= int(text) <= dt.date.today().year:
        raise Invalid("year outside 1900..current year")
    return text


def _dobm(value: str, country: str | None, region: str) -> str:
    text = value.strip().lower().rstrip(".")
    month = MONTHS.get(text)
    if month is None and 1 <= len(text) <= 2 and text.isascii() and text.isdigit():
        month = int(text)
    if month is None or not 1 <= month <= 12:
        raise Invalid("not a month 01-12")
    return f"{month:02d}"


def _dobd(value: str, country: str | None, region: str) -> str:
    text = value.strip()
    if not (1 <= len(text) <= 2 and text.isascii() and text.isdigit()) or not 1 <= int(text) <= 31:
        raise Invalid("not a day 01-31")
    return f"{int(text):02d}"


def _fi(value: str, country: str | None, region: str) -> str:
    return _rules.name(value, country, region)[0]


_RULES: Final[dict[str, _rules.Rule]] = {
    "EMAIL": _rules.em, "PHONE": _rules.ph, "FN": _rules.name, "LN": _rules.name, "FI": _fi,
    "GEN": _rules.ge, "DOBY": _doby, "DOBM": _dobm, "DOBD": _dobd, "DOB": _rules.db,
    "CT": _rules.ct, "ST": _rules.st, "ZIP": _rules.zp, "COUNTRY": _rules.country_code,
    "EXTERN_ID": _rules.external_id, "MADID": _rules.madid,
}  # fmt: skip


def _check_schema(schema: Sequence[str]) -> tuple[str, ...]:
    if isinstance(schema, str) or not schema:
        raise ValueError("schema must be a non-empty sequence of audience keys")
    keys = tuple(schema)
    unknown = [k for k in keys if k not in AUDIENCE_KEYS]
    if unknown:
        raise ValueError(f"unknown audience schema keys: {', '.join(map(str, unknown))}")
    if len(set(keys)) != len(keys):
        raise ValueError("audience schema keys must be unique")
    return keys


def _audience_key(raw_key: object) -> str | None:
    if not isinstance(raw_key, str):
        return None
    key = raw_key.strip()
    if key.upper() in AUDIENCE_KEYS:
        return key.upper()
    return _ROW_ALIASES.get(key.lower())


def normalize_audience_rows(
    rows: Iterable[Mapping[str, object]],
    schema: Sequence[str],
    *,
    default_region: str = "US",
    hash_extern_id: bool = True,
) -> tuple[list[list[str]], list[Dropped]]:
    """Rows aligned to `schema` ("" where missing), hashed as Meta requires; and what was dropped.

    Raises ValueError for a bad schema or region and TypeError for a row that is not a mapping
    (programming errors); bad values are dropped with a reason, never raised.
    """
    keys = _check_schema(schema)
    region = check_region(default_region)
    wanted = set(keys)
    if "FI" in wanted:
        wanted.add("FN")
    if wanted & {"DOBY", "DOBM", "DOBD"}:
        wanted.add("DOB")
    wanted.add("COUNTRY")  # phone region, state and zip rules depend on it
    out: list[list[str]] = []
    dropped: list[Dropped] = []
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"audience row {index} must be a mapping, not {type(row).__name__}")
        out.append(_row(index, row, keys, wanted, region, hash_extern_id, dropped))
    return out, dropped


def _row(
    index: int,
    row: Mapping[str, object],
    keys: tuple[str, ...],
    wanted: set[str],
    region: str,
    hash_extern_id: bool,
    dropped: list[Dropped],
) -> list[str]:
    texts: dict[str, list[str]] = {}
    row_dropped: list[Dropped] = []
    for raw_key, value in row.items():
        key = _audience_key(raw_key)
        if key is not None and key in wanted:
            texts.setdefault(key, []).extend(values_of(key, value, row_dropped))
    country_form = _cell("COUNTRY", texts.get("COUNTRY", []), None, region, row_dropped)
    country = country_form if country_form is not None and len(country_form) == 2 else None
    forms: dict[str, str | None] = {"COUNTRY": country_form}
    for key in ("FN", "DOB", *keys):
        if key not in forms and key in wanted:
            forms[key] = _cell(key, texts.get(key, []), country, region, row_dropped)
    fn = forms.get("FN")
    if forms.get("FI") is None and fn is not None and not is_sha256_hex(fn):
        forms["FI"] = fn[0]
    dob = forms.get("DOB")
    if dob is not None and not is_sha256_hex(dob):
        for key, part in (("DOBY", dob[:4]), ("DOBM", dob[4:6]), ("DOBD", dob[6:])):
            if forms.get(key) is None:
                forms[key] = part
    cells: list[str] = []
    for key in keys:
        form = forms.get(key)
        if form is None:
            cells.append("")
        elif is_sha256_hex(form) or key in _UNHASHED or (key == "EXTERN_ID" and not hash_extern_id):
            cells.append(form)
        else:
            cells.append(sha256_hex(form))
    for item in row_dropped:
        dropped.append(Dropped(item.key, f"row {index}: {item.reason}"))
    if not any(cells):
        dropped.append(Dropped("row", f"row {index}: no usable identifier for the schema"))
    return cells


def _cell(
    key: str, texts: list[str], country: str | None, region: str, dropped: list[Dropped]
) -> str | None:
    """The normalized form of the first valid value (a 64-hex digest passes as it is)."""
    result: str | None = None
    for text in texts:
        if is_sha256_hex(text.strip()) and key not in _UNHASHED:
            form = text.strip().lower()
        else:
            try:
                form = _RULES[key](text, country, region)
            except Invalid as exc:
                dropped.append(Dropped(key, f"{key}: {exc.reason}"))
                continue
        if result is None:
            result = form
        elif form != result:
            dropped.append(Dropped(key, f"{key}: one value per column; extra value left out"))
    return result
