"""Dates of birth in common formats -> (year, month, day), for Meta's `db` (YYYYMMDD).

Accepted (separators `/`, `-`, `.`, or spaces; ISO datetimes keep their date as written, the
time and any UTC offset are ignored, since a birth date is a calendar date):

* `YYYYMMDD`, `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD`, `1997-02-16T10:00:00Z`
* `MM/DD/YYYY`, `M/D/YYYY`, `MM-DD-YYYY`: **US order (month first)**, unless the first number
  is greater than 12, which forces day-first (`16/02/1997`). A value where both orders are
  possible (`03/04/1997`) is read month-first; callers with European data should send ISO.
* `DD.MM.YYYY`: the dotted form is European (day first) unless the second number is greater
  than 12, which forces month-first.
* English month names, abbreviated or not, in any order with a 4-digit year:
  `Feb 16 1997`, `16 February 1997`, `February 16th, 1997`, `16-Feb-1997`, `Sunday, Feb 16 1997`.

Rejected: two-digit years (the century is a guess, and a wrong guess is a wrong hash), dates that
do not exist (`02/30/1997`), years before 1900 (Meta's documented range) and dates in the future.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from typing import Final

from workers.meta._tables import DATE_NOISE, MONTHS

_TIME_SUFFIX: Final = re.compile(
    r"(?:[T ]|,\s*)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[ap]\.?m\.?)?"
    r"\s*(?:z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?\Z",
    re.ASCII | re.IGNORECASE,
)
_COMPACT: Final = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_ISO: Final = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})", re.ASCII)
_NUMERIC: Final = re.compile(r"(\d{1,2})([-/. ])(\d{1,2})\2(\d{2}|\d{4})", re.ASCII)
_TOKENS: Final = re.compile(r"\d+|[^\W\d_]+", re.ASCII)


class DobError(ValueError):
    """A date of birth that cannot be read; the message never contains the value."""


def parse_dob(value: str, *, today: dt.date | None = None) -> tuple[int, int, int]:
    """(year, month, day) of a date of birth, or DobError with a value-free reason."""
    text = value.strip()
    match, numeric = _numeric_forms(text)
    if match is None and numeric is None and ":" in text:  # every time of day has a colon
        suffix = _TIME_SUFFIX.search(text)
        if suffix is not None and suffix.start() > 0:
            text = text[: suffix.start()].strip()
            match, numeric = _numeric_forms(text)
    if match is not None:  # year first; the month and day are the last two groups
        groups = match.groups()
        return _checked(int(groups[0]), int(groups[-2]), int(groups[-1]), today)
    if numeric is not None:
        first, sep, second, year_text = numeric.groups()
        if len(year_text) == 2:
            raise DobError("two-digit year is ambiguous; send a 4-digit year")
        a, b, year = int(first), int(second), int(year_text)
        if sep == ".":  # European day-first, unless impossible
            day, month = (a, b) if b <= 12 else (b, a)
        else:  # US month-first, unless impossible
            month, day = (a, b) if a <= 12 else (b, a)
        return _checked(year, month, day, today)
    return _from_words(text, today)


def _numeric_forms(text: str) -> tuple[re.Match[str] | None, re.Match[str] | None]:
    """(year-first match, day/month-first match) of the all-digit forms. Each pattern is tried
    only where its length allows (8; 8 to 10 with a separator fifth; 6 to 10): a failed match
    costs about as much as a successful one, and most dates are in one form only."""
    size = len(text)
    match = _COMPACT.fullmatch(text) if size == 8 else None
    if match is None and 8 <= size <= 10 and text[4] in "-/.":
        match = _ISO.fullmatch(text)
    if match is not None or not 6 <= size <= 10:
        return match, None
    return None, _NUMERIC.fullmatch(text)


def _from_words(text: str, today: dt.date | None) -> tuple[int, int, int]:
    tokens = [t.lower() for t in _TOKENS.findall(text)]
    # "16th" tokenizes to "16", "th"; weekday names and "the"/"of" carry no information.
    words = [t for t in tokens if not t.isdigit() and t not in DATE_NOISE]
    numbers = [t for t in tokens if t.isdigit()]
    if len(words) != 1 or words[0] not in MONTHS or len(numbers) != 2:
        raise DobError("not a recognised date format")
    month = MONTHS[words[0]]
    years = [n for n in numbers if len(n) == 4]
    days = [n for n in numbers if len(n) <= 2]
    if len(years) != 1 or len(days) != 1:
        if any(len(n) == 2 for n in numbers) and not years:
            raise DobError("two-digit year is ambiguous; send a 4-digit year")
        raise DobError("not a recognised date format")
    return _checked(int(years[0]), month, int(days[0]), today)


_today: tuple[float, dt.date] = (0.0, dt.date.min)


def _current_date() -> dt.date:
    """Today's local date, looked up at most once a minute (it is needed for every value)."""
    global _today
    now = time.monotonic()
    if now - _today[0] > 60.0:
        _today = (now, dt.date.today())
    return _today[1]


def _checked(year: int, month: int, day: int, today: dt.date | None) -> tuple[int, int, int]:
    today = today or _current_date()
    if year < 1900:
        raise DobError("year before 1900")
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise DobError("no such calendar date") from None
    if date > today:
        raise DobError("date of birth in the future")
    return year, month, day
