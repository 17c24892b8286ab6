"""First-time conversion rules ("first feature used") fire from the features, exactly once per
person, through the CAPI queue and worker, also when two sessions insert at the same time."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.capi_helpers import PIXEL, enable_pipeline, run_once
from tests.support.sandbox import SandboxControl
from tests.support.waiting import blocked_until_commit

Conn = psycopg.Connection[dict[str, Any]]
INSERT = (
    "INSERT INTO shared.event (product_id, event_id, event_name, person_id) "
    "VALUES ('snapmix', %s, 'FeatureUsed', %s)"
)


def new_person(db: Conn, email: str) -> str:
    row = db.execute(
        "INSERT INTO shared.person (email) VALUES (%s) RETURNING id::text", (email,)
    ).fetchone()
    assert row is not None
    return str(row["id"])


def queued(db: Conn) -> list[dict[str, Any]]:
    return [
        r["message"]
        for r in db.execute("SELECT message FROM pgmq.q_meta_capi ORDER BY msg_id").fetchall()
    ]


def test_first_feature_used_fires_once_per_person(db: Conn) -> None:
    enable_pipeline(db)
    p = new_person(db, "first@example.com")
    db.execute(INSERT, ("f1", p))
    db.execute(INSERT, ("f2", p))
    msgs = queued(db)
    assert [m["meta_event_name"] for m in msgs] == ["CompleteRegistration"]
    ref = db.execute("SELECT id FROM shared.event WHERE event_id = 'f1'").fetchone()
    assert ref is not None and msgs[0]["event"] == ref["id"]
    fired = db.execute("SELECT count(*) AS n FROM shared.feature_trigger_fired").fetchone()
    assert fired == {"n": 1}


def test_off_without_the_segment_engine_flag(db: Conn) -> None:
    enable_pipeline(db, rules=False)
    p = new_person(db, "off@example.com")
    db.execute(INSERT, ("f1", p))
    assert queued(db) == []
    assert db.execute("SELECT count(*) AS n FROM shared.feature_trigger_fired").fetchone() == {
        "n": 0
    }


def test_two_sessions_inserting_at_once_fire_once(
    db: Conn, db_url: str, sandbox: SandboxControl
) -> None:
    enable_pipeline(db)
    people = [new_person(db, f"race{i}@example.com") for i in range(20)]
    with (
        psycopg.connect(db_url, row_factory=dict_row) as one,
        psycopg.connect(db_url, row_factory=dict_row) as two,
    ):
        # Session one inserts every person's first FeatureUsed and holds its transaction open.
        for i, p in enumerate(people):
            one.execute(INSERT, (f"a{i}", p))

        def second() -> None:
            with two.transaction():
                # Neither sees the other's events: both try to fire, one must wait.
                two.execute(
                    "INSERT INTO shared.event (product_id, event_id, event_name, person_id) "
                    "SELECT 'snapmix', 'b' || i, 'FeatureUsed', p FROM "
                    "unnest(%s::uuid[]) WITH ORDINALITY AS t(p, i)",
                    (people,),
                )

        # The second session is blocked on the first's ledger rows until it commits.
        errors = blocked_until_commit(db, one, second)
        assert not errors
    msgs = queued(db)
    assert len(msgs) == len(people)
    assert {m["meta_event_name"] for m in msgs} == {"CompleteRegistration"}
    firsts = db.execute(
        "SELECT id FROM shared.event WHERE event_id LIKE 'a%%' ORDER BY id"
    ).fetchall()
    assert sorted(m["event"] for m in msgs) == [r["id"] for r in firsts]
    # The same worker sends them: one CompleteRegistration per person reaches Meta.
    report = run_once(db_url, sandbox.url)
    assert report.sent == len(people)
    received = [e["event"] for e in sandbox.events(PIXEL)]
    assert len(received) == len(people)
    assert {e["event_name"] for e in received} == {"CompleteRegistration"}
    assert len({e["event_id"] for e in received}) == len(people)


def test_a_person_with_such_an_event_before_the_ledger_is_not_new(db: Conn) -> None:
    enable_pipeline(db, rules=False)  # the rules are off: FeatureUsed is stored, nothing fires
    p = new_person(db, "old@example.com")
    db.execute(INSERT, ("old1", p))
    enable_pipeline(db)
    db.execute(INSERT, ("new1", p))
    db.execute(INSERT, ("new2", p))
    assert queued(db) == []
    row = db.execute("SELECT sent, event_ref FROM shared.feature_trigger_fired").fetchone()
    old = db.execute("SELECT id FROM shared.event WHERE event_id = 'old1'").fetchone()
    assert row is not None and old is not None
    assert row == {"sent": False, "event_ref": old["id"]}  # recorded once, so looked up once
