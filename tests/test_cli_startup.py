"""`gdp` starts fast: a command imports what it needs, not every subcommand's dependencies.

Checked by the modules a fresh interpreter has loaded after running the command (timing-free,
so a loaded machine cannot break it), plus one generous wall-clock bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workers.cli.main import SUBCOMMANDS, load_command

ROOT = Path(__file__).resolve().parents[1]

# Heavy dependencies that only some subcommands need (database, HTTP, workers, sandbox).
HEAVY = (
    "psycopg",
    "psycopg_pool",
    "pgmq",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "prometheus_client",
    "structlog",
    "tqdm",
    "edge_compat",
    "meta_sandbox",
    "workers.capi",
    "workers.db",
    "workers.settings",
    "workers.demo",
)


def modules_after(args: list[str], stdin: str = "") -> tuple[set[str], str]:
    """The modules loaded after `gdp <args>` ran to completion, and its stdout."""
    script = (
        "import json, runpy, sys\n"
        "sys.argv = ['gdp', *json.loads(sys.argv[1])]\n"
        "try:\n"
        "    runpy.run_module('workers.cli.main', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "sys.stdout.flush()\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stderr.splitlines()[-1])), done.stdout


def loaded(modules: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in modules)


def test_help_imports_no_subcommand() -> None:
    modules, out = modules_after(["--help"])
    assert "meta" in out and "worker" in out
    assert not [m for m in modules if m.startswith("workers.cli.") and m != "workers.cli.main"]
    assert not [name for name in (*HEAVY, "workers.meta", "phonenumbers") if loaded(modules, name)]


def test_meta_normalize_imports_only_what_it_needs() -> None:
    line = '{"email": "a@example.com", "country": "US", "phone": "650 555 1212"}\n'
    modules, out = modules_after(["meta", "normalize"], line)
    assert set(json.loads(out)) == {"em", "country", "ph"}
    assert loaded(modules, "workers.meta.normalize")
    assert [name for name in HEAVY if loaded(modules, name)] == []


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    assert SUBCOMMANDS[name].help == (command.help or "").strip().splitlines()[0]


def test_help_and_one_line_start_fast() -> None:
    """≤ 0.3 s on an idle machine (bench/RESULTS.md); the bound here is generous for a busy one."""
    for args, stdin in ((["--help"], ""), (["meta", "normalize"], '{"email": "a@example.com"}\n')):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "workers.cli.main", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=True,
        )
        assert time.perf_counter() - start < 5
