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


def hash_people(
    people: Sequence[Mapping[str, Any]], *, default_region: str = "US"
) -> list[PersonRow]:
    """Hashed rows of people (dicts with person_id and the shared.person columns), in order.

    A person with no usable identifier at all comes out with every cell "" and is left out by
    the callers (Meta would count it invalid); the person id alone always gives EXTERN_ID, so in
    practice every person has one.
    """
    raws = [{k: v for k, v in _raw(p).items() if v not in (None, "")} for p in people]
    cells, _dropped = normalize_audience_rows(raws, SCHEMA, default_region=default_region)
    return [
        PersonRow(str(p["person_id"]), tuple(row), p["person_updated_at"])
        for p, row in zip(people, cells, strict=True)
    ]


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
