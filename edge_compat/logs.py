"""Structured log lines: the message, then the record's `extra` fields as key=value.

The service logs ids, products, field paths and rules, never values that were sent.
"""

from __future__ import annotations

import logging

import orjson

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class KeyValueFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if not extra:
            return line
        fields = " ".join(
            f"{k}={orjson.dumps(v, default=str).decode()}" for k, v in sorted(extra.items())
        )
        return f"{line} {fields}"
