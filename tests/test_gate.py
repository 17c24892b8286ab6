"""The deployment gate: flags in the PRD's enable order, settings, secrets, checklist, audit."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from workers.errors import GateRefused, InvalidInput, NotFound, from_db_error

Conn = psycopg.Connection[dict[str, Any]]
TOKEN = ["META_CAPI_ACCESS_TOKEN"]
ENABLE_ORDER = [
    "SHARED_PERSON_TABLE_ENABLED",
    "META_CAPI_INGEST_ENABLED",
    "CONVERSION_TRACKING_ENABLED",
    "META_CAPI_FORWARD_ENABLED",
    "META_CAPI_RELAY_ENABLED",
    "NEXT_PUBLIC_META_PIXEL_ENABLED",
    "SEGMENT_ENGINE_META_CAPI_ENABLED",
    "ACD_META_INSIGHTS_ENABLED",
    "META_CUSTOM_AUDIENCE_SYNC_ENABLED",
]


def enable(db: Conn, flag: str, secrets: list[str] | None = None) -> dict[str, Any]:
    row = db.execute(
        "SELECT * FROM shared.enable_flag(%s, 'alice', %s::text[])", (flag, secrets or [])
    ).fetchone()
    assert row is not None
    return row


def refusal(db: Conn, sql: str, params: tuple[Any, ...]) -> Exception:
    with pytest.raises(psycopg.Error) as info:
        db.execute(sql, params)
    return from_db_error(info.value)


def ack_all(db: Conn) -> None:
    db.execute(
        "SELECT shared.acknowledge_checklist_item(item_key, 'bob') "
        "FROM shared.deploy_checklist_item"
    )


def configure_all(db: Conn) -> None:
    ack_all(db)
    db.execute("SELECT shared.set_setting('META_PIXEL_ID', '\"1234567890\"', 'alice')")
    db.execute("SELECT shared.set_setting('META_AD_ACCOUNT_ID', '\"act_1000000001\"', 'alice')")
    db.execute(
        "SELECT shared.set_setting('META_CUSTOM_AUDIENCE_IDS', %s::jsonb, 'alice')",
        (json.dumps({"all_leads": "23850000000000001"}),),
    )


def test_every_prd_flag_exists_and_is_off_after_install(db: Conn) -> None:
    rows = db.execute(
        "SELECT flag_key, enabled FROM shared.feature_flag ORDER BY enable_order, flag_key"
    ).fetchall()
    assert sorted(r["flag_key"] for r in rows) == sorted([*ENABLE_ORDER, "LEAD_ADS_SYNC_ENABLED"])
    assert not any(r["enabled"] for r in rows)
    items = db.execute(
        "SELECT count(*) AS n FROM shared.deploy_checklist_item WHERE acknowledged_at IS NULL"
    ).fetchone()
    assert items == {"n": 9}


def test_enabling_out_of_order_names_everything_missing(db: Conn) -> None:
    error = refusal(db, "SELECT shared.enable_flag('META_CAPI_INGEST_ENABLED', 'alice')", ())
    assert isinstance(error, GateRefused)
    assert error.message.startswith("META_CAPI_INGEST_ENABLED refused: ")
    for missing in (
        "prerequisites off: SHARED_PERSON_TABLE_ENABLED (GAP-003)",
        "settings absent: META_PIXEL_ID",
        "secrets not configured in the environment: META_CAPI_ACCESS_TOKEN",
        "checklist items not acknowledged: privacy_policy_updated",
    ):
        assert missing in error.message
    flag = db.execute(
        "SELECT enabled FROM shared.feature_flag WHERE flag_key = 'META_CAPI_INGEST_ENABLED'"
    ).fetchone()
    assert flag == {"enabled": False}
    audit = db.execute(
        "SELECT count(*) AS n FROM shared.gate_audit WHERE subject_kind = 'flag'"
    ).fetchone()
    assert audit == {"n": 0}


def test_each_requirement_alone_blocks(db: Conn) -> None:
    configure_all(db)
    enable(db, "SHARED_PERSON_TABLE_ENABLED")
    # Only the secret is missing now.
    error = refusal(db, "SELECT shared.enable_flag('META_CAPI_INGEST_ENABLED', 'alice')", ())
    assert error.message == (
        "META_CAPI_INGEST_ENABLED refused: secrets not configured in the "
        "environment: META_CAPI_ACCESS_TOKEN"
    )
    # Only one checklist item is missing.
    db.execute("SELECT shared.withdraw_checklist_acknowledgement('rate_limiting_tested', 'bob')")
    error = refusal(
        db, "SELECT shared.enable_flag('META_CAPI_INGEST_ENABLED', 'alice', %s::text[])", (TOKEN,)
    )
    assert error.message.endswith("checklist items not acknowledged: rate_limiting_tested")
    db.execute("SELECT shared.acknowledge_checklist_item('rate_limiting_tested', 'bob')")
    # Only a setting is missing.
    db.execute("SELECT shared.unset_setting('META_PIXEL_ID', 'alice')")
    error = refusal(
        db, "SELECT shared.enable_flag('META_CAPI_INGEST_ENABLED', 'alice', %s::text[])", (TOKEN,)
    )
    assert error.message.endswith("settings absent: META_PIXEL_ID")


def test_empty_values_count_as_absent(db: Conn) -> None:
    configure_all(db)
    db.execute("SELECT shared.set_setting('META_CUSTOM_AUDIENCE_IDS', '{}'::jsonb, 'alice')")
    blockers = db.execute(
        "SELECT shared.flag_blockers('META_CUSTOM_AUDIENCE_SYNC_ENABLED', %s::text[]) AS b",
        (TOKEN,),
    ).fetchone()
    assert blockers is not None
    assert "settings absent: META_CUSTOM_AUDIENCE_IDS" in blockers["b"]


def test_the_whole_enable_order_then_disable_with_cascade(db: Conn) -> None:
    configure_all(db)
    for flag in ENABLE_ORDER:
        assert enable(db, flag, TOKEN)["enabled"] is True
    error = refusal(db, "SELECT shared.disable_flag('META_CAPI_INGEST_ENABLED', 'carol')", ())
    assert isinstance(error, GateRefused)
    assert "CONVERSION_TRACKING_ENABLED depend on it and are on" in error.message
    db.execute("SELECT shared.disable_flag('META_CAPI_INGEST_ENABLED', 'carol', true, 'incident')")
    on = db.execute(
        "SELECT array_agg(flag_key) AS f FROM shared.feature_flag WHERE enabled"
    ).fetchone()
    assert on == {"f": ["SHARED_PERSON_TABLE_ENABLED"]}
    audit = db.execute(
        "SELECT subject_key, actor, from_value, to_value, note FROM shared.gate_audit "
        "WHERE subject_kind = 'flag' AND actor = 'carol' ORDER BY id"
    ).fetchall()
    assert audit[0]["subject_key"] == "META_CUSTOM_AUDIENCE_SYNC_ENABLED"
    assert audit[-1] == {
        "subject_key": "META_CAPI_INGEST_ENABLED",
        "actor": "carol",
        "from_value": True,
        "to_value": False,
        "note": "incident",
    }
    assert len(audit) == 8


def test_every_change_is_audited_and_no_op_changes_are_not(db: Conn) -> None:
    configure_all(db)
    enable(db, "SHARED_PERSON_TABLE_ENABLED")
    enable(db, "SHARED_PERSON_TABLE_ENABLED")
    rows = db.execute(
        "SELECT actor, from_value, to_value, changed_at IS NOT NULL AS dated "
        "FROM shared.gate_audit WHERE subject_key = 'SHARED_PERSON_TABLE_ENABLED'"
    ).fetchall()
    assert rows == [{"actor": "alice", "from_value": False, "to_value": True, "dated": True}]
    checklist = db.execute(
        "SELECT count(*) AS n FROM shared.gate_audit WHERE subject_kind = 'checklist'"
    ).fetchone()
    assert checklist == {"n": 9}
    item = db.execute(
        "SELECT acknowledged_by FROM shared.deploy_checklist_item "
        "WHERE item_key = 'pii_hashing_verified'"
    ).fetchone()
    assert item == {"acknowledged_by": "bob"}


@pytest.mark.parametrize(
    ("sql", "error_type", "text"),
    [
        ("SELECT shared.enable_flag('NOPE', 'alice')", NotFound, "no flag NOPE"),
        (
            "SELECT shared.enable_flag('SHARED_PERSON_TABLE_ENABLED', '  ')",
            InvalidInput,
            "actor: is required",
        ),
        (
            "SELECT shared.acknowledge_checklist_item('nope', 'bob')",
            NotFound,
            "no checklist item nope",
        ),
        (
            "SELECT shared.set_setting('META_PIXEL_ID', '\"abc\"', 'alice')",
            InvalidInput,
            "META_PIXEL_ID: must match",
        ),
        (
            "SELECT shared.set_setting('META_PIXEL_ID', 'true', 'alice')",
            InvalidInput,
            "must be a string",
        ),
        (
            "SELECT shared.set_setting('META_CUSTOM_AUDIENCE_IDS', '[]', 'alice')",
            InvalidInput,
            "must be a JSON object",
        ),
        (
            "SELECT shared.set_setting('SEGMENT_ENGINE_CRON_INTERVAL', '5', 'alice')",
            InvalidInput,
            "from 10 to 86400",
        ),
        (
            "SELECT shared.set_setting('SEGMENT_ENGINE_CRON_INTERVAL', '30.5', 'alice')",
            InvalidInput,
            "whole number",
        ),
        (
            "SELECT shared.set_setting('META_AD_ACCOUNT_ID', '\"act_1000000001\"', 'alice', "
            "'snapmix')",
            InvalidInput,
            "cannot be set per product",
        ),
        (
            "SELECT shared.set_setting('META_PIXEL_ID', '\"1234567\"', 'alice', 'nope')",
            InvalidInput,
            "not a known product",
        ),
        ("SELECT shared.set_setting('NOPE', '1', 'alice')", NotFound, "no setting NOPE"),
    ],
)
def test_gate_input_errors(db: Conn, sql: str, error_type: type[Exception], text: str) -> None:
    error = refusal(db, sql, ())
    assert isinstance(error, error_type)
    assert text in str(error)


def test_per_product_pixel_overrides_the_default(db: Conn) -> None:
    db.execute("SELECT shared.set_setting('META_PIXEL_ID', '\"1111111\"', 'alice')")
    db.execute("SELECT shared.set_setting('META_PIXEL_ID', '\"2222222\"', 'alice', 'snapmix')")
    row = db.execute(
        "SELECT shared.setting_value('META_PIXEL_ID', 'snapmix') AS s, "
        "shared.setting_value('META_PIXEL_ID', 'vellopad') AS v"
    ).fetchone()
    assert row == {"s": "2222222", "v": "1111111"}
