"""`gdp meta ...`: Meta helpers that need no database (normalize and hash user_data).

    echo '{"email": " John_Smith@gmail.com", "phone": "(650)555-1212"}' | gdp meta normalize
    gdp meta normalize --explain --region GB < people.jsonl

Input on stdin: one JSON object, a JSON array of objects, or JSON lines (one object per line;
pretty-printed objects one after another work too). Output: one JSON line per input object with
the Meta-ready `user_data`. Values that were left out are reported on stderr by key and reason,
never by value. `--explain` instead prints, per key, each raw value, its normalized form and its
hash (or why it was dropped): that output contains the raw PII you fed in, so keep it on your
terminal and out of logs and tickets.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import typer

from workers.meta.normalize import (
    HASHED_KEYS,
    NormalizedUserData,
    check_region,
    explain_user_data,
    normalize_user_data,
)

app = typer.Typer(
    help="Meta helpers: normalize and hash user_data exactly as Meta requires.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Malformed input; the message names the line and never quotes the input."""


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def read_objects(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each object in a JSON object, array, or JSON lines text."""
    decoder = json.JSONDecoder()
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n\ufeff":
            pos += 1
        if pos >= end:
            return
        line = _line_of(text, pos)
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(f"line {exc.lineno}: malformed JSON ({exc.msg})") from None
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise InputError(f"line {line}: expected a JSON object of user_data fields, "
                                 f"got {type(item).__name__}")  # fmt: skip
            yield line, item


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _explain(number: int, line: int, raw: dict[str, Any], region: str) -> str:
    result, explained = explain_user_data(raw, default_region=region)
    lines = [f"# input {number} (line {line})"]
    width = max([len(e.key) for e in explained] + [len(d.key) for d in result.dropped] + [4])
    for item in explained:
        shown = _json(item.value)
        head = f"{item.key:<{width}}  {shown}"
        if item.reason == "duplicate":
            lines.append(f"{head}  duplicate of an earlier value")
        elif item.reason is not None:
            lines.append(f"{head}  DROPPED: {item.reason}")
        elif item.key not in HASHED_KEYS:
            lines.append(f"{head} -> {_json(item.sent)}  (sent unhashed)")
        elif item.sent == item.normalized:
            lines.append(f"{head}  already a SHA-256 digest, sent as is")
        else:
            lines.append(f"{head} -> {_json(item.normalized)} -> sha256 {item.sent}")
    explained_keys = {(e.key, e.reason) for e in explained}
    for dropped in result.dropped:
        if (dropped.key, dropped.reason) not in explained_keys:
            lines.append(f"{dropped.key:<{width}}  DROPPED: {dropped.reason}")
    lines.append(f"user_data {_json(result.user_data)}")
    return "\n".join(lines)


def _report(number: int, result: NormalizedUserData) -> None:
    for dropped in result.dropped:
        sys.stderr.write(f"input {number}: {dropped.reason}\n"
                         if dropped.reason.startswith(f"{dropped.key}:")
                         else f"input {number}: {dropped.key}: {dropped.reason}\n")  # fmt: skip


@app.command("normalize")
def normalize(
    explain: bool = typer.Option(
        False,
        "--explain",
        help="Show each value's normalized form and hash, or why it was "
        "dropped (prints raw PII: keep it on your terminal).",
    ),
    region: str = typer.Option(
        "US",
        "--region",
        help="Default phone region (ISO alpha-2) for numbers without a "
        "country code when the person has no country.",
    ),
) -> None:
    """Read user_data JSON (object, array or JSON lines) on stdin; print Meta-ready user_data."""
    try:
        default_region = check_region(region)
    except ValueError:
        typer.echo(f"gdp: --region: not a known phone region: {region!r}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:  # read everything first: malformed input prints nothing but the error
        objects = list(read_objects(sys.stdin.read()))
    except InputError as exc:
        typer.echo(f"gdp: stdin {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except UnicodeDecodeError:
        typer.echo("gdp: stdin is not UTF-8 text", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out = sys.stdout
    for number, (line, raw) in enumerate(objects, start=1):
        if explain:
            out.write(_explain(number, line, raw, default_region) + "\n")
        else:
            result = normalize_user_data(raw, default_region=default_region)
            out.write(_json(result.user_data) + "\n")
            _report(number, result)
            if not result.user_data:
                sys.stderr.write(f"input {number}: no usable user_data left (Meta needs one)\n")


@app.callback()
def _meta() -> None:
    """Meta helpers (no database needed)."""


if __name__ == "__main__":
    app()
