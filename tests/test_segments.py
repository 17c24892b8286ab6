"""The segment engine: features from events, evaluation, history, the change queue, validation.

Real PostgreSQL (each test its own database), no mocks. Times are set through occurred_at, so
windows (3, 7 and 30 days) are exercised without waiting.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

Conn = psycopg.Connection[dict[str, Any]]


def person(db: Conn, email: str, **extra: Any) -> str:
    row = db.execute(
        "INSERT INTO shared.person (email, lifecycle_stage) VALUES (%s, %s) RETURNING id::text",
        (email, extra.get("lifecycle_stage", "lead")),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def events(db: Conn, rows: list[tuple[str, str, str, str, dict[str, Any]]]) -> None:
    """(person_id, product_id, event_name, age as an interval, properties), one statement."""
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at, "
        "properties) SELECT r.product_id, gen_random_uuid()::text, r.event_name, r.person_id, "
        "now() - r.age::interval, r.props FROM unnest(%s::uuid[], %s::text[], %s::text[], "
        "%s::text[], %s::jsonb[]) AS r(person_id, product_id, event_name, age, props)",
        (
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [json.dumps(r[4]) for r in rows],
        ),
    )


def evaluate(db: Conn, full: bool = False) -> dict[str, dict[str, Any]]:
    rows = db.execute("SELECT * FROM shared.evaluate_segments(%s)", (full,)).fetchall()
    return {r["segment_id"]: r for r in rows}


def members(db: Conn, segment: str) -> set[str]:
    rows = db.execute(
        "SELECT person_id::text AS p FROM shared.segment_member WHERE segment_id = %s", (segment,)
    ).fetchall()
    return {r["p"] for r in rows}


def test_the_six_prd_segments_exist_with_their_audiences(db: Conn) -> None:
    rows = db.execute(
        "SELECT segment_id, audience_name FROM shared.segment ORDER BY segment_id"
    ).fetchall()
    assert {r["segment_id"]: r["audience_name"] for r in rows} == {
        "activated_not_paid_day3": "Activated Free Users",
        "high_intent_pricing_2plus": "High Intent Visitors",
        "paid_high_usage_7d": "Power Users",
        "churned_30d": "Win-Back Targets",
        "all_leads": "All Leads",
        "all_customers": "All Customers",
    }
    for r in rows:
        assert db.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS ok", (f"segments.{r['segment_id']}",)
        ).fetchone() == {"ok": True}


def test_features_are_daily_aggregates_kept_by_the_insert(db: Conn) -> None:
    ann = person(db, "ann@example.com")
    events(
        db,
        [
            (ann, "snapmix", "Signup", "10 days", {}),
            (ann, "snapmix", "FeatureUsed", "10 days", {}),
            (ann, "snapmix", "PricingPageViewed", "2 days", {}),
            (ann, "snapmix", "PricingPageViewed", "1 day", {}),
            (
                ann,
                "vellopad",
                "SubscriptionPurchased",
                "1 day",
                {"plan": "pro", "plan_price": "19.99"},
            ),
        ],
    )
    evaluate(db)  # folds the logged events into the daily rows
    events(db, [(ann, "snapmix", "FeatureUsed", "10 days", {})])  # same day: one row, summed
    evaluate(db)
    daily = db.execute(
        "SELECT product_id, events, usage, pricing_views, event_counts FROM "
        "shared.person_activity_daily WHERE person_id = %s ORDER BY day, product_id",
        (ann,),
    ).fetchall()
    assert len(daily) == 4
    assert daily[0]["events"] == 3 and daily[0]["usage"] == 3
    assert daily[0]["event_counts"] == {"Signup": 1, "FeatureUsed": 2}
    f = db.execute("SELECT * FROM shared.person_feature WHERE person_id = %s", (ann,)).fetchone()
    assert f is not None
    assert f["products"] == ["snapmix", "vellopad"]
    assert f["events"] == 6 and f["pricing_views_7d"] == 2 and f["usage_30d"] == 4
    assert f["paid"] and f["plan"] == "pro" and float(f["mrr"]) == 19.99
    assert f["activated_at"] is not None and f["churned_at"] is None
    # The next change with no new event: the oldest pricing view leaves the 7-day window.
    assert f["next_change_at"] is not None
    counts = db.execute(
        "SELECT event_name, events FROM shared.person_event_count WHERE person_id = %s "
        "AND product_id = 'snapmix' ORDER BY event_name",
        (ann,),
    ).fetchall()
    assert [(c["event_name"], c["events"]) for c in counts] == [
        ("FeatureUsed", 2),
        ("PricingPageViewed", 2),
        ("Signup", 1),
    ]


def test_segments_follow_features_with_history_and_queue(db: Conn) -> None:
    free = person(db, "free@example.com")
    shopper = person(db, "shopper@example.com")
    power = person(db, "power@example.com")
    gone = person(db, "gone@example.com")
    events(db, [(free, "snapmix", "FeatureUsed", "4 days", {})])
    events(
        db,
        [
            (shopper, "snapmix", "PricingPageViewed", "1 day", {}),
            (shopper, "snapmix", "PricingPageViewed", "1 hour", {}),
        ],
    )
    events(
        db,
        [(power, "snapmix", "SubscriptionPurchased", "6 days", {"plan_price": "9"})]
        + [(power, "snapmix", "SnapCreated", "1 day", {})] * 10,
    )
    events(
        db,
        [
            (gone, "snapmix", "SubscriptionPurchased", "40 days", {}),
            (gone, "snapmix", "SubscriptionCanceled", "5 days", {}),
        ],
    )
    evaluate(db)
    assert members(db, "activated_not_paid_day3") == {free}
    assert members(db, "high_intent_pricing_2plus") == {shopper}
    assert members(db, "paid_high_usage_7d") == {power}
    assert members(db, "churned_30d") == {gone}
    assert members(db, "all_customers") == {power}
    assert members(db, "all_leads") == {free, shopper, power, gone}

    # The free user pays: leaves the free segment, joins the customers; only they are evaluated.
    events(db, [(free, "snapmix", "SubscriptionPurchased", "1 minute", {"plan_price": "5"})])
    result = evaluate(db)
    assert result["activated_not_paid_day3"]["left"] == 1
    assert result["all_customers"]["joined"] == 1
    run = db.execute("SELECT * FROM shared.segment_run ORDER BY run_id DESC LIMIT 1").fetchone()
    assert run is not None and run["candidates"] == 1 and run["mode"] == "incremental"
    assert members(db, "all_customers") == {power, free}
    history = db.execute(
        "SELECT change, run_id FROM shared.segment_history WHERE person_id = %s "
        "AND segment_id = 'activated_not_paid_day3' ORDER BY id",
        (free,),
    ).fetchall()
    assert [h["change"] for h in history] == ["join", "leave"]
    assert history[1]["run_id"] == run["run_id"]

    messages = [
        r["message"]
        for r in db.execute("SELECT message FROM pgmq.q_segment_changes ORDER BY msg_id").fetchall()
    ]
    last = [m for m in messages if m["run_id"] == run["run_id"]]
    assert {(m["segment_id"], m["change"]) for m in last} == {
        ("activated_not_paid_day3", "leave"),
        ("all_customers", "join"),
    }
    assert all(m["person_ids"] == [free] for m in last)
    # Ids only: no email anywhere in the queue or the history.
    blob = json.dumps(messages)
    assert "@example.com" not in blob

    # A second run with nothing changed changes nothing; a full run agrees.
    assert sum(r["joined"] + r["left"] for r in evaluate(db).values()) == 0
    full = evaluate(db, full=True)
    assert sum(r["joined"] + r["left"] for r in full.values()) == 0
    assert full["all_leads"]["members"] == 4


def test_time_windows_crossing_reevaluate_without_new_events(db: Conn) -> None:
    """A pricing view that leaves the 7-day window takes the person out, with no new event."""
    p = person(db, "window@example.com")
    events(
        db,
        [
            (p, "snapmix", "PricingPageViewed", "2 days", {}),
            (p, "snapmix", "PricingPageViewed", "1 day", {}),
        ],
    )
    evaluate(db)
    assert members(db, "high_intent_pricing_2plus") == {p}
    # Move the stored facts 6 days back, as if time passed (the change log is not touched).
    for table in ("person_activity_settled", "person_activity_recent"):
        db.execute(
            f"UPDATE shared.{table} SET day = day - 6, first_at = first_at - interval '6 days', "
            "last_at = last_at - interval '6 days'"
        )
    db.execute("UPDATE shared.person_feature SET next_change_at = now() - interval '1 second'")
    db.execute("DELETE FROM shared.segment_change_log")
    evaluate(db)
    assert members(db, "high_intent_pricing_2plus") == set()
    run = db.execute(
        "SELECT candidates FROM shared.segment_run ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    assert run == {"candidates": 1}


def test_erasure_removes_membership_and_history(db: Conn) -> None:
    p = person(db, "erase@example.com")
    events(db, [(p, "snapmix", "FeatureUsed", "5 days", {})])
    evaluate(db)
    assert p in members(db, "all_leads")
    db.execute("DELETE FROM shared.person WHERE id = %s", (p,))
    assert p not in members(db, "all_leads")
    left = db.execute(
        "SELECT count(*) AS n FROM shared.segment_history WHERE person_id = %s", (p,)
    ).fetchone()
    assert left == {"n": 0}
    msgs = db.execute(
        "SELECT message FROM pgmq.q_segment_changes WHERE message ->> 'reason' = 'erased'"
    ).fetchall()
    assert {m["message"]["segment_id"] for m in msgs} >= {"all_leads", "activated_not_paid_day3"}
    evaluate(db)  # the change log still names the person: the run must not fail on it


@pytest.mark.parametrize(
    ("query", "rule"),
    [
        ("SELECT 1 AS person_id", "person_id must be a uuid"),
        ("SELECT id FROM shared.person", "must return a person_id column"),
        (
            "SELECT person_id FROM shared.person_feature; DROP TABLE shared.segment_run",
            "must be one SELECT",
        ),
        ("SELECT person_id FROM shared.erasure", "reads shared.erasure"),
        (
            "SELECT p.id AS person_id FROM shared.person AS p JOIN shared.service_key AS k ON true",
            "reads shared.service_key",
        ),
        ("SELECT person_id FROM shared.event", "more than once"),
        (
            "SELECT f.person_id FROM shared.person_feature AS f "
            "WHERE length(query_to_xml('SELECT * FROM shared.service_key', true, true, '')::text)"
            " > 0",
            "calls query_to_xml(",
        ),
        (
            "SELECT f.person_id FROM shared.person_feature AS f "
            "WHERE pg_read_file('/etc/hostname') IS NOT NULL",
            "calls pg_read_file(",
        ),
        (
            "SELECT f.person_id FROM shared.person_feature AS f "
            "WHERE shared.setting_value('META_AD_ACCOUNT_ID') IS NOT NULL",
            "calls shared.setting_value(",
        ),
        ("DELETE FROM shared.segment_run RETURNING 'x'::uuid AS person_id", "must be one SELECT"),
        ("SELEC nonsense", "must be one SELECT"),
    ],
)
def test_bad_segment_queries_are_refused_naming_the_rule(db: Conn, query: str, rule: str) -> None:
    p = person(db, "dup@example.com")
    events(db, [(p, "snapmix", "Signup", "1 day", {}), (p, "snapmix", "Signup", "2 days", {})])
    with pytest.raises(psycopg.Error) as caught:
        db.execute("SELECT * FROM shared.segment_define('custom', %s, true, 'd', 'me')", (query,))
    assert caught.value.sqlstate == "GD400"
    assert rule in str(caught.value)
    assert db.execute("SELECT to_regclass('segments.custom') AS v").fetchone() == {"v": None}
    assert db.execute(
        "SELECT count(*) AS n FROM shared.segment WHERE segment_id = 'custom'"
    ).fetchone() == {"n": 0}
    assert db.execute("SELECT to_regclass('shared.segment_run') IS NOT NULL AS ok").fetchone() == {
        "ok": True
    }


def test_define_preview_and_edit(db: Conn) -> None:
    a = person(db, "a@example.com")
    b = person(db, "b@example.com")
    events(db, [(a, "snapmix", "Signup", "1 day", {}), (b, "gapradar", "Signup", "1 day", {})])
    db.execute(
        "SELECT * FROM shared.segment_define('snapmix_people', %s, true, 'SnapMix users', 'me', "
        "'SnapMix Users')",
        ("SELECT person_id FROM shared.person_feature WHERE 'snapmix' = ANY (products)",),
    )
    evaluate(db)  # features first (the view reads them), then the segment
    evaluate(db, full=True)
    assert members(db, "snapmix_people") == {a}
    preview = db.execute(
        "SELECT * FROM shared.segment_preview('snapmix_people', %s)",
        ("SELECT person_id FROM shared.person_feature WHERE 'gapradar' = ANY (products)",),
    ).fetchone()
    assert preview is not None
    assert (preview["members"], preview["joining"], preview["leaving"], preview["staying"]) == (
        1,
        1,
        1,
        0,
    )
    assert [str(x) for x in preview["sample_joining"]] == [b]
    # Preview saved nothing: the view is still the SnapMix one.
    assert db.execute("SELECT count(*) AS n FROM segments.snapmix_people").fetchone() == {"n": 1}
    assert db.execute("SELECT person_id::text AS p FROM segments.snapmix_people").fetchone() == {
        "p": a
    }
    with pytest.raises(psycopg.Error) as caught:
        db.execute(
            "SELECT * FROM shared.segment_define('snapmix_people', 'SELECT 1', true, 'd', 'me')"
        )
    assert caught.value.sqlstate == "GD409"
    with pytest.raises(psycopg.Error) as caught:
        db.execute("SELECT * FROM shared.segment_define('nope', 'SELECT 1', false)")
    assert caught.value.sqlstate == "GD404"


def test_a_broken_view_fails_its_segment_only(db: Conn) -> None:
    p = person(db, "x@example.com")
    events(db, [(p, "snapmix", "Signup", "1 day", {})])
    # An admin's plain SQL (not through segment_define) that returns someone who does not exist.
    db.execute(
        "INSERT INTO shared.segment (segment_id, description, owner) VALUES ('ghosts', 'bad', 'me')"
    )
    db.execute("CREATE VIEW segments.ghosts AS SELECT gen_random_uuid() AS person_id")
    result = evaluate(db, full=True)
    assert result["ghosts"]["error"] is not None
    assert result["all_leads"]["error"] is None and result["all_leads"]["members"] == 1
    seg = db.execute("SELECT last_error FROM shared.segment WHERE segment_id = 'ghosts'").fetchone()
    assert seg is not None and seg["last_error"]


def test_a_plain_sql_view_returning_a_person_twice_fails_its_segment_only(db: Conn) -> None:
    """Made without segment_define (plain SQL), a view is held to the same rule at evaluation:
    it returns each person once, or its segment fails, changes nothing and says why."""
    p = person(db, "twice@example.com")
    events(db, [(p, "snapmix", "Signup", "1 day", {}), (p, "snapmix", "Signup", "2 days", {})])
    db.execute("CREATE VIEW segments.signed_up AS SELECT e.person_id FROM shared.event AS e")
    db.execute("INSERT INTO shared.segment (segment_id, description, owner) "
               "VALUES ('signed_up', 'people with events', 'me')")  # fmt: skip
    for full in (False, True):
        result = evaluate(db, full=full)
        assert "more than once" in (result["signed_up"]["error"] or ""), full
        assert result["all_leads"]["error"] is None
        assert members(db, "signed_up") == set()
        assert members(db, "all_leads") == {p}
        if not full:
            db.execute(
                "INSERT INTO shared.segment_change_log (person_ids) VALUES (ARRAY[%s::uuid])",
                (p,),
            )
    last_error = db.execute(
        "SELECT last_error FROM shared.segment WHERE segment_id = 'signed_up'"
    ).fetchone()
    assert last_error is not None and "more than once" in last_error["last_error"]


def test_one_evaluation_at_a_time(db_url: str, db: Conn) -> None:
    with psycopg.connect(db_url, row_factory=dict_row) as first:
        first.execute("SELECT * FROM shared.evaluate_segments()")  # holds its xact lock
        with pytest.raises(psycopg.Error) as caught:
            db.execute("SELECT * FROM shared.evaluate_segments()")
        assert caught.value.sqlstate == "GD409"
        first.rollback()
    evaluate(db)


def test_an_insert_committing_during_an_evaluation_is_kept_for_the_next(
    db_url: str, db: Conn
) -> None:
    """Two sessions: the evaluation drains only committed log rows; an open insert's row stays."""
    p = person(db, "late@example.com")
    evaluate(db)
    with psycopg.connect(db_url, row_factory=dict_row) as writer:
        writer.execute(
            "INSERT INTO shared.event (product_id, event_id, event_name, person_id) "
            "SELECT 'snapmix', 'late' || i, 'PricingPageViewed', %s FROM generate_series(1, 2) i",
            (p,),
        )
        evaluate(db)  # the insert is not committed: not seen, not drained
        assert members(db, "high_intent_pricing_2plus") == set()
        writer.commit()
    evaluate(db)
    assert members(db, "high_intent_pricing_2plus") == {p}


def test_rebuild_gives_the_same_features_as_the_insert_path(db: Conn) -> None:
    a = person(db, "ra@example.com")
    b = person(db, "rb@example.com")
    events(
        db,
        [
            (a, "snapmix", "FeatureUsed", "3 days", {}),
            (b, "softwarehub", "Purchase", "2 days", {"value": "12.50", "plan": "basic"}),
        ],
    )
    events(
        db, [(a, "snapmix", "FeatureUsed", "3 days", {}), (a, "snapmix", "PageView", "1 day", {})]
    )
    evaluate(db)
    snapshot = "SELECT * FROM shared.person_activity_daily ORDER BY person_id, product_id, day"
    folded = db.execute(snapshot).fetchall()
    rows = db.execute("SELECT shared.rebuild_person_activity() AS n").fetchone()
    assert rows == {"n": len(folded)}
    assert db.execute(snapshot).fetchall() == folded
    evaluate(db)
    assert db.execute(snapshot).fetchall() == folded  # the log's events were not folded twice


def test_the_change_log_holds_a_run_of_ids_or_else_the_array(db: Conn) -> None:
    """A statement's events are logged as first and last id when their ids are one run (events
    without a person inside it are skipped by the fold), else as the array of those with one."""
    a = person(db, "run@example.com")
    db.execute("DELETE FROM shared.segment_change_log")
    db.execute(
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at) "
        "SELECT 'snapmix', 'r' || i, 'PageView', CASE WHEN i = 2 THEN NULL ELSE %s::uuid END, "
        "now() - interval '1 day' FROM generate_series(1, 3) AS i",
        (a,),
    )
    run = db.execute(
        "SELECT event_ids, event_id_last - event_id_first AS span FROM shared.segment_change_log"
    ).fetchall()
    assert run == [{"event_ids": None, "span": 2}]
    # Ids that are not one run (another session's rows between them; given explicitly here).
    top = db.execute("SELECT max(id) AS m FROM shared.event").fetchone()
    assert top is not None
    first, gap, last = top["m"] + 10, top["m"] + 11, top["m"] + 13
    db.execute(
        "INSERT INTO shared.event (id, product_id, event_id, event_name, person_id, occurred_at) "
        "OVERRIDING SYSTEM VALUE VALUES "
        "(%s, 'snapmix', 'x1', 'FeatureUsed', %s, now() - interval '1 day'), "
        "(%s, 'snapmix', 'x2', 'Signup', NULL, now()), "
        "(%s, 'snapmix', 'x3', 'PageView', %s, now() - interval '1 day')",
        (first, a, gap, last, a),
    )
    arrays = db.execute(
        "SELECT event_ids, event_id_first FROM shared.segment_change_log "
        "WHERE event_ids IS NOT NULL"
    ).fetchall()
    assert arrays == [{"event_ids": [first, last], "event_id_first": None}]
    evaluate(db)
    daily = db.execute(
        "SELECT events, event_counts FROM shared.person_activity_daily WHERE person_id = %s", (a,)
    ).fetchall()
    assert daily == [{"events": 4, "event_counts": {"PageView": 3, "FeatureUsed": 1}}]
    assert db.execute("SELECT count(*) AS n FROM shared.segment_change_log").fetchone() == {"n": 0}


def test_the_days_latest_payment_gives_plan_and_mrr_on_both_paths(db: Conn) -> None:
    p = person(db, "plan@example.com")
    day = "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '2 days'"
    insert = (
        "INSERT INTO shared.event (product_id, event_id, event_name, person_id, occurred_at, "
        f"properties) VALUES ('snapmix', %s, %s, %s, {day} + %s::interval, %s)"
    )
    db.execute(insert, ("p1", "Upgrade", p, "11 hours", json.dumps({"plan": "pro", "mrr": "49"})))
    db.execute(
        insert,
        ("p2", "SubscriptionPurchased", p, "10 hours", json.dumps({"plan": "basic", "value": "9"})),
    )
    db.execute(insert, ("p3", "PageView", p, "12 hours", "{}"))
    evaluate(db)
    snapshot = (
        "SELECT day, events, payments, plan, mrr, event_counts, first_at, last_at, "
        "last_payment_at FROM shared.person_activity_daily WHERE person_id = %s"
    )
    folded = db.execute(snapshot, (p,)).fetchall()
    assert len(folded) == 1
    assert (folded[0]["payments"], folded[0]["plan"], float(folded[0]["mrr"])) == (2, "pro", 49.0)
    assert folded[0]["event_counts"] == {"Upgrade": 1, "SubscriptionPurchased": 1, "PageView": 1}
    f = db.execute("SELECT plan, mrr FROM shared.person_feature WHERE person_id = %s", (p,))
    assert f.fetchone() == {"plan": "pro", "mrr": folded[0]["mrr"]}
    db.execute("SELECT shared.rebuild_person_activity()")
    assert db.execute(snapshot, (p,)).fetchall() == folded


@pytest.mark.parametrize(
    ("properties", "mrr"),
    [
        ({"mrr": "49"}, "49.00"),
        ({"plan_price": " 29.999 "}, "30.00"),
        ({"mrr": "12a", "plan_price": "29"}, None),  # the first key present decides
        ({"upgrade_price": "0.5"}, "0.50"),
        ({"value": 19}, "19.00"),
        ({"value": "-3"}, None),
        ({"mrr": "1234567890123"}, None),
        ({"mrr": "29\u2003"}, "29.00"),  # a Unicode space is space (a cast would have failed)
        ({"mrr": ""}, None),
        ({"plan": "pro"}, None),
    ],
)
def test_a_payments_mrr_is_its_first_amount_when_that_is_a_number(
    db: Conn, properties: dict[str, Any], mrr: str | None
) -> None:
    row = db.execute(
        "SELECT shared._payment_mrr(%s::jsonb)::text AS mrr", (json.dumps(properties),)
    ).fetchone()
    assert row == {"mrr": mrr}


@pytest.mark.parametrize(
    "history",
    [
        # paid, then canceled: churned at the cancellation
        [
            ("FeatureUsed", "10 days"),
            ("SubscriptionPurchased", "5 days"),
            ("PricingPageViewed", "20 days"),
            ("PricingPageViewed", "1 hour"),
            ("SubscriptionCanceled", "1 day"),
        ],
        # paid and active
        [
            ("SubscriptionPurchased", "40 days"),
            ("SubscriptionPurchased", "2 days"),
            ("FeatureUsed", "3 hours"),
            ("PageView", "1 hour"),
        ],
        # quiet for 45 days: churned 30 days after the last event
        [("PageView", "60 days"), ("FeatureUsed", "45 days")],
    ],
)
def test_per_product_features_agree_with_the_persons_for_one_product(
    db: Conn, history: list[tuple[str, str]]
) -> None:
    """shared.person_product_feature defines paid, churn, last activity, first payment and the
    windows as person_feature does: for someone with one product they are the same. (Its plan
    and mrr are the last payment's, kept after a cancellation; person_feature's are the current
    ones, none when not paid.)"""
    p = person(db, "one-product@example.com")
    events(db, [(p, "snapmix", name, age, {"plan_price": "19"}) for name, age in history])
    evaluate(db)
    columns = ("first_seen_at", "last_seen_at", "events", "activated_at", "last_paid_at",
               "first_paid_at", "paid", "churned_at", "last_activity_at",
               "pricing_views_7d", "pricing_views_30d", "usage_7d", "usage_30d")  # fmt: skip
    listed = ", ".join(columns)
    per_product = db.execute(
        f"SELECT {listed} FROM shared.person_product_feature WHERE person_id = %s", (p,)
    ).fetchone()
    overall = db.execute(
        f"SELECT {listed} FROM shared.person_feature WHERE person_id = %s", (p,)
    ).fetchone()
    assert per_product == overall


def test_a_full_run_puts_back_members_that_drifted(db: Conn) -> None:
    """A full run compares the view with the stored members in one pass: who is missing joins,
    who should not be there leaves, each with its history row and queue message."""
    a = person(db, "drift-a@example.com")
    b = person(db, "drift-b@example.com")
    events(db, [(a, "snapmix", "Signup", "1 day", {}), (b, "snapmix", "Signup", "1 day", {})])
    evaluate(db)
    assert members(db, "all_leads") == {a, b}
    db.execute(
        "DELETE FROM shared.segment_member WHERE segment_id = 'all_leads' AND person_id = %s", (b,)
    )
    db.execute(
        "INSERT INTO shared.segment_member (segment_id, person_id) VALUES ('all_customers', %s)",
        (a,),
    )
    full = evaluate(db, full=True)
    leads = full["all_leads"]
    assert (leads["members"], leads["joined"], leads["left"]) == (2, 1, 0)
    assert (full["all_customers"]["members"], full["all_customers"]["left"]) == (0, 1)
    assert members(db, "all_leads") == {a, b} and members(db, "all_customers") == set()
    run = db.execute(
        "SELECT run_id FROM shared.segment_run ORDER BY run_id DESC LIMIT 1"
    ).fetchone()
    assert run is not None
    history = db.execute(
        "SELECT segment_id, person_id::text AS p, change FROM shared.segment_history "
        "WHERE run_id = %s ORDER BY segment_id",
        (run["run_id"],),
    ).fetchall()
    assert history == [
        {"segment_id": "all_customers", "p": a, "change": "leave"},
        {"segment_id": "all_leads", "p": b, "change": "join"},
    ]
