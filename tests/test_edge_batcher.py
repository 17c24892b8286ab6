"""Concurrent ingest requests share ingest_events calls, each still gets only its own answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from edge_compat.batcher import IngestBatcher
from edge_compat.db import Database
from tests.edge_support import Conn, counts
from workers.errors import InvalidInput


def element(event_id: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "event_name": "Lead", "meta_event_name": "Lead", **extra}


async def _run(db_url: str, jobs: list[list[dict[str, Any]]], in_flight: int) -> tuple[
    list[Any], list[int]
]:  # fmt: skip
    db = Database(db_url, min_size=1, max_size=4)
    await db.open()
    sizes: list[int] = []
    batcher = IngestBatcher(db, max_in_flight=in_flight, max_events=50, on_call=sizes.append)
    try:
        results = await asyncio.gather(
            *(batcher.ingest("snapmix", job) for job in jobs), return_exceptions=True
        )
        await batcher.drain()
    finally:
        await db.close()
    return results, sizes


def test_concurrent_requests_share_calls(db_url: str, db: Conn) -> None:
    jobs = [[element(f"e{i}")] for i in range(40)] + [[element("m1"), element("m2")]]
    results, sizes = asyncio.run(_run(db_url, jobs, in_flight=1))
    assert sum(sizes) == 42
    assert len(sizes) < 10 and max(sizes) <= 50
    for i, rows in enumerate(results[:40]):
        assert [(r["ordinal"], r["event_id"], r["outcome"]) for r in rows] == [
            (1, f"e{i}", "accepted")
        ]
    assert [(r["ordinal"], r["event_id"]) for r in results[40]] == [(1, "m1"), (2, "m2")]
    assert counts(db)["events"] == 42


def test_a_bad_request_fails_alone_and_resends_are_duplicates(db_url: str, db: Conn) -> None:
    jobs = [
        [element("a")],
        [element("b", person={"email": "not an email"})],
        [element("a")],
        [element("c", person={"email": "c@example.com"})],
    ]
    results, sizes = asyncio.run(_run(db_url, jobs, in_flight=1))
    assert isinstance(results[1], InvalidInput)
    assert results[1].field == "email"
    assert results[0][0]["outcome"] == "accepted"
    assert results[2][0]["outcome"] == "duplicate"
    assert results[3][0]["outcome"] == "accepted" and results[3][0]["person_id"] is not None
    assert counts(db) == {"events": 2, "people": 1, "queued": 0}
    assert len(sizes) >= 2  # the combined call failed, then each request went alone


def test_products_never_share_a_call(db_url: str, db: Conn) -> None:
    async def run() -> list[list[Any]]:
        database = Database(db_url, min_size=1, max_size=2)
        await database.open()
        batcher = IngestBatcher(database, max_in_flight=1)
        try:
            return list(
                await asyncio.gather(
                    batcher.ingest("snapmix", [element("x")]),
                    batcher.ingest("gapradar", [element("x")]),
                    batcher.ingest("snapmix", [element("y")]),
                )
            )
        finally:
            await database.close()

    results = asyncio.run(run())
    assert [rows[0]["outcome"] for rows in results] == ["accepted"] * 3
    stored = db.execute("SELECT product_id, event_id FROM shared.event ORDER BY id").fetchall()
    assert sorted((r["product_id"], r["event_id"]) for r in stored) == [
        ("gapradar", "x"), ("snapmix", "x"), ("snapmix", "y"),
    ]  # fmt: skip


@pytest.mark.parametrize("in_flight", [1, 4])
def test_http_requests_in_parallel_are_each_answered(db_url: str, db: Conn, in_flight: int) -> None:
    import httpx

    from edge_compat.app import create_app
    from tests.edge_support import INGEST, create_key, event, set_flags

    set_flags(db, INGEST)
    key = create_key(db)
    app = create_app(db_url, ingest_in_flight=in_flight, pool_min_size=1)

    async def run() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
                return await asyncio.gather(
                    *(
                        client.post(
                            "/api/v1/meta/event",
                            json=event(event_id=f"p{i % 25}"),
                            headers={"Authorization": f"Bearer {key}"},
                        )
                        for i in range(50)
                    )
                )

    responses = asyncio.run(run())
    assert all(r.status_code == 200 for r in responses)
    assert {r.json()["status"] for r in responses} == {"queued"}
    assert [r.json()["duplicate"] for r in responses].count(True) == 25
    assert counts(db) == {"events": 25, "people": 1, "queued": 25}


def test_person_cache_skips_identical_upserts_and_survives_erasure(db_url: str, db: Conn) -> None:
    from edge_compat import people
    from edge_compat.people import PersonCache

    person = {"email": "fan@example.com", "source_product": "snapmix"}
    sent: list[list[dict[str, Any]]] = []

    async def run() -> list[list[Any]]:
        database = Database(db_url, min_size=1, max_size=2)
        await database.open()
        batcher = IngestBatcher(database)
        original = batcher.ingest

        async def spy(product: str, elements: list[dict[str, Any]], source: str = "server") -> Any:
            sent.append(elements)
            return await original(product, elements, source)

        batcher.ingest = spy  # type: ignore[method-assign]
        cache = PersonCache()
        out = []
        try:
            for event_id in ("f1", "f2"):
                out.append(await people.ingest(batcher, cache, "snapmix",
                                               [element(event_id, person=person)]))  # fmt: skip
            await database.fetch("erase_person_by_email",
                                 {"email": "fan@example.com", "requested_by": "test",
                                  "reason": "test"})  # fmt: skip
            out.append(await people.ingest(batcher, cache, "snapmix",
                                           [element("f3", person=person)]))  # fmt: skip
        finally:
            await database.close()
        return out

    first, second, third = asyncio.run(run())
    assert first[0]["outcome"] == second[0]["outcome"] == third[0]["outcome"] == "accepted"
    assert "person" in sent[0][0]
    assert "person" not in sent[1][0] and sent[1][0]["person_id"] == str(first[0]["person_id"])
    # After the erasure the cached id names nobody: stored again with the person object.
    assert "person" not in sent[2][0] and "person" in sent[3][0]
    assert third[0]["person_id"] != first[0]["person_id"]
    rows = db.execute("SELECT event_id, person_id FROM shared.event ORDER BY id").fetchall()
    assert [r["event_id"] for r in rows] == ["f3"]  # erasure removed the person's events
    assert rows[0]["person_id"] == third[0]["person_id"]
