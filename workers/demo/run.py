"""`gdp demo`: the whole pipeline end to end on the local default, with a readable summary.

It runs in its own database (gdp_demo on the DATABASE_URL server, recreated each run) so that
its acknowledgements and sample people never mix with real ones, and every run reads the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import psycopg
from psycopg import sql

from workers.db import migrate
from workers.db.connection import connect, redact_url
from workers.db.queries import query
from workers.demo.data import DEMO_BAD_INPUT, DEMO_LEADS
from workers.errors import GdpError, from_db_error

Echo = Callable[[str], None]
DEMO_ADMIN = "demo-admin (Dana Ops)"


def demo_database_url(base_url: str, dbname: str = "gdp_demo") -> str:
    return psycopg.conninfo.make_conninfo(base_url, dbname=dbname)


def recreate_database(url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(url)
    maintenance = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with connect(maintenance, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(str(info["dbname"]))
            )
        )


def run_demo(url: str, echo: Echo) -> None:
    echo(f"== 1. Schema on {redact_url(url)}")
    recreate_database(url)
    result = migrate.up(url)
    echo(f"   migrations: {', '.join(result.migrations_applied)}")
    echo(f"   pgmq: {result.pgmq_installed}; {len(result.files_applied)} function/policy files")

    with connect(url) as conn:
        echo(f"\n== 2. {len(DEMO_LEADS)} leads and signups from several products (one SQL call)")
        with conn.transaction():
            rows = conn.execute(
                query("upsert_people"), {"people": json.dumps(DEMO_LEADS)}
            ).fetchall()
        people = {r["person_id"] for r in rows}
        created = {r["person_id"] for r in rows if r["created"]}
        echo(f"   {len(DEMO_LEADS)} records -> {len(people)} people ({len(created)} new)")

        echo("\n== 3. Bad input is refused with a clear error, nothing written")
        for label, payload in DEMO_BAD_INPUT:
            try:
                with conn.transaction():
                    conn.execute(query("upsert_people"), {"people": json.dumps(payload)})
                echo(f"   {label}: accepted?!")
            except psycopg.Error as exc:
                echo(f"   {label}: {from_db_error(exc).message}")

        echo("\n== 4. Stitched people (first touch kept, later touches fill blanks)")
        for r in conn.execute(query("stitched_people"), {"limit": 50}).fetchall():
            echo(
                f"   {r['email']:<26} first touch {r['source_product'] or '-':<12} "
                f"utm={r['utm_source'] or '-':<10} {r['lifecycle_stage']:<9} "
                f"{', '.join(r['identities']) or '-'}"
            )

        echo("\n== 5. The deployment gate")
        show_gate(conn, echo)
        echo("\n   Enabling GAP-001 before anything else:")
        try_enable(conn, echo, "META_CAPI_INGEST_ENABLED")
        echo(f"\n   {DEMO_ADMIN} acknowledges the pre-deploy checklist and sets the pixel id")
        for item in conn.execute(query("checklist_list")).fetchall():
            conn.execute(
                query("acknowledge_checklist_item"),
                {"item_key": item["item_key"], "actor": DEMO_ADMIN, "note": "demo"},
            )
        conn.execute(
            query("set_setting"),
            {
                "setting_key": "META_PIXEL_ID",
                "value": '"1234567890"',
                "actor": DEMO_ADMIN,
                "scope": "global",
            },
        )
        conn.commit()
        try_enable(conn, echo, "SHARED_PERSON_TABLE_ENABLED")
        try_enable(conn, echo, "META_CAPI_INGEST_ENABLED", secrets=[])
        try_enable(conn, echo, "META_CAPI_INGEST_ENABLED", secrets=["META_CAPI_ACCESS_TOKEN"])
        try_enable(
            conn, echo, "META_CUSTOM_AUDIENCE_SYNC_ENABLED", secrets=["META_CAPI_ACCESS_TOKEN"]
        )
        echo("")
        show_gate(conn, echo, secrets=["META_CAPI_ACCESS_TOKEN"])


def show_gate(
    conn: psycopg.Connection[dict[str, object]], echo: Echo, secrets: list[str] | None = None
) -> None:
    for r in conn.execute(query("gate_report"), {"present_secrets": secrets or []}).fetchall():
        blockers = r["blockers"]
        assert isinstance(blockers, list)
        answer = (
            "ON"
            if r["enabled"]
            else (
                "ready"
                if not blockers
                else "blocked: " + "; ".join(_short(str(b)) for b in blockers)
            )
        )
        echo(f"   {r['gap']} {r['flag_key']:<34} {answer}")


def _short(blocker: str) -> str:
    head, _, items = blocker.partition(": ")
    names = items.split(", ")
    return blocker if len(names) <= 2 else f"{len(names)} {head}"


def try_enable(
    conn: psycopg.Connection[dict[str, object]],
    echo: Echo,
    flag: str,
    secrets: list[str] | None = None,
) -> None:
    try:
        with conn.transaction():
            conn.execute(
                query("enable_flag"),
                {
                    "flag_key": flag,
                    "actor": DEMO_ADMIN,
                    "present_secrets": secrets or [],
                    "note": "demo",
                },
            )
        echo(f"   enable {flag}: on")
    except psycopg.Error as exc:
        error = from_db_error(exc)
        if not isinstance(error, GdpError):
            raise
        echo(f"   enable {flag}: {error.message}")
