"""`gdp ARGS` run in the test's own process, answering as `subprocess.run` would.

A `gdp` process costs a Python start-up and the imports of its command (about 0.3 s of CPU
each); a test that runs a dozen commands to check what they print and change pays that a dozen
times for nothing the commands themselves do. `gdp_in_process` runs the same click command
(`workers.cli.main.app`, the console script's own entry point) with exactly the environment
given, stdin, and the exit code, stdout and stderr a process would have: an exception the
command does not handle ends it with exit code 1 and a traceback on stderr, as Python would,
so "no traceback" assertions still hold their meaning.

Each command keeps at least one test that runs it as a real process (tests/test_cli.py `gdp`),
so the console script, the lazy imports and the process's exit code stay covered.
Worker commands that install signal handlers or run until stopped stay processes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import traceback
from collections.abc import Mapping

from typer.testing import CliRunner

from workers.cli.main import app
from workers.settings import get_settings


def gdp_in_process(
    env: Mapping[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`gdp *args` with environment `env` (nothing else of os.environ), in this process."""
    # `gdp worker ...` installs SIGINT/SIGTERM handlers on its event loop, which would outlive
    # the command in this process: workers run as processes.
    assert args[:1] != ("worker",), "run `gdp worker` as a process"
    # Unset what `env` leaves out, as a process started with env=... would not see it.
    environment: dict[str, str | None] = {name: None for name in os.environ if name not in env}
    environment.update(env)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # commands that log configure the root logger
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, list(args), input=stdin, env=environment, prog_name="gdp", catch_exceptions=True
        )
    finally:
        get_settings.cache_clear()
        root.handlers[:] = handlers
        root.setLevel(level)
    stderr = result.stderr
    code = result.exit_code
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(
            traceback.format_exception(result.exception)
        )
        code = 1
    return subprocess.CompletedProcess(["gdp", *args], code, result.stdout, stderr)
