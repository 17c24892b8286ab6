"""The audience worker's hashing (cached per distinct value) makes exactly the cells the CAPI
code makes of the whole row."""

from __future__ import annotations

import datetime as dt
import uuid

from workers.audiences import rows
from workers.audiences.rows import SCHEMA, hash_people
from workers.meta.audience import normalize_audience_rows

NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def person(**columns: object) -> dict[str, object]:
    return {"person_id": uuid.uuid4(), "person_updated_at": NOW, **columns}


PEOPLE = [
    person(email=" Ana@Example.com ", phone="(415) 555-0101", first_name="Ána", last_name="O'Neil",
           city="San Francisco", state="California", zip="94107-1234", country="US",
           date_of_birth=dt.date(1990, 2, 3), gender="Female"),
    person(email="bob@example.com", phone="020 7946 0958", first_name="Bob", city="London",
           zip="SW1A 1AA", country="GB", gender="m"),
    person(phone="020 7946 0958", first_name="Bob", city="London", zip="SW1A 1AA", country="gb"),
    person(phone="+49 30 901820", zip="10117", country="Germany", state="Berlin"),
    person(email="not-an-email", phone="12", first_name="  ", gender="x", country="ZZ"),
    person(email="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           first_name="A" * 64, state="ca", zip="94107"),
    person(first_name="Zoë", last_name="Ñúñez", city="São Paulo", country="BR",
           date_of_birth=dt.date(1900, 1, 1)),
    person(),
]  # fmt: skip


def whole_rows(people: list[dict[str, object]], region: str) -> list[tuple[str, ...]]:
    raws = [{k: v for k, v in rows._raw(p).items() if v not in (None, "")} for p in people]
    made, _ = normalize_audience_rows(raws, SCHEMA, default_region=region)
    return [tuple(r) for r in made]


def test_cached_cells_are_the_cells_of_the_whole_row() -> None:
    for region in ("US", "GB"):
        rows._shared_cells.clear()
        twice = PEOPLE + PEOPLE  # the second time from the cache
        assert [r.cells for r in hash_people(twice, default_region=region)] == whole_rows(
            twice, region
        )


def test_rows_keep_their_person_and_version() -> None:
    made = hash_people(PEOPLE)
    assert [r.person_id for r in made] == [str(p["person_id"]) for p in PEOPLE]
    assert all(r.person_updated_at == NOW for r in made)
