"""The `gdp` command: one console script for the whole Growth Data Plane."""

from __future__ import annotations

import typer

from workers.cli import db_cmd, demo_cmd, gate_cmd, keys_cmd, people_cmd

app = typer.Typer(
    help="Growth Data Plane: products -> shared Postgres -> Meta, and back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_cmd.app, name="db")
app.add_typer(gate_cmd.flags_app, name="flags")
app.add_typer(gate_cmd.checklist_app, name="checklist")
app.add_typer(gate_cmd.settings_app, name="settings")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(people_cmd.app, name="people")
app.command("demo")(demo_cmd.demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
