"""Custom Audience calls on the Graph API: create/find, `/users` add and remove, `/usersreplace`.

Built on the insights worker's GraphReader (pacing by Meta's usage headers, auth, redaction) with
its own retries, so every error is counted under its Graph code before the next attempt and the
audience codes are decided by workers/audiences/errors.py. Payloads go in the POST body, as a
JSON document (Graph accepts JSON request bodies; form-encoding 10,000 rows costs a second of
CPU per request); removals are POSTs with method=DELETE, which Meta documents alongside DELETE
and which keeps the payload out of the URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from workers.audiences import metrics
from workers.audiences.errors import AudienceErrorKind, classify_audience_error, retryable
from workers.errors import MetaApiError
from workers.graph_reader import GraphReader, RetryPolicy

log = logging.getLogger("gdp.audiences.graph")

ErrorHook = Callable[[MetaApiError, AudienceErrorKind, bool], Awaitable[None]]
LIST_FIELDS = "id,name,description"
READ_FIELDS = (
    "id,name,approximate_count_lower_bound,approximate_count_upper_bound,operation_status,"
    "delivery_status"
)


class AudienceCallError(MetaApiError):
    """A Graph error after retries, with what the audience rules make of it."""

    def __init__(self, error: MetaApiError, kind: AudienceErrorKind) -> None:
        super().__init__(
            error.message, code=error.code, subcode=error.subcode,
            http_status_code=error.http_status_code, fbtrace_id=error.fbtrace_id,
        )  # fmt: skip
        self.audience_kind = kind


@dataclass(slots=True)
class UploadStats:
    requests: int = 0
    upload_requests: int = 0
    payload_bytes: int = 0
    retries: int = 0


@dataclass
class AudienceGraph:
    reader: GraphReader
    max_attempts: int = 6
    backoff_base_s: float = 2.0
    backoff_cap_s: float = 120.0
    on_error: ErrorHook | None = None
    stats: UploadStats = field(default_factory=UploadStats)

    @classmethod
    def connect(
        cls, base_url: str, api_version: str, token: str | None, app_secret: str | None,
        **options: Any,
    ) -> AudienceGraph:  # fmt: skip
        # One attempt per reader call: the retries are this class's, counted per Graph code.
        reader = GraphReader(
            base_url, api_version, token, app_secret=app_secret,
            policy=RetryPolicy(max_attempts=1), timeout_s=120.0,
        )  # fmt: skip
        return cls(reader, **options)

    async def close(self) -> None:
        await self.reader.close()

    async def call(
        self, method: str, path: str, params: dict[str, Any] | None = None,
        *, json_body: bool = False,
    ) -> Any:  # fmt: skip
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                return await self.reader.call(method, path, params, json_body=json_body)
            except MetaApiError as error:
                kind = classify_audience_error(error.code, error.subcode, error.http_status_code)
                again = retryable(kind) and attempt < self.max_attempts
                metrics.GRAPH_ERRORS.labels(str(error.code or "transport"), kind).inc()
                if self.on_error is not None:
                    await self.on_error(error, kind, again)
                if not again:
                    raise AudienceCallError(error, kind) from error
                self.stats.retries += 1
                wait = min(self.backoff_base_s * 2 ** (attempt - 1), self.backoff_cap_s)
                if kind == "throttled":
                    wait = min(max(error.regain_access_s, wait), 3600.0)
                log.warning(
                    "audience call retried",
                    extra={"code": error.code, "subcode": error.subcode, "kind": kind,
                           "attempt": attempt, "wait_s": round(wait, 2)},
                )  # fmt: skip
                await asyncio.sleep(wait)

    # --- audiences ---------------------------------------------------------------------------

    async def find_by_marker(self, account_id: str, marker: str) -> str | None:
        """The id of the account's audience whose description holds `marker` (pages followed
        until `next` is absent, as Graph paging requires)."""
        page: Any = await self.call(
            "GET", f"{account_id}/customaudiences", {"fields": LIST_FIELDS, "limit": "100"}
        )
        while isinstance(page, dict):
            for audience in page.get("data") or []:
                if marker in str(audience.get("description") or ""):
                    return str(audience["id"])
            next_url = (page.get("paging") or {}).get("next")
            if not next_url:
                return None
            page = await self.call("GET", str(next_url))
        return None

    async def create(self, account_id: str, name: str, description: str) -> str:
        body = await self.call(
            "POST",
            f"{account_id}/customaudiences",
            {
                "name": name,
                "subtype": "CUSTOM",
                "customer_file_source": "USER_PROVIDED_ONLY",
                "description": description,
            },
        )
        return str(body["id"])

    async def read(self, audience_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self.call("GET", audience_id, {"fields": READ_FIELDS})
        return body

    # --- members -----------------------------------------------------------------------------

    async def users(
        self,
        audience_id: str,
        op: str,
        schema: Sequence[str],
        rows: Sequence[Sequence[str]],
        session: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add (op "add") or remove (op "remove") up to 10,000 rows; each request stands alone
        unless a session is given."""
        params: dict[str, Any] = {"payload": {"schema": list(schema), "data": rows}}
        if session:
            params["session"] = session
        if op == "remove":
            params["method"] = "DELETE"
        return await self._upload(f"{audience_id}/users", params, len(rows))

    async def replace(
        self,
        audience_id: str,
        schema: Sequence[str],
        rows: Sequence[Sequence[str]],
        session: dict[str, Any],
    ) -> dict[str, Any]:
        params = {"payload": {"schema": list(schema), "data": rows}, "session": session}
        return await self._upload(f"{audience_id}/usersreplace", params, len(rows))

    async def _upload(self, path: str, params: dict[str, Any], rows: int) -> dict[str, Any]:
        self.stats.upload_requests += 1
        # Serialized once: its size is counted (64 hex characters a cell plus JSON quoting) and
        # the same bytes go into the body, and into every retry.
        payload = orjson.dumps(params["payload"])
        self.stats.payload_bytes += len(payload)
        params = {**params, "payload": orjson.Fragment(payload)}
        body: dict[str, Any] = await self.call("POST", path, params, json_body=True)
        return body
