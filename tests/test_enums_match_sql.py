"""Each status, reason and kind set in workers/statuses.py is exactly what the database allows.

The allowed values are read from the catalog of a database built by the migrations: the
`... = ANY (ARRAY[...])` list of a CHECK constraint, or the labels of an enum type. A value added
on one side only fails here, naming the constraint and the difference.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from typing import Any, get_args

import psycopg
import pytest

from edge_compat import models
from tests.conftest import make_url
from tests.support.databases import DatabasePool
from workers import statuses
from workers.capi.rows import PixelState

# Python's set -> (table, CHECK constraint) or the enum type that holds the same set.
CHECKS: list[tuple[str, Any, str, str]] = [
    ("AttributionStatus", statuses.AttributionStatus, "attribution_events",
     "attribution_events_status_known"),
    ("DeadLetterReason", statuses.DeadLetterReason, "capi_dead_letter",
     "capi_dead_letter_reason_known"),
    ("LeadStatus", statuses.LeadStatus, "meta_lead", "meta_lead_status_known"),
    ("PullStatus", statuses.PullStatus, "insights_pull", "insights_pull_status_known"),
    ("PullMode", statuses.PullMode, "insights_pull", "insights_pull_mode_known"),
    ("EventSource", statuses.EventSource, "event", "event_source_known"),
    ("ActionSource", statuses.ActionSource, "event", "event_action_source_known"),
    ("BreakerState", statuses.BreakerState, "capi_pixel_state", "capi_pixel_state_breaker_known"),
]  # fmt: skip
ENUMS: list[tuple[str, Any, str]] = [
    ("ConsentStatus", statuses.ConsentStatus, "consent_status"),
    ("LifecycleStage", statuses.LifecycleStage, "lifecycle_stage"),
]
_QUOTED = re.compile(r"'((?:[^']|'')*)'::text")


def values(python_set: Any) -> set[str]:
    if isinstance(python_set, type) and issubclass(python_set, enum.Enum):
        return {str(member.value) for member in python_set}
    found = get_args(python_set)
    assert found and all(isinstance(v, str) for v in found), python_set
    return set(found)


@pytest.fixture(scope="module")
def catalog(database_pool: DatabasePool) -> Iterator[dict[str, Any]]:
    """CHECK definitions by (table, constraint) and enum labels by type, of schema shared; read
    once from one fresh database (read only)."""
    name = database_pool.take()
    try:
        with psycopg.connect(make_url(name)) as conn:
            checks = {
                (table, constraint): definition
                for table, constraint, definition in conn.execute(
                    "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
                    "FROM pg_constraint AS c JOIN pg_namespace AS n ON n.oid = c.connamespace "
                    "WHERE n.nspname = 'shared' AND c.contype = 'c'"
                ).fetchall()
            }
            enums: dict[str, set[str]] = {}
            for type_name, label in conn.execute(
                "SELECT t.typname, e.enumlabel FROM pg_enum AS e "
                "JOIN pg_type AS t ON t.oid = e.enumtypid "
                "JOIN pg_namespace AS n ON n.oid = t.typnamespace WHERE n.nspname = 'shared'"
            ).fetchall():
                enums.setdefault(type_name, set()).add(label)
        yield {"checks": checks, "enums": enums}
    finally:
        database_pool.give_back(name)


def allowed(definition: str) -> set[str]:
    """The quoted values of `CHECK ((col = ANY (ARRAY['a'::text, ...])))`."""
    assert "= ANY (ARRAY[" in definition, definition
    return {v.replace("''", "'") for v in _QUOTED.findall(definition)}


def test_allowed_reads_the_values_of_a_check_definition() -> None:
    definition = "CHECK ((status = ANY (ARRAY['queued'::text, 'it''s'::text, 'sent'::text])))"
    assert allowed(definition) == {"queued", "it's", "sent"}


@pytest.mark.parametrize(
    ("python_set", "table", "constraint"),
    [(s, t, c) for _, s, t, c in CHECKS],
    ids=[name for name, *_ in CHECKS],
)
def test_a_python_set_is_what_its_check_allows(
    catalog: dict[str, Any], python_set: Any, table: str, constraint: str
) -> None:
    definition = catalog["checks"].get((f"shared.{table}", constraint))
    assert definition is not None, f"no CHECK {constraint} on shared.{table}"
    sql, python = allowed(definition), values(python_set)
    assert python == sql, (
        f"{constraint}: only in Python {sorted(python - sql)}, only in SQL {sorted(sql - python)}"
    )


@pytest.mark.parametrize(
    ("python_set", "type_name"), [(s, t) for _, s, t in ENUMS], ids=[n for n, *_ in ENUMS]
)
def test_a_python_set_is_what_its_enum_type_holds(
    catalog: dict[str, Any], python_set: Any, type_name: str
) -> None:
    assert catalog["enums"].get(type_name) == values(python_set)


def test_the_sets_are_the_ones_the_code_uses() -> None:
    # One definition per concept: the HTTP models and the breaker rows use these very sets.
    assert models.ActionSource is statuses.ActionSource
    assert PixelState.model_fields["breaker"].annotation is statuses.BreakerState
    assert set(statuses.ATTRIBUTION_STATUSES) == values(statuses.AttributionStatus)
    assert set(statuses.ATTRIBUTION_STATUSES) >= statuses.PENDING_STATUSES


def test_a_breaker_row_outside_the_set_is_refused() -> None:
    with pytest.raises(ValueError, match="breaker"):
        PixelState.model_validate({"pixel_id": "1", "breaker": "half-open"})
    row = PixelState.model_validate({"pixel_id": "1", "breaker": "open"})
    assert row.breaker is statuses.BreakerState.OPEN
