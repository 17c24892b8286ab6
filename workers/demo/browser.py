"""A scripted visit to the demo shop: what a browser's Purchase click sends, through the shop's
relay pass-through, and what Meta (the sandbox) receives from the server path."""

from __future__ import annotations

import time
import uuid

import httpx

from workers.demo import Echo
from workers.event_id import meta_event_id

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156"


def show_browser_purchase(
    shop_url: str, sandbox_url: str, echo: Echo, product: str = "snapmix"
) -> None:
    shop_url = shop_url.rstrip("/")
    # The snippet posts this id to the relay and gives the Pixel <product>:<id>, the id GDP
    # sends to Meta for it (workers/event_id.py).
    event_id = str(uuid.uuid4())
    now_ms = int(time.time() * 1000)
    cookies = {
        "_fbp": f"fb.1.{now_ms - 86_400_000}.1234567890",
        "_fbc": f"fb.1.{now_ms - 3_600_000}.IwAR2demoClickId",
    }
    body = {
        "event_name": "Purchase",
        "event_id": event_id,
        "event_source_url": f"{shop_url}/?fbclid=IwAR2demoClickId",
        "custom_data": {"value": 12.0, "currency": "USD", "content_name": "SnapMix Pro"},
    }
    with httpx.Client(timeout=10, cookies=cookies, headers={"User-Agent": BROWSER_UA}) as browser:
        answer = browser.post(f"{shop_url}/api/tracking/meta-event", json=body)
    echo(
        f"   a scripted Purchase through the shop's relay: HTTP {answer.status_code} "
        f"{answer.text[:120]}"
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        events = httpx.get(f"{sandbox_url}/_sandbox/events").json()["events"]
        match = [
            e for e in events if e["event"].get("event_id") == meta_event_id(product, event_id)
        ]
        if match:
            user = match[0]["event"]["user_data"]
            echo(
                f"   Meta received event_id {meta_event_id(product, event_id)} (the Pixel's "
                "eventID) with "
                f"client_ip_address={user.get('client_ip_address')}, fbp={user.get('fbp')}, "
                f"fbc={user.get('fbc')}, client_user_agent={user.get('client_user_agent')!r}"
            )
            return
        time.sleep(0.2)
    echo("   (the relayed Purchase did not reach the sandbox in 15 s)")
