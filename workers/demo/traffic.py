"""Realistic traffic from the PRD's products, through every door into shared.event.

- the ingest endpoint (GAP-001), with messy raw PII, browser signals, resends and a stale event;
- plain SQL inserts, as products write through the Supabase client (rules decide, GAP-002);
- the track-conversion edge function (GAP-006);
- a consent withdrawal, and an event the rules cannot complete (a Purchase without a value).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from workers.db.queries import query
from workers.db.rows import Row

PRODUCT_EVENTS: dict[str, list[str]] = {
    "snapmix": ["Signup", "SnapCreated", "ProUpgrade", "FeatureUsed"],
    "softwarehub": ["Signup", "CourseEnroll", "Purchase", "TrialStarted"],
    "velvethold": ["Signup", "DateReserved", "Upgrade"],
    "steadyletters": ["Signup", "LetterSent"],
    "blogcanvas": ["Signup", "PostPublished"],
    "vellopad": ["Signup", "BookPublished"],
    "gapradar": ["Signup", "ReportGenerated"],
    "waitlistlab": ["Signup", "SubscriptionPurchased"],
}
FIRST = ["Maya", "Jonas", "Aiko", "Sam", "Lee", "Ana", "Omar", "Zoë", "Chloé", "Ravi", "정민"]
LAST = ["Chen", "Weber", "Tanaka", "Rivera", "Kim", "Silva", "Haddad", "Müller", "O'Neil"]
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"


@dataclass
class TrafficReport:
    http_sent: int = 0
    http_duplicates: int = 0
    sql_rows: int = 0
    conversions: int = 0
    by_door: dict[str, int] = field(default_factory=dict)


def _messy_email(rng: random.Random, i: int) -> str:
    email = f"user{i}.{rng.choice(LAST).lower().replace(chr(39), '')}@example.com"
    return rng.choice([email, email.upper(), f"  {email} ", email.title()])


def _messy_phone(rng: random.Random) -> str:
    digits = f"415555{rng.randrange(1000, 9999)}"
    return rng.choice(
        [
            f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}",
            f"1{digits}",
            f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
            f"+1{digits}",
        ]
    )


def send_traffic(
    conn: psycopg.Connection[Row], api_url: str, keys: dict[str, str], seed: int = 11
) -> TrafficReport:
    rng = random.Random(seed)
    report = TrafficReport()
    now = int(time.time())
    with httpx.Client(base_url=api_url, timeout=30) as http:
        # 1. The ingest endpoint: purchases and leads with raw PII, some resent.
        sent: list[tuple[str, dict[str, Any]]] = []
        for i in range(240):
            product = rng.choice(list(PRODUCT_EVENTS))
            name = rng.choice(["Purchase", "Lead", "CompleteRegistration"])
            body: dict[str, Any] = {
                "event_name": name,
                "event_time": now - rng.randrange(0, 3600),
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "event_source_url": f"https://{product}.example.com/checkout/success",
                "user_data": {
                    "email": _messy_email(rng, i),
                    "phone": _messy_phone(rng),
                    "first_name": rng.choice(FIRST),
                    "last_name": rng.choice(LAST),
                    "client_ip_address": f"203.0.113.{rng.randrange(1, 250)}",
                    "client_user_agent": UA,
                    "fbp": f"fb.1.{now * 1000 - rng.randrange(10**8)}.{rng.randrange(10**9)}",
                },
                "custom_data": {"source_product": product, "content_name": f"{product} Pro"},
            }
            if name == "Purchase":
                body["custom_data"].update(value=round(rng.uniform(5, 99), 2), currency="USD")
            sent.append((product, body))
        resends = rng.sample(sent, 20)
        stale_product, stale = (
            "gapradar",
            {
                "event_name": "Lead",
                "event_time": now - 8 * 86400,
                "event_id": "stale-lead-1",
                "user_data": {"email": "late.lead@example.com"},
                "custom_data": {"source_product": "gapradar"},
            },
        )
        for product, body in [*sent, *resends, (stale_product, stale)]:
            answer = http.post(
                "/api/v1/meta/event",
                json=body,
                headers={"Authorization": f"Bearer {keys[product]}"},
            )
            answer.raise_for_status()
            if answer.json().get("duplicate") is True:
                report.http_duplicates += 1
            report.http_sent += 1
        report.by_door["ingest endpoint"] = report.http_sent

        # 2. A person withdraws consent, then keeps using the product.
        rows = conn.execute(
            query("upsert_people"),
            {
                "people": json.dumps(
                    [
                        {
                            "email": "no.tracking@example.com",
                            "first_name": "Noor",
                            "source_product": "velvethold",
                        }
                    ]
                )
            },
        ).fetchall()
        withdrawn = rows[0]["person_id"]
        conn.execute(
            query("record_consent"),
            {"person_id": withdrawn, "status": "withdrawn", "source": "cookie banner"},
        )

        # 3. Products insert their own events through the Supabase client path (plain SQL).
        people = [r["id"] for r in conn.execute(query("demo_person_ids")).fetchall()]
        rows_sql: list[dict[str, Any]] = []
        for product, names in PRODUCT_EVENTS.items():
            for j in range(30):
                name = rng.choice(names)
                props: dict[str, Any] = {}
                if name in ("ProUpgrade", "Upgrade"):
                    props = {"upgrade_price": 12.0}
                elif name == "SubscriptionPurchased":
                    props = {"plan_price": 29.0, "currency": "EUR"}
                elif name == "Purchase":
                    props = {"value": 49.0, "currency": "USD"}
                elif name == "LetterSent" and j % 10 != 0:
                    props = {"letter_cost": 2.5}  # every tenth has no cost: Meta needs a value
                rows_sql.append(
                    {
                        "product_id": product,
                        "event_id": f"{product}-{j}",
                        "event_name": name,
                        "person_id": str(rng.choice(people)),
                        "properties": props,
                    }
                )
        rows_sql += [
            {
                "product_id": "velvethold",
                "event_id": f"noor-{k}",
                "event_name": "DateReserved",
                "person_id": str(withdrawn),
                "properties": {},
            }
            for k in range(3)
        ]
        conn.execute(query("demo_insert_events"), {"rows": json.dumps(rows_sql)})
        report.sql_rows = len(rows_sql)
        report.by_door["SQL insert (Supabase client)"] = len(rows_sql)

        # 4. The track-conversion edge function.
        for k in range(20):
            product = rng.choice(["softwarehub", "snapmix", "steadyletters"])
            answer = http.post(
                "/functions/v1/track-conversion",
                headers={"Authorization": f"Bearer {keys[product]}", "Idempotency-Key": f"tc-{k}"},
                json={
                    "event_name": "Purchase",
                    "person_id": str(rng.choice(people)),
                    "product": product,
                    "value": 19.0,
                    "currency": "USD",
                    "metadata": {"content_name": "annual plan"},
                },
            )
            answer.raise_for_status()
            report.conversions += 1
        report.by_door["track-conversion"] = report.conversions
    return report
