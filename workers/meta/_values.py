"""Raw field values -> the list of text values to normalize (str, int, or lists of them)."""

from __future__ import annotations

from typing import Final

from workers.meta._rules import Dropped

MAX_VALUE_LENGTH: Final = 8192


def values_of(key: str, value: object, dropped: list[Dropped]) -> list[str]:
    """The non-blank text values of one raw field (a string, an int, or a list of them)."""
    if value is None:
        return []
    if isinstance(value, str):
        return _text(key, value, dropped)
    if isinstance(value, list | tuple):
        out: list[str] = []
        for item in value:
            if item is None:
                continue
            if isinstance(item, str):
                out.extend(_text(key, item, dropped))
            elif isinstance(item, int) and not isinstance(item, bool):
                out.append(str(item))
            else:
                dropped.append(Dropped(key, f"{key}: unsupported value type "
                                            f"{type(item).__name__} in list"))  # fmt: skip
        return out
    if isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    dropped.append(Dropped(key, f"{key}: unsupported value type {type(value).__name__}"))
    return []


def _text(key: str, value: str, dropped: list[Dropped]) -> list[str]:
    if len(value) > MAX_VALUE_LENGTH:
        dropped.append(Dropped(key, f"{key}: value longer than {MAX_VALUE_LENGTH} characters"))
        return []
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            dropped.append(Dropped(key, f"{key}: not valid Unicode text"))
            return []
    return [value] if value and not value.isspace() else []
