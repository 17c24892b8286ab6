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

import importlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from workers.meta import _tables
from workers.meta._phone import NANP_REGIONS
from workers.meta._phonelib import plain_e164, valid_nanp
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
        native = importlib.import_module("workers.meta._native")
    except ImportError:
        return None
    sources = Path(__file__).with_name("native")
    # +2 s: setuptools copies the built file with its mtime cut to whole seconds.
    built = Path(native.__file__ or "").stat().st_mtime + 2
    if sources.is_dir() and any(p.stat().st_mtime > built for p in sources.iterdir()):
        warnings.warn(
            "workers.meta._native is older than its C sources; using the Python path "
            "(rebuild with `make native`)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return native


def load(key_map: dict[str, str]) -> SinglePass | None:
    """The compiled `single_pass(raw, region, lookup)`, configured for `key_map` (raw key ->
    Meta key), or None when it is not available."""
    native = _module()
    if native is None:
        return None
    key_info = {raw: (key, RULE_IDS.get(key, 0), key in HASHED) for raw, key in key_map.items()}
    native.configure(
        key_info=key_info,
        genders=_tables.GENDERS,
        us_states=_tables.US_STATES,
        us_state_codes=_tables.US_STATE_CODES,
        ca_provinces=_tables.CA_PROVINCES,
        ca_province_codes=_tables.CA_PROVINCE_CODES,
        alpha_2_codes=_tables.alpha_2_codes(),
        countries=_tables.countries(),
        nanp_regions=NANP_REGIONS,
        valid_nanp=valid_nanp,
        plain_e164=plain_e164,
        months=_tables.MONTHS,
        date_noise=_tables.DATE_NOISE,
        dropped=Dropped,
    )
    single_pass: SinglePass = native.single_pass
    return single_pass
