"""`gdp demo`: the whole pipeline end to end on the local default, with a readable summary.

It runs in its own database (gdp_demo on the DATABASE_URL server, recreated each run) so that
its acknowledgements and sample people never mix with real ones, and every run reads the same.
"""

from __future__ import annotations

import contextlib
import json
import time

import psycopg
from psycopg import sql

from workers.db import migrate
from workers.db.connection import connect, redact_url
from workers.db.queries import query
from workers.demo import Echo
from workers.demo.browser import show_browser_purchase
from workers.demo.data import DEMO_BAD_INPUT, DEMO_LEADS
from workers.demo.insights import show_return_path
from workers.demo.report import summarize
from workers.demo.segments import DEMO_AUDIENCES, show_segments_and_audiences
from workers.demo.services import Services, demo_services
from workers.demo.shop import serve_demo_shop
from workers.demo.traffic import PRODUCT_EVENTS, send_traffic
from workers.errors import GdpError, from_db_error
from workers.settings import Settings

DEMO_ADMIN = "demo-admin (Dana Ops)"
DEMO_SETTINGS: list[tuple[str, object, str]] = [
    ("META_PIXEL_ID", "1234567890", "global"),
    ("META_PIXEL_ID", "2234567890", "softwarehub"),  # SoftwareHub reports to its own pixel
    ("META_TEST_EVENT_CODE", "TEST40512", "waitlistlab"),  # visible in its delivery records
    ("META_CAPI_RELAY_PRODUCT_ENABLED", True, "snapmix"),  # the demo shop's relay
    ("META_AD_ACCOUNT_ID", "act_1000000001", "global"),  # the sandbox's ad account
    ("META_CUSTOM_AUDIENCE_IDS", DEMO_AUDIENCES, "global"),  # audiences made on the first run
]
# Names only (values stay in the environment): what the demo's processes are configured with.
DEMO_SECRETS = ["META_CAPI_ACCESS_TOKEN", "META_APP_SECRET", "META_WEBHOOK_VERIFY_TOKEN"]
SHOP_PRODUCT = "snapmix"
DEMO_VISITOR_IP = "2a03:2880:f12f:83:face:b00c:0:25de"
# GAP-003 (and its Lead Ads) -> 001 -> 006 -> 005 -> 002 -> 004; audiences (007) with their issue.
CONVERSION_PATH_FLAGS = [
    "SHARED_PERSON_TABLE_ENABLED",
    "LEAD_ADS_SYNC_ENABLED",
    "META_CAPI_INGEST_ENABLED",
    "CONVERSION_TRACKING_ENABLED",
    "META_CAPI_FORWARD_ENABLED",
    "META_CAPI_RELAY_ENABLED",
    "NEXT_PUBLIC_META_PIXEL_ENABLED",
    "SEGMENT_ENGINE_META_CAPI_ENABLED",
    "ACD_META_INSIGHTS_ENABLED",
    "META_CUSTOM_AUDIENCE_SYNC_ENABLED",
]


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


def run_demo(url: str, echo: Echo, *, keep_serving: bool = False) -> None:
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
        echo(f"\n   {DEMO_ADMIN} acknowledges the pre-deploy checklist and sets the pixels")
        for item in conn.execute(query("checklist_list")).fetchall():
            conn.execute(
                query("acknowledge_checklist_item"),
                {"item_key": item["item_key"], "actor": DEMO_ADMIN, "note": "demo"},
            )
        for key, value, scope in DEMO_SETTINGS:
            conn.execute(
                query("set_setting"),
                {
                    "setting_key": key,
                    "value": json.dumps(value),
                    "actor": DEMO_ADMIN,
                    "scope": scope,
                },
            )
        conn.commit()
        try_enable(conn, echo, "META_CAPI_INGEST_ENABLED", secrets=[])
        for flag in CONVERSION_PATH_FLAGS:
            try_enable(conn, echo, flag, secrets=DEMO_SECRETS)
        echo("")
        show_gate(conn, echo, secrets=DEMO_SECRETS)
        conn.commit()

    echo("\n== 6. The conversion path: sandbox, HTTP API and CAPI worker")
    with connect(url) as conn:
        keys = {}
        for product in PRODUCT_EVENTS:
            row = conn.execute(
                query("create_service_key"),
                {"product_id": product, "actor": DEMO_ADMIN, "label": "demo"},
            ).fetchone()
            assert row is not None
            keys[product] = row["service_key"]
    with demo_services(url, SHOP_PRODUCT) as services, connect(url) as conn:
        echo(f"   Meta sandbox {services.sandbox_url}, API {services.api_url}/docs, worker: capi")
        started = time.monotonic()
        traffic = send_traffic(conn, services.api_url, keys)
        conn.commit()
        echo("   traffic: " + ", ".join(f"{n} via {door}" for door, n in traffic.by_door.items()))
        while conn.execute(query("demo_queue_left")).fetchone() != {"n": 0}:
            if time.monotonic() - started > 120:
                echo("   (the queue did not drain in 2 minutes; the summary is partial)")
                break
            time.sleep(0.2)
        echo(f"   drained in {time.monotonic() - started:.1f} s")
        echo("\n== 7. Summary")
        summarize(conn, services.sandbox_url, traffic, echo)

        echo(f"\n== 8. The browser path (GAP-005): the demo shop, a {SHOP_PRODUCT} page")
        # The shop appends the visitor to X-Forwarded-For; on localhost the visitor would be
        # 127.0.0.1, which the relay rightly ignores, so the demo plays an IPv6 visitor.
        with serve_demo_shop(
            services.api_url,
            sandbox_url=services.sandbox_url,
            product_id=SHOP_PRODUCT,
            visitor_ip=DEMO_VISITOR_IP,
            echo=echo,
        ) as shop:
            show_browser_purchase(shop.url, services.sandbox_url, echo)

            echo("\n== 9. Ad performance and leads come back (GAP-004, Lead Ads)")
            show_return_path(conn, demo_settings(url, services), services.sandbox_url,
                             services.api_url, echo)  # fmt: skip
            viewer = conn.execute(
                query("create_dashboard_key"), {"label": "demo", "actor": DEMO_ADMIN}
            ).fetchone()
            conn.commit()
            assert viewer is not None
            echo("\n== 10. Segments and Meta Custom Audiences (GAP-002, GAP-007)")
            show_segments_and_audiences(conn, demo_settings(url, services), echo)
            echo("\n== 11. The dashboard: spend, CPA, ROAS per project, lead funnel, CAPI health")
            if keep_serving:
                echo(
                    "   the shop (step 8), API, workers and sandbox keep running: in the shop, "
                    "accept the banner and click Buy. Ctrl-C stops everything. The dashboard:"
                )
            else:
                echo("   (the services stop with the demo; `gdp demo` in a terminal keeps them up)")
            echo(f"   {services.api_url}/dashboard#key={viewer['dashboard_key']}")
            if keep_serving:
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(3600)


def demo_settings(url: str, services: Services) -> Settings:
    return Settings.model_validate(
        {
            "DATABASE_URL": url,
            "META_GRAPH_URL": services.sandbox_url,
            "META_CAPI_ACCESS_TOKEN": services.env["META_CAPI_ACCESS_TOKEN"],
        }
    )


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
