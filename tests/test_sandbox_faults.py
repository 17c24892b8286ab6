"""Auth (190), appsecret_proof, injected faults (5xx, throttling, latency, token expiry), BUC
usage headers and throttling, and the inspection/control API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from meta_sandbox.auth import appsecret_proof
from meta_sandbox.config import SandboxConfig
from tests.test_sandbox_support import (
    ACCOUNT,
    PIXEL,
    TOKEN,
    FakeClock,
    SandboxClient,
    V,
    graph_error,
    sandbox_client,
    sha,
    website_event,
)

ACCOUNT_KEY = ACCOUNT.removeprefix("act_")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sb(clock: FakeClock) -> Iterator[SandboxClient]:
    with sandbox_client(SandboxConfig(clock=clock)) as client:
        yield client


def make_audience(sb: SandboxClient) -> str:
    response = sb.graph(
        "POST",
        f"/{ACCOUNT}/customaudiences",
        name="a",
        subtype="CUSTOM",
        customer_file_source="USER_PROVIDED_ONLY",
    )
    audience_id: str = response.json()["id"]
    return audience_id


def endpoints(sb: SandboxClient) -> list[tuple[str, str, dict[str, Any]]]:
    """One call per Graph endpoint the sandbox serves (method, path, JSON body or query)."""
    audience_id = make_audience(sb)
    lead = sb.post(
        "/_sandbox/leads", json={"page_id": "1", "form_id": "2", "field_data": {"email": "a@b.c"}}
    ).json()["leadgen_id"]
    users = {"payload": {"schema": "EMAIL_SHA256", "data": [[sha("a")]]}}
    return [
        ("POST", f"/{PIXEL}/events", {"data": [website_event()]}),
        (
            "POST",
            f"/{ACCOUNT}/customaudiences",
            {"name": "b", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"},
        ),
        ("POST", f"/{audience_id}/users", users),
        ("DELETE", f"/{audience_id}/users", users),
        (
            "POST",
            f"/{audience_id}/usersreplace",
            {**users, "session": {"session_id": 1, "batch_seq": 1, "last_batch_flag": True}},
        ),
        ("GET", f"/{audience_id}", {"fields": "name"}),
        ("GET", f"/{ACCOUNT}/insights", {"date_preset": "yesterday"}),
        ("GET", f"/{lead}", {}),
        ("GET", "/2/leads", {}),
        ("GET", f"/{ACCOUNT}", {"fields": "name"}),
    ]


def call(sb: SandboxClient, method: str, path: str, body: dict[str, Any], **query: str) -> Any:
    if method == "GET":
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
        return sb.get(f"{V}{path}", params={**params, **query})
    return sb.request(method, f"{V}{path}", params=query, json=body)


# --- auth -------------------------------------------------------------------------------------


def test_every_endpoint_answers_190_for_token_problems(sb: SandboxClient) -> None:
    for method, path, body in endpoints(sb):
        where = f"{method} {path}"
        assert call(sb, method, path, body, access_token=TOKEN).status_code == 200, where
        missing = call(sb, method, path, body)
        error = graph_error(missing)
        assert (error["code"], error["type"]) == (190, "OAuthException"), where
        assert "error_subcode" not in error
        wrong = call(sb, method, path, body, access_token="EAAB-not-valid")
        error = graph_error(wrong)
        assert (error["code"], error["error_subcode"]) == (190, 467), where
        assert "invalid_token" in wrong.headers["www-authenticate"]
        expired = call(sb, method, path, body, access_token="sandbox-expired-token")
        assert graph_error(expired)["error_subcode"] == 463, where


def test_token_expired_fault_and_reset(sb: SandboxClient) -> None:
    assert sb.post("/_sandbox/faults", json={"token_expired": True}).json()["token_expired"]
    error = graph_error(sb.send_events([website_event()]))
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert "expired" in error["message"]
    assert sb.post("/_sandbox/reset").json()["faults"]["token_expired"] is False
    assert sb.send_events([website_event()]).status_code == 200


def test_appsecret_proof_is_checked_when_present(sb: SandboxClient) -> None:
    proof = appsecret_proof("sandbox-app-secret", TOKEN)
    assert sb.send_events([website_event()], appsecret_proof=proof).status_code == 200
    error = graph_error(sb.send_events([website_event()], appsecret_proof="0" * 64))
    assert (error["code"], error["type"]) == (100, "GraphMethodException")
    assert "appsecret_proof" in error["message"]


def test_appsecret_proof_can_be_required() -> None:
    with sandbox_client(SandboxConfig(require_appsecret_proof=True)) as sb:
        error = graph_error(sb.send_events([website_event()]))
        assert error["code"] == 100 and "require an appsecret_proof" in error["message"]


def test_unknown_paths_and_versions(sb: SandboxClient) -> None:
    error = graph_error(sb.graph("GET", f"/{ACCOUNT}/adsets_of_nothing"))
    assert error["code"] == 2500
    response = sb.get("/vX/123/events", params={"access_token": TOKEN})
    assert graph_error(response)["code"] == 2500


# --- injected faults --------------------------------------------------------------------------


def statuses(sb: SandboxClient, n: int) -> list[int]:
    return [sb.graph("GET", f"/{ACCOUNT}").status_code for _ in range(n)]


def test_5xx_share_is_roughly_honoured_and_repeatable_with_a_seed(sb: SandboxClient) -> None:
    sb.post("/_sandbox/faults", json={"fail_5xx": 0.3, "seed": 123})
    first = statuses(sb, 200)
    failures = [s for s in first if s >= 500]
    assert 40 <= len(failures) <= 80, len(failures)
    assert set(failures) <= {500, 503} and len(set(failures)) == 2
    sb.post("/_sandbox/faults", json={"fail_5xx": 0.3, "seed": 123})
    assert statuses(sb, 200) == first
    response = next(
        r for r in (sb.graph("GET", f"/{ACCOUNT}") for _ in range(50)) if r.status_code >= 500
    )
    error = graph_error(response, status=response.status_code)
    assert error["code"] in {1, 2} and error["is_transient"] is True


def test_throttling_is_http_400_with_metas_codes(sb: SandboxClient) -> None:
    sb.post("/_sandbox/faults", json={"throttle": 1.0, "seed": 5})
    codes = set()
    for _ in range(40):
        error = graph_error(sb.send_events([website_event()]))
        assert error["is_transient"] is True
        assert error["message"].startswith(f"(#{error['code']})")
        codes.add(error["code"])
    assert codes == {4, 17, 613, 80004}
    sb.post("/_sandbox/faults", json={"throttle_codes": [613]})
    error = graph_error(sb.graph("GET", f"/{ACCOUNT}/insights"))
    assert (error["code"], error["error_subcode"]) == (613, 1487742)
    sb.post("/_sandbox/faults", json={"throttle_codes": [17]})
    error = graph_error(sb.graph("GET", f"/{ACCOUNT}"))
    assert (error["code"], error["error_subcode"]) == (17, 2446079)
    assert sb.get("/_sandbox/events").json()["events"] == []  # throttled calls store nothing


def test_throttle_share_is_partial(sb: SandboxClient) -> None:
    sb.post("/_sandbox/faults", json={"throttle": 0.5, "seed": 9})
    throttled = sum(1 for s in statuses(sb, 200) if s == 400)
    assert 70 <= throttled <= 130


def test_latency_is_added_to_graph_calls_only(sb: SandboxClient) -> None:
    sb.post("/_sandbox/faults", json={"latency_ms": 150})
    started = time.perf_counter()
    assert sb.graph("GET", f"/{ACCOUNT}").status_code == 200
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    sb.get("/_sandbox/health")
    assert time.perf_counter() - started < 0.15
    [entry] = sb.get("/_sandbox/requests").json()["requests"]
    assert entry["duration_ms"] >= 150


def test_faults_control_api(sb: SandboxClient) -> None:
    defaults = sb.get("/_sandbox/faults").json()
    assert defaults == {
        "fail_5xx": 0.0,
        "throttle": 0.0,
        "throttle_codes": [4, 17, 613, 80004],
        "token_expired": False,
        "token_malformed": False,
        "latency_ms": 0,
        "seed": None,
        "reject_event_ids": [],
        "events_received_shortfall": 0,
    }
    assert sb.post("/_sandbox/faults", json={"fail_5xx": 1.5}).status_code == 422
    assert sb.post("/_sandbox/faults", json={"throttle_codes": [5]}).status_code == 422
    assert sb.post("/_sandbox/faults", json={"latency_ms": -1}).status_code == 422
    changed = sb.post("/_sandbox/faults", json={"throttle": 0.25}).json()
    assert changed["throttle"] == 0.25 and changed["fail_5xx"] == 0.0
    assert sb.get("/_sandbox/faults").json() == changed


def test_faults_from_the_config_apply_from_the_start() -> None:
    from meta_sandbox.config import FaultSettings

    config = SandboxConfig(faults=FaultSettings(fail_5xx=1.0))
    with sandbox_client(config) as sb:
        assert sb.graph("GET", f"/{ACCOUNT}").status_code in {500, 503}
        assert sb.get("/_sandbox/health").status_code == 200


# --- Business Use Case usage ------------------------------------------------------------------


def usage(response: Any, type_: str) -> dict[str, Any]:
    header = json.loads(response.headers["x-business-use-case-usage"])
    entries: list[dict[str, Any]] = [e for e in header[ACCOUNT_KEY] if e["type"] == type_]
    [entry] = entries
    assert set(entry) >= {
        "type", "call_count", "total_cputime", "total_time", "estimated_time_to_regain_access",
    }  # fmt: skip
    return entry


def test_buc_usage_rises_with_load_throttles_at_100_and_falls_back(clock: FakeClock) -> None:
    with sandbox_client(SandboxConfig(clock=clock, buc_capacity=20)) as sb:
        counts = [usage(sb.send_events([website_event()]), "ads_management")["call_count"]
                  for _ in range(10)]  # fmt: skip
        assert counts == sorted(counts) and counts[0] == 5 and counts[-1] == 50
        clock.advance(30)
        for _ in range(10):
            assert sb.send_events([website_event()]).status_code == 200
        throttled = sb.send_events([website_event()])
        error = graph_error(throttled)
        assert (error["code"], error["error_subcode"]) == (17, 2446079)
        entry = usage(throttled, "ads_management")
        assert entry["call_count"] == 100 and entry["estimated_time_to_regain_access"] >= 1
        # The other use cases of the account are unaffected.
        assert sb.graph("GET", f"/{ACCOUNT}/insights").status_code == 200
        clock.advance(31)  # the first ten calls leave the one-minute window
        relieved = sb.send_events([website_event()])
        assert relieved.status_code == 200
        assert usage(relieved, "ads_management")["call_count"] == 55
        clock.advance(61)
        assert usage(sb.send_events([website_event()]), "ads_management")["call_count"] == 5


@pytest.mark.parametrize(
    ("path", "code"),
    [(f"/{ACCOUNT}/insights", 80000), (f"/{ACCOUNT}/customaudiences", 80003)],
)
def test_buc_throttling_codes_per_use_case(clock: FakeClock, path: str, code: int) -> None:
    with sandbox_client(SandboxConfig(clock=clock, buc_capacity=3)) as sb:
        method = "GET" if path.endswith("insights") else "POST"
        for _ in range(3):
            sb.graph(method, path, name="x", subtype="CUSTOM", customer_file_source="X")
        error = graph_error(sb.graph(method, path))
        assert error["code"] == code and error["is_transient"] is True


def test_clock_control_moves_buc_windows(clock: FakeClock) -> None:
    with sandbox_client(SandboxConfig(clock=clock, buc_capacity=2)) as sb:
        sb.graph("GET", f"/{ACCOUNT}")
        sb.graph("GET", f"/{ACCOUNT}")
        assert graph_error(sb.graph("GET", f"/{ACCOUNT}"))["code"] == 80004
        assert sb.post("/_sandbox/clock", json={"advance_s": 61}).json()["offset_s"] == 61
        assert sb.graph("GET", f"/{ACCOUNT}").status_code == 200


# --- inspection -------------------------------------------------------------------------------


def test_request_log_never_holds_raw_tokens(sb: SandboxClient) -> None:
    proof = appsecret_proof("sandbox-app-secret", TOKEN)
    sb.send_events([website_event()], appsecret_proof=proof)
    sb.post(f"{V}/{PIXEL}/events", params={"access_token": TOKEN, "appsecret_proof": proof})
    sb.graph("GET", f"/{ACCOUNT}/insights", date_preset="yesterday")
    sb.send_events([website_event(), website_event(event_time=1)])
    raw = sb.get("/_sandbox/requests").text
    assert TOKEN not in raw and proof not in raw
    entries = json.loads(raw)["requests"]
    assert [e["status"] for e in entries] == [200, 400, 200, 400]
    assert all("access_token=REDACTED" in e["path"] for e in entries)
    assert entries[0]["events"] == 1 and entries[3]["events"] == 2
    assert (entries[3]["code"], entries[3]["subcode"]) == (100, 2804003)
    assert set(entries[0]) == {
        "at", "method", "path", "status", "code", "subcode", "events", "duration_ms",
    }  # fmt: skip


def test_inspection_routes_and_reset(sb: SandboxClient) -> None:
    assert sb.get("/_sandbox/health").json()["status"] == "ok"
    sb.send_events([website_event()], test_event_code="TEST1")
    audience_id = make_audience(sb)
    listed = sb.get("/_sandbox/audiences").json()["audiences"]
    assert [a["id"] for a in listed] == [audience_id]
    assert sb.get("/_sandbox/events/summary").json()["pixels"][PIXEL]["test_events"] == 1
    assert sb.get("/_sandbox/audiences/nope").status_code == 404
    assert sb.post("/_sandbox/reset").json()["reset"] is True
    assert sb.get("/_sandbox/events").json()["events"] == []
    assert sb.get("/_sandbox/events/summary").json()["pixels"] == {}
    assert sb.get("/_sandbox/audiences").json()["audiences"] == []
    assert sb.get("/_sandbox/requests").json()["requests"] == []
