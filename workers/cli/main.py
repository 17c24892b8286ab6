"""The `gdp` command: one console script for the whole Growth Data Plane."""

from __future__ import annotations

import typer

from workers.cli import (
    dashboard_cmd,
    db_cmd,
    demo_cmd,
    dlq_cmd,
    gate_cmd,
    insights_cmd,
    keys_cmd,
    meta_cmd,
    people_cmd,
    sandbox_cmd,
    serve_cmd,
    worker_cmd,
)

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
app.add_typer(dlq_cmd.app, name="dlq")
app.add_typer(meta_cmd.app, name="meta")
app.add_typer(sandbox_cmd.app, name="sandbox")
app.add_typer(insights_cmd.app, name="insights")
app.add_typer(dashboard_cmd.app, name="dashboard")
app.command("serve")(serve_cmd.serve)
app.command("worker")(worker_cmd.worker)
app.command("demo")(demo_cmd.demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
