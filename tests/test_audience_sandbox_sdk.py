"""The sandbox behaves like Meta for Custom Audiences, checked with Meta's own SDK as the client.

facebook-business talks to the sandbox process (`gdp sandbox`) over HTTP as it talks to
graph.facebook.com: AdAccount.create_custom_audience, CustomAudience.add_users / remove_users
(DELETE with the payload in the query string), api_get (read as /vX/{id}/ with a trailing
slash), AdAccount.get_custom_audiences (cursor paging), create_users_replace sessions,
delete_users, and counts that lag behind uploads until Meta has processed them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from tests.support.sandbox import APP_SECRET, TOKEN, SandboxControl
from workers.audiences.rows import SCHEMA, hash_people

ACCOUNT = "act_1000000001"
MULTI = [CustomAudience.Schema.MultiKeySchema.email, CustomAudience.Schema.MultiKeySchema.phone,
         CustomAudience.Schema.MultiKeySchema.extern_id]  # fmt: skip


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def api(sandbox: SandboxControl) -> FacebookAdsApi:
    session = FacebookSession(access_token=TOKEN, app_secret=APP_SECRET)
    session.GRAPH = sandbox.url
    return FacebookAdsApi(session, api_version="v25.0")


def immediate(sandbox: SandboxControl, seconds: float = 0) -> None:
    sandbox.http.post("/_sandbox/audience-processing", json={"seconds": seconds}).raise_for_status()


def state(sandbox: SandboxControl, audience_id: str) -> dict[str, Any]:
    response = sandbox.http.get(f"/_sandbox/audiences/{audience_id}")
    response.raise_for_status()
    return dict(response.json())


def create(api: FacebookAdsApi, name: str = "All Leads") -> CustomAudience:
    audience = AdAccount(ACCOUNT, api=api).create_custom_audience(params={
        CustomAudience.Field.name: name,
        CustomAudience.Field.subtype: CustomAudience.Subtype.custom,
        CustomAudience.Field.customer_file_source:
            CustomAudience.CustomerFileSource.user_provided_only,
        CustomAudience.Field.description: f"{name} (sdk test)",
    })  # fmt: skip
    assert isinstance(audience, CustomAudience) and audience["id"]
    return audience


def test_sdk_create_add_read_list_remove(api: FacebookAdsApi, sandbox: SandboxControl) -> None:
    immediate(sandbox)
    audience = create(api)
    rows = [[sha("a@x.com"), sha("14152010001"), "ext-1"], [sha("b@x.com"), "", ""]]
    added = audience.add_users(MULTI, rows, is_raw=True, pre_hashed=True)
    body = added.json()
    assert body["num_received"] == 2 and body["num_invalid_entries"] == 0
    read = CustomAudience(audience["id"], api=api).api_get(fields=[
        CustomAudience.Field.name, CustomAudience.Field.approximate_count_lower_bound,
        CustomAudience.Field.approximate_count_upper_bound, CustomAudience.Field.operation_status,
    ])  # fmt: skip
    assert read["name"] == "All Leads"
    assert read["approximate_count_lower_bound"] <= 2 <= read["approximate_count_upper_bound"]
    assert read["operation_status"]["code"] == 200
    listed = AdAccount(ACCOUNT, api=api).get_custom_audiences(
        fields=[CustomAudience.Field.name, CustomAudience.Field.description], params={"limit": 1}
    )
    names = [a["name"] for a in listed]  # the SDK's cursor follows paging.next
    assert "All Leads" in names
    removed = audience.remove_users(MULTI, [rows[0]], is_raw=True, pre_hashed=True)
    assert removed.json()["num_received"] == 1
    assert state(sandbox, audience["id"])["count"] == 1


def test_sdk_single_key_hashing_and_an_empty_hash_is_invalid(
    api: FacebookAdsApi, sandbox: SandboxControl
) -> None:
    immediate(sandbox)
    audience = create(api)
    # The SDK hashes single-key emails itself (trim + lowercase, as Meta asks).
    audience.add_users(CustomAudience.Schema.email_hash, [" A@X.com ", "b@x.com"])
    assert state(sandbox, audience["id"])["count"] == 2
    assert f"EMAIL:{sha('a@x.com')}" in state(sandbox, audience["id"])["member_keys"]
    # A multi-key row with raw values: the SDK hashes "" too; the sandbox refuses that cell.
    body = audience.add_users(MULTI[:2], [["c@x.com", ""]], is_raw=True).json()
    assert body["num_invalid_entries"] == 1
    assert "empty string" in next(iter(body["invalid_entry_samples"].values()))


def test_sdk_replace_session_and_delete_users(api: FacebookAdsApi, sandbox: SandboxControl) -> None:
    immediate(sandbox)
    audience = create(api)
    audience.add_users(MULTI, [[sha("old@x.com"), "", ""]], is_raw=True, pre_hashed=True)
    people = [
        {"person_id": f"00000000-0000-0000-0000-00000000000{i}", "email": f"n{i}@x.com",
         "phone": None, "first_name": "Ann", "last_name": None, "city": None, "state": None,
         "zip": None, "country": "US", "date_of_birth": None, "gender": None,
         "person_updated_at": None}
        for i in range(3)
    ]  # fmt: skip
    data = [list(r.cells[:-1]) for r in hash_people(people)]
    schema = list(SCHEMA[:-1])
    first = audience.create_users_replace(params={
        "payload": {"schema": schema, "data": data[:2]},
        "session": {"session_id": 4242, "batch_seq": 1, "last_batch_flag": False,
                    "estimated_num_total": 3},
    })  # fmt: skip
    assert first["session_id"] == "4242" and first["num_received"] == 2
    busy = CustomAudience(audience["id"], api=api).api_get(fields=["operation_status"])
    assert busy["operation_status"]["code"] == 414
    with pytest.raises(FacebookRequestError) as refused:
        audience.add_users(MULTI, [[sha("z@x.com"), "", ""]], is_raw=True, pre_hashed=True)
    assert (refused.value.api_error_code(), refused.value.api_error_subcode()) == (2650, 1870145)
    last = audience.create_users_replace(params={
        "payload": {"schema": schema, "data": data[2:]},
        "session": {"session_id": 4242, "batch_seq": 2, "last_batch_flag": True},
    })  # fmt: skip
    assert last["num_received"] == 3
    assert state(sandbox, audience["id"])["count"] == 3  # the old member is gone
    audience.delete_users(params={"payload": {"schema": schema, "data": data[:1]}})
    assert state(sandbox, audience["id"])["count"] == 2
    audience.api_delete()
    with pytest.raises(FacebookRequestError) as gone:
        CustomAudience(audience["id"], api=api).api_get(fields=["name"])
    assert gone.value.api_error_subcode() == 33


def test_sdk_sees_counts_that_lag_behind_uploads(
    api: FacebookAdsApi, sandbox: SandboxControl
) -> None:
    immediate(sandbox, 3600)  # Meta can take hours; nothing is processed during this test
    audience = create(api)
    audience.add_users(CustomAudience.Schema.email_hash, [f"u{i}@x.com" for i in range(300)])
    read = CustomAudience(audience["id"], api=api).api_get(
        fields=["approximate_count_lower_bound", "approximate_count_upper_bound",
                "delivery_status"]
    )  # fmt: skip
    assert read["approximate_count_upper_bound"] == 0 and read["delivery_status"]["code"] == 300
    assert state(sandbox, audience["id"])["count"] == 300
