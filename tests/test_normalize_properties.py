"""Property tests: normalization never raises, hashes are lowercase hex, output is a fixed point."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workers.meta.normalize import (
    AUDIENCE_KEYS,
    HASHED_KEYS,
    KEY_ALIASES,
    UNHASHED_KEYS,
    cache_info,
    configure_cache,
    normalize_audience_rows,
    normalize_user_data,
    sha256_hex,
)

HEX64 = re.compile(r"[0-9a-f]{64}")
MARKER = "QX9J"
ALL_KEYS = [*HASHED_KEYS, *UNHASHED_KEYS, *KEY_ALIASES, "person_id"]

# Text that looks like the real thing often enough to reach the deep branches of each rule.
messy_text = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\s*\+?[0-9 ().\-]{0,18}\s*", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9._%+\-]{1,12}@[a-z0-9\-]{1,10}\.[a-z]{2,4}", fullmatch=True),
    st.from_regex(r"[0-9]{1,4}[/.\- ][0-9]{1,2}[/.\- ][0-9]{2,4}", fullmatch=True),
    st.from_regex(r"fb\.[0-9]\.[0-9]{10,13}\.[A-Za-z0-9_\-.]{1,20}", fullmatch=True),
    st.from_regex(r"[0-9a-fA-F]{64}", fullmatch=True),
    st.sampled_from(["us", "GB", "United States", "Deutschland", "male", "F", "CA", "M1 1AE",
                     "1.2.3.4", "::1", "Valéry", "정", "New York", "94025-1234", "Feb 16 1997"]),
)  # fmt: skip
values = st.one_of(
    st.none(),
    messy_text,
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.one_of(st.none(), messy_text, st.integers(), st.floats()), max_size=4),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
user_data = st.dictionaries(
    st.one_of(st.sampled_from(ALL_KEYS), st.text(max_size=12), st.integers()),
    values,
    max_size=12,
)


def check_shape(out: dict[str, str | list[str]]) -> None:
    for key, value in out.items():
        items = value if isinstance(value, list) else [value]
        assert items and all(isinstance(v, str) and v for v in items)
        assert len(set(items)) == len(items)  # deduplicated
        if isinstance(value, list):
            assert len(value) > 1
        if key in HASHED_KEYS:
            assert all(HEX64.fullmatch(v) for v in items), key
        else:
            assert not any(HEX64.fullmatch(v.lower()) for v in items), key


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_data)
def test_never_raises_and_hashes_are_lowercase_hex(raw: dict[object, object]) -> None:
    result = normalize_user_data(raw)  # type: ignore[arg-type]
    check_shape(result.user_data)
    assert set(result.normalized) == set(result.user_data)
    assert all(d.reason for d in result.dropped)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_data)
def test_output_is_a_fixed_point(raw: dict[object, object]) -> None:
    """Normalizing Meta-ready output again changes nothing and drops nothing."""
    first = normalize_user_data(raw)  # type: ignore[arg-type]
    # country context is lost once hashed, so re-normalizing must not depend on it either
    again = normalize_user_data(first.user_data)
    assert again.user_data == first.user_data
    assert again.dropped == ()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*HASHED_KEYS, *UNHASHED_KEYS]), messy_text, messy_text)
def test_reasons_never_contain_the_value(key: str, before: str, after: str) -> None:
    value = before + MARKER + after
    result = normalize_user_data({key: value, "country": value})
    for dropped in result.dropped:
        assert MARKER not in dropped.reason and MARKER not in dropped.key


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[a-z0-9._%+\-]{1,12}@[a-z0-9]{1,10}\.[a-z]{2,4}", fullmatch=True))
def test_email_case_and_whitespace_do_not_change_the_hash(email: str) -> None:
    expected = normalize_user_data({"em": email}).user_data
    assert expected == {"em": sha256_hex(email)}
    assert normalize_user_data({"email": f"  {email.upper()}\t"}).user_data == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.dictionaries(st.sampled_from([*AUDIENCE_KEYS, *ALL_KEYS]), values, max_size=8),
             max_size=4),
    st.lists(st.sampled_from(AUDIENCE_KEYS), min_size=1, max_size=15, unique=True),
)  # fmt: skip
@pytest.mark.slow
def test_audience_rows_never_raise_and_stay_aligned(
    rows: list[dict[str, object]], schema: list[str]
) -> None:
    out, dropped = normalize_audience_rows(rows, schema)
    assert len(out) == len(rows)
    for row in out:
        assert len(row) == len(schema)
        for key, cell in zip(schema, row, strict=True):
            assert isinstance(cell, str)
            if cell and key not in ("MADID",) and key != "EXTERN_ID":
                assert HEX64.fullmatch(cell), key
    assert all(d.reason.startswith("row ") for d in dropped)


def test_lone_surrogates_are_dropped_not_raised() -> None:
    result = normalize_user_data({"fn": "Ma\ud800ry", "ct": ["\udfff"]})
    assert result.user_data == {}
    assert {d.key for d in result.dropped} == {"fn", "ct"}


def test_very_long_values_are_dropped() -> None:
    result = normalize_user_data({"client_user_agent": "x" * 100_000})
    assert result.user_data == {}
    assert "longer than" in result.dropped[0].reason


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(user_data, min_size=1, max_size=4))
@pytest.mark.slow
def test_memo_changes_nothing(people: list[dict[object, object]]) -> None:
    try:
        configure_cache(0)
        plain = [normalize_user_data(raw) for raw in people * 2]  # type: ignore[arg-type]
        assert cache_info() is None
        configure_cache(1024)
        memo = [normalize_user_data(raw) for raw in people * 2]  # type: ignore[arg-type]
        info = cache_info()
        assert info is not None
    finally:
        configure_cache(65536)
    assert [(r.user_data, r.dropped, r.normalized) for r in memo] == [
        (r.user_data, r.dropped, r.normalized) for r in plain
    ]


def test_configure_cache_rejects_negative_size() -> None:
    with pytest.raises(ValueError):
        configure_cache(-1)
