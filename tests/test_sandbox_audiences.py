"""Custom Audiences: create, add/remove, invalid entries, limits, replace sessions, counts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from meta_sandbox.config import SandboxConfig
from tests.test_sandbox_support import (
    ACCOUNT,
    TOKEN,
    FakeClock,
    SandboxClient,
    V,
    graph_error,
    sandbox_client,
    sha,
)

SCHEMA = ["EMAIL", "PHONE", "EXTERN_ID"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_800_000_000.0)


@pytest.fixture
def sb(clock: FakeClock) -> Iterator[SandboxClient]:
    with sandbox_client(SandboxConfig(clock=clock)) as client:
        yield client


def create(sb: SandboxClient, **overrides: Any) -> str:
    params = {
        "name": "snapmix purchasers",
        "subtype": "CUSTOM",
        "customer_file_source": "USER_PROVIDED_ONLY",
        "description": "people who bought",
    }
    params.update(overrides)
    response = sb.graph("POST", f"/{ACCOUNT}/customaudiences", **params)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id"}
    audience_id: str = response.json()["id"]
    return audience_id


def rows(*emails: str) -> list[list[str]]:
    return [[sha(email), "", ""] for email in emails]


def payload(data: list[list[str]], schema: Any = SCHEMA) -> dict[str, Any]:
    return {"schema": schema, "data": data}


def members(sb: SandboxClient, audience_id: str) -> list[str]:
    keys: list[str] = sb.get(f"/_sandbox/audiences/{audience_id}").json()["member_keys"]
    return keys


def count(sb: SandboxClient, audience_id: str) -> int:
    value: int = sb.get(f"/_sandbox/audiences/{audience_id}").json()["count"]
    return value


def replace(sb: SandboxClient, audience_id: str, data: list[list[str]], **session: Any) -> Any:
    """A usersreplace batch; the schema drops EXTERN_ID, which usersreplace refuses."""
    replace_rows = [row[:2] for row in data]
    body = payload(replace_rows, schema=SCHEMA[:2])
    return sb.graph("POST", f"/{audience_id}/usersreplace", payload=body, session=session)


# --- create -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"name": ""}, "name is required"),
        ({"subtype": "LOOKALIKE"}, "subtype"),
        ({"customer_file_source": None}, "customer_file_source is required"),
        ({"customer_file_source": "SOMEONE"}, "customer_file_source is required"),
    ],
)
def test_create_requires_its_fields(
    sb: SandboxClient, overrides: dict[str, Any], fragment: str
) -> None:
    params = {"name": "x", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    error = graph_error(sb.graph("POST", f"/{ACCOUNT}/customaudiences", **params))
    assert error["code"] == 100 and fragment in error["message"]


def test_create_in_an_unknown_account_is_an_unknown_object(sb: SandboxClient) -> None:
    error = graph_error(sb.graph("POST", "/act_999/customaudiences", name="x"))
    assert (error["code"], error["error_subcode"]) == (100, 33)


def test_new_audience_reads_back(sb: SandboxClient) -> None:
    audience_id = create(sb)
    fields = "name,description,subtype,customer_file_source,operation_status,delivery_status"
    body = sb.graph("GET", f"/{audience_id}", fields=fields).json()
    assert body["id"] == audience_id and body["name"] == "snapmix purchasers"
    assert body["operation_status"]["code"] == 410  # nothing uploaded yet
    assert body["delivery_status"]["code"] == 300
    assert sb.graph("GET", f"/{audience_id}").json() == {"id": audience_id}
    error = graph_error(sb.graph("GET", f"/{audience_id}", fields="nope"))
    assert error["code"] == 100 and "nonexisting field (nope)" in error["message"]


# --- /users -----------------------------------------------------------------------------------


def test_add_and_remove_users_with_a_multi_key_schema(sb: SandboxClient) -> None:
    audience_id = create(sb)
    data = [
        [sha("a@x.com"), sha("15550001"), "ext-1"],
        [sha("b@x.com"), "", ""],
        ["", "", "ext-3"],
    ]
    response = sb.graph("POST", f"/{audience_id}/users", payload=payload(data))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "audience_id", "session_id", "num_received", "num_invalid_entries",
        "invalid_entry_samples",
    }  # fmt: skip
    assert body["audience_id"] == audience_id
    assert body["num_received"] == 3 and body["num_invalid_entries"] == 0
    assert body["invalid_entry_samples"] == {}
    assert count(sb, audience_id) == 3
    assert f"EMAIL:{sha('a@x.com')}" in members(sb, audience_id)
    # Removing by any one key removes the member (EXTERN_ID alone is supported).
    removal = payload([["ext-1"]], schema=["EXTERN_ID"])
    assert sb.graph("DELETE", f"/{audience_id}/users", payload=removal).status_code == 200
    assert count(sb, audience_id) == 2
    assert f"EMAIL:{sha('a@x.com')}" not in members(sb, audience_id)


def test_a_row_matching_an_existing_member_is_that_member(sb: SandboxClient) -> None:
    audience_id = create(sb)
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows("a@x.com")))
    again = [[sha("a@x.com"), sha("15550001"), ""]]
    sb.graph("POST", f"/{audience_id}/users", payload=payload(again))
    assert count(sb, audience_id) == 1
    assert f"PHONE:{sha('15550001')}" in members(sb, audience_id)


def test_single_key_schema_and_form_encoded_payload(sb: SandboxClient) -> None:
    audience_id = create(sb)
    form = {
        "access_token": TOKEN,
        "payload": json.dumps({"schema": "EMAIL_SHA256", "data": [sha("a@x.com"), sha("b@x.com")]}),
    }
    response = sb.post(f"{V}/{audience_id}/users", data=form)
    assert response.status_code == 200, response.text
    assert count(sb, audience_id) == 2


def test_post_with_method_delete_removes(sb: SandboxClient) -> None:
    audience_id = create(sb)
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows("a@x.com", "b@x.com")))
    response = sb.graph(
        "POST", f"/{audience_id}/users", method="DELETE", payload=payload(rows("a@x.com"))
    )
    assert response.status_code == 200
    assert count(sb, audience_id) == 1


def test_delete_with_payload_in_the_query_string(sb: SandboxClient) -> None:
    audience_id = create(sb)
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows("a@x.com")))
    query = {"access_token": TOKEN, "payload": json.dumps(payload(rows("a@x.com")))}
    assert sb.delete(f"{V}/{audience_id}/users", params=query).status_code == 200
    assert count(sb, audience_id) == 0


def test_invalid_entries_are_counted_with_samples_and_not_added(sb: SandboxClient) -> None:
    audience_id = create(sb)
    data = [
        [sha("a@x.com"), "", ""],
        ["raw@x.com", "", ""],  # not hashed
        [sha("b@x.com").upper(), "", ""],  # not lowercase
        ["", "+1 555 0001", ""],  # phone not hashed
        ["", "", ""],  # nothing in the row
        [sha("c@x.com"), "", "ext-unhashed-is-fine"],
    ]
    body = sb.graph("POST", f"/{audience_id}/users", payload=payload(data)).json()
    assert body["num_received"] == 6
    assert body["num_invalid_entries"] == 4
    assert "raw@x.com" in body["invalid_entry_samples"]
    assert "EMAIL" in body["invalid_entry_samples"]["raw@x.com"]
    assert count(sb, audience_id) == 2


def test_invalid_entry_samples_stop_at_100(sb: SandboxClient) -> None:
    audience_id = create(sb)
    data = [[f"user{i}@x.com", "", ""] for i in range(150)]
    body = sb.graph("POST", f"/{audience_id}/users", payload=payload(data)).json()
    assert body["num_invalid_entries"] == 150
    assert len(body["invalid_entry_samples"]) == 100


def test_madid_must_be_an_unhashed_advertising_id(sb: SandboxClient) -> None:
    audience_id = create(sb)
    data = [["6d92078a-8246-4ba4-ae5b-76104861e7dc"], [sha("x")]]
    body = sb.graph(
        "POST", f"/{audience_id}/users", payload=payload(data, schema="MOBILE_ADVERTISER_ID")
    ).json()
    assert body["num_invalid_entries"] == 1
    assert count(sb, audience_id) == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "payload is required"),
        ({"payload": "not json"}, "must be valid JSON"),
        ({"payload": {"schema": ["EMAIL"], "data": []}}, "non-empty list"),
        ({"payload": {"schema": ["EMAIL", "SHOE_SIZE"], "data": [["", ""]]}}, "SHOE_SIZE"),
        ({"payload": {"schema": ["EMAIL", "EMAIL"], "data": [["", ""]]}}, "twice"),
        ({"payload": {"schema": SCHEMA, "data": [[sha("a"), ""]]}}, "data[0] has 2 values"),
        ({"payload": {"schema": SCHEMA, "data": [["", "", ""]] * 10_001}}, "at most 10000"),
    ],
    ids=["missing", "not-json", "no-rows", "unknown-key", "repeated-key", "misaligned", "10001"],
)
def test_payload_rules(sb: SandboxClient, body: dict[str, Any], fragment: str) -> None:
    audience_id = create(sb)
    error = graph_error(sb.graph("POST", f"/{audience_id}/users", **body))
    assert error["code"] == 100 and fragment in error["message"], error["message"]
    assert count(sb, audience_id) == 0


def test_10000_rows_are_accepted(sb: SandboxClient) -> None:
    audience_id = create(sb)
    data = [["", "", f"ext-{i}"] for i in range(10_000)]
    body = sb.graph("POST", f"/{audience_id}/users", payload=payload(data)).json()
    assert body["num_received"] == 10_000
    assert count(sb, audience_id) == 10_000


def test_users_session_counts_a_running_total(sb: SandboxClient) -> None:
    audience_id = create(sb)
    for seq, email in enumerate(["a", "b", "c"], start=1):
        session = {"session_id": 77, "batch_seq": seq, "last_batch_flag": seq == 3}
        body = sb.graph(
            "POST", f"/{audience_id}/users", payload=payload(rows(email)), session=session
        ).json()
        assert body["session_id"] == "77" and body["num_received"] == seq


def test_unknown_audience(sb: SandboxClient) -> None:
    error = graph_error(sb.graph("POST", "/999/users", payload=payload(rows("a"))))
    assert (error["code"], error["error_subcode"]) == (100, 33)


# --- approximate count and delivery status ----------------------------------------------------


def test_count_is_a_rounded_range_and_delivery_needs_100_members(
    sb: SandboxClient, clock: FakeClock
) -> None:
    audience_id = create(sb)
    fields = "approximate_count_lower_bound,approximate_count_upper_bound,delivery_status"
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows(*map(str, range(99)))))
    clock.advance(61)  # uploads reach the count after the processing delay
    body = sb.graph("GET", f"/{audience_id}", fields=fields).json()
    assert body["approximate_count_lower_bound"] < 99 < body["approximate_count_upper_bound"]
    assert body["delivery_status"]["code"] == 300
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows(*map(str, range(99, 1234)))))
    clock.advance(61)
    body = sb.graph("GET", f"/{audience_id}", fields=fields).json()
    assert body["approximate_count_lower_bound"] <= 1234 <= body["approximate_count_upper_bound"]
    assert body["approximate_count_lower_bound"] % 100 == 0
    assert body["approximate_count_upper_bound"] % 100 == 0
    assert body["delivery_status"]["code"] == 200


def test_counts_lag_behind_uploads_until_processed(sb: SandboxClient, clock: FakeClock) -> None:
    audience_id = create(sb)
    fields = "approximate_count_lower_bound,approximate_count_upper_bound"
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows(*map(str, range(500)))))
    clock.advance(30)
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows(*map(str, range(500, 800)))))
    assert sb.graph("GET", f"/{audience_id}", fields=fields).json()[
        "approximate_count_upper_bound"] == 0  # nothing processed yet
    clock.advance(31)  # the first upload is processed, the second is not
    body = sb.graph("GET", f"/{audience_id}", fields=fields).json()
    assert body["approximate_count_lower_bound"] <= 500 <= body["approximate_count_upper_bound"]
    assert body["approximate_count_upper_bound"] < 800
    assert count(sb, audience_id) == 800  # the inspection API shows the truth at once
    # The switch for tests: processing becomes immediate.
    assert sb.post("/_sandbox/audience-processing", json={"seconds": 0}).status_code == 200
    body = sb.graph("GET", f"/{audience_id}", fields=fields).json()
    assert body["approximate_count_lower_bound"] <= 800 <= body["approximate_count_upper_bound"]
    assert sb.post("/_sandbox/audience-processing", json={"seconds": -1}).status_code == 422
    sb.post("/_sandbox/reset")
    assert sb.sandbox.audience_processing_s == 60.0


def test_listing_an_accounts_audiences_pages_with_cursors(sb: SandboxClient) -> None:
    made = [create(sb, name=f"aud {i}", description=f"marker-{i}") for i in range(5)]
    first = sb.graph("GET", f"/{ACCOUNT}/customaudiences", fields="name,description", limit=2)
    body = first.json()
    assert [a["id"] for a in body["data"]] == made[:2]
    assert body["data"][0] == {"id": made[0], "name": "aud 0", "description": "marker-0"}
    seen = [a["id"] for a in body["data"]]
    while "next" in body["paging"]:
        body = sb.get(body["paging"]["next"]).json()
        seen += [a["id"] for a in body["data"]]
    assert seen == made
    error = graph_error(sb.graph("GET", f"/{ACCOUNT}/customaudiences", fields="shoe_size"))
    assert error["code"] == 100 and "shoe_size" in error["message"]
    error = graph_error(sb.graph("GET", "/act_999/customaudiences"))
    assert error["error_subcode"] == 33


# --- usersreplace sessions --------------------------------------------------------------------


def test_replace_swaps_members_atomically_at_the_last_batch(sb: SandboxClient) -> None:
    audience_id = create(sb)
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows("old1", "old2")))
    first = replace(sb, audience_id, rows("new1"), session_id=5, batch_seq=1)
    assert first.status_code == 200, first.text
    assert first.json()["num_received"] == 1 and first.json()["session_id"] == "5"
    assert count(sb, audience_id) == 2  # old members until completion
    status = sb.graph("GET", f"/{audience_id}", fields="operation_status").json()
    assert status["operation_status"]["code"] == 414
    last = replace(
        sb, audience_id, rows("new2", "new3"), session_id=5, batch_seq=2, last_batch_flag=True
    )
    assert last.json()["num_received"] == 3
    assert sorted(members(sb, audience_id)) == sorted(
        f"EMAIL:{sha(e)}" for e in ["new1", "new2", "new3"]
    )
    status = sb.graph("GET", f"/{audience_id}", fields="operation_status").json()
    assert status["operation_status"]["code"] == 200


def test_replace_requires_a_session(sb: SandboxClient) -> None:
    audience_id = create(sb)
    response = sb.graph("POST", f"/{audience_id}/usersreplace", payload=payload(rows("a")))
    error = graph_error(response)
    assert error["code"] == 100 and "session is required" in error["message"]


def test_first_batch_must_be_1(sb: SandboxClient) -> None:
    audience_id = create(sb)
    error = graph_error(replace(sb, audience_id, rows("a"), session_id=5, batch_seq=2))
    assert (error["code"], error["error_subcode"]) == (2650, 1870147)


def test_one_replace_at_a_time_and_no_users_calls_meanwhile(sb: SandboxClient) -> None:
    audience_id = create(sb)
    assert replace(sb, audience_id, rows("a"), session_id=5, batch_seq=1).status_code == 200
    error = graph_error(replace(sb, audience_id, rows("b"), session_id=6, batch_seq=1))
    assert (error["code"], error["error_subcode"]) == (2650, 1870145)
    error = graph_error(sb.graph("POST", f"/{audience_id}/users", payload=payload(rows("c"))))
    assert (error["code"], error["error_subcode"]) == (2650, 1870145)
    error = graph_error(sb.graph("DELETE", f"/{audience_id}/users", payload=payload(rows("c"))))
    assert (error["code"], error["error_subcode"]) == (2650, 1870145)
    error = graph_error(replace(sb, audience_id, rows("d"), session_id=5, batch_seq=1))
    assert (error["code"], error["error_subcode"]) == (2650, 1870145)  # batch 1 resent


def test_batches_after_the_last_one_are_refused(sb: SandboxClient) -> None:
    audience_id = create(sb)
    done = replace(sb, audience_id, rows("a"), session_id=5, batch_seq=1, last_batch_flag=True)
    assert done.status_code == 200
    error = graph_error(replace(sb, audience_id, rows("b"), session_id=5, batch_seq=2))
    assert (error["code"], error["error_subcode"]) == (2650, 1870159)
    assert replace(sb, audience_id, rows("c"), session_id=6, batch_seq=1).status_code == 200


def test_session_times_out_after_90_minutes_and_applies_what_it_had(
    sb: SandboxClient, clock: FakeClock
) -> None:
    audience_id = create(sb)
    sb.graph("POST", f"/{audience_id}/users", payload=payload(rows("old")))
    assert replace(sb, audience_id, rows("a"), session_id=5, batch_seq=1).status_code == 200
    clock.advance(89 * 60)
    assert replace(sb, audience_id, rows("b"), session_id=5, batch_seq=2).status_code == 200
    clock.advance(2 * 60)  # 91 minutes after the first batch
    error = graph_error(replace(sb, audience_id, rows("c"), session_id=5, batch_seq=3))
    assert (error["code"], error["error_subcode"]) == (2650, 1870158)
    assert sorted(members(sb, audience_id)) == sorted([f"EMAIL:{sha('a')}", f"EMAIL:{sha('b')}"])
    # Finish with /users adds, as Meta advises.
    assert sb.graph("POST", f"/{audience_id}/users", payload=payload(rows("c"))).status_code == 200
    assert count(sb, audience_id) == 3


def test_schema_must_stay_the_same_within_a_session(sb: SandboxClient) -> None:
    audience_id = create(sb)
    assert replace(sb, audience_id, rows("a"), session_id=5, batch_seq=1).status_code == 200
    response = sb.graph(
        "POST",
        f"/{audience_id}/usersreplace",
        payload=payload([[sha("b")]], schema=["EMAIL"]),
        session={"session_id": 5, "batch_seq": 2},
    )
    error = graph_error(response)
    assert error["code"] == 100 and "schema must stay the same" in error["message"]


def test_replace_refuses_extern_id(sb: SandboxClient) -> None:
    audience_id = create(sb)
    response = sb.graph(
        "POST",
        f"/{audience_id}/usersreplace",
        payload=payload([["e1"]], schema=["EXTERN_ID"]),
        session={"session_id": 5, "batch_seq": 1},
    )
    assert "EXTERN_ID" in graph_error(response)["message"]


def test_delete_audience(sb: SandboxClient) -> None:
    audience_id = create(sb)
    assert sb.graph("DELETE", f"/{audience_id}").json() == {"success": True}
    assert graph_error(sb.graph("GET", f"/{audience_id}"))["error_subcode"] == 33
    listed = sb.get("/_sandbox/audiences").json()["audiences"]
    assert listed == []
