"""Audience sync against the sandbox: create once, diff by what Meta acknowledged, churn, guards."""

from __future__ import annotations

import pytest

from tests.insights_helpers import ServedSandbox
from tests.test_audience_support import (
    Conn,
    add_people,
    audience_id,
    configure,
    expected_members,
    join,
    leave,
    make_segment,
    meta_members,
    same_people,
    sync,
)

SEG = "activated_not_paid_day3"


def uploads(meta: ServedSandbox) -> list[str]:
    with meta.sandbox.lock:
        return [e.path for e in meta.sandbox.request_log if "/users" in e.path]


def test_first_run_creates_the_prd_audience_and_uploads_every_member(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG, "Activated Free Users")
    configure(db, {SEG: None})
    people = add_people(db, 25)
    join(db, SEG, people)
    report = sync(db_url, meta.url)
    assert report.status == "succeeded", report
    assert (report.rows_added, report.rows_removed, report.upload_requests) == (25, 0, 1)
    audience = audience_id(db, SEG)
    with meta.sandbox.lock:
        created = meta.sandbox.audiences[audience]
        assert created.name == "Activated Free Users"
    mapping = db.execute(
        "SELECT value FROM shared.setting WHERE setting_key = 'META_CUSTOM_AUDIENCE_IDS'"
    ).fetchone()
    assert mapping is not None and mapping["value"] == {SEG: audience}
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))
    run = db.execute("SELECT * FROM shared.audience_sync_run WHERE id = %s",
                     (report.run_id,)).fetchone()  # fmt: skip
    assert run is not None
    assert (run["status"], run["rows_added"], run["requests"], run["num_received"]) == (
        "succeeded", 25, 1, 25)
    assert run["num_invalid_entries"] == 0 and run["invalid_entry_samples"] == {}
    # Nothing changed: the next run sends nothing.
    again = sync(db_url, meta.url)
    assert (again.status, again.upload_requests, again.rows_added) == ("succeeded", 0, 0)


def test_a_crash_between_create_and_store_does_not_make_a_second_audience(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG, "Activated Free Users")
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, 3))
    marker = db.execute("SELECT create_marker FROM shared.meta_audience WHERE segment_id = %s",
                        (SEG,)).fetchone()  # fmt: skip
    assert marker is not None
    # The audience Meta made before the worker died: its description carries the marker.
    response = meta.http.post(
        f"/v25.0/{'act_1000000001'}/customaudiences",
        data={"access_token": "sandbox-token", "name": "Activated Free Users",
              "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY",
              "description": f"GDP segment {SEG} [{marker['create_marker']}]"},
    )  # fmt: skip
    assert response.status_code == 200
    made = response.json()["id"]
    report = sync(db_url, meta.url)
    assert report.status == "succeeded" and report.audience_id == made
    with meta.sandbox.lock:
        assert list(meta.sandbox.audiences) == [made]
        assert len(meta.sandbox.audiences[made].members) == 3


def test_churn_over_several_runs_leaves_meta_equal_to_membership(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    people = add_people(db, 40)
    join(db, SEG, people[:30])
    assert sync(db_url, meta.url).status == "succeeded"
    audience = audience_id(db, SEG)
    # Round 1: five leave, five join, two change email, one changes phone.
    leave(db, SEG, people[:5])
    join(db, SEG, people[30:35])
    db.execute("UPDATE shared.person SET email = 'new-' || email WHERE id = ANY(%s::uuid[])",
               (people[10:12],))  # fmt: skip
    db.execute("UPDATE shared.person SET phone = '+14155550199' WHERE id = %s", (people[12],))
    report = sync(db_url, meta.url)
    assert report.status == "succeeded", report
    # 5 leave + 3 identity changes removed; 5 joined + 3 re-added.
    assert (report.rows_removed, report.rows_added) == (8, 8)
    assert report.upload_requests == 2
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))
    # Round 2: an erasure, a consent withdrawal, a name change (same person, new row).
    db.execute("SELECT shared.erase_person(%s, 'test', 'asked')", (people[20],))
    db.execute("UPDATE shared.person SET consent_status = 'withdrawn' WHERE id = %s",
               (people[21],))  # fmt: skip
    db.execute("UPDATE shared.person SET last_name = 'Smith' WHERE id = %s", (people[22],))
    db.execute("UPDATE shared.person SET utm_source = 'x' WHERE id = %s", (people[23],))
    report = sync(db_url, meta.url)
    assert report.status == "succeeded", report
    assert (report.rows_removed, report.rows_added) == (2, 1)
    assert same_people(meta_members(meta.sandbox, audience), expected_members(db, SEG))
    # Round 3: everyone but three leaves after an admin acknowledged it; then nothing to do.
    leave(db, SEG, people[5:])
    refused = sync(db_url, meta.url)
    assert refused.status == "refused" and "allow-removals" in (refused.message or "")
    db.execute("SELECT shared.audience_allow_removals(%s, 100, 'ana', 'campaign ended')", (SEG,))
    report = sync(db_url, meta.url)
    assert report.status == "succeeded", report
    assert same_people(meta_members(meta.sandbox, audience), set())
    assert sync(db_url, meta.url).upload_requests == 0


def test_requests_hold_at_most_10000_rows_and_empty_cells_stay_empty(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG)
    configure(db, {SEG: None})
    people = add_people(db, 25)
    db.execute("UPDATE shared.person SET phone = NULL, first_name = NULL, city = NULL, "
               "date_of_birth = NULL WHERE id = ANY(%s::uuid[])", (people[:5],))  # fmt: skip
    join(db, SEG, people)
    report = sync(db_url, meta.url, rows_per_request=10)
    assert (report.status, report.upload_requests, report.rows_added) == ("succeeded", 3, 25)
    cells = db.execute(
        "SELECT row_cells FROM shared.audience_ack WHERE person_id = %s", (people[0],)
    ).fetchone()
    assert cells is not None
    schema = db.execute("SELECT shared.audience_schema() AS s").fetchone()
    assert schema is not None
    row = dict(zip(schema["s"], cells["row_cells"], strict=True))
    empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert row["PHONE"] == row["FN"] == row["CT"] == row["DOBY"] == ""
    assert empty_sha not in cells["row_cells"]
    assert len(row["EMAIL"]) == 64 and len(row["EXTERN_ID"]) == 64
    run = db.execute("SELECT num_invalid_entries FROM shared.audience_sync_run WHERE id = %s",
                     (report.run_id,)).fetchone()  # fmt: skip
    assert run is not None and run["num_invalid_entries"] == 0


def test_min_size_guard_refuses_the_first_upload(
    db: Conn, db_url: str, meta: ServedSandbox
) -> None:
    make_segment(db, SEG, min_size=None)  # the default guard: 100 before the first upload
    configure(db, {SEG: None})
    join(db, SEG, add_people(db, 5))
    report = sync(db_url, meta.url)
    assert report.status == "refused"
    assert "5 members" in (report.message or "") and "at least 100" in (report.message or "")
    assert uploads(meta) == []
    forced = sync(db_url, meta.url, force=True)
    assert (forced.status, forced.rows_added) == ("succeeded", 5)


def test_the_flag_and_the_mapping_are_required(db: Conn, db_url: str, meta: ServedSandbox) -> None:
    from workers.errors import GdpError

    make_segment(db, SEG)
    configure(db, {SEG: None}, enabled=False)
    with pytest.raises(GdpError, match="META_CUSTOM_AUDIENCE_SYNC_ENABLED is off"):
        sync(db_url, meta.url)
    configure(db, {SEG: None})
    with pytest.raises(GdpError, match="not mapped"):
        sync(db_url, meta.url, "all_leads")
