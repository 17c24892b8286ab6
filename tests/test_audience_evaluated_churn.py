"""Segments evaluated from events, synced to the sandbox: after several evaluation runs with
churn (people joining and leaving through their own events, an email and a phone changed, a new
person, an erasure, a consent withdrawn, a cancellation), every one of the six PRD segments'
audiences equals the segment's membership, as the people Meta holds (matched on their keys) and
as the whole hashed row acknowledged for each member."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.insights_helpers import ServedSandbox
from tests.test_audience_support import (
    Conn,
    add_people,
    audience_id,
    configure,
    expected_members,
    make_segment,
    member_rows,
    meta_members,
    same_people,
    worker,
)

SEGMENTS = (
    "activated_not_paid_day3",
    "all_customers",
    "all_leads",
    "churned_30d",
    "high_intent_pricing_2plus",
    "paid_high_usage_7d",
)


def events(db: Conn, name: str, people: list[str], ago: str, **properties: Any) -> None:
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at, "
        "properties) SELECT 'snapmix', %s || '-' || p || '-' || gen_random_uuid(), %s, p, "
        "now() - %s::interval, %s::jsonb FROM unnest(%s::uuid[]) AS p",
        (name, name, ago, json.dumps(properties), people),
    )


def evaluate_and_sync(db: Conn, db_url: str, meta: ServedSandbox, *, full: bool = False) -> None:
    failed = db.execute(
        "SELECT segment_id, error FROM shared.evaluate_segments(%s) WHERE error IS NOT NULL",
        (full,),
    ).fetchall()
    assert failed == []
    reports = asyncio.run(worker(db_url, meta.url).sync(None))
    assert sorted(r.segment_id for r in reports) == sorted(SEGMENTS)
    assert [r for r in reports if r.status != "succeeded"] == []


def members(db: Conn, segment: str) -> set[str]:
    rows = db.execute(
        "SELECT person_id::text AS p FROM shared.segment_member WHERE segment_id = %s", (segment,)
    ).fetchall()
    return {r["p"] for r in rows}


def assert_audiences_equal_membership(db: Conn, meta: ServedSandbox) -> None:
    for segment in SEGMENTS:
        audience = audience_id(db, segment)
        assert same_people(meta_members(meta.sandbox, audience), expected_members(db, segment)), (
            segment
        )
        expected = {str(row.person_id): row.cells for row in member_rows(db, segment)}
        acked = db.execute(
            "SELECT person_id::text AS p, row_cells FROM shared.audience_ack "
            "WHERE segment_id = %s",
            (segment,),
        ).fetchall()
        assert {r["p"]: list(r["row_cells"]) for r in acked} == {
            p: list(cells) for p, cells in expected.items()
        }, segment


def test_evaluated_churn_keeps_every_audience_equal_to_its_segment(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    for segment in SEGMENTS:
        make_segment(db, segment, audience_name=f"GDP {segment}")
    # Churn of a few people in small audiences is a large share: the removal guard has its own
    # tests; here every change is allowed.
    db.execute("UPDATE shared.meta_audience SET max_removed_share = 1")
    configure(db, dict.fromkeys(SEGMENTS))
    people = add_people(db, 30)
    events(db, "FeatureUsed", people[0:10], "5 days")  # activated, not paid by day 3
    events(db, "SubscriptionPurchased", people[10:16], "2 days", plan="pro", plan_price="29")
    for _ in range(12):  # paid and using it this week
        events(db, "FeatureUsed", people[14:16], "1 day")
    events(db, "PricingPageViewed", people[16:20], "1 hour")
    events(db, "PricingPageViewed", people[16:20], "2 hours")  # twice: high intent
    events(db, "PageView", people[20:30], "40 days")  # gone quiet 40 days ago: churned
    evaluate_and_sync(db, db_url, meta, full=True)
    before = {segment: members(db, segment) for segment in SEGMENTS}
    assert all(before[s] for s in SEGMENTS), {s: len(m) for s, m in before.items()}
    assert_audiences_equal_membership(db, meta)

    # Round 1: three of the activated and two of the high-intent pay; an email and a phone
    # change; two new people arrive with an event.
    events(db, "SubscriptionPurchased", people[0:3] + people[16:18], "1 minute", plan_price="49")
    db.execute("UPDATE shared.person SET email = 'moved-' || email WHERE id = %s", (people[5],))
    db.execute("UPDATE shared.person SET phone = '+14155550188' WHERE id = %s", (people[11],))
    newcomers = add_people(db, 2, tag="n", start=100)
    events(db, "FeatureUsed", newcomers, "1 minute")
    evaluate_and_sync(db, db_url, meta)
    assert_audiences_equal_membership(db, meta)
    after = {segment: members(db, segment) for segment in SEGMENTS}
    assert set(people[0:3]) <= after["all_customers"] - before["all_customers"]
    assert not set(people[0:3]) & after["activated_not_paid_day3"]
    assert set(newcomers) <= after["all_leads"]

    # Round 2: an erasure, a consent withdrawn, a cancellation (paid -> churned).
    db.execute("SELECT shared.erase_person(%s, 'test', 'asked')", (people[6],))
    db.execute(
        "UPDATE shared.person SET consent_status = 'withdrawn' WHERE id = %s", (people[12],)
    )
    events(db, "SubscriptionCanceled", [people[13]], "1 minute")
    evaluate_and_sync(db, db_url, meta)
    assert_audiences_equal_membership(db, meta)
    final = {segment: members(db, segment) for segment in SEGMENTS}
    assert all(people[6] not in m for m in final.values())
    assert people[13] in final["churned_30d"] and people[13] not in final["all_customers"]
    # The withdrawn person is still a member, but no audience holds them.
    assert people[12] in final["all_leads"]
    assert not db.execute(
        "SELECT 1 FROM shared.audience_ack WHERE person_id = %s", (people[12],)
    ).fetchall()
