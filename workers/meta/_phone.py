"""Phone numbers -> digits with country code (E.164 without '+'), validated by `phonenumbers`.

Meta [CI]: "remove symbols, letters and leading zeros; always include the country code". The
official SDK only strips symbols, so "(650)555-1212" goes out without its country code and
"650.555.1212" raises. Here the country code comes from the number itself ('+' or '00' prefix,
or the region's own international prefix such as 011 in the US), else from the person's
country, else the configured default region; the number must be *valid* for its region
(`phonenumbers.is_valid_number`), so Ofcom drama numbers, unassigned area codes and truncated
numbers are dropped instead of being hashed into values that can never match.

Speed: `phonenumbers.parse` + `is_valid_number` cost ~35 µs a number. Numbers written with only
digits and separators skip the library's input clean-up: NANP (+1) ones are checked directly as
10 national digits (`_phonelib.valid_nanp`), most others are split into country code and
national number as the library would (`_phonelib.plain_e164`), the rest go through
`_phonelib.parse_digits`; validity uses precompiled metadata (`_phonelib.valid_nsn`). All of
them give the library's own answers: tests/test_normalize_phone.py checks them against
`phonenumbers.parse` + `is_valid_number` on generated and example numbers.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException

from workers.meta._phonelib import e164_digits, is_valid, parse_digits, plain_e164, valid_nanp

_DIGITS_ONLY: Final = re.compile(r"\+?[0-9]+", re.ASCII)
_SEPARATORS: Final = frozenset(map(ord, " ()./-"))
NANP_REGIONS: Final = frozenset(phonenumbers.region_codes_for_country_code(1))
SUPPORTED_REGIONS: Final = frozenset(phonenumbers.SUPPORTED_REGIONS)
_MAX_LENGTH: Final = 64


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
    digits = _plain_digits(text)
    if digits is not None:
        international = text.startswith("+")
        if not international and digits.startswith("00"):
            # "00" is the international prefix almost everywhere (not in the NANP, where
            # phonenumbers would misread it): treat it as '+' whatever the region.
            international, digits = True, digits[2:]
            text = "+" + digits
        nanp = _nanp_national(digits, international, region)
        if nanp is not None:
            if valid_nanp(nanp):
                return "1" + nanp
            raise PhoneError(_invalid_reason(international, region))
        e164 = plain_e164(digits, international, region)
        if e164 is not None:
            return e164
        text = ("+" if international else "") + digits
    return _slow(text, region)


def _plain_digits(text: str) -> str | None:
    """The digits of a number written as an optional '+', then a digit or '(', then only
    digits and the separators ` ()./-`; None for any other shape."""
    start = 1 if text.startswith("+") else 0
    if start >= len(text) or not (48 <= ord(text[start]) <= 57 or text[start] == "("):
        return None
    kept: list[str] = []
    for index in range(start, len(text)):
        code = ord(text[index])
        if 48 <= code <= 57:  # 0-9
            kept.append(text[index])
        elif code not in _SEPARATORS:
            return None
    return "".join(kept)


def _nanp_national(digits: str, international: bool, region: str) -> str | None:
    """The 10-digit national number when the digits are a NANP number, else None."""
    if international:
        if len(digits) == 11 and digits[0] == "1" and digits[1] in "23456789":
            return digits[1:]
        return None
    if region not in NANP_REGIONS:
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
        if _DIGITS_ONLY.fullmatch(text):
            number = parse_digits(text, None if international else region)
        else:
            number = phonenumbers.parse(text, None if international else region)
    except NumberParseException:
        raise PhoneError("not a phone number") from None
    if not is_valid(number):
        raise PhoneError(_invalid_reason(international, region))
    # E.164 keeps a significant national zero (Italy: +39 06 ...) and drops trunk prefixes.
    return e164_digits(number)


def _invalid_reason(international: bool, region: str) -> str:
    if international:
        return "not a valid international phone number"
    return f"not a valid phone number for region {region}"
