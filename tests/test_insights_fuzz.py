"""Fuzzing the new doors: the Lead Ads webhook (any signed body), the insights API's parameters,
and the SQL functions behind them. Bad input is a 4xx naming the field, never a 500; nothing
half-written."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.edge_support import TestClient
from tests.insights_helpers import Conn
from workers.settings import get_settings

SECRET = "fuzz-app-secret"
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)  # fmt: skip
leadgen_values = st.fixed_dictionaries(
    {},
    optional={
        "leadgen_id": st.one_of(
            st.text(max_size=12), st.integers(), st.from_regex(r"[0-9]{1,20}", fullmatch=True)
        ),
        "page_id": st.one_of(st.text(max_size=5), st.from_regex(r"[0-9]{1,5}", fullmatch=True)),
        "form_id": st.one_of(st.text(max_size=5), st.from_regex(r"[0-9]{1,5}", fullmatch=True)),
        "ad_id": json_values,
        "created_time": json_values,
    },
)  # fmt: skip
deliveries = st.fixed_dictionaries({
    "object": st.sampled_from(["page", "page", "user", 7]),
    "entry": st.lists(st.fixed_dictionaries({
        "id": json_values,
        "changes": st.one_of(json_values, st.lists(st.fixed_dictionaries({
            "field": st.sampled_from(["leadgen", "leadgen", "feed"]),
            "value": st.one_of(leadgen_values, json_values)}), max_size=4)),
    }), max_size=3),
})  # fmt: skip


@pytest.fixture
def client(db_url: str, db: Conn, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    from edge_compat.app import create_app

    monkeypatch.setenv("META_APP_SECRET", SECRET)
    get_settings.cache_clear()
    db.execute("UPDATE shared.feature_flag SET enabled = true WHERE flag_key = ANY(%s)",
               (["LEAD_ADS_SYNC_ENABLED", "ACD_META_INSIGHTS_ENABLED"],))  # fmt: skip
    app = create_app(db_url, flag_cache_seconds=0, key_cache_seconds=0, pool_min_size=1)
    with TestClient(app) as test_client:
        yield test_client
    get_settings.cache_clear()


@FUZZ
@given(payload=st.one_of(deliveries, json_values), mangle=st.booleans())
@example(payload={"object": "page", "entry": [{"id": None, "changes": {"\x00": None}}]},
         mangle=False)  # fmt: skip
def test_webhook_never_500s_and_stores_only_whole_leads(
    client: TestClient, db: Conn, payload: Any, mangle: bool
) -> None:
    body = json.dumps(payload).encode()
    if mangle:
        body = body[: len(body) // 2] + b"\x00\xff"
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    answer = client.post("/webhooks/meta", content=body,
                         headers={"X-Hub-Signature-256": signature})  # fmt: skip
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        assert answer.json()["error"]["field"]
    bad = db.execute(
        "SELECT count(*) AS n FROM shared.meta_lead WHERE leadgen_id !~ '^[0-9]+$'"
        " OR form_id !~ '^[0-9]+$' OR page_id !~ '^[0-9]+$'"
    ).fetchone()
    assert bad == {"n": 0}
    queued = db.execute(
        "SELECT count(*) AS n FROM pgmq.q_meta_leads AS q"
        " LEFT JOIN shared.meta_lead AS l ON l.leadgen_id = q.message ->> 'leadgen_id'"
        " WHERE l.leadgen_id IS NULL"
    ).fetchone()
    assert queued == {"n": 0}


@pytest.fixture
def dashboard_key(db: Conn) -> str:
    row = db.execute(
        "SELECT dashboard_key FROM shared.create_dashboard_key('fuzz', 't')"
    ).fetchone()
    assert row is not None
    return str(row["dashboard_key"])


text = st.text(max_size=30)


@FUZZ
@given(date_from=text, date_to=text, breakdown=text, project=text)
def test_insights_parameters_never_500(
    client: TestClient, dashboard_key: str, date_from: str, date_to: str, breakdown: str,
    project: str,
) -> None:  # fmt: skip
    headers = {"Authorization": f"Bearer {dashboard_key}"}
    params = {"date_from": date_from, "date_to": date_to, "breakdown": breakdown}
    for path in ("/api/meta/insights", "/api/meta/lead-forms"):
        answer = client.get(path, params=params | {"project": project}, headers=headers)
        assert answer.status_code in (200, 404, 422), (path, answer.text)
    path = "/api/meta/insights/" + quote(project, safe="")
    detail = client.get(path, params=params, headers=headers)
    assert detail.status_code in (200, 404, 405, 422), detail.text


@FUZZ
@given(rows=json_values)
def test_write_rows_refuses_anything_but_daily_ad_rows_cleanly(db: Conn, rows: Any) -> None:
    import psycopg

    pull = db.execute(
        "SELECT shared.insights_begin_pull('act_1', '2026-03-01', '2026-03-02', 'sync') AS id"
    ).fetchone()
    assert pull is not None
    try:
        db.execute("SELECT * FROM shared.insights_write_rows(%s, %s::jsonb)",
                   (pull["id"], json.dumps(rows)))  # fmt: skip
    except psycopg.Error as exc:
        assert exc.sqlstate is not None and exc.sqlstate.startswith(("GD", "22")), exc
