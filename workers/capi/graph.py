"""The Graph API client for Conversions API sends: one kept-alive httpx client per worker.

Meta's answers are turned into MetaApiError by workers.errors (the one mapping place, which
also redacts the token and app secret this client used from Meta's messages); this module only
speaks HTTP and reads the usage header Meta sends with every answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from workers.errors import MetaApiError, from_graph_error


@dataclass(frozen=True)
class SendResult:
    events_received: int
    fbtrace_id: str | None
    messages: tuple[str, ...]
    usage_pct: float  # highest X-Business-Use-Case-Usage percentage, 0 when absent
    regain_access_s: float  # Meta's estimated_time_to_regain_access, in seconds
    latency_s: float


def business_usage(header: str | None) -> tuple[float, float]:
    """(highest usage %, seconds until access returns) from X-Business-Use-Case-Usage.

    estimated_time_to_regain_access is in minutes per Meta's rate-limiting page (some
    third-party code reads seconds; the official unit is the safer, longer one).
    """
    if not header:
        return 0.0, 0.0
    try:
        parsed = json.loads(header)
    except ValueError:
        return 0.0, 0.0
    usage, regain = 0.0, 0.0
    if isinstance(parsed, dict):
        for entries in parsed.values():
            for entry in entries if isinstance(entries, list) else []:
                if not isinstance(entry, dict):
                    continue
                for key in ("call_count", "total_cputime", "total_time"):
                    value = entry.get(key)
                    if isinstance(value, int | float):
                        usage = max(usage, float(value))
                minutes = entry.get("estimated_time_to_regain_access")
                if isinstance(minutes, int | float):
                    regain = max(regain, float(minutes) * 60)
    return usage, regain


class GraphClient:
    def __init__(
        self,
        base_url: str,
        api_version: str,
        access_token: str | None,
        *,
        app_secret: str | None = None,
        timeout_s: float = 10.0,
        partner_agent: str | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._version = api_version
        self._app_secret = app_secret
        self._token: str | None = None
        self._proof: str | None = None
        self.set_token(access_token)
        self._partner_agent = partner_agent
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=httpx.Limits(max_keepalive_connections=20, max_connections=50),
            headers={"User-Agent": "growth-data-plane/0.1"},
        )

    def set_token(self, access_token: str | None) -> None:
        """Use this token from the next request on (with its appsecret_proof, when configured)."""
        self._token = access_token
        self._proof = (
            hmac.new(self._app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
            if self._app_secret and access_token
            else None
        )

    @property
    def token(self) -> str | None:
        return self._token

    def set_partner_agent(self, partner_agent: str | None) -> None:
        """Sent with every request from now on (the META_CAPI_PARTNER_AGENT setting)."""
        self._partner_agent = partner_agent or None

    async def close(self) -> None:
        await self._client.aclose()

    async def send_events(
        self, pixel_id: str, events: Sequence[dict[str, Any]], test_event_code: str | None = None
    ) -> SendResult:
        """POST /{version}/{pixel}/events; raises MetaApiError on any failure."""
        body: dict[str, Any] = {"data": list(events), "access_token": self._token or ""}
        if test_event_code:
            body["test_event_code"] = test_event_code
        if self._partner_agent:
            body["partner_agent"] = self._partner_agent
        if self._proof:
            body["appsecret_proof"] = self._proof
        started = time.perf_counter()
        try:
            response = await self._client.post(
                f"{self._base}/{self._version}/{pixel_id}/events",
                content=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise MetaApiError(f"timeout talking to the Graph API ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise MetaApiError(
                f"transport error talking to the Graph API ({type(exc).__name__})"
            ) from exc
        latency = time.perf_counter() - started
        usage, regain = business_usage(response.headers.get("x-business-use-case-usage"))
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code >= 400 or not isinstance(payload, dict) or "error" in payload:
            error = from_graph_error(
                payload if isinstance(payload, dict) else {},
                response.status_code,
                secrets=(self._token, self._app_secret, self._proof),
            )
            error.usage_pct, error.regain_access_s = usage, regain
            raise error
        received = payload.get("events_received")
        messages = payload.get("messages") or []
        return SendResult(
            events_received=received if isinstance(received, int) else -1,
            fbtrace_id=payload.get("fbtrace_id")
            if isinstance(payload.get("fbtrace_id"), str)
            else None,
            messages=tuple(str(m) for m in messages) if isinstance(messages, list) else (),
            usage_pct=usage,
            regain_access_s=regain,
            latency_s=latency,
        )
