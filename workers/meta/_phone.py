"""Phone numbers -> digits with country code (E.164 without '+'), validated by `phonenumbers`.

Meta [CI]: "remove symbols, letters and leading zeros; always include the country code". The
official SDK only strips symbols, so "(650)555-1212" goes out without its country code and
"650.555.1212" raises. Here the country code comes from the number itself ('+' or '00' prefix,
or the region's own international prefix such as 011 in the US), else from the person's
country, else the configured default region; the number must be *valid* for its region
(`phonenumbers.is_valid_number`), so Ofcom drama numbers, unassigned area codes and truncated
numbers are dropped instead of being hashed into values that can never match.

Speed: parsing is the costly step of `phonenumbers` (~20 µs). Numbers that are only digits and
separators in the NANP (+1) are built directly as `PhoneNumber(1, nnnnnnnnnn)`, which is what
`phonenumbers.parse` returns for them (tests/test_normalize_phone.py checks the two agree), and
still go through the same `is_valid_number`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberDesc,
    PhoneNumberFormat,
)

_SIMPLE = re.compile(r"\+?[0-9(][0-9 ()./\-]*", re.ASCII)
_NON_DIGITS = re.compile(r"[^0-9]+", re.ASCII)
_NANP_REGIONS = frozenset(phonenumbers.region_codes_for_country_code(1))
SUPPORTED_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)
_MAX_LENGTH = 64


def check_region(region: str) -> str:
    """The upper-case phone region, or ValueError if `phonenumbers` has no plan for it."""
    code = region.strip().upper() if isinstance(region, str) else ""
    if code not in SUPPORTED_REGIONS:
        raise ValueError("default_region must be an ISO 3166-1 alpha-2 region with a phone plan")
    return code


class PhoneError(ValueError):
    """A phone number that cannot be used; the message never contains the number."""


def normalize_phone(value: str, region: str) -> str:
    """Digits with country code, no '+', no leading zeros ("(650)555-1212", "US" -> "16505551212").

    `region` is an upper-case ISO alpha-2 region used only when the number has no country code.
    """
    text = value.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).strip()  # full-width digits, odd spaces
    if len(text) > _MAX_LENGTH:
        raise PhoneError("too long to be a phone number")
    if _SIMPLE.fullmatch(text):
        digits = _NON_DIGITS.sub("", text)
        international = text.startswith("+")
        if not international and digits.startswith("00"):
            # "00" is the international prefix almost everywhere (not in the NANP, where
            # phonenumbers would misread it): treat it as '+' whatever the region.
            international, digits = True, digits[2:]
            text = "+" + digits
        nanp = _nanp_national(digits, international, region)
        if nanp is not None:
            if _valid_in_us(nanp) or _is_valid(
                PhoneNumber(country_code=1, national_number=int(nanp))
            ):
                return "1" + nanp
            raise PhoneError(_invalid_reason(international, region))
    return _slow(text, region)


def _desc_matcher(desc: PhoneNumberDesc | None) -> Callable[[str], bool] | None:
    """`phonenumberutil._is_number_matching_desc` for one description, precompiled."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = frozenset(desc.possible_length)
    pattern = re.compile(desc.national_number_pattern)

    def matches(nsn: str) -> bool:
        return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None

    return matches


def _region_validator(region: str) -> Callable[[str], bool]:
    """True iff `phonenumbers` would find the national number valid for `region`.

    The same test as `_number_type_helper(nsn, metadata) != UNKNOWN`: the general description
    matches and so does at least one number type. For the NANP's main region (US, listed first
    for +1 and without leading digits), True here means `is_valid_number` is True, because
    `region_code_for_number` tries the US first.
    """
    metadata = PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    general = _desc_matcher(metadata.general_desc)
    types = [
        matcher
        for matcher in (
            _desc_matcher(getattr(metadata, name))
            for name in ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number",
                         "pager", "uan", "voicemail", "fixed_line", "mobile")
        )
        if matcher is not None
    ]  # fmt: skip

    def valid(nsn: str) -> bool:
        return general is not None and general(nsn) and any(t(nsn) for t in types)

    return valid


assert phonenumbers.region_codes_for_country_code(1)[0] == "US"
_valid_in_us = _region_validator("US")
_Plan = tuple[tuple["re.Pattern[str] | None", Callable[[str], bool]], ...]
_PLANS: dict[int, _Plan | None] = {}


def _plan(code: int) -> _Plan | None:
    """Per region of a country code (library order): its leading-digits rule and validator."""
    if code not in _PLANS:
        plan: list[tuple[re.Pattern[str] | None, Callable[[str], bool]]] = []
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
            metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
            if metadata is None:  # non-geographic (+800, +882, ...): leave it to the library
                plan = []
                break
            leading = re.compile(metadata.leading_digits) if metadata.leading_digits else None
            plan.append((leading, _region_validator(region.upper())))
        _PLANS[code] = tuple(plan) or None
    return _PLANS[code]


def _is_valid(number: PhoneNumber) -> bool:
    """`phonenumbers.is_valid_number` with the metadata's regexes precompiled.

    The library's logic step for step (`region_code_for_number`, then
    `is_valid_number_for_region`): with one region, validate there; with several, the first
    region whose leading digits match (or, without a leading-digits rule, that the number is
    valid in) is the number's region. The library re-derives and re-checks every pattern on
    each call; tests/test_normalize_phone.py checks both agree.
    """
    code = number.country_code
    plan = _plan(code) if code is not None else None
    if plan is None:
        return bool(phonenumbers.is_valid_number(number))
    nsn = phonenumbers.national_significant_number(number)
    if len(plan) == 1:
        return plan[0][1](nsn)
    for leading, valid in plan:
        if leading is not None:
            if leading.match(nsn):
                return valid(nsn)
        elif valid(nsn):
            return True
    return False


def _nanp_national(digits: str, international: bool, region: str) -> str | None:
    """The 10-digit national number when the digits are a NANP number, else None."""
    if international:
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            return digits[1:]
        return None
    if region not in _NANP_REGIONS:
        return None
    if len(digits) == 10 and digits[0] in "23456789":
        return digits
    if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
        return digits[1:]
    return None


def _slow(text: str, region: str) -> str:
    international = text.startswith("+")
    if not international and text.startswith("00"):
        international, text = True, "+" + text[2:]
    if not international and region not in SUPPORTED_REGIONS:
        raise PhoneError(f"no country code, and no phone numbering plan for region {region}")
    try:
        number = phonenumbers.parse(text, None if international else region)
    except NumberParseException:
        raise PhoneError("not a phone number") from None
    if not _is_valid(number):
        raise PhoneError(_invalid_reason(international, region))
    # E.164 keeps a significant national zero (Italy: +39 06 ...) and drops trunk prefixes.
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]


def _invalid_reason(international: bool, region: str) -> str:
    if international:
        return "not a valid international phone number"
    return f"not a valid phone number for region {region}"
