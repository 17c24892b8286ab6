"""Unicode text helpers shared by the normalization rules (no PII is ever logged from here)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final

# Invisible characters that survive str.strip(): zero-width space/joiners, BOM, bidi marks.
_INVISIBLE: Final = "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
_NOT_ASCII_LETTER: Final = re.compile(r"[^a-z]+")
_NOT_ASCII_ALNUM: Final = re.compile(r"[^a-z0-9]+")

# Latin letters that NFKD does not decompose into a base letter plus a combining mark.
_LATIN_SPECIAL: Final = str.maketrans(
    {"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
     "ı": "i", "ħ": "h", "ŧ": "t", "ŀ": "l", "ĸ": "k"}
)  # fmt: skip


# CPython's str.lower, called as an object: mypyc compiles `value.lower()` (and casts do not
# stop it) to a per-code-point mapping that skips Unicode's one contextual rule in the root
# locale, Final_Sigma. Compiled, "ΝΙΚΟΣ" became "νικοσ" where Python gives "νικος", so a hash
# depended on whether the compiled rules were loaded. Not Final: mypyc must not inline it.
_STR_LOWER: Callable[[str], str] = str.lower


def lower(value: str) -> str:
    """Python's str.lower(), in the compiled module too.

    PostgreSQL's ICU lower() (shared._normalize_email) is the same for every code point and
    applies Final_Sigma too (tests/test_email_identity.py).
    """
    return _STR_LOWER(value)


def strip(value: str) -> str:
    """Trim whitespace (Unicode-aware) and invisible format characters at both ends."""
    value = value.strip()
    if not value.isascii():
        value = value.strip(_INVISIBLE).strip()
    return value


def nfc_lower(value: str) -> str:
    """Trimmed, NFC-composed (so 'é' has one spelling), lowercased text."""
    if value.isascii():
        return value.strip().lower()
    value = strip(value)
    return lower(unicodedata.normalize("NFC", value))


def name_chars(value: str) -> str:
    """Lowercase letters, combining marks and digits only, diacritics and scripts kept.

    Removes punctuation (P*), symbols (S*), separators/whitespace (Z*) and control/format
    characters (C*): "Mary-Jane O'Neil" -> "maryjaneoneil", "Valéry" -> "valéry", "정" -> "정".
    """
    if value.isascii():
        return _NOT_ASCII_ALNUM.sub("", value.lower())
    value = nfc_lower(value)
    return "".join(c for c in value if unicodedata.category(c)[0] in "LMN")


def fold_letters(value: str) -> str:
    """Lowercase letters only, Latin diacritics folded to a-z ("Zürich" -> "zurich").

    Letters of other scripts (Cyrillic, CJK, Hangul, ...) have no a-z form and are kept
    (composed again with NFC); digits, punctuation, symbols and spaces are removed.
    """
    if value.isascii():
        return _NOT_ASCII_LETTER.sub("", value.lower())
    value = lower(strip(value))
    decomposed = unicodedata.normalize("NFKD", value.translate(_LATIN_SPECIAL))
    kept = "".join(c for c in decomposed if unicodedata.category(c)[0] in "LM")
    # Drop the combining marks of Latin letters only; other scripts keep theirs.
    out: list[str] = []
    for c in kept:
        if unicodedata.category(c)[0] == "M" and out and out[-1].isascii():
            continue
        out.append(c)
    return unicodedata.normalize("NFC", "".join(out))


def alnum_lower(value: str) -> str:
    """Lowercase letters and digits only (Latin diacritics folded), e.g. for postal codes."""
    if value.isascii():
        return _NOT_ASCII_ALNUM.sub("", value.lower())
    value = lower(strip(value))
    decomposed = unicodedata.normalize("NFKD", value.translate(_LATIN_SPECIAL))
    out: list[str] = []
    for c in decomposed:
        category = unicodedata.category(c)[0]
        if category == "M" and out and out[-1].isascii():
            continue
        if category in "LMN":
            out.append(c)
    return unicodedata.normalize("NFC", "".join(out))
