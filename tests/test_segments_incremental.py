"""Incremental evaluation equals a recompute from every daily row.

An evaluation merges a person's new events into their stored features (shared.person_feature)
instead of reading all their days, and re-evaluates a segment that reads only some feature
columns just for the people one of those columns changed for. Both must give exactly what a
recompute from every day gives: random events (every kind, old days and today, payments on the
first paying day, cancellations, lifecycle changes) over several runs, then a recompute of
everyone and a full evaluation, which must change nothing.
"""

from __future__ import annotations

import random
from typing import Any

import psycopg
import pytest

from tests.test_segments import evaluate, events, person

Conn = psycopg.Connection[dict[str, Any]]

NAMES = [
    "FeatureUsed",
    "SnapCreated",
    "PageView",
    "PricingPageViewed",
    "SubscriptionPurchased",
    "SubscriptionCanceled",
    "Custom",
]
AGES = ["0 seconds", "10 minutes", "1 day", "3 days", "6 days", "8 days", "29 days", "45 days"]
COMPARED = (
    "person_id, products, first_seen_at, last_seen_at, last_activity_at, events, activated_at, "
    "first_paid_at, last_paid_at, paid, plan, mrr, churned_at, pricing_views_7d, "
    "pricing_views_30d, usage_7d, usage_30d, lifecycle_stage, last_cancel_at"
)


DAYS = "SELECT * FROM shared.person_activity_daily ORDER BY person_id, product_id, day"


def features(db: Conn) -> dict[str, dict[str, Any]]:
    rows = db.execute(
        f"SELECT {COMPARED}, next_change_at FROM shared.person_feature ORDER BY person_id"
    ).fetchall()
    return {str(r["person_id"]): r for r in rows}


def recompute_everyone(db: Conn) -> None:
    db.execute(
        "INSERT INTO shared.segment_change_log (person_ids) SELECT array_agg(id) FROM shared.person"
    )
    evaluate(db)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_merged_features_and_memberships_equal_a_recompute(db: Conn, seed: int) -> None:
    rng = random.Random(seed)
    people = [person(db, f"p{seed}-{n}@example.com") for n in range(30)]
    for _ in range(8):
        rows = []
        for p in rng.sample(people, 12):
            for _ in range(rng.randint(1, 3)):
                name = rng.choice(NAMES)
                props = {"plan": rng.choice(["pro", "team"]), "plan_price": str(rng.randint(5, 50))}
                rows.append((p, rng.choice(["snapmix", "vellopad"]), name, rng.choice(AGES), props))
        events(db, rows)
        if rng.random() < 0.3:
            db.execute(
                "UPDATE shared.person SET lifecycle_stage = 'customer' WHERE id = %s",
                (rng.choice(people),),
            )
        if rng.random() < 0.4:
            # As the next day's first evaluation does: later events of today then make a day
            # with a settled and a recent row.
            db.execute("SELECT shared._settle_person_activity(shared._utc_day(now()) + 1)")
        evaluate(db)
    merged = features(db)
    days = db.execute(DAYS).fetchall()
    assert db.execute("SELECT count(*) AS n FROM shared.person_activity_recent").fetchone() != {
        "n": len(days)
    }, "some days were settled"

    recompute_everyone(db)
    exact = features(db)
    assert merged.keys() == exact.keys()
    for p, row in exact.items():
        got = dict(merged[p])
        want = dict(row)
        # The merged next change is never later than the exact one (an earlier one only
        # brings a re-evaluation that computes it exactly).
        got_next, want_next = got.pop("next_change_at"), want.pop("next_change_at")
        assert got == want, p
        assert want_next is None or (got_next is not None and got_next <= want_next), p

    full = evaluate(db, full=True)
    assert {s: (r["joined"], r["left"]) for s, r in full.items()} == {s: (0, 0) for s in full}

    # The merged days read as the days computed again from every event.
    db.execute("SELECT shared.rebuild_person_activity()")
    assert db.execute(DAYS).fetchall() == days


def test_new_events_are_merged_into_the_stored_features(db: Conn) -> None:
    """The merge reads the stored row, not the days: a day changed behind the engine's back
    shows only once the person is recomputed from every day."""
    ann = person(db, "ann@example.com")
    events(db, [(ann, "snapmix", "FeatureUsed", "10 days", {})])
    evaluate(db)
    db.execute(
        "UPDATE shared.person_activity_recent SET events = events + 100 WHERE person_id = %s",
        (ann,),
    )
    events(db, [(ann, "snapmix", "FeatureUsed", "0 seconds", {})])
    evaluate(db)
    assert features(db)[ann]["events"] == 2
    recompute_everyone(db)
    assert features(db)[ann]["events"] == 102


def test_first_paid_is_the_first_payment_and_last_activity_the_last_usage(db: Conn) -> None:
    """Each merges: a later payment leaves first_paid_at, a later page view last_activity_at."""
    ann = person(db, "ann@example.com")
    events(db, [(ann, "snapmix", "SubscriptionPurchased", "2 minutes", {"plan_price": "9"})])
    evaluate(db)
    first = features(db)[ann]
    events(
        db,
        [
            (ann, "snapmix", "SubscriptionPurchased", "1 minute", {"plan_price": "19"}),
            (ann, "snapmix", "PageView", "0 seconds", {}),
        ],
    )
    evaluate(db)
    after = features(db)[ann]
    assert after["first_paid_at"] == first["first_paid_at"] < after["last_paid_at"]
    assert after["last_activity_at"] == after["last_paid_at"] < after["last_seen_at"]
    assert float(after["mrr"]) == 19
    recompute_everyone(db)
    assert features(db)[ann] == after | {"next_change_at": features(db)[ann]["next_change_at"]}


@pytest.mark.parametrize(
    ("query", "columns"),
    [
        (
            "SELECT f.person_id FROM shared.person_feature AS f WHERE f.paid AND f.usage_7d >= 3",
            ["person_id", "paid", "usage_7d"],
        ),
        (
            "SELECT f.person_id FROM shared.person_feature AS f "
            "WHERE f.last_seen_at > now() - interval '3 days'",
            ["person_id", "last_seen_at"],
        ),
        ("SELECT f.person_id FROM shared.person_feature AS f WHERE random() < 0.5", None),
        (
            "SELECT f.person_id FROM shared.person_feature AS f "
            "WHERE f.usage_7d > (SELECT avg(g.usage_7d) FROM shared.person_feature AS g)",
            None,
        ),
        (
            "SELECT f.person_id FROM shared.person_feature AS f "
            "JOIN shared.person AS p ON p.id = f.person_id WHERE p.country = 'DE'",
            None,
        ),
        ("SELECT f.person_id FROM shared.person_feature AS f WHERE to_jsonb(f) ? 'plan'", None),
        (
            "SELECT person_id FROM (SELECT f.person_id, rank() OVER (ORDER BY f.events DESC) AS r "
            "FROM shared.person_feature AS f) AS t WHERE t.r <= 10",
            None,
        ),
        ("SELECT d.person_id FROM shared.person_product_feature AS d WHERE d.paid", None),
        (
            "SELECT f.person_id FROM shared.person_feature AS f ORDER BY f.events DESC LIMIT 10",
            None,
        ),
        (
            "SELECT DISTINCT ON (f.plan) f.person_id FROM shared.person_feature AS f "
            "ORDER BY f.plan, f.events DESC",
            None,
        ),
    ],
)
def test_the_columns_a_segment_reads(db: Conn, query: str, columns: list[str] | None) -> None:
    """A view that filters person_feature row by row names its columns; any other view is
    re-evaluated for every candidate."""
    db.execute("SELECT shared.segment_define('probe', %s, true, 'probe', 'tests')", (query,))
    row = db.execute("SELECT shared._segment_feature_columns('probe') AS c").fetchone()
    assert row is not None and row["c"] == columns


def test_a_row_computed_before_last_cancel_at_is_recomputed_not_merged(db: Conn) -> None:
    """-infinity (what the column holds for rows from before it) is not a cancellation time: a
    merge would read it as "cancelled before everything" and call a cancelled person paid."""
    ann = person(db, "ann@example.com")
    events(
        db,
        [
            (ann, "snapmix", "SubscriptionPurchased", "3 days", {"plan_price": "9"}),
            (ann, "snapmix", "SubscriptionCanceled", "2 days", {}),
        ],
    )
    evaluate(db)
    db.execute("UPDATE shared.person_feature SET last_cancel_at = '-infinity'")
    events(db, [(ann, "snapmix", "FeatureUsed", "0 seconds", {})])
    evaluate(db)
    row = features(db)[ann]
    assert row["paid"] is False and row["last_cancel_at"] is not None
    assert row["last_cancel_at"].year > 2000


def test_daily_rows_from_before_first_payment_and_last_usage_read_their_fallbacks(
    db: Conn,
) -> None:
    """A settled row without first_payment_at and last_usage_at (written before they existed)
    stands for its last payment and, with usage, its last event; merged with a later row of
    the same day, the earlier of the two payments and the later usage win."""
    ann = person(db, "ann@example.com")
    # Two days ago, 10:00 and 11:00 UTC: one day whatever the time now.
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at, "
        "properties) SELECT 'snapmix', e.id, e.name, %s, "
        'shared._utc_midnight(shared._utc_day(now()) - 2) + e.at, \'{"plan_price": "9"}\' '
        "FROM (VALUES ('pay', 'SubscriptionPurchased', interval '10 hours'), "
        "('use', 'FeatureUsed', interval '11 hours')) AS e(id, name, at)",
        (ann,),
    )
    evaluate(db)
    db.execute("SELECT shared._settle_person_activity(shared._utc_day(now()) + 1)")
    db.execute(
        "UPDATE shared.person_activity_settled SET first_payment_at = NULL, last_usage_at = NULL"
    )
    old = db.execute(
        "SELECT last_payment_at, last_at FROM shared.person_activity_settled"
    ).fetchone()
    assert old is not None
    recompute_everyone(db)
    row = features(db)[ann]
    assert row["first_paid_at"] == old["last_payment_at"]
    assert row["last_activity_at"] == old["last_at"]
    # A late event of the same day folds into a recent row, then settles into the old one.
    day = db.execute(
        "SELECT day FROM shared.person_activity_settled WHERE person_id = %s", (ann,)
    ).fetchone()
    assert day is not None
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at) "
        "SELECT 'snapmix', 'late', 'FeatureUsed', %s, max(last_at) + interval '1 second' "
        "FROM shared.person_activity_settled",
        (ann,),
    )
    evaluate(db)
    db.execute("SELECT shared._settle_person_activity(shared._utc_day(now()) + 1)")
    merged = db.execute(
        "SELECT first_payment_at, last_usage_at, events FROM shared.person_activity_settled"
    ).fetchone()
    assert merged is not None
    assert merged["first_payment_at"] == old["last_payment_at"]
    assert merged["last_usage_at"] > old["last_at"] and merged["events"] == 3
