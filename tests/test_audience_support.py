"""Helpers for the audience sync tests (no tests here): segments and people made by SQL, the
worker pointed at an in-process sandbox, and Meta's side compared with membership as sets of
hashed rows."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import psycopg

from meta_sandbox.state import Sandbox
from workers.audiences.rows import PersonRow, hash_people
from workers.audiences.worker import AudienceWorker, RunReport
from workers.settings import Settings

ACCOUNT = "act_1000000001"
TOKEN = "sandbox-token"
Conn = psycopg.Connection[dict[str, Any]]
FAST_GRAPH = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05}


def configure(db: Conn, mapping: dict[str, str | None], *, enabled: bool = True) -> None:
    db.execute("SELECT shared.set_setting('META_AD_ACCOUNT_ID', %s::jsonb, 'test')",
               (json.dumps(ACCOUNT),))  # fmt: skip
    db.execute("SELECT shared.set_setting('META_CUSTOM_AUDIENCE_IDS', %s::jsonb, 'test')",
               (json.dumps(mapping),))  # fmt: skip
    db.execute(
        "UPDATE shared.feature_flag SET enabled = %s "
        "WHERE flag_key = 'META_CUSTOM_AUDIENCE_SYNC_ENABLED'",
        (enabled,),
    )


def make_segment(db: Conn, segment_id: str, audience_name: str | None = None,
                 *, min_size: int | None = 0) -> None:  # fmt: skip
    db.execute(
        "INSERT INTO shared.segment (segment_id, description, owner, audience_name) "
        # The six PRD segments exist from install (the segment engine's migration): take one over.
        "VALUES (%s, %s, 'growth', %s) ON CONFLICT (segment_id) DO UPDATE "
        "SET audience_name = EXCLUDED.audience_name, description = EXCLUDED.description",
        (segment_id, f"test segment {segment_id}", audience_name),
    )
    db.execute("DELETE FROM shared.segment_member WHERE segment_id = %s", (segment_id,))
    if min_size is not None:
        # The guard's row exists once the segment is mapped; made here with the test's minimum.
        db.execute(
            "INSERT INTO shared.meta_audience (segment_id, audience_name, min_size_first_upload) "
            "VALUES (%s, %s, %s)",
            (segment_id, audience_name or segment_id, min_size),
        )


def add_people(db: Conn, n: int, tag: str = "p", *, start: int = 0) -> list[str]:
    rows = db.execute(
        """
        INSERT INTO shared.person (email, phone, first_name, last_name, city, state, zip,
                                   country, date_of_birth, gender)
        SELECT format('%%s%%s@example.com', %(tag)s::text, i),
               format('+1415%%s', lpad((2010000 + i)::text, 7, '0')),
               'Ann ' || i, 'Lee', 'San Francisco', 'CA', '94107', 'US',
               date '1980-01-01' + i, CASE WHEN i %% 2 = 0 THEN 'f' ELSE 'm' END
        FROM generate_series(%(start)s::int, %(start)s::int + %(n)s::int - 1) AS i
        RETURNING id
        """,
        {"tag": tag, "n": n, "start": start},
    ).fetchall()
    return [str(r["id"]) for r in rows]


def join(db: Conn, segment_id: str, person_ids: list[str]) -> None:
    db.execute(
        "INSERT INTO shared.segment_member (segment_id, person_id) "
        "SELECT %s, unnest(%s::uuid[]) ON CONFLICT DO NOTHING",
        (segment_id, person_ids),
    )


def leave(db: Conn, segment_id: str, person_ids: list[str]) -> None:
    db.execute(
        "DELETE FROM shared.segment_member WHERE segment_id = %s AND person_id = ANY(%s::uuid[])",
        (segment_id, person_ids),
    )


def settings(db_url: str, graph_url: str) -> Settings:
    return Settings(DATABASE_URL=db_url, META_GRAPH_URL=graph_url, META_CAPI_ACCESS_TOKEN=TOKEN)


def worker(db_url: str, graph_url: str, **options: Any) -> AudienceWorker:
    options.setdefault("drift_settle_s", 0.0)
    options.setdefault("graph_options", FAST_GRAPH)
    return AudienceWorker(settings(db_url, graph_url), **options)


def sync(db_url: str, graph_url: str, segment_id: str | None = None, **kwargs: Any) -> RunReport:
    options = {k: kwargs.pop(k) for k in ("rows_per_request", "drift_settle_s") if k in kwargs}
    reports = asyncio.run(worker(db_url, graph_url, **options).sync(segment_id, **kwargs))
    assert len(reports) == 1, reports
    return reports[0]


def audience_id(db: Conn, segment_id: str) -> str:
    row = db.execute(
        "SELECT audience_id FROM shared.meta_audience WHERE segment_id = %s", (segment_id,)
    ).fetchone()
    assert row is not None and row["audience_id"], "no audience id stored"
    return str(row["audience_id"])


def member_rows(db: Conn, segment_id: str) -> list[PersonRow]:
    """The hashed rows of the segment's consenting members, as they are now."""
    people = db.execute(
        "SELECT p.id AS person_id, p.email, p.phone, p.first_name, p.last_name, p.city, "
        "p.state, p.zip, p.country, p.date_of_birth, p.gender, p.updated_at AS person_updated_at "
        "FROM shared.segment_member AS m JOIN shared.person AS p ON p.id = m.person_id "
        "WHERE m.segment_id = %s AND p.consent_status <> 'withdrawn'",
        (segment_id,),
    ).fetchall()
    return hash_people(people)


def expected_members(db: Conn, segment_id: str) -> set[frozenset[str]]:
    """Each consenting member as the sandbox stores a member: the set of its identity keys."""
    members = set()
    for row in member_rows(db, segment_id):
        cells = row.cells
        keys = {f"EMAIL:{cells[0]}", f"EXTERN_ID:{cells[12]}"}
        if cells[1]:
            keys.add(f"PHONE:{cells[1]}")
        members.add(frozenset(keys))
    return members


def meta_members(sandbox: Sandbox, audience: str) -> set[frozenset[str]]:
    """What Meta holds, ignoring EXTERN_ID for rows a replace sent (it carries none)."""
    with sandbox.lock:
        return {frozenset(keys) for keys in sandbox.audiences[audience].members.snapshot()}


def same_people(meta: set[frozenset[str]], expected: set[frozenset[str]]) -> bool:
    """Meta's members are the expected people: each matches one expected member on its keys
    (a member a replace made has no EXTERN_ID key) and none is left over."""
    if len(meta) != len(expected):
        return False
    by_key: dict[str, frozenset[str]] = {}
    for member in expected:
        for key in member:
            by_key[key] = member
    matched = set()
    for member in meta:
        owners = {by_key.get(key) for key in member}
        if len(owners) != 1 or None in owners:
            return False
        owner = owners.pop()
        assert owner is not None
        if not member <= owner:
            return False
        matched.add(owner)
    return matched == expected


def new_uuid() -> str:
    return str(uuid.uuid4())
