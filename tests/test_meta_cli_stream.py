"""`gdp meta normalize` reads its input as a stream: linear, bounded, and printing as it goes."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from workers.cli import _json_stream
from workers.cli._json_stream import InputError, JsonObjects

ROOT = Path(__file__).resolve().parents[1]

MIXED = (
    '\ufeff{"em": "a@example.com"}\n'
    "\n"
    '{"em": "b@example.com"} {"em": "c@example.com"}\r\n'
    '[{"ph": "1"}, {"ph": "2"},\n {"ph": "3"}]\n'
    "{\n"
    '  "fn": "Zoë",\n'
    '  "nested": {"a": [1, 2, {"b": "}"}]}\n'
    "}\n"
    "[]\n"
    '{"ct": "x\\ny", "n": 1e400, "t": true}\n'
    '{"last": "no newline at the end"}'
)
EXPECTED_LINES = [1, 3, 3, 4, 4, 5, 6, 11, 12]


class Trickle(io.RawIOBase):
    """A stream that hands out at most `size` bytes per read, as a slow pipe would."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size, self._pos = data, size, 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read1(self, n: int = -1) -> bytes:
        self.reads += 1
        chunk = self._data[self._pos : self._pos + min(n, self._size)]
        self._pos += len(chunk)
        return chunk


def objects(data: bytes, size: int = 1 << 16) -> list[tuple[int, dict[str, Any]]]:
    return list(JsonObjects(Trickle(data, size)))  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 16])
def test_same_objects_and_lines_whatever_the_read_size(size: int) -> None:
    found = objects(MIXED.encode(), size)
    assert [line for line, _ in found] == EXPECTED_LINES
    assert [obj for _, obj in found] == [
        {"em": "a@example.com"},
        {"em": "b@example.com"},
        {"em": "c@example.com"},
        {"ph": "1"},
        {"ph": "2"},
        {"ph": "3"},
        {"fn": "Zoë", "nested": {"a": [1, 2, {"b": "}"}]}},
        {"ct": "x\ny", "n": float("inf"), "t": True},
        {"last": "no newline at the end"},
    ]


@pytest.mark.parametrize("size", [1, 5, 1 << 16])
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}\n{"a": tru}\n', "line 2: malformed JSON (Expecting value)"),
        ('{"a": 1}\n\n{"a": "open\n', "line 3: malformed JSON (Invalid control character at)"),
        ('{"a": 1}\n{"a": "open', "line 2: malformed JSON (Unterminated string starting at)"),
        (
            '[{"a": 1},\n{"a": 2}\n{"a": 3}]',
            "line 3: malformed JSON (expected ',' or ']' in the array)",
        ),
        ('[{"a": 1},\n', "line 2: malformed JSON (the array is not closed)"),
        ('[{"a": 1}, "x"]', "line 1: expected a JSON object of user_data fields, got string"),
        ('{"a": 1}\nnull\n', "line 2: expected a JSON object of user_data fields, got null"),
        ('{"a": "\\u12', "line 1: malformed JSON (Invalid \\uXXXX escape)"),
    ],
)
def test_errors_name_the_line(size: int, text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        objects(text.encode(), size)
    assert str(caught.value) == message


def test_one_value_is_capped_and_the_error_names_where_it_starts() -> None:
    big = '{"a": 1}\n{"a": "' + "x" * (_json_stream.MAX_VALUE_CHARS + 10) + '"}\n'
    with pytest.raises(InputError, match=r"^line 2: a JSON value longer than 1,048,576 characters"):
        objects(big.encode())


def test_each_object_is_parsed_about_once_even_from_a_trickling_pipe() -> None:
    """Linear time: a value split across reads is re-parsed only after the buffer doubled."""
    pretty = "".join(json.dumps({"em": f"p{i}@example.com", "n": i}, indent=2) for i in range(2000))
    stream = Trickle(pretty.encode(), 7)
    reader = JsonObjects(stream)  # type: ignore[arg-type]
    calls = 0
    decode = reader._json.raw_decode

    def counting(text: str, pos: int) -> tuple[Any, int]:
        nonlocal calls
        calls += 1
        return decode(text, pos)

    reader._json.raw_decode = counting  # type: ignore[method-assign]
    found = list(reader)
    assert [obj["n"] for _, obj in found] == list(range(2000))
    assert found[-1][0] == 1 + 3 * 1999  # four lines each, "}{" shares one
    assert calls <= 2 * 2000 + 10


def test_many_lines_take_linear_time() -> None:
    """300,000 lines parse in well under a second on an idle machine; the quadratic reader
    this replaces (it counted lines from the start for every object) took minutes."""
    data = b"".join(b'{"em": "p%d@example.com"}\n' % i for i in range(300_000))
    start = time.perf_counter()
    count = sum(1 for _ in JsonObjects(io.BytesIO(data)))
    assert count == 300_000
    assert time.perf_counter() - start < 30


def test_json_lines_are_parsed_from_the_bytes_without_decoding_them() -> None:
    """The common case skips the text decoder and the general parser altogether."""
    data = "".join(json.dumps({"fn": f"Zoë{i}"}, ensure_ascii=False) + "\n" for i in range(500))
    reader = JsonObjects(Trickle(data.encode(), 1000))  # type: ignore[arg-type]
    decoded: list[bytes] = []
    decode = reader._decoder.decode

    def counting(data: bytes, final: bool = False) -> str:
        decoded.append(data)
        return decode(data, final)

    reader._decoder.decode = counting  # type: ignore[method-assign]
    found = list(reader)
    assert [line for line, _ in found] == list(range(1, 501))
    assert found[-1][1] == {"fn": "Zoë499"}
    assert decoded == []


@pytest.mark.parametrize("size", [1, 3, 64, 1 << 16])
def test_json_lines_then_other_shapes_keep_their_line_numbers(size: int) -> None:
    text = (
        '{"em": "a"}\n\n  \r\n{"em": "b"}\r\n{"em": "c"} {"em": "d"}\n{"em": "e"}\n{\n"em": "f"}\n'
    )
    found = objects(text.encode(), size)
    assert found == [(1, {"em": "a"}), (4, {"em": "b"}), (5, {"em": "c"}), (5, {"em": "d"}),
                     (6, {"em": "e"}), (7, {"em": "f"})]  # fmt: skip


@pytest.mark.parametrize("size", [1, 5, 1 << 16])
def test_bad_utf8_after_json_lines_names_its_line(size: int) -> None:
    data = b'{"em": "a"}\n{"em": "b"}\n{"em": "\xff"}\n{"em": "d"}\n'
    reader = JsonObjects(Trickle(data, size))  # type: ignore[arg-type]
    found = []
    with pytest.raises(InputError, match=r"^line 3: not UTF-8 text$"):
        for item in reader:
            found.append(item)
    assert found == [(1, {"em": "a"}), (2, {"em": "b"})]


def test_stdout_gets_a_buffer_of_its_own_when_python_gives_it_none(tmp_path: Path) -> None:
    """PYTHONUNBUFFERED=1 (or -u) makes sys.stdout.buffer the raw file: one system call per
    line. The command wraps it in a buffer of its own, which it flushes before each read."""
    from workers.cli.meta_cmd import _buffered

    target = tmp_path / "out"
    with target.open("wb", buffering=0) as raw:
        out = _buffered(raw)
        assert out is not raw
        out.write(b"x" * 100)
        assert target.read_bytes() == b""  # held in the buffer
        out.flush()
        assert target.read_bytes() == b"x" * 100
        del out
        raw.write(b"!")  # the file itself stays open
    assert target.read_bytes() == b"x" * 100 + b"!"
    with target.open("wb") as buffered:
        assert _buffered(buffered) is buffered  # already buffered: used as it is


def gdp_normalize(unbuffered: str = "0") -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli.main", "meta", "normalize"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": unbuffered},
    )


@pytest.mark.parametrize("unbuffered", ["0", "1"])
def test_output_comes_out_while_input_is_still_open(unbuffered: str) -> None:
    proc = gdp_normalize(unbuffered)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b'{"email": "John_Smith@gmail.com"}\n')
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no output for the first line while stdin stayed open"
        first = json.loads(proc.stdout.readline())
        assert first == {"em": "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"}
        proc.stdin.write(b'{"email": "a@example.com"}\n')
        proc.stdin.close()
        assert len(proc.stdout.read().splitlines()) == 1
        assert proc.wait(60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_bad_line_deep_in_a_large_input_stops_there_after_printing_the_rest() -> None:
    good = b"".join(b'{"email": "p%d@example.com", "phone": "+1 650 555 %04d"}\n' % (i, i)
                    for i in range(5000))  # fmt: skip
    proc = gdp_normalize()
    out, err = proc.communicate(good + b'{"email" "x"}\n' + good, timeout=120)
    assert proc.returncode == 2
    assert len(out.splitlines()) == 5000
    assert err.decode().splitlines() == [
        "gdp: stdin line 5001: malformed JSON (Expecting ':' delimiter)"
    ]
