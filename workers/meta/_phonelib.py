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
from dataclasses import dataclass
from typing import Any, Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, PhoneNumberDesc
from phonenumbers import phonenumberutil as _util

# The library's private helpers, typed Any: their stubs are not exact (the national-prefix helper
# returns None where its stub says str), and the compiled build checks declared types.
try:
    _extract_country_code: Any = _util._maybe_extract_country_code
    _country_code_prefix: Any = _util._extract_country_code
    _strip_national_prefix: Any = _util._maybe_strip_national_prefix_carrier_code
    _test_number_length: Any = _util._test_number_length
    _set_italian_zeros: Any = _util._set_italian_leading_zeros_for_phone_number
    _KEEP_UNSTRIPPED = (
        _util.ValidationResult.TOO_SHORT,
        _util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
        _util.ValidationResult.INVALID_LENGTH,
    )
    _MIN_NSN, _MAX_NSN = _util._MIN_LENGTH_FOR_NSN, _util._MAX_LENGTH_FOR_NSN
    _MAX_COUNTRY_CODE: int = _util._MAX_LENGTH_COUNTRY_CODE
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
        code, national = _extract_country_code(text, metadata, False, number)
    except NumberParseException as exc:
        if exc.error_type != NumberParseException.INVALID_COUNTRY_CODE or text[0] != "+":
            raise
        code, national = _extract_country_code(text[1:], metadata, False, number)
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


_TYPES: Final = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip",
          "personal_number", "pager", "uan", "voicemail")  # fmt: skip


def _region_validator(region: str) -> Callable[[str], bool]:
    """True iff `phonenumbers` would find the national number valid for `region`.

    The same test as `_number_type_helper(nsn, metadata) != UNKNOWN`: the general description
    matches (possible length and pattern) and so does at least one number type. The types
    whose possible lengths admit the number's length are tried as one alternation, compiled
    once per length, instead of one pattern after another.
    """
    metadata = PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    general: PhoneNumberDesc | None = metadata.general_desc
    if general is None or not general.national_number_pattern:
        return lambda nsn: False
    general_lengths = frozenset(general.possible_length)
    general_pattern = re.compile(general.national_number_pattern)
    types = [
        (frozenset(desc.possible_length), desc.national_number_pattern)
        for desc in (getattr(metadata, name) for name in _TYPES)
        if desc is not None and desc.national_number_pattern
    ]
    by_length: dict[int, re.Pattern[str] | None] = {}

    def types_for(length: int) -> re.Pattern[str] | None:
        if length not in by_length:
            patterns = [p for lengths, p in types if not lengths or length in lengths]
            alternation = "|".join(f"(?:{p})" for p in patterns)
            by_length[length] = re.compile(alternation) if patterns else None
        return by_length[length]

    def valid(nsn: str) -> bool:
        if general_lengths and len(nsn) not in general_lengths:
            return False
        if general_pattern.fullmatch(nsn) is None:
            return False
        pattern = types_for(len(nsn))
        return pattern is not None and pattern.fullmatch(nsn) is not None

    return valid


_Plan = tuple[tuple["re.Pattern[str] | None", Callable[[str], bool]], ...]
_PLANS: Final[dict[int, _Plan | None]] = {}


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


def valid_nsn(code: int, nsn: str) -> bool | None:
    """`phonenumbers.is_valid_number` for a country code and national significant number, with
    the metadata's regexes precompiled; None when only the library can tell (non-geographic
    codes).

    The library's logic step for step (`region_code_for_number`, then
    `is_valid_number_for_region`): with one region, validate there; with several, the first
    region whose leading digits match (or, without a leading-digits rule, that the number is
    valid in) is the number's region. The library re-derives and re-checks every pattern on
    each call; tests/test_normalize_phone.py checks both agree.
    """
    plan = _plan(code)
    if plan is None:
        return None
    if len(plan) == 1:
        return plan[0][1](nsn)
    for leading, valid in plan:
        if leading is not None:
            if leading.match(nsn):
                return valid(nsn)
        elif valid(nsn):
            return True
    return False


def is_valid(number: PhoneNumber) -> bool:
    """`phonenumbers.is_valid_number`, through `valid_nsn` where it can tell."""
    code = number.country_code
    if code is not None:
        verdict = valid_nsn(code, phonenumbers.national_significant_number(number))
        if verdict is not None:
            return verdict
    return bool(phonenumbers.is_valid_number(number))


def valid_nanp(nsn: str) -> bool:
    """Whether a 10-digit +1 national number is valid (in the US, Canada, the Caribbean...)."""
    return valid_nsn(1, nsn) is True  # the US is tried first, as the library does


@dataclass(frozen=True, slots=True)
class _Plain:
    """What `plain_e164` needs of a region's metadata to follow `phonenumbers.parse`."""

    code: int
    idd: re.Pattern[str] | None  # international dialling prefix: such input is international
    prefix: re.Pattern[str] | None  # national_prefix_for_parsing
    prefix_simple: bool  # no carrier-code groups, no transform rule: the prefix is just cut
    general: re.Pattern[str] | None  # general_desc pattern (the library's "viable" test)
    keep_stripped: frozenset[int]  # lengths at which parse keeps a number without its prefix


_PLAIN: Final[dict[str, _Plain | None]] = {}


def _plain_rules(region: str) -> _Plain | None:
    if region not in _PLAIN:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        rules = None
        if metadata is not None and metadata.country_code is not None:
            pattern = metadata.national_prefix_for_parsing
            prefix = re.compile(pattern) if pattern else None
            desc = metadata.general_desc
            general = desc.national_number_pattern if desc else None
            idd = metadata.international_prefix
            transform = metadata.national_prefix_transform_rule
            rules = _Plain(
                code=metadata.country_code,
                idd=re.compile(idd) if idd else None,
                prefix=prefix,
                prefix_simple=prefix is None or (prefix.groups == 0 and not transform),
                general=re.compile(general) if general else None,
                # parse keeps the stripped number unless its length test says one of these
                keep_stripped=frozenset(
                    n for n in range(_MIN_NSN, _MAX_NSN + 1)
                    if _test_number_length("9" * n, metadata) not in _KEEP_UNSTRIPPED
                ),
            )  # fmt: skip
        _PLAIN[region] = rules
    return _PLAIN[region]


def _split_country_code(digits: str) -> tuple[int, str]:
    """(country code, rest) of ASCII digits, or (0, digits): the library's
    `_extract_country_code`, here compiled with the rest of this module."""
    if not digits or digits[0] == "0":
        return 0, digits
    for length in range(1, min(len(digits), _MAX_COUNTRY_CODE) + 1):
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return code, digits[length:]
    return 0, digits


def plain_e164(digits: str, international: bool, region: str) -> str | None:
    """E.164 digits (no '+') of a *valid* number written as ASCII digits only (after '+' or
    '00' when `international`), when `phonenumbers.parse` would take none of its special turns
    for it; None when not sure (then `parse_digits` + `is_valid` decide, and say why).

    The turns left to the library: the +1 plan (handled by the NANP path), an international
    dialling prefix or the region's own country code written in front of a national number, a
    national prefix with carrier codes or a transform rule, or one that the library might keep,
    national numbers with a significant leading zero, non-geographic codes.
    """
    if not PARSE_SHORTCUT:
        return None
    if international:
        code, national = _split_country_code(digits)
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code) if code > 1 else None
        rules = _plain_rules(regions[0]) if regions else None
        if rules is None or (rules.prefix is not None and rules.prefix.match(national)):
            return None
    else:
        rules = _plain_rules(region)
        if rules is None or rules.code == 1 or digits.startswith(str(rules.code)):
            return None
        if rules.idd is not None and rules.idd.match(digits):
            return None
        code, national = rules.code, digits
        match = rules.prefix.match(digits) if rules.prefix is not None else None
        if match is not None and match.end() > 0:
            stripped = digits[match.end() :]
            general = rules.general
            if (
                not rules.prefix_simple
                or len(stripped) not in rules.keep_stripped
                or general is None
                or (general.fullmatch(digits) and not general.fullmatch(stripped))
            ):
                return None
            national = stripped
    if not _MIN_NSN <= len(national) <= _MAX_NSN or national[0] == "0":
        return None
    return f"{code}{national}" if valid_nsn(code, national) else None
