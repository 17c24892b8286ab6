"""`gdp flags`, `gdp checklist`, `gdp settings`: the deployment gate from the command line.

Each change prints the gate's answer in one line; a refusal exits non-zero (3).
"""

from __future__ import annotations

import json

import typer

from workers.cli._common import default_actor, one_line_errors
from workers.db.connection import ADMIN_ROLE, connect
from workers.db.queries import query
from workers.errors import InvalidInput, mapped_db_errors
from workers.settings import get_settings

flags_app = typer.Typer(help="Feature flags behind the deployment gate.", no_args_is_help=True)
checklist_app = typer.Typer(help="The PRD's pre-deploy checklist.", no_args_is_help=True)
settings_app = typer.Typer(
    help="Non-secret settings (pixel ids, intervals, maps).", no_args_is_help=True
)

BY = typer.Option(None, "--by", help="Who makes the change (default: GDP_ACTOR or login name).")


@flags_app.command("list")
@one_line_errors
def flags_list() -> None:
    """Every flag, on or off, and what would block enabling it now."""
    secrets = get_settings().present_secrets()
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(query("gate_report"), {"present_secrets": secrets}).fetchall()
    width = max(len(r["flag_key"]) for r in rows)
    for r in rows:
        if r["enabled"]:
            state = f"on    (since {r['changed_at']:%Y-%m-%d %H:%M} by {r['changed_by']})"
        elif r["blockers"]:
            state = "off   blocked: " + "; ".join(r["blockers"])
        else:
            state = "off   ready to enable"
        typer.echo(f"{r['gap']}  {r['flag_key']:<{width}}  {state}")


@flags_app.command("enable")
@one_line_errors
def flags_enable(
    flag: str,
    by: str | None = BY,
    note: str | None = typer.Option(None, help="Why (kept in the audit)."),
) -> None:
    """Enable a flag if the gate allows it; otherwise say what is missing."""
    actor = by or default_actor()
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("enable_flag"),
            {
                "flag_key": flag,
                "actor": actor,
                "note": note,
                "present_secrets": get_settings().present_secrets(),
            },
        ).fetchone()
    assert row is not None
    typer.echo(f"{row['flag_key']} is on (by {actor})")


@flags_app.command("disable")
@one_line_errors
def flags_disable(
    flag: str,
    by: str | None = BY,
    cascade: bool = typer.Option(False, help="Also disable flags that depend on it."),
    note: str | None = typer.Option(None, help="Why (kept in the audit)."),
) -> None:
    """Disable a flag (refused while dependents are on, unless --cascade)."""
    actor = by or default_actor()
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("disable_flag"),
            {"flag_key": flag, "actor": actor, "cascade": cascade, "note": note},
        ).fetchone()
    assert row is not None
    typer.echo(f"{row['flag_key']} is off (by {actor})")


@checklist_app.command("list")
@one_line_errors
def checklist_list() -> None:
    """The pre-deploy checklist and who acknowledged what."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(query("checklist_list")).fetchall()
    width = max(len(r["item_key"]) for r in rows)
    for r in rows:
        mark = (
            f"[x] {r['acknowledged_by']} {r['acknowledged_at']:%Y-%m-%d %H:%M}"
            if r["acknowledged_at"]
            else "[ ] not acknowledged"
        )
        typer.echo(f"{r['position']}. {r['item_key']:<{width}}  {mark}  ({r['title']})")


@checklist_app.command("ack")
@one_line_errors
def checklist_ack(
    item: str,
    by: str = typer.Option(..., "--by", help="Who acknowledges it (name)."),
    note: str | None = typer.Option(None, help="Evidence or a link."),
) -> None:
    """Acknowledge a checklist item."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("acknowledge_checklist_item"), {"item_key": item, "actor": by, "note": note}
        ).fetchone()
    assert row is not None
    typer.echo(
        f"{row['item_key']} acknowledged by {row['acknowledged_by']} "
        f"at {row['acknowledged_at']:%Y-%m-%d %H:%M}"
    )


@checklist_app.command("withdraw")
@one_line_errors
def checklist_withdraw(
    item: str, by: str | None = BY, note: str | None = typer.Option(None, help="Why.")
) -> None:
    """Withdraw an acknowledgement."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        conn.execute(
            query("withdraw_checklist_acknowledgement"),
            {"item_key": item, "actor": by or default_actor(), "note": note},
        )
    typer.echo(f"{item} is no longer acknowledged")


@settings_app.command("list")
@one_line_errors
def settings_list() -> None:
    """Every setting, its value per scope, or absent."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        rows = conn.execute(query("settings_list")).fetchall()
    for r in rows:
        value = "absent" if r["scope"] is None else f"{r['scope']} = {json.dumps(r['value'])}"
        typer.echo(f"{r['setting_key']:<32} {value}")


@settings_app.command("set")
@one_line_errors
def settings_set(
    key: str,
    value: str,
    product: str | None = typer.Option(None, help="Set it for one product only."),
    by: str | None = BY,
) -> None:
    """Set a setting. VALUE is JSON (a bare word is taken as a string)."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    if isinstance(parsed, float):
        raise InvalidInput(f"{key}: must be a whole number", field=key)
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("set_setting"),
            {
                "setting_key": key,
                "value": json.dumps(parsed),
                "actor": by or default_actor(),
                "scope": product or "global",
            },
        ).fetchone()
    assert row is not None
    typer.echo(f"{row['setting_key']} [{row['scope']}] = {json.dumps(row['value'])}")


@settings_app.command("unset")
@one_line_errors
def settings_unset(key: str, product: str | None = typer.Option(None), by: str | None = BY) -> None:
    """Remove a setting (for one product, or the global value)."""
    with connect(role=ADMIN_ROLE) as conn, mapped_db_errors():
        row = conn.execute(
            query("unset_setting"),
            {"setting_key": key, "actor": by or default_actor(), "scope": product or "global"},
        ).fetchone()
    assert row is not None
    typer.echo(f"{key} [{product or 'global'}] " + ("removed" if row["removed"] else "was not set"))
