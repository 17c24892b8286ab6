"""Runs between full checks read only what changed, and miss nothing: a change committed after a
run began, by a transaction open before it, is the next run's; consent given again re-adds."""

from __future__ import annotations

import psycopg

from tests.insights_helpers import ServedSandbox
from tests.test_audience_support import (
    Conn,
    add_people,
    audience_id,
    configure,
    expected_members,
    join,
    make_segment,
    meta_members,
    same_people,
    sync,
)

SEG = "all_leads"


def last_run(db: Conn) -> dict[str, object]:
    row = db.execute(
        "SELECT changed_since, checked_from, started_at FROM shared.audience_sync_run "
        "WHERE segment_id = %s ORDER BY id DESC LIMIT 1",
        (SEG,),
    ).fetchone()
    assert row is not None
    return row


def test_a_change_committed_after_a_run_began_is_the_next_runs(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    people = add_people(db, 6)
    join(db, SEG, people[:4])
    assert sync(db_url, meta.url).status == "succeeded"
    assert last_run(db)["changed_since"] is None  # the first run checks everyone
    # A transaction that began before the next run changes an email and adds a member; it
    # commits only after that run: its times (updated_at, the history's) are before the run.
    with psycopg.connect(db_url) as slow:
        slow.execute("UPDATE shared.person SET email = 'late-' || email WHERE id = %s",
                     (people[0],))  # fmt: skip
        slow.execute("INSERT INTO shared.segment_member (segment_id, person_id) VALUES (%s, %s)",
                     (SEG, people[4]))  # fmt: skip
        during = sync(db_url, meta.url)
        assert (during.status, during.upload_requests) == ("succeeded", 0)
        run = last_run(db)
        assert run["changed_since"] is not None  # incremental
        assert run["checked_from"] < run["started_at"]  # type: ignore[operator]
        slow.commit()
    after = sync(db_url, meta.url)
    assert after.status == "succeeded", after
    assert (after.rows_removed, after.rows_added) == (1, 2)
    assert same_people(meta_members(meta.sandbox, audience_id(db, SEG)),
                       expected_members(db, SEG))  # fmt: skip
    assert sync(db_url, meta.url).upload_requests == 0


def test_consent_given_again_re_adds_and_a_replace_is_followed_by_a_full_check(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    people = add_people(db, 5)
    join(db, SEG, people)
    assert sync(db_url, meta.url).status == "succeeded"
    db.execute("UPDATE shared.person SET consent_status = 'withdrawn' WHERE id = %s",
               (people[1],))  # fmt: skip
    withdrawn = sync(db_url, meta.url)
    assert (withdrawn.rows_removed, withdrawn.rows_added) == (1, 0)
    db.execute("UPDATE shared.person SET consent_status = 'granted' WHERE id = %s", (people[1],))
    again = sync(db_url, meta.url)
    assert (again.rows_removed, again.rows_added) == (0, 1)
    assert last_run(db)["changed_since"] is not None
    audience = audience_id(db, SEG)
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))
    assert sync(db_url, meta.url, mode="replace").status == "succeeded"
    after = sync(db_url, meta.url)
    assert (after.status, after.upload_requests) == ("succeeded", 0)
    assert last_run(db)["changed_since"] is None  # a full check after the replace
