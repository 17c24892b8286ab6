"""Speed-ups for `phonenumbers` that give the library's own answers (tests prove they agree).

* `is_valid(number)`: `phonenumbers.is_valid_number` with the metadata's regexes compiled once
  (the library re-derives and re-checks every pattern on every call).
* `parse_digits(text, region)`: `phonenumbers.parse` for text that is only ASCII digits with an
  optional leading '+'. For such text the library's first steps (RFC 3966 and extension
  handling, punctuation and alpha normalization, viability regex) leave it unchanged, so only
  the steps after them run: country code extraction, national prefix stripping, length checks,
  Italian leading zeros. They use the library's own helper functions; if a future version
  renames them, `PARSE_SHORTCUT` is False and `phonenumbers.parse` is used instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, PhoneNumberDesc
from phonenumbers import phonenumberutil as _util

try:
    _extract_country_code = _util._maybe_extract_country_code
    _country_code_prefix = _util._extract_country_code
    _strip_national_prefix = _util._maybe_strip_national_prefix_carrier_code
    _test_number_length = _util._test_number_length
    _set_italian_zeros = _util._set_italian_leading_zeros_for_phone_number
    _KEEP_UNSTRIPPED = (
        _util.ValidationResult.TOO_SHORT,
        _util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        _util.ValidationResult.INVALID_LENGTH,
    )
    _MIN_NSN, _MAX_NSN = _util._MIN_LENGTH_FOR_NSN, _util._MAX_LENGTH_FOR_NSN
    PARSE_SHORTCUT = True
except AttributeError:  # pragma: no cover - a phonenumbers version without these helpers
    PARSE_SHORTCUT = False


def e164_digits(number: PhoneNumber) -> str:
    """E.164 without '+' (what `format_number(number, E164)[1:]` returns)."""
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


def parse_digits(text: str, region: str | None) -> PhoneNumber:
    """`phonenumbers.parse(text, region)` for `text` = optional '+' then ASCII digits."""
    if not PARSE_SHORTCUT:
        return phonenumbers.parse(text, region)
    if len(text) - text.startswith("+") < 2:
        raise NumberParseException(NumberParseException.NOT_A_NUMBER, "not viable")
    if region is None and not text.startswith("+"):
        raise NumberParseException(NumberParseException.INVALID_COUNTRY_CODE, "no region")
    number = PhoneNumber()
    metadata = None if region is None else PhoneMetadata.metadata_for_region(region, None)
    if text[0] == "+" and metadata is None:  # _maybe_extract_country_code, no default region
        if len(text) - 1 <= _MIN_NSN:
            raise NumberParseException(NumberParseException.TOO_SHORT_AFTER_IDD, "too short")
        code, national = _country_code_prefix(text[1:])
        if code == 0:
            raise NumberParseException(NumberParseException.INVALID_COUNTRY_CODE, "no code")
        number.country_code = code
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(
            code, phonenumbers.region_code_for_country_code(code)
        )
        return _finish(number, national, metadata)
    try:
        code, national = _extract_country_code(text, metadata, False, number)  # type: ignore[arg-type]
    except NumberParseException as exc:
        if exc.error_type != NumberParseException.INVALID_COUNTRY_CODE or text[0] != "+":
            raise
        code, national = _extract_country_code(text[1:], metadata, False, number)  # type: ignore[arg-type]
        if code == 0:
            raise
    if code != 0:
        number_region = phonenumbers.region_code_for_country_code(code)
        if number_region != region:
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, number_region)
    else:
        national += text  # digits only: the library's _normalize leaves them as they are
        if metadata is not None:
            number.country_code = metadata.country_code
    return _finish(number, national, metadata)


def _finish(number: PhoneNumber, national: str, metadata: PhoneMetadata | None) -> PhoneNumber:
    if len(national) < _MIN_NSN:
        raise NumberParseException(NumberParseException.TOO_SHORT_NSN, "too short")
    if metadata is not None:
        _, potential, _ = _strip_national_prefix(national, metadata)
        if _test_number_length(potential, metadata) not in _KEEP_UNSTRIPPED:
            national = potential
    if len(national) < _MIN_NSN:  # pragma: no cover - mirrors the library
        raise NumberParseException(NumberParseException.TOO_SHORT_NSN, "too short")
    if len(national) > _MAX_NSN:
        raise NumberParseException(NumberParseException.TOO_LONG, "too long")
    _set_italian_zeros(national, number)
    number.national_number = int(national)
    return number


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
            # any() does not depend on the order: the common types first
            for name in ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
                         "voip", "personal_number", "pager", "uan", "voicemail")
        )
        if matcher is not None
    ]  # fmt: skip

    def valid(nsn: str) -> bool:
        return general is not None and general(nsn) and any(t(nsn) for t in types)

    return valid


assert phonenumbers.region_codes_for_country_code(1)[0] == "US"
valid_in_us = _region_validator("US")
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


def is_valid(number: PhoneNumber) -> bool:
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
