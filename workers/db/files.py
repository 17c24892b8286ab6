"""Where db/ is and what its function and policy files are: what `gdp db up` and `gdp db
release` both read (kept apart from either, so neither imports the other)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path


def default_db_dir() -> Path:
    """The repository's db/ folder; GDP_DB_DIR points elsewhere (an installed, non-editable copy,
    or a test's copy). Read at each call: the CLI passes it on."""
    return Path(os.environ.get("GDP_DB_DIR", Path(__file__).resolve().parents[2] / "db"))


DB_DIR = default_db_dir()

# The first lines of a release migration name the fingerprint of the files it was made from.
_FINGERPRINT = re.compile(r"^-- gdp:release sources=sha256:([0-9a-f]{64})$", re.MULTILINE)


def sql_files(db_dir: Path = DB_DIR) -> list[Path]:
    return [
        *sorted((db_dir / "functions").glob("*.sql")),
        *sorted((db_dir / "policies").glob("*.sql")),
    ]


def fingerprint(db_dir: Path = DB_DIR) -> str:
    """SHA-256 over the names and contents of db/functions/*.sql and db/policies/*.sql."""
    digest = hashlib.sha256()
    for path in sql_files(db_dir):
        digest.update(path.relative_to(db_dir).as_posix().encode() + b"\0")
        # Line endings normalized: a checkout with CRLF (git autocrlf) is the same release.
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def latest_release(db_dir: Path = DB_DIR) -> tuple[Path, str] | None:
    """The newest release migration and the fingerprint of the files it was made from."""
    for path in sorted((db_dir / "migrations").glob("*_*.sql"), reverse=True):
        with path.open(encoding="utf-8") as handle:
            head = "".join(handle.readline() for _ in range(3))
        found = _FINGERPRINT.search(head)
        if found:
            return path, found.group(1)
    return None


def release_due(db_dir: Path = DB_DIR) -> bool:
    """True when the files changed since the last release migration (or there is none yet)."""
    if not sql_files(db_dir):
        return False
    latest = latest_release(db_dir)
    return latest is None or latest[1] != fingerprint(db_dir)
