"""`gdp demo`: thin wrapper over workers.demo.run."""

from __future__ import annotations

import sys

import typer

from workers.cli._common import one_line_errors
from workers.db.connection import database_url
from workers.demo.run import demo_database_url, run_demo


@one_line_errors
def demo(
    dbname: str = typer.Option("gdp_demo", help="Database the demo (re)creates on the server."),
    keep_serving: bool = typer.Option(
        None,
        help="Keep the demo shop and services running after the summary "
        "(default: when run from a terminal).",
    ),
) -> None:
    """Run the pipeline end to end on the local default and print a summary."""
    serve = sys.stdin.isatty() if keep_serving is None else keep_serving
    run_demo(demo_database_url(database_url(), dbname), typer.echo, keep_serving=serve)
