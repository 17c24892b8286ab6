"""The event id Meta sees is unique per pixel: `<product_id>:<event_id>` on every channel.

Issue 12 §2: `order-1` from snapmix and `order-1` from velvethold on one pixel were one event to
Meta (the second dropped as a duplicate). The Python function, the SQL function and the browser
snippet (clients/web/test/golden.test.mjs) agree on the golden vectors; the worker sends the
namespaced id, and the sandbox, which deduplicates per (pixel, event name, event id) as Meta
does, keeps both products' orders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from tests.capi_helpers import PIXEL, add_person, enable_pipeline, insert_events, run_once
from tests.support.sandbox import SandboxControl
from workers.event_id import meta_event_id, split_meta_event_id

Conn = psycopg.Connection[dict[str, Any]]
CASES = json.loads((Path(__file__).parent / "golden" / "meta_event_id.json").read_text())["cases"]


def test_python_function_matches_the_golden_vectors() -> None:
    assert len(CASES) >= 5
    for case in CASES:
        assert meta_event_id(case["product_id"], case["event_id"]) == case["meta_event_id"]
        assert split_meta_event_id(case["meta_event_id"]) == (case["product_id"], case["event_id"])
    assert split_meta_event_id("no-colon") is None
    assert split_meta_event_id(":x") is None


def test_sql_function_matches_the_golden_vectors(db: Conn) -> None:
    rows = db.execute(
        "SELECT shared.meta_event_id(c.p, c.e) AS got, c.want"
        " FROM unnest(%s::text[], %s::text[], %s::text[]) AS c(p, e, want)",
        (
            [c["product_id"] for c in CASES],
            [c["event_id"] for c in CASES],
            [c["meta_event_id"] for c in CASES],
        ),
    ).fetchall()
    assert len(rows) == len(CASES)
    assert [r["got"] for r in rows] == [r["want"] for r in rows]
    # Not executable by everyone: a function in shared is granted, never PUBLIC.
    public = db.execute(
        "SELECT has_function_privilege('public', 'shared.meta_event_id(text, text)', 'EXECUTE')"
        " AS ok"
    ).fetchone()
    assert public == {"ok": False}


def test_two_products_same_event_id_on_one_pixel_both_kept(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    snap = add_person(db, "ana@example.com", source_product="snapmix")
    velvet = add_person(db, "ben@example.com", source_product="velvethold")
    insert_events(
        db,
        [
            {"product_id": "snapmix", "event_id": "order-1", "event_name": "purchase",
             "meta_event_name": "Purchase", "person_id": snap,
             "properties": {"value": 9.5, "currency": "USD"}},
            {"product_id": "velvethold", "event_id": "order-1", "event_name": "purchase",
             "meta_event_name": "Purchase", "person_id": velvet,
             "properties": {"value": 20, "currency": "USD"}},
        ],
    )  # fmt: skip
    report = run_once(db_url, sandbox.url)
    assert report.sent == 2
    received = sandbox.events(PIXEL)
    assert sorted(e["event"]["event_id"] for e in received) == [
        "snapmix:order-1",
        "velvethold:order-1",
    ]
    # Meta's rule (sandbox): a repeat of (pixel, event_name, event_id) is a duplicate. None here.
    assert [e["duplicate"] for e in received] == [False, False]
    # What each product stored is unchanged: its own id, and SQL names the id Meta got.
    rows = db.execute(
        "SELECT a.product_id, a.event_id, shared.meta_event_id(a.product_id, a.event_id) AS meta"
        " FROM shared.attribution_events AS a WHERE a.status = 'sent' ORDER BY a.product_id"
    ).fetchall()
    assert [(r["product_id"], r["event_id"], r["meta"]) for r in rows] == [
        ("snapmix", "order-1", "snapmix:order-1"),
        ("velvethold", "order-1", "velvethold:order-1"),
    ]


def test_a_resend_of_one_product_is_still_one_event_at_meta(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    """Namespacing keeps ids stable: a replayed event carries the same Meta id, so Meta drops it."""
    enable_pipeline(db)
    snap = add_person(db, "ana@example.com", source_product="snapmix")
    insert_events(
        db,
        [{"product_id": "snapmix", "event_id": "order-7", "event_name": "purchase",
          "meta_event_name": "Purchase", "person_id": snap,
          "properties": {"value": 1, "currency": "USD"}}],
    )  # fmt: skip
    assert run_once(db_url, sandbox.url).sent == 1
    # The same stored event queued again (a replay): same Meta id, flagged duplicate by Meta.
    db.execute(
        "SELECT pgmq.send('meta_capi', jsonb_build_object('event', e.id, 'meta_event_name',"
        " 'Purchase')) FROM shared.event AS e WHERE e.event_id = 'order-7'"
    )
    assert run_once(db_url, sandbox.url).sent == 1
    received = sandbox.events(PIXEL)
    assert [e["event"]["event_id"] for e in received] == ["snapmix:order-7"] * 2
    assert [e["duplicate"] for e in received] == [False, True]
