"""`gdp meta normalize`: the typer app directly (CliRunner) and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from workers.cli.meta_cmd import app

ROOT = Path(__file__).resolve().parents[1]
EM = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
PH = "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
runner = CliRunner()


def run(stdin: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["normalize", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def lines(text: str) -> list[object]:
    return [json.loads(line) for line in text.splitlines()]


def test_single_object() -> None:
    code, out, err = run('{"email": " John_Smith@gmail.com", "phone": "(650)555-1212"}')
    assert code == 0, err
    assert lines(out) == [{"em": EM, "ph": PH}]
    assert err == ""


def test_json_lines_array_and_pretty_objects() -> None:
    jsonl = '{"em": "John_Smith@gmail.com"}\n\n{"ph": "(650)555-1212"}\n'
    assert lines(run(jsonl)[1]) == [{"em": EM}, {"ph": PH}]
    array = '[{"em": "John_Smith@gmail.com"}, {"ph": "(650)555-1212"}]'
    assert lines(run(array)[1]) == [{"em": EM}, {"ph": PH}]
    pretty = '{\n  "em": "John_Smith@gmail.com"\n}\n{\n  "ph": "(650)555-1212"\n}\n'
    assert lines(run(pretty)[1]) == [{"em": EM}, {"ph": PH}]


def test_dropped_values_are_reported_on_stderr_without_the_value() -> None:
    code, out, err = run('{"em": "John_Smith@gmail.com", "ph": "555-0000", "hobby": "chess"}')
    assert code == 0
    assert lines(out) == [{"em": EM}]
    assert "input 1: ph: not a valid phone number for region US" in err
    assert "input 1: hobby: unknown user_data key" in err
    assert "555-0000" not in err and "chess" not in err


def test_region_option() -> None:
    code, out, _ = run('{"ph": "020 7946 0958"}', "--region", "GB")
    assert code == 0
    assert lines(out) == [{"ph": json.loads(run('{"ph": "+442079460958"}')[1])["ph"]}]
    code, _, err = run("{}", "--region", "XX")
    assert code == 2 and "--region" in err


def test_explain() -> None:
    code, out, err = run(
        '{"em": ["John_Smith@gmail.com", "nope"], "client_ip_address": "1.2.3.4", '
        f'"fn": "{EM.upper()}", "person_id": "p1"}}',
        "--explain",
    )
    assert code == 0, err
    assert '"John_Smith@gmail.com" -> "john_smith@gmail.com" -> sha256 ' + EM in out
    assert '"nope"  DROPPED: em: not a valid email address' in out
    assert '"1.2.3.4" -> "1.2.3.4"  (sent unhashed)' in out
    assert "already a SHA-256 digest, sent as is" in out
    assert "person_id" in out and "DROPPED: person_id is never sent" in out
    assert out.splitlines()[0] == "# input 1 (line 1)"
    assert out.splitlines()[-1].startswith('user_data {"em":"' + EM)


def test_malformed_json_exits_2_with_line_number_after_the_objects_before_it() -> None:
    code, out, err = run('{"em": "John_Smith@gmail.com"}\n{"em": "b@example.com",\n')
    assert code == 2
    assert lines(out) == [{"em": EM}]  # streamed: what came before the error is printed
    assert err.count("\n") == 1
    assert err.startswith("gdp: stdin line 3: malformed JSON")
    code, _, err = run('{"em": "a@example.com"}\n{"em" "b"}\n')
    assert code == 2 and "line 2" in err
    pretty = '{\n  "em": "John_Smith@gmail.com"\n}\n{\n  "em": "x",\n  "ph" 1\n}\n'
    code, out, err = run(pretty)
    assert (code, lines(out)) == (2, [{"em": EM}])
    assert err.startswith("gdp: stdin line 6: malformed JSON (Expecting ':' delimiter)"), err


def test_non_object_input_exits_2() -> None:
    code, _, err = run('{"em": "a@example.com"}\n["x"]\n')
    assert code == 2
    assert err.strip() == (
        "gdp: stdin line 2: expected a JSON object of user_data fields, got string"
    )
    code, _, err = run('{"em": "a@example.com"}\n\n  42\n')
    assert (code, err.strip()) == (2, "gdp: stdin line 3: expected a JSON object of user_data "
                                      "fields, got number")  # fmt: skip


def test_not_utf8_names_the_line_after_printing_what_came_before() -> None:
    result = runner.invoke(
        app, ["normalize"], input=b'{"em": "John_Smith@gmail.com"}\n{"fn": "\xff"}\n'
    )
    assert result.exit_code == 2
    assert lines(result.stdout) == [{"em": EM}]
    assert result.stderr == "gdp: stdin line 2: not UTF-8 text\n"


def test_empty_input_prints_nothing() -> None:
    assert run("") == (0, "", "")


def test_subprocess_module_entry_point() -> None:
    good = subprocess.run(
        [sys.executable, "-m", "workers.cli.meta_cmd", "normalize"],
        input='{"email": "John_Smith@gmail.com"}\n',
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout) == {"em": EM}
    bad = subprocess.run(
        [sys.executable, "-m", "workers.cli.meta_cmd", "normalize"],
        input="{not json",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.startswith("gdp: stdin line 1: malformed JSON")
    assert "Traceback" not in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_help_says_what_was_already_written_when_input_is_malformed() -> None:
    result = runner.invoke(app, ["normalize", "--help"])
    text = " ".join(result.stdout.split())
    assert result.exit_code == 0
    assert "Malformed input stops the command with exit code 2" in text
    assert "the objects before it have already been printed" in text
