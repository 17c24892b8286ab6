"""What every gdp command shares: the actor, one-line errors, exit codes."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

from workers.errors import GdpError

P = ParamSpec("P")
R = TypeVar("R")


def default_actor() -> str:
    """Who is making a change when --by is not given: GDP_ACTOR, else the login name."""
    return os.environ.get("GDP_ACTOR") or getpass.getuser()


def fail(message: str, exit_code: int = 1) -> typer.Exit:
    typer.echo(f"gdp: {message}", err=True)
    return typer.Exit(exit_code)


def one_line_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the project's errors into one line on stderr and a non-zero exit, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except GdpError as exc:
            raise fail(exc.message, exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper


def is_tty() -> bool:
    return sys.stdout.isatty()
