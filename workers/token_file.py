"""The Conversions API token from a file (META_CAPI_ACCESS_TOKEN_FILE, e.g. a mounted secret),
re-read by the running worker so that a rotated or fixed token needs no restart."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("gdp.capi")


class TokenFile:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._failing = False

    def read(self) -> str | None:
        """The token, or None when no file is configured or it cannot be read (logged once per
        failure, not at every read: a worker reads it about once a second while idle)."""
        if self.path is None:
            return None
        try:
            token = self.path.read_text(encoding="utf-8").strip() or None
        except (OSError, ValueError) as exc:  # missing, unreadable, not UTF-8
            if not self._failing:
                log.warning(
                    "META_CAPI_ACCESS_TOKEN_FILE unreadable", extra={"error": type(exc).__name__}
                )
            self._failing = True
            return None
        self._failing = False
        return token
