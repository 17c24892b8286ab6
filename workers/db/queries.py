"""Named SQL queries, loaded from the .sql files beside this module (procrastinate style).

Each block in workers/db/queries/*.sql starts with a `-- name: <query_name>` line; the text up to
the next such line is the query. Parameters are named (`%(x)s`). Python never builds SQL.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

_NAME_LINE = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    """Split one .sql file into {name: query}."""
    queries: dict[str, str] = {}
    matches = list(_NAME_LINE.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        name = match.group("name")
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body
    return queries


@lru_cache(maxsize=1)
def all_queries() -> dict[str, str]:
    merged: dict[str, str] = {}
    folder = files("workers.db").joinpath("queries")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        for name, query in parse_queries(entry.read_text(encoding="utf-8")).items():
            if name in merged:
                raise ValueError(f"query {name!r} is defined in two files")
            merged[name] = query
    return merged


def query(name: str) -> str:
    """The SQL text of a named query; KeyError names the missing query."""
    try:
        return all_queries()[name]
    except KeyError:
        raise KeyError(f"no SQL query named {name!r} in workers/db/queries/") from None
