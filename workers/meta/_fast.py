"""Loads the compiled fast path of `normalize_user_data` (workers/meta/native/, built by
setup.py) and hands it the tables the rules use.

The compiled code accepts only the values it can normalize exactly as the Python rules do
(printable ASCII in the common shapes) and passes everything else, every refusal included, to
the Python rules, so results are the same with or without it (tests/test_normalize_native.py).
It is optional: not built (no compiler or OpenSSL headers), turned off with
`GDP_META_NATIVE=0`, or older than its C sources (an edited checkout not rebuilt: `make
native`), and `single_pass` is None.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from workers.meta import _tables
from workers.meta._phone import NANP_REGIONS
from workers.meta._phonelib import valid_in_us
from workers.meta._rules import HASHED, Dropped

SinglePass = Callable[
    [dict[str, object], str, Callable[[str, str, "str | None", str], object]],
    "tuple[dict[str, str | list[str]], tuple[Dropped, ...], dict[str, str | list[str]]] | None",
]

# The rule ids of workers/meta/native/module.c; keys not listed always go to Python.
RULE_IDS: dict[str, int] = {
    "em": 1, "ph": 2, "fn": 3, "ln": 3, "ge": 4, "db": 5, "ct": 6, "st": 7, "zp": 8,
    "country": 9, "external_id": 10, "client_ip_address": 11, "client_user_agent": 12,
    "fbc": 13, "fbp": 14,
}  # fmt: skip


def _module() -> ModuleType | None:
    if os.environ.get("GDP_META_NATIVE", "1") == "0":
        return None
    try:
        from workers.meta import _native  # type: ignore[attr-defined]
    except ImportError:
        return None
    sources = Path(__file__).with_name("native")
    built = Path(_native.__file__ or "").stat().st_mtime
    if sources.is_dir() and any(p.stat().st_mtime > built for p in sources.iterdir()):
        warnings.warn(
            "workers.meta._native is older than its C sources; using the Python path "
            "(rebuild with `make native`)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return _native


def load(key_map: dict[str, str]) -> SinglePass | None:
    """The compiled `single_pass(raw, region, lookup)`, configured for `key_map` (raw key ->
    Meta key), or None when it is not available."""
    native = _module()
    if native is None:
        return None
    key_info = {raw: (key, RULE_IDS.get(key, 0), key in HASHED) for raw, key in key_map.items()}
    native.configure(
        key_info,
        _tables.GENDERS,
        _tables.US_STATES,
        _tables.US_STATE_CODES,
        _tables.CA_PROVINCES,
        _tables.CA_PROVINCE_CODES,
        _tables.alpha_2_codes(),
        _tables.countries(),
        NANP_REGIONS,
        valid_in_us,
        Dropped,
    )
    single_pass: SinglePass = native.single_pass
    return single_pass
