"""Two sessions at once around the segment engine's daily tables and views.

- An erasure while an evaluation settles the person's days (moves them from the recent table to
  the settled one): nothing of the person is left in either.
- A segment redefined while an evaluation is open: the redefinition waits for the evaluation,
  which evaluated the view it checked.
- A backend killed after an evaluation or a settle did its work, before committing: nothing
  lost, nothing counted twice.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.support.waiting import blocked_until_commit
from tests.test_segments import evaluate, events, person

Conn = psycopg.Connection[dict[str, Any]]


def test_an_erasure_during_a_settle_leaves_no_daily_row(db: Conn, db_url: str) -> None:
    ann = person(db, "ann@example.com")
    events(db, [(ann, "snapmix", "FeatureUsed", "0 seconds", {})])
    evaluate(db)
    rows = "SELECT count(*) AS n FROM shared.person_activity_{} WHERE person_id = %s"
    assert db.execute(rows.format("recent"), (ann,)).fetchone() == {"n": 1}
    with (
        psycopg.connect(db_url, row_factory=dict_row) as settling,
        psycopg.connect(db_url, row_factory=dict_row, autocommit=True) as erasing,
    ):
        # As the next day's first evaluation: today's rows move, not committed yet.
        moved = settling.execute(
            "SELECT shared._settle_person_activity(shared._utc_day(now()) + 1) AS n"
        ).fetchone()
        assert moved == {"n": 1}
        errors = blocked_until_commit(
            db,
            settling,
            lambda: erasing.execute("DELETE FROM shared.person WHERE id = %s", (ann,)),
        )
    assert not errors
    for table in ("recent", "settled"):
        assert db.execute(rows.format(table), (ann,)).fetchone() == {"n": 0}, table


def test_a_segment_redefined_during_an_evaluation_waits_for_it(db: Conn, db_url: str) -> None:
    ann = person(db, "ann@example.com")
    events(db, [(ann, "snapmix", "PricingPageViewed", "1 hour", {})])
    db.execute(
        "SELECT shared.segment_define('pricing', %s, true, 'pricing viewers', 'tests')",
        ("SELECT f.person_id FROM shared.person_feature AS f WHERE f.pricing_views_7d >= 1",),
    )
    with (
        psycopg.connect(db_url, row_factory=dict_row) as evaluating,
        psycopg.connect(db_url, row_factory=dict_row, autocommit=True) as defining,
    ):
        result = evaluating.execute(
            "SELECT joined FROM shared.evaluate_segments() WHERE segment_id = 'pricing'"
        ).fetchone()
        assert result == {"joined": 1}
        errors = blocked_until_commit(
            db,
            evaluating,
            lambda: defining.execute(
                "SELECT shared.segment_define('pricing', %s, false)",
                ("SELECT f.person_id FROM shared.person_feature AS f WHERE f.paid",),
            ),
        )
    assert not errors
    # The new definition is the one the next evaluation uses.
    assert evaluate(db, full=True)["pricing"]["left"] == 1


def killed(db: Conn, victim: psycopg.Connection[Any]) -> None:
    """Terminate the victim's backend mid-transaction, as a crash would."""
    pid = victim.info.backend_pid
    db.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def daily_totals(db: Conn) -> dict[str, Any]:
    row = db.execute(
        "SELECT (SELECT coalesce(sum(events), 0) FROM shared.person_activity_daily) AS folded, "
        "(SELECT count(*) FROM shared.event WHERE person_id IS NOT NULL) AS stored"
    ).fetchone()
    assert row is not None
    return dict(row)


def test_an_evaluation_or_settle_killed_half_way_loses_and_doubles_nothing(
    db: Conn, db_url: str
) -> None:
    """Each event is counted once in the daily rows after a backend dies between folding (or
    settling) and committing: its transaction goes, the change log it drained comes back."""
    people = [person(db, f"p{n}@example.com") for n in range(5)]
    events(db, [(p, "snapmix", "FeatureUsed", "1 day", {}) for p in people])
    evaluate(db)
    events(db, [(p, "snapmix", "PageView", "0 seconds", {}) for p in people])
    for work in (
        "SELECT count(*) FROM shared.evaluate_segments()",
        "SELECT shared._settle_person_activity(shared._utc_day(now()) + 1)",
    ):
        victim = psycopg.connect(db_url)
        victim.execute(work)  # done, not committed
        killed(db, victim)
        victim.close()
        assert daily_totals(db) == {"folded": 5, "stored": 10}, work
    evaluate(db)
    assert daily_totals(db) == {"folded": 10, "stored": 10}
    db.execute("SELECT shared._settle_person_activity(shared._utc_day(now()) + 1)")
    assert daily_totals(db) == {"folded": 10, "stored": 10}
    recent = db.execute("SELECT count(*) AS n FROM shared.person_activity_recent").fetchone()
    assert recent == {"n": 0}
