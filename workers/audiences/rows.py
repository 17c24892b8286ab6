"""A person as an audience row, hashed by the CAPI code (workers/meta), and what a change means.

Every row GDP sends uses one multi-key schema (SCHEMA, the order of `shared.audience_schema()`):
each cell is SHA-256 hex of the value Meta's rules make of the person's column, or "" when the
person has no (valid) value: never the hash of an empty string. EXTERN_ID is the person id hashed
exactly as the Conversions API sends `external_id`, so both channels match on it.

`classify` decides, per person, what a sync must do given the row Meta last acknowledged:

  nothing acknowledged                 -> add the new row
  the same row                         -> touch (record that this person version was checked)
  EMAIL or PHONE changed               -> remove the old row (its old hashes), then add the new
  anything else changed                -> add the new row (Meta merges it into the same person)

A row acknowledged through usersreplace has no EXTERN_ID (the replace schema has none), so a
new row that differs from it only by EXTERN_ID is the same row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from workers.meta.audience import normalize_audience_rows

SCHEMA: Final[tuple[str, ...]] = (
    "EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "DOBY", "DOBM", "DOBD", "GEN",
    "EXTERN_ID",
)  # fmt: skip
REPLACE_SCHEMA: Final[tuple[str, ...]] = SCHEMA[:-1]  # usersreplace takes no EXTERN_ID
_EMAIL, _PHONE, _EXTERN = 0, 1, len(SCHEMA) - 1
MAX_ROWS_PER_REQUEST: Final = 10_000

Cells = tuple[str, ...]
Action = Literal["add", "touch", "replace_identity", "update"]


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One person's hashed row (never the raw columns), with the version it was made from."""

    person_id: str
    cells: Cells
    person_updated_at: dt.datetime


def _raw(person: Mapping[str, Any]) -> dict[str, object]:
    dob = person.get("date_of_birth")
    return {
        "EMAIL": person.get("email"),
        "PHONE": person.get("phone"),
        "FN": person.get("first_name"),
        "LN": person.get("last_name"),
        "CT": person.get("city"),
        "ST": person.get("state"),
        "ZIP": person.get("zip"),
        "COUNTRY": person.get("country"),
        "db": dob.strftime("%Y%m%d") if isinstance(dob, dt.date) else None,
        "GEN": person.get("gender"),
        "EXTERN_ID": str(person["person_id"]),
    }


# Columns that identify one person, normalized and hashed for every row; the others repeat
# across people (a city, a first name, a birth date) and are hashed once per distinct value.
_PER_PERSON_SCHEMA: Final[tuple[str, ...]] = ("EMAIL", "PHONE", "EXTERN_ID")
# shared.person column -> the row key the CAPI code reads -> the schema columns it makes.
_SHARED_FIELDS: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("first_name", "FN", ("FN",)), ("last_name", "LN", ("LN",)), ("city", "CT", ("CT",)),
    ("state", "ST", ("ST",)), ("zip", "ZIP", ("ZIP",)), ("country", "COUNTRY", ("COUNTRY",)),
    ("date_of_birth", "db", ("DOBY", "DOBM", "DOBD")), ("gender", "GEN", ("GEN",)),
)  # fmt: skip
_CACHE_LIMIT: Final = 50_000
# Per (row key, default region): (value, raw country) -> its cells. Every rule of the CAPI code
# takes (value, country, region) and nothing else, so a cell made once is the cell made again.
_shared_cells: dict[tuple[str, str], dict[tuple[object, object], tuple[str, ...]]] = {}


def _make(key: str, columns: tuple[str, ...], value: object, country: object,
          region: str) -> tuple[str, ...]:  # fmt: skip
    if key == "db":
        value = value.strftime("%Y%m%d") if isinstance(value, dt.date) else None
    raw: dict[str, object] = {} if value is None else {key: value}
    if country is not None and key != "COUNTRY" and raw:
        raw["COUNTRY"] = country
    made, _dropped = normalize_audience_rows([raw], columns, default_region=region)
    return tuple(made[0])


def _column(people: Sequence[Mapping[str, Any]], countries: list[object], column: str,
            key: str, columns: tuple[str, ...], region: str) -> list[tuple[str, ...]]:  # fmt: skip
    memo = _shared_cells.setdefault((key, region), {})
    if len(memo) > _CACHE_LIMIT:
        memo.clear()
    empty = ("",) * len(columns)
    out = []
    for person, country in zip(people, countries, strict=True):
        value = person.get(column)
        if value is None or value == "":
            out.append(empty)
            continue
        cells = memo.get((value, country))
        if cells is None:
            cells = memo[(value, country)] = _make(key, columns, value, country, region)
        out.append(cells)
    return out


def hash_people(
    people: Sequence[Mapping[str, Any]], *, default_region: str = "US"
) -> list[PersonRow]:
    """Hashed rows of people (dicts with person_id and the shared.person columns), in order.

    The cells normalize_audience_rows makes of the whole row (tests/test_audience_rows.py
    checks it), made faster: EMAIL, PHONE and EXTERN_ID are normalized per person, the
    repeating columns once per distinct (value, country).

    A person with no usable identifier at all comes out with every cell "" and is left out by
    the callers (Meta would count it invalid); the person id alone always gives EXTERN_ID, so in
    practice every person has one.
    """
    countries: list[object] = [p.get("country") or None for p in people]
    own = []
    for person, country in zip(people, countries, strict=True):
        raw: dict[str, object] = {"EXTERN_ID": str(person["person_id"])}
        if person.get("email"):
            raw["EMAIL"] = person["email"]
        if person.get("phone"):
            raw["PHONE"] = person["phone"]
        if country is not None:
            raw["COUNTRY"] = country
        own.append(raw)
    per_person, _dropped = normalize_audience_rows(
        own, _PER_PERSON_SCHEMA, default_region=default_region
    )
    fn, ln, ct, st, zp, cc, dob, gen = (
        _column(people, countries, column, key, columns, default_region)
        for column, key, columns in _SHARED_FIELDS
    )
    rows = []
    for i, (person, raw, ids) in enumerate(zip(people, own, per_person, strict=True)):
        cells = (ids[0], ids[1], fn[i][0], ln[i][0], ct[i][0], st[i][0], zp[i][0], cc[i][0],
                 *dob[i], gen[i][0], ids[2])  # fmt: skip
        rows.append(PersonRow(str(raw["EXTERN_ID"]), cells, person["person_updated_at"]))
    return rows


def without_extern_id(cells: Cells) -> Cells:
    return (*cells[:_EXTERN], "")


def classify(new: Cells, old: Sequence[str] | None) -> Action:
    if old is None:
        return "add"
    previous = tuple(old)
    if new == previous or (previous[_EXTERN] == "" and without_extern_id(new) == previous):
        return "touch"
    for index in (_EMAIL, _PHONE):
        if previous[index] and previous[index] != new[index]:
            return "replace_identity"
    return "update"


def has_identifier(cells: Cells) -> bool:
    return any(cells)
