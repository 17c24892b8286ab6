"""The `gdp` command: one console script for the whole Growth Data Plane.

Subcommands load lazily: `gdp --help` imports none of them, and `gdp meta normalize` imports
what `meta normalize` needs and not the database driver, the HTTP service or the workers of the
other commands (tests/test_cli_startup.py checks which modules a command imports).

To add a subcommand, add one row to `SUBCOMMANDS`: its name, the `module:attribute` that holds
it (a `typer.Typer` app for a group of commands such as `gdp db ...`, or a function for a single
command such as `gdp serve`) and the one line that `gdp --help` shows for it (kept here so that
listing the commands imports none of them; a test checks it is the command's own first line).
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command


class Subcommand(NamedTuple):
    target: str  # "package.module:attribute": a typer.Typer app or a command function
    help: str  # the first line of its help, for `gdp --help`


SUBCOMMANDS: dict[str, Subcommand] = {
    "db": Subcommand("workers.cli.db_cmd:app", "The database: migrations, functions, policies."),
    "flags": Subcommand(
        "workers.cli.gate_cmd:flags_app", "Feature flags behind the deployment gate."
    ),
    "checklist": Subcommand(
        "workers.cli.gate_cmd:checklist_app", "The PRD's pre-deploy checklist."
    ),
    "settings": Subcommand(
        "workers.cli.gate_cmd:settings_app", "Non-secret settings (pixel ids, intervals, maps)."
    ),
    "keys": Subcommand(
        "workers.cli.keys_cmd:app", "Credentials of products writing to GDP."
    ),
    "people": Subcommand("workers.cli.people_cmd:app", "People in shared.person."),
    "dlq": Subcommand("workers.cli.dlq_cmd:app", "Dead letters of the Conversions API path."),
    "meta": Subcommand(
        "workers.cli.meta_cmd:app",
        "Meta helpers: normalize and hash user_data exactly as Meta requires.",
    ),
    "sandbox": Subcommand(
        "workers.cli.sandbox_cmd:app",
        "The Meta Graph API sandbox: CAPI, Custom Audiences, Insights and Lead Ads, offline.",
    ),
    "serve": Subcommand(
        "workers.cli.serve_cmd:serve",
        "Serve the HTTP API: /api/v1/meta/event, /functions/v1/track-conversion, the relay.",
    ),
    "worker": Subcommand(
        "workers.cli.worker_cmd:worker",
        "Run a worker until interrupted (SIGINT/SIGTERM finish the current batch first).",
    ),
    "insights": Subcommand(
        "workers.cli.insights_cmd:app", "Ad performance from Meta's Ads Insights (GAP-004)."
    ),
    "segments": Subcommand(
        "workers.cli.segments_cmd:app", "Segments: SQL views of people, synced to Meta audiences."
    ),
    "audiences": Subcommand(
        "workers.cli.audiences_cmd:app",
        "Meta Custom Audiences kept in step with segments (GAP-007).",
    ),
    "dashboard": Subcommand(
        "workers.cli.dashboard_cmd:app", "The dashboard (/dashboard) and its users' keys."
    ),
    "demo": Subcommand(
        "workers.cli.demo_cmd:demo",
        "Run the pipeline end to end on the local default and print a summary.",
    ),
}


def load_command(name: str) -> Any:
    """Import one subcommand and build its click command (a group for a typer app)."""
    module_name, _, attribute = SUBCOMMANDS[name].target.partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(target, typer.Typer):
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        target = single
    command = get_command(target)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The top-level group: lists the subcommands from `SUBCOMMANDS`, imports the one it runs."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None:
            return None
        if self._listing:  # `gdp --help` needs the help line only
            return TyperCommand(name=cmd_name, help=entry.help, short_help=entry.help)
        return load_command(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def gdp() -> None:
    """Growth Data Plane: products -> shared Postgres -> Meta, and back."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
