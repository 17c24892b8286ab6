"""JSON objects read one at a time from a byte stream, with the line each starts on.

Accepts JSON lines, objects one after another (pretty-printed or several on a line) and a
top-level array of objects, in any mix. Memory stays bounded by one object (at most
`MAX_VALUE_CHARS` characters) plus one read chunk whatever the input size, and time is linear:
each object is parsed once in the common case (a whole line: orjson), and an object that spans
read chunks is re-parsed only after the buffer has at least doubled. Errors name the line and
never quote the input (it is PII).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import orjson

CHUNK = 1 << 16
MAX_VALUE_CHARS = 1 << 20
_WHITESPACE = " \t\r\n\ufeff"
# A parse error this close to the end of the buffer may only mean the value goes on in the
# next chunk (a literal such as `tru|e`, a `\u12|34` escape); the longest such token is short.
_TAIL = 16


class InputError(Exception):
    """Malformed input; the message names the line and never quotes the input."""


class JsonObjects:
    """Iterate over (line number, object); raises InputError at the first malformed value."""

    def __init__(self, stream: BinaryIO, before_read: Callable[[], None] | None = None) -> None:
        self._read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        self._before_read = before_read  # e.g. flush stdout, so output streams as input does
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._line = 1  # the line of self._pos
        self._line_count = 0  # objects read by the JSON lines path
        self._eof = False
        self._pending: InputError | None = None  # a decoding error, raised once reached
        self._json = json.JSONDecoder()

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        yield from self._byte_lines()
        while True:
            char = self._next_char()
            if not char:
                return
            if char == "[":
                yield from self._array()
                continue
            if char == "{":
                count = self._line_count
                yield from self._whole_lines()
                if self._line_count != count:
                    continue
            yield self._object(self._value())

    # --- values -------------------------------------------------------------------------

    def _byte_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """JSON lines straight from the bytes read (the common case): each whole line parsed
        by orjson, with no decoding to text and re-encoding on the way. Blank lines are
        skipped. At the first line that is not one whole object (or is not UTF-8), that line
        and everything after it go to the general reader below, which decides."""
        loads, malformed = orjson.loads, orjson.JSONDecodeError
        line, tail = 1, b""
        while True:
            if self._before_read is not None:
                self._before_read()
            data = self._read(CHUNK)
            if data:
                lines = (tail + data).split(b"\n")
                tail = lines.pop()  # the line goes on in the next read
            else:
                lines, tail = ([tail] if tail else []), b""
            for index, text in enumerate(lines):
                try:
                    value = loads(text) if len(text) <= MAX_VALUE_CHARS else None
                except malformed:
                    if not text.strip(b" \t\r"):
                        line += 1  # a blank line
                        continue
                    value = None
                if type(value) is not dict:
                    rest = b"\n".join([*lines[index:], tail]) if data else b"\n".join(lines[index:])
                    self._line = line
                    self._feed(rest, final=not data)
                    return
                yield line, value
                line += 1
            if not data:
                self._line, self._eof = line, True
                return
            if len(tail) > MAX_VALUE_CHARS:  # a very long line: the general reader caps it
                self._line = line
                self._feed(tail, final=False)
                return

    def _whole_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """The objects that fill whole lines from here (JSON lines, the common case): parsed
        with orjson straight from the buffer; stops at the first line that is anything else
        (the general path then decides)."""
        buf, pos = self._buf, self._pos
        end = buf.rfind("\n", pos)
        if end < 0:
            return
        for text in buf[pos:end].split("\n"):
            if len(text) > MAX_VALUE_CHARS or not text.lstrip(" \t\r").startswith("{"):
                return
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                return  # not one whole object on this line
            if type(value) is not dict:
                return
            line = self._line
            self._pos += len(text) + 1
            self._line += 1
            self._line_count += 1
            yield line, value

    def _array(self) -> Iterator[tuple[int, dict[str, Any]]]:
        self._advance(self._pos + 1)
        if self._next_char() == "]":
            self._advance(self._pos + 1)
            return
        while True:
            yield self._object(self._value())
            char = self._next_char()
            if char == "]":
                self._advance(self._pos + 1)
                return
            if char != ",":
                raise self._error(self._line, "malformed JSON (expected ',' or ']' in the array)")
            self._advance(self._pos + 1)
            if not self._next_char():
                raise self._error(self._line, "malformed JSON (the array is not closed)")

    def _value(self) -> tuple[int, object]:
        """The JSON value starting at the current position (after whitespace)."""
        start_line = self._line
        grown_to = 0
        while True:
            buf, start = self._buf, self._pos
            try:
                value, end = self._json.raw_decode(buf, start)
            except json.JSONDecodeError as exc:
                incomplete = exc.pos >= len(buf) - _TAIL or exc.msg.startswith("Unterminated")
                if self._eof or not incomplete:
                    if self._pending is not None and incomplete:
                        raise self._pending from None
                    line = start_line + buf.count("\n", start, exc.pos)
                    raise self._error(line, f"malformed JSON ({exc.msg})") from None
                if len(buf) - start > MAX_VALUE_CHARS:
                    raise self._too_long(start_line) from None
                # Re-parse only once the buffer has doubled: linear even for long values.
                grown_to = max(grown_to * 2, len(buf) - start + CHUNK)
                while not self._eof and len(self._buf) - self._pos < grown_to:
                    self._fill()
                continue
            if end - start > MAX_VALUE_CHARS:
                raise self._too_long(start_line)
            self._advance(end)
            return start_line, value

    def _object(self, found: tuple[int, object]) -> tuple[int, dict[str, Any]]:
        line, value = found
        if not isinstance(value, dict):
            raise self._error(
                line, f"expected a JSON object of user_data fields, got {_json_type(value)}"
            )
        return line, value

    # --- the buffer ---------------------------------------------------------------------

    def _next_char(self) -> str:
        """The next non-whitespace character (read more as needed), or "" at the end."""
        while True:
            buf, pos, end = self._buf, self._pos, len(self._buf)
            while pos < end and buf[pos] in _WHITESPACE:
                pos += 1
            self._advance(pos)
            if pos < end:
                return buf[pos]
            if self._eof:
                if self._pending is not None:
                    raise self._pending
                return ""
            self._fill()

    def _advance(self, pos: int) -> None:
        self._line += self._buf.count("\n", self._pos, pos)
        self._pos = pos

    def _fill(self) -> None:
        if self._before_read is not None:
            self._before_read()
        data = self._read(CHUNK)
        self._feed(data, final=not data)

    def _feed(self, data: bytes, final: bool) -> None:
        if self._pos > (1 << 15) and self._pos * 2 > len(self._buf):
            self._buf, self._pos = self._buf[self._pos :], 0  # drop what was consumed
        try:
            self._buf += self._decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            good = data[: exc.start].decode("utf-8", errors="ignore")
            line = self._line + self._buf.count("\n", self._pos) + good.count("\n")
            self._buf += good
            self._pending = self._error(line, "not UTF-8 text")
            self._eof = True
            return
        self._eof = final

    @classmethod
    def _too_long(cls, line: int) -> InputError:
        return cls._error(line, f"a JSON value longer than {MAX_VALUE_CHARS:,} characters")

    @staticmethod
    def _error(line: int, message: str) -> InputError:
        return InputError(f"line {line}: {message}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array"
