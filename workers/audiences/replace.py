"""A full refresh of a segment's audience with one `usersreplace` session.

Meta's rules (docs/meta-rules.md §3.2): `batch_seq` 1 starts the replace, later batches follow
it one at a time, `last_batch_flag` completes it and swaps the members atomically; one replace at
a time and no `/users` call meanwhile (2650/1870145); a session lasts 90 minutes from its first
batch, after which Meta applies what it had (1870158). The usersreplace schema takes no
EXTERN_ID, so the rows are the diff rows with that column left out.

Each acknowledged batch is staged (shared.audience_replace_stage) with the run's session id and
batch_seq; the session completes in one transaction (shared.audience_replace_complete) that
makes the staged rows what Meta acknowledged. A worker killed mid-session resumes it: same
session, the next batch_seq, the members after the last staged person. If batch 1 may have
reached Meta before the kill, the resumed batch goes as batch 2 when Meta says the session runs.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from workers.audiences.graph import AudienceCallError
from workers.audiences.rows import REPLACE_SCHEMA, PersonRow, has_identifier, hash_people
from workers.audiences.sync import Refused, Row, RunContext, one, response_json
from workers.db.queries import query


async def _page(ctx: RunContext, after: str | None) -> list[Row]:
    cursor = await ctx.conn.execute(
        query("audience_members_page"),
        {"segment_id": ctx.target["segment_id"], "after": after, "limit": ctx.rows_per_request},
    )
    rows = await cursor.fetchall()
    await ctx.conn.commit()
    return rows


def new_session_id() -> int:
    """A positive int64, unique within the ad account in practice (Meta: caller-generated)."""
    return secrets.randbelow(2**62) + 1


async def replace_run(ctx: RunContext, state: Row | None) -> str | None:
    """Send every member in one session (resuming `state`); returns a note for the run row.

    Raises Refused for an empty segment, AudienceCallError when Meta refuses (kind "busy": a
    replace of someone else runs; the session stays resumable for anything else).
    """
    counted = await one(ctx.conn, "audience_member_count",
                        {"segment_id": ctx.target["segment_id"]})  # fmt: skip
    members = int(counted["members"])
    if state:
        session_id = int(state["session_id"])
        seq = int(state["batch_seq"])
        after = str(state["last_person_id"]) if state["last_person_id"] else None
        received = int(state["staged"])
        resumed = True
    else:
        session_id, seq, after, received, resumed = new_session_id(), 0, None, 0, False
        await one(
            ctx.conn,
            "audience_plan_run",
            {"run_id": ctx.run_id, "adds": members, "removes": 0, "session_id": session_id,
             "estimated": members},
        )  # fmt: skip
    page = await _page(ctx, after)
    if not page and seq > 0:
        # Everyone was staged but the session never got its last batch (members left since):
        # Meta applies what it has when the session times out, which is what was staged.
        await one(ctx.conn, "audience_replace_complete", {"run_id": ctx.run_id})
        return "replace session left to time out at Meta (it applies the staged rows)"
    if not page:
        raise Refused(
            f"{ctx.target['segment_id']}: no members to replace with (Meta refuses an empty "
            "replace); `gdp audiences sync` removes everyone instead"
        )
    audience_id = str(ctx.target["audience_id"])
    while True:
        rows = [r for r in hash_people(page, default_region=ctx.default_region)
                if has_identifier(r.cells)]  # fmt: skip
        following = await _page(ctx, str(page[-1]["person_id"])) if page else []
        last = not following
        seq += 1
        try:
            body = await _send(ctx, audience_id, rows, session_id, seq, last, members)
        except AudienceCallError as error:
            if error.audience_kind == "busy" and resumed and seq == 1:
                # Batch 1 reached Meta before the worker stopped: the session runs; go on.
                seq = 2
                body = await _send(ctx, audience_id, rows, session_id, seq, last, members)
            elif error.audience_kind in ("session_timed_out", "session_finished"):
                await one(ctx.conn, "audience_replace_complete", {"run_id": ctx.run_id})
                return (
                    "replace session ended at Meta before its last batch "
                    f"({error.code}/{error.subcode}); the rest goes by /users on the next run"
                    if error.audience_kind == "session_timed_out"
                    else "replace session had already completed at Meta"
                )
            else:
                raise
        total = int(body.get("num_received") or (received + len(rows)))
        staged = [
            {"p": r.person_id, "c": [*r.cells[:-1], ""],
             "u": r.person_updated_at.isoformat()}
            for r in rows
        ]  # fmt: skip
        # The last batch is staged and the session completed in one transaction.
        await ctx.conn.execute(
            query("audience_replace_stage"),
            {"run_id": ctx.run_id, "batch_seq": seq, "rows": orjson.dumps(staged).decode(),
             "response": response_json(body, max(total - received, 0))},
        )  # fmt: skip
        if last:
            await ctx.conn.execute(query("audience_replace_complete"), {"run_id": ctx.run_id})
        await ctx.conn.commit()
        if ctx.progress is not None:
            ctx.progress("replace", len(rows))
        received = total
        if last:
            return None
        page = following


async def _send(
    ctx: RunContext,
    audience_id: str,
    rows: list[PersonRow],
    session_id: int,
    seq: int,
    last: bool,
    estimated: int,
) -> dict[str, Any]:
    session = {
        "session_id": session_id,
        "batch_seq": seq,
        "last_batch_flag": last,
        "estimated_num_total": estimated,
    }
    data = [r.cells[:-1] for r in rows]
    return await ctx.graph.replace(audience_id, REPLACE_SCHEMA, data, session)
