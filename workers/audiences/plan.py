"""`gdp audiences diff NAME`: what the next sync would send, computed and sent nowhere.

The same reading, hashing and classification as a run (workers/audiences/sync.py), counted
instead of sent: people leaving, joining, re-added under a changed email or phone, re-sent with
other changes, re-checked unchanged; the requests that makes; and whether a guard would refuse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from workers.audiences.rows import MAX_ROWS_PER_REQUEST, classify, has_identifier, hash_people
from workers.audiences.sync import Row, check_guards
from workers.audiences.worker import AudienceWorker
from workers.db.queries import query
from workers.errors import GdpError, from_db_error


@dataclass(frozen=True, slots=True)
class DiffPlan:
    segment_id: str
    audience_name: str
    audience_id: str | None
    members: int
    acknowledged: int
    leaving: int
    joining: int
    identity_changes: int
    other_changes: int
    unchanged: int
    refusal: str | None
    drift_detected: bool
    replace_in_flight: bool

    @property
    def removals(self) -> int:
        return self.leaving + self.identity_changes

    @property
    def additions(self) -> int:
        return self.joining + self.identity_changes + self.other_changes

    @property
    def requests(self) -> int:
        """Upload requests of the run: removals and additions each in requests of 10,000."""
        return math.ceil(self.removals / MAX_ROWS_PER_REQUEST) + math.ceil(
            self.additions / MAX_ROWS_PER_REQUEST
        )


async def plan_diff(worker: AudienceWorker, name: str, *, force: bool = False) -> DiffPlan:
    try:
        async with await psycopg.AsyncConnection.connect(
            worker.conninfo(), row_factory=dict_row
        ) as conn:
            target = await resolve(conn, name)
            since = await (await conn.execute(
                query("audience_changed_since"), {"segment_id": target["segment_id"]}
            )).fetchone()  # fmt: skip
            window = {"segment_id": target["segment_id"],
                      "since": since["changed_since"] if since else None}  # fmt: skip
            counts = await (await conn.execute(query("audience_change_counts"), window)).fetchone()
            members = await (await conn.execute(
                query("audience_member_count"), {"segment_id": target["segment_id"]}
            )).fetchone()  # fmt: skip
            assert counts is not None and members is not None
            tally = {"add": 0, "touch": 0, "replace_identity": 0, "update": 0}
            async with conn.cursor(name="audience_plan") as cursor:
                await cursor.execute(query("audience_changes"), window)
                while chunk := await cursor.fetchmany(MAX_ROWS_PER_REQUEST):
                    people = [r for r in chunk if r["op"] == "add"]
                    for person, row in zip(
                        people, hash_people(people, default_region=worker.settings.
                                            meta_default_phone_region), strict=True
                    ):  # fmt: skip
                        if has_identifier(row.cells):
                            tally[classify(row.cells, person["old_cells"])] += 1
            await conn.rollback()
    except psycopg.Error as exc:
        raise from_db_error(exc) from exc
    refusal = check_guards(target, int(counts["removes"]), force)
    return DiffPlan(
        target["segment_id"], target["audience_name"], target["audience_id"],
        int(members["members"]), int(target["acknowledged"]), int(counts["removes"]),
        tally["add"], tally["replace_identity"], tally["update"], tally["touch"],
        refusal[1] if refusal else None, target["drift_detected_at"] is not None,
        int(target["replace_staged"]) > 0,
    )  # fmt: skip


async def resolve(conn: psycopg.AsyncConnection[Row], name: str) -> Row:
    """The mapped segment called `name` (its segment id or its audience's name)."""
    rows = await (await conn.execute(query("audience_targets"), {"segment_id": None})).fetchall()
    await conn.commit()
    for row in rows:
        if name in (row["segment_id"], row["audience_name"]):
            return row
    mapped = ", ".join(r["segment_id"] for r in rows) or "none"
    raise GdpError(
        f"segment: {name!r} is not a mapped segment (META_CUSTOM_AUDIENCE_IDS maps: {mapped})"
    )
