"""`gdp meta ...`: Meta helpers that need no database (normalize and hash user_data).

    echo '{"email": " John_Smith@gmail.com", "phone": "(650)555-1212"}' | gdp meta normalize
    gdp meta normalize --explain --region GB < people.jsonl

Input on stdin: JSON lines (one object per line), objects one after another (pretty-printed
too) or a JSON array of objects. Output: one JSON line per input object with the Meta-ready
`user_data`, written as the input is read (any input size, memory bounded by one object).
Values that were left out are reported on stderr by key and reason, never by value. Malformed
input stops the command with exit code 2 and one line on stderr naming its line; the objects
before it have already been printed. `--explain` instead prints, per key, each raw value, its
normalized form and its hash (or why it was dropped): that output contains the raw PII you fed
in, so keep it on your terminal and out of logs and tickets.
"""

from __future__ import annotations

import gc
import io
import json
import sys
from typing import Any, BinaryIO

import orjson
import typer

from workers.cli._json_stream import InputError, JsonObjects
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
_LONG_INPUT = 10_000


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


def _report(number: int, result: NormalizedUserData, err: list[str]) -> None:
    for dropped in result.dropped:
        if dropped.reason.startswith(f"{dropped.key}:"):
            err.append(f"input {number}: {dropped.reason}\n")
        else:
            err.append(f"input {number}: {dropped.key}: {dropped.reason}\n")
    if not result.user_data:
        err.append(f"input {number}: no usable user_data left (Meta needs one)\n")


def _buffered(out: BinaryIO) -> BinaryIO:
    """stdout with a buffer of its own when Python gives it none (PYTHONUNBUFFERED=1 or -u,
    common in containers, makes sys.stdout.buffer the raw file: one system call per line)."""
    if isinstance(out, io.RawIOBase):
        raw = io.FileIO(out.fileno(), "wb", closefd=False)  # closing it leaves stdout open
        return io.BufferedWriter(raw, buffer_size=1 << 16)
    return out


class _Output:
    """stdout and the stderr reports, written in blocks and flushed together whenever the
    command is about to wait for input (and at the end), so output streams as input does
    without one system call per line."""

    def __init__(self) -> None:
        sys.stdout.flush()
        self.out: BinaryIO = _buffered(sys.stdout.buffer)
        self.err: list[str] = []

    def flush(self) -> None:
        self.out.flush()
        if self.err:
            sys.stderr.write("".join(self.err))
            sys.stderr.flush()
            self.err.clear()


NORMALIZE_HELP = (
    "Read user_data JSON on stdin (JSON lines, objects or an array); print Meta-ready "
    "user_data.\n\n"
    "One output line per input object, written as the input is read (any input size). "
    "Malformed input stops the command with exit code 2 and one line on stderr naming its "
    "line: the objects before it have already been printed. Dropped values are reported on "
    "stderr by key and reason, never by value."
)


@app.command("normalize", help=NORMALIZE_HELP)
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
    try:
        default_region = check_region(region)
    except ValueError:
        typer.echo(f"gdp: --region: not a known phone region: {region!r}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    output = _Output()
    out, err = output.out, output.err
    objects = JsonObjects(sys.stdin.buffer, before_read=output.flush)
    number = 0
    dumps = orjson.dumps
    try:
        for line, raw in objects:
            number += 1
            if explain:
                out.write(_explain(number, line, raw, default_region).encode() + b"\n")
                continue
            result = normalize_user_data(raw, default_region=default_region)
            out.write(dumps(result.user_data, option=orjson.OPT_APPEND_NEWLINE))
            if result.dropped or not result.user_data:
                _report(number, result, err)
            if len(err) > 1000:
                output.flush()
            if number == _LONG_INPUT:  # the rules' tables and memo are loaded by now: keep
                gc.freeze()  # the collector from walking them again for every later object
    except InputError as exc:
        output.flush()
        typer.echo(f"gdp: stdin {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        output.flush()


@app.callback()
def _meta() -> None:
    """Meta helpers (no database needed)."""


if __name__ == "__main__":
    app()
