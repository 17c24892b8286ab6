"""The NANP fast path of `_phone.normalize_phone` agrees exactly with `phonenumbers.parse`."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.meta._phone import PhoneError, check_region, normalize_phone
from workers.meta._phonelib import is_valid as _is_valid
from workers.meta._phonelib import parse_digits, plain_e164


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


country_codes = st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE))


def _near_example(code: int, digits: int, tail: int) -> int:
    """An example number of the code's main region with its last `digits` digits replaced."""
    region = phonenumbers.region_code_for_country_code(code)
    example = phonenumbers.example_number(region) if region != "001" else None
    if example is None or example.national_number is None:
        return tail
    base = example.national_number // 10**digits * 10**digits
    return base + tail % 10**digits


@settings(max_examples=2000, deadline=None)
@given(country_codes, st.integers(0, 10**12), st.integers(0, 7), st.booleans(), st.integers(1, 3))
def test_is_valid_equals_phonenumbers(
    code: int, tail: int, digits: int, zero: bool, zeros: int
) -> None:
    national = _near_example(code, digits, tail) if digits else tail
    number = phonenumbers.PhoneNumber(country_code=code, national_number=national)
    if zero:
        number.italian_leading_zero = True
        number.number_of_leading_zeros = zeros
    assert _is_valid(number) == phonenumbers.is_valid_number(number)


@pytest.mark.parametrize("code", sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE))
def test_valid_examples_of_every_region_agree(code: int) -> None:
    """Real example numbers (all types) of every region, written in several styles."""
    for region_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]:
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE,
                     phonenumbers.PhoneNumberType.TOLL_FREE):  # fmt: skip
            example = phonenumbers.example_number_for_type(region_code, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            intl = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            for text in (e164, intl, "00" + e164[1:]):
                assert ours(text, "US") == reference(text, "US") == e164[1:]
            assert ours(national, region_code) == reference(national, region_code)


def _parsed(parse: Callable[[], phonenumbers.PhoneNumber]) -> tuple[object, ...]:
    try:
        n = parse()
    except phonenumbers.NumberParseException:
        return ("error",)  # the error type may differ; both reject the number
    return (n.country_code, n.national_number, n.italian_leading_zero, n.number_of_leading_zeros)


regions = st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS))


@settings(max_examples=2500, deadline=None)
@given(
    st.one_of(
        st.text("0123456789", min_size=0, max_size=18),
        st.builds(
            lambda cc, rest: f"{cc}{rest}", country_codes, st.text("0123456789", max_size=14)
        ),
    ),
    st.booleans(),
    regions,
)
def test_parse_digits_equals_phonenumbers_parse(digits: str, plus: bool, region: str) -> None:
    text = ("+" if plus else "") + digits
    if not text:
        return
    for reg in (region, None) if plus else (region,):
        got = _parsed(partial(parse_digits, text, reg))
        assert got == _parsed(partial(phonenumbers.parse, text, reg)), (text, reg)


def _examples() -> list[tuple[str, int, str, str]]:
    """(region, country code, national significant number, national prefix) of every
    region's fixed-line and mobile example numbers."""
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None and metadata is not None:
                nsn = phonenumbers.national_significant_number(example)
                out.append((region, example.country_code, nsn, metadata.national_prefix or ""))
    return out


EXAMPLES = _examples()


@st.composite
def example_like(draw: st.DrawFn) -> tuple[str, bool, str]:
    """Digits of a real example number, its last digits replaced, written nationally (with or
    without the trunk prefix) or internationally (sometimes with the trunk prefix kept)."""
    region, code, nsn, prefix = draw(st.sampled_from(EXAMPLES))
    keep = draw(st.integers(0, len(nsn)))
    nsn = nsn[:keep] + draw(st.text("0123456789", min_size=max(0, len(nsn) - keep - 1),
                                    max_size=len(nsn) - keep + 1))  # fmt: skip
    style = draw(st.sampled_from(["national", "bare", "international", "intl+prefix"]))
    default = draw(st.sampled_from([region, region, "US", "GB", "DE"]))
    if style == "national":
        return prefix + nsn, False, default
    if style == "bare":
        return nsn, False, default
    return f"{code}{prefix if style == 'intl+prefix' else ''}{nsn}", True, default


@settings(max_examples=4000, deadline=None)
@given(example_like())
@pytest.mark.slow
def test_plain_e164_equals_phonenumbers(case: tuple[str, bool, str]) -> None:
    """Whenever the shortcut answers, the library gives the same valid number."""
    digits, international, region = case
    got = plain_e164(digits, international, region)
    if got is not None:
        assert got == reference(("+" if international else "") + digits, region), case


def test_plain_e164_takes_most_example_numbers() -> None:
    """The shortcut is the common path: most real numbers of most regions take it."""
    national = international = 0
    for region, code, nsn, prefix in EXAMPLES:
        international += plain_e164(f"{code}{nsn}", True, region) == f"{code}{nsn}"
        national += plain_e164(prefix + nsn, False, region) == f"{code}{nsn}"
    assert international > 0.8 * len(EXAMPLES)
    assert national > 0.7 * len(EXAMPLES)
    for digits, international_, region, expected in [
        ("07400123456", False, "GB", "447400123456"),
        ("447400123456", True, "US", "447400123456"),
        ("0301234567", False, "DE", "49301234567"),
        ("0612345678", False, "FR", "33612345678"),
        ("447400123456", False, "GB", None),  # the region's own code in front: the library's turn
        ("0039061234567", False, "GB", None),  # an international dialling prefix
        ("39061234567", True, "US", None),  # Italy's significant leading zero
    ]:
        assert plain_e164(digits, international_, region) == expected
