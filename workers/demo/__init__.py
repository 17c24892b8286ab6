"""`gdp demo`: the whole loop on a database of its own, told step by step."""

from __future__ import annotations

from collections.abc import Callable

# Where every step writes its lines (typer.echo in the CLI, a list in tests).
Echo = Callable[[str], None]
