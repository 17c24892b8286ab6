"""Graph API reads for the insights and lead workers: pacing by usage headers, retries by code.

Every answer, errors included, carries Meta's usage headers; they are read on every answer, so
a worker that is being throttled knows how long to wait (peers read them on successes only and
keep retrying into the block). What to do with an error is decided by its Graph code through
workers.errors (the one mapping place), never by the HTTP status:

  throttled (4, 17, 32, 613, 80000-80014)  wait estimated_time_to_regain_access (or back off)
  transient (1, 2, 5xx, timeouts)          back off and retry, up to max_attempts
  auth / invalid / permanent               raise at once (retrying cannot help)

Pacing: when the highest usage reaches `pace_at` percent, the next call waits a little, more as
usage nears 100, so the account stays below the block instead of running into it.
See https://developers.facebook.com/docs/graph-api/overview/rate-limiting and
https://developers.facebook.com/docs/marketing-api/insights/best-practices
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from workers.errors import MetaApiError, from_graph_error

log = logging.getLogger("gdp.graph_reader")


@dataclass(frozen=True, slots=True)
class Usage:
    """The highest utilisation Meta reported and how long until access returns (seconds)."""

    pct: float = 0.0
    regain_s: float = 0.0


def usage_of(headers: Mapping[str, str]) -> Usage:
    """From X-Business-Use-Case-Usage (estimated_time_to_regain_access is in minutes, as Meta's
    rate-limiting page says), X-Ad-Account-Usage and X-FB-Ads-Insights-Throttle."""
    pct, regain = 0.0, 0.0
    for name in ("x-business-use-case-usage", "x-ad-account-usage", "x-fb-ads-insights-throttle"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        entries: list[Any] = []
        if name == "x-business-use-case-usage" and isinstance(parsed, dict):
            for value in parsed.values():
                entries.extend(value if isinstance(value, list) else [])
        else:
            entries = [parsed]
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("call_count", "total_cputime", "total_time", "acc_id_util_pct",
                        "app_id_util_pct"):  # fmt: skip
                value = entry.get(key)
                if isinstance(value, int | float):
                    pct = max(pct, float(value))
            minutes = entry.get("estimated_time_to_regain_access")
            if isinstance(minutes, int | float):
                regain = max(regain, float(minutes) * 60)
            reset = entry.get("reset_time_duration")
            if isinstance(reset, int | float) and pct >= 100:
                regain = max(regain, float(reset))
    return Usage(pct, regain)


@dataclass(slots=True)
class CallStats:
    """What a pull reports about its calls (written to its shared.insights_pull row)."""

    requests: int = 0
    retries: int = 0
    throttle_wait_s: float = 0.0
    max_usage_pct: float = 0.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base_s: float = 5.0  # 5, 10, 20, 40 ... (Meta's guidance for throttling)
    backoff_cap_s: float = 300.0
    pace_at_pct: float = 75.0
    # Longest single wait for a throttled account; Meta's estimate can be an hour.
    max_wait_s: float = 3600.0


@dataclass
class GraphReader:
    """GET/POST on the Graph API with one kept-alive httpx client."""

    base_url: str
    api_version: str
    access_token: str | None
    app_secret: str | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 60.0
    stats: CallStats = field(default_factory=CallStats)
    _client: httpx.AsyncClient | None = None
    _usage: Usage = field(default_factory=Usage)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout_s, connect=5.0),
            limits=httpx.Limits(max_keepalive_connections=10, max_connections=20),
            headers={"User-Agent": "growth-data-plane/0.1"},
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _auth(self) -> dict[str, str]:
        params = {"access_token": self.access_token or ""}
        if self.app_secret and self.access_token:
            params["appsecret_proof"] = hmac.new(
                self.app_secret.encode(), self.access_token.encode(), hashlib.sha256
            ).hexdigest()
        return params

    def url(self, path: str) -> str:
        return f"{self.base_url}/{self.api_version}/{path.lstrip('/')}"

    async def get(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.call("GET", path_or_url, params)

    async def post(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return await self.call("POST", path, params)

    async def call(
        self, method: str, path_or_url: str, params: Mapping[str, Any] | None = None,
        *, json_body: bool = False,
    ) -> Any:  # fmt: skip
        """One Graph call with pacing and retries; the parsed JSON body, or MetaApiError.

        `json_body`: a POST sends its parameters (the token too) as one JSON document rather
        than a form, which Graph accepts as well; for uploads of megabytes (Custom Audience
        rows), where form-encoding costs seconds of CPU per request."""
        # A paging.next URL carries its own query (token included); a path gets ours.
        is_url = path_or_url.startswith(("http://", "https://"))
        url = path_or_url if is_url else self.url(path_or_url)
        query: dict[str, Any] = {} if is_url else {**self._auth()}
        for key, value in (params or {}).items():
            query[key] = value if isinstance(value, str) or json_body else json.dumps(value)
        attempt = 0
        while True:
            attempt += 1
            await self._pace()
            try:
                return await self._once(method, url, query, json_body)
            except MetaApiError as error:
                kind = error.kind
                if kind not in ("throttled", "transient") or attempt >= self.policy.max_attempts:
                    raise
                self.stats.retries += 1
                wait = self._backoff(attempt)
                if kind == "throttled":
                    wait = min(max(error.regain_access_s, wait), self.policy.max_wait_s)
                    self.stats.throttle_wait_s += wait
                log.warning(
                    "graph call retried",
                    extra={"code": error.code, "subcode": error.subcode, "kind": kind,
                           "attempt": attempt, "wait_s": round(wait, 2)},
                )  # fmt: skip
                await asyncio.sleep(wait)

    def _backoff(self, attempt: int) -> float:
        delay = self.policy.backoff_base_s * 2 ** (attempt - 1)
        return float(min(delay, self.policy.backoff_cap_s))

    async def _pace(self) -> None:
        usage = self._usage
        if usage.pct < self.policy.pace_at_pct:
            return
        if usage.pct >= 100:
            wait = max(usage.regain_s, self.policy.backoff_base_s)
        else:
            # From nothing at pace_at to a few seconds near 100 %: slow down before the block.
            span = max(100 - self.policy.pace_at_pct, 1)
            wait = self.policy.backoff_base_s * (usage.pct - self.policy.pace_at_pct) / span
        wait = min(wait, self.policy.max_wait_s)
        self.stats.throttle_wait_s += wait
        self._usage = Usage()  # the next answer reports afresh
        await asyncio.sleep(wait)

    async def _once(
        self, method: str, url: str, query: dict[str, Any], json_body: bool = False
    ) -> Any:
        assert self._client is not None
        self.stats.requests += 1
        started = time.perf_counter()
        try:
            if method == "GET":
                response = await self._client.get(url, params=query or None)
            elif json_body:
                response = await self._client.post(
                    url, content=orjson.dumps(query), headers={"Content-Type": "application/json"}
                )
            else:
                response = await self._client.post(url, data=query)
        except httpx.TimeoutException as exc:
            raise MetaApiError(f"timeout talking to the Graph API ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise MetaApiError(
                f"transport error talking to the Graph API ({type(exc).__name__})"
            ) from exc
        usage = usage_of(response.headers)
        self._usage = usage
        self.stats.max_usage_pct = max(self.stats.max_usage_pct, usage.pct)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code >= 400 or not isinstance(payload, dict) or "error" in payload:
            error = from_graph_error(payload if isinstance(payload, dict) else {},
                                     response.status_code)  # fmt: skip
            error.usage_pct, error.regain_access_s = usage.pct, usage.regain_s
            raise error
        log.debug(
            "graph call",
            extra={"method": method, "status": response.status_code,
                   "ms": round(1000 * (time.perf_counter() - started), 1)},
        )  # fmt: skip
        return payload
