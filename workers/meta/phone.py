"""Phone numbers as Meta matches them: the public face of `_phone` for code outside this package.

`normalize_phone("(650)555-1212", "US")` gives "16505551212" (E.164 digits, no '+') or raises
`PhoneError` (whose message never holds the number); `SUPPORTED_REGIONS` are the regions with a
phone plan. The rule itself is written once, in `_phone.py`.
"""

from __future__ import annotations

from workers.meta._phone import SUPPORTED_REGIONS, PhoneError, check_region, normalize_phone

__all__ = ["SUPPORTED_REGIONS", "PhoneError", "check_region", "normalize_phone"]
