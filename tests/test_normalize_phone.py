"""The NANP fast path of `_phone.normalize_phone` agrees exactly with `phonenumbers.parse`."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.meta._phone import PhoneError, check_region, normalize_phone


def reference(text: str, region: str) -> str | None:
    """The slow, obvious way: phonenumbers.parse + is_valid_number + E.164 without '+'."""
    text = text.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def ours(text: str, region: str) -> str | None:
    try:
        return normalize_phone(text, region)
    except PhoneError:
        return None


separators = st.sampled_from(["", " ", "-", ".", "/", "  "])


@st.composite
def nanp_like(draw: st.DrawFn) -> str:
    digits = draw(st.text("0123456789", min_size=9, max_size=12))
    if draw(st.booleans()):  # realistic area code / exchange most of the time
        digits = draw(
            st.sampled_from(["650", "212", "415", "905", "787", "555", "011", "800", "911"])
        ) + draw(st.text("0123456789", min_size=7, max_size=7))
    prefix = draw(st.sampled_from(["", "1", "+1", "+", "00", "001", "1 ", "+1 "]))
    sep = draw(separators)
    if len(digits) == 10 and draw(st.booleans()):
        body = f"({digits[:3]}){sep}{digits[3:6]}{sep}{digits[6:]}"
    else:
        body = sep.join([digits[:3], digits[3:6], digits[6:]])
    return prefix + body


@settings(max_examples=1500, deadline=None)
@given(nanp_like(), st.sampled_from(["US", "CA", "PR", "GB", "DE", "JM"]))
def test_fast_path_equals_phonenumbers(text: str, region: str) -> None:
    assert ours(text, region) == reference(text, region)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("(650)555-1212", "US", "16505551212"),
        ("(416) 555-0123", "US", "14165550123"),  # Canadian number, NANP
        ("+1 416 555 0123", "GB", "14165550123"),
        ("787-555-0123", "US", "17875550123"),  # Puerto Rico
        ("0650 5551212", "US", None),
        ("1 650 555 1212", "US", "16505551212"),
        ("+44 7911 123456", "US", "447911123456"),
        ("00 44 7911 123456", "US", "447911123456"),
        ("+353 1 234 5678", "US", "35312345678"),
        ("030 1234567", "DE", "49301234567"),
        ("+49 (0)30 1234567", "US", "49301234567"),
        ("+33 6 12 34 56 78", "US", "33612345678"),
        ("06 12 34 56 78", "FR", "33612345678"),
        ("+1", "US", None),
        ("+", "US", None),
        ("", "US", None),
        ("9" * 70, "US", None),
    ],
)
def test_examples(text: str, region: str, expected: str | None) -> None:
    assert ours(text, region) == expected


def test_unknown_region_is_reported_without_the_number() -> None:
    with pytest.raises(PhoneError) as info:
        normalize_phone("0123456", "ZZ")
    assert "0123456" not in str(info.value)


def test_check_region() -> None:
    assert check_region(" gb ") == "GB"
    with pytest.raises(ValueError):
        check_region("XX")
