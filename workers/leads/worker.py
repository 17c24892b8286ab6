"""`gdp worker leads`: fetch each notified lead from Meta and sync it to the person table.

One loop iteration:
  1. lease up to `batch_size` messages of pgmq meta_leads (ids only; a crash lets them reappear
     after the visibility timeout, so nothing is lost);
  2. GET /{leadgen_id} with its field_data, a few at once;
  3. hand what Meta answered to shared.sync_lead (the PRD's syncLeadToPerson: person upserted
     with first touch from the campaign, lead id linked, a LeadFormSubmitted event stored, the
     message archived), one transaction per lead;
  4. a lead Meta would not give (deleted, no permission, throttled) is retried later by its
     Graph code, and recorded as failed with Meta's code after LEAD_ADS_MAX_ATTEMPTS.
The raw answers (a lead's PII) exist only in this process's memory on their way to the
database; logs carry leadgen ids and codes. The loop wakes at once on new work (LISTEN
gdp_meta_leads), with a short poll as a backup. Connects as gdp_lead_worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import orjson
import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from workers.db.connection import role_options
from workers.db.queries import query
from workers.db.rows import Row, fetch_all
from workers.errors import GdpError, MetaApiError, from_db_error
from workers.graph_reader import GraphReader, RetryPolicy
from workers.rounds import run_rounds
from workers.settings import Settings
from workers.statuses import LeadStatus

log = logging.getLogger("gdp.leads")
ROLE = "gdp_lead_worker"
APPLICATION_NAME = "gdp-lead-worker"
LEAD_FIELDS = (
    "id,created_time,ad_id,ad_name,adset_id,adset_name,campaign_id,campaign_name,form_id,"
    "field_data,is_organic,platform"
)
# What happened to a lead this run: its shared.meta_lead status, or retrying (still received).
LeadOutcome = LeadStatus | Literal["retrying"]


@dataclass(frozen=True, slots=True)
class LeadMessage:
    """A leased meta_leads message (`lead_queue_read`): a lead id to fetch."""

    msg_id: int
    read_ct: int
    leadgen_id: str


@dataclass(frozen=True, slots=True)
class SyncedLead:
    """One row of `sync_leads`: the lead's status now, and the person it reached."""

    leadgen_id: str
    status: LeadStatus
    person_id: UUID | None
    created: bool | None
    project_id: str | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class LeadWorkerConfig:
    batch_size: int = 100
    # Lead reads are latency-bound; Meta allows 200 x 24 x (leads of the last 90 days) calls
    # per Page per day, so a few dozen in flight are well inside it.
    fetches_in_flight: int = 32
    visibility_timeout_s: int = 120
    retry_base_s: float = 30.0
    idle_poll_s: float = 1.0


@dataclass(slots=True)
class LeadReport:
    messages: int = 0
    synced: int = 0
    failed: int = 0
    retrying: int = 0
    new_people: int = 0
    outcomes: list[tuple[str, LeadOutcome]] = field(default_factory=list)


class LeadWorker:
    def __init__(
        self,
        settings: Settings,
        config: LeadWorkerConfig | None = None,
        *,
        policy: RetryPolicy | None = None,
        role: str | None = ROLE,
    ) -> None:
        self.settings = settings
        self.config = config or LeadWorkerConfig()
        # Quick retries inside one fetch; longer waits go through the queue's visibility timeout.
        self.policy = policy or RetryPolicy(max_attempts=2, backoff_base_s=1.0, max_wait_s=10.0)
        self.role = role
        token = settings.meta_leads_access_token or settings.meta_capi_access_token
        secret = settings.meta_app_secret
        self.graph = GraphReader(
            settings.meta_graph_url,
            settings.meta_api_version,
            token.get_secret_value() if token else None,
            app_secret=secret.get_secret_value() if secret else None,
            policy=self.policy,
            timeout_s=20.0,
        )

    async def close(self) -> None:
        await self.graph.close()

    async def _connect(self, *, autocommit: bool = False) -> psycopg.AsyncConnection[Row]:
        try:
            return await psycopg.AsyncConnection.connect(
                make_conninfo(
                    self.settings.database_url,
                    application_name=APPLICATION_NAME,
                    **role_options(self.role),
                ),
                row_factory=dict_row,
                autocommit=autocommit,
            )
        except psycopg.Error as exc:
            raise from_db_error(exc) from exc

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> LeadReport:
        """Work until `stop` (or, with once, until the queue is empty)."""
        report = LeadReport()
        conn = await self._connect()
        listener = await self._connect(autocommit=True)

        async def config() -> Row:
            cfg = await (await conn.execute(query("lead_worker_config"))).fetchone()
            await conn.commit()
            assert cfg is not None
            return cfg

        async def batch(cfg: Row) -> bool:  # handled some: more may be queued, go on at once
            return await self.batch(conn, int(cfg["max_attempts"]), report) > 0

        try:
            await listener.execute("LISTEN gdp_meta_leads")
            await run_rounds(
                stop, config, enabled=lambda cfg: bool(cfg["enabled"]), work=batch,
                wait=lambda cfg: self._idle(stop, listener), log=log,
                flag_off="lead sync waits for LEAD_ADS_SYNC_ENABLED", once=once,
            )  # fmt: skip
            return report
        finally:
            await listener.close()
            await conn.close()

    async def _idle(self, stop: asyncio.Event, listener: psycopg.AsyncConnection[Row]) -> None:
        """Until a notification, `stop`, or the backup poll interval."""

        async def notified() -> None:
            async for _ in listener.notifies(timeout=self.config.idle_poll_s, stop_after=1):
                return

        waiters = [asyncio.ensure_future(notified()), asyncio.ensure_future(stop.wait())]
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def batch(
        self, conn: psycopg.AsyncConnection[Row], max_attempts: int, report: LeadReport
    ) -> int:
        messages = await fetch_all(
            conn,
            query("lead_queue_read"),
            LeadMessage,
            {"vt": self.config.visibility_timeout_s, "qty": self.config.batch_size},
        )
        await conn.commit()
        if not messages:
            return 0
        gate = asyncio.Semaphore(self.config.fetches_in_flight)

        async def fetch(message: LeadMessage) -> tuple[LeadMessage, Any]:
            async with gate:
                try:
                    return message, await self.graph.get(
                        message.leadgen_id, {"fields": LEAD_FIELDS}
                    )
                except MetaApiError as error:
                    return message, error

        fetched: list[tuple[LeadMessage, Any]] = []
        for message, answer in await asyncio.gather(*(fetch(m) for m in messages)):
            report.messages += 1
            if isinstance(answer, MetaApiError):
                await self._failed(conn, message, answer, max_attempts, report)
            else:
                fetched.append((message, answer))
        # The fetched leads in one transaction (one upsert of their people); a batch the
        # database refuses is synced one lead at a time, so one bad lead never holds the rest.
        try:
            rows = await self._sync(conn, fetched)
        except psycopg.Error:
            await conn.rollback()
            rows = []
            for message, answer in fetched:
                try:
                    rows += await self._sync(conn, [(message, answer)])
                except psycopg.Error as exc:
                    await conn.rollback()
                    error = from_db_error(exc)
                    log.warning("lead not synced", extra={"leadgen_id": message.leadgen_id,
                                                          "error": error.message})  # fmt: skip
                    await self._failed(conn, message, GdpError(error.message), max_attempts, report)
        for row in rows:
            if row.status == "synced":
                report.synced += 1
                report.new_people += int(bool(row.created))
            else:
                report.failed += 1
            report.outcomes.append((row.leadgen_id, row.status))
            log.info("lead", extra={"leadgen_id": row.leadgen_id, "status": row.status,
                                    "project": row.project_id})  # fmt: skip
        return len(messages)

    async def _sync(
        self, conn: psycopg.AsyncConnection[Row], fetched: list[tuple[LeadMessage, Any]]
    ) -> list[SyncedLead]:
        if not fetched:
            return []
        items = [{"msg_id": message.msg_id, "lead": lead} for message, lead in fetched]
        rows = await fetch_all(
            conn, query("sync_leads"), SyncedLead, {"items": orjson.dumps(items).decode()}
        )
        await conn.commit()
        return rows

    async def _failed(
        self,
        conn: psycopg.AsyncConnection[Row],
        message: LeadMessage,
        error: GdpError,
        max_attempts: int,
        report: LeadReport,
    ) -> None:
        code = error.code if isinstance(error, MetaApiError) else None
        subcode = error.subcode if isinstance(error, MetaApiError) else None
        kind = error.kind if isinstance(error, MetaApiError) else "permanent"
        attempts = message.read_ct
        # Deleted leads and missing permissions do not come back by waiting a little, but a
        # token or a permission can be fixed: those are retried too, only fewer times.
        final = attempts >= max_attempts or (kind in ("invalid", "permanent") and attempts >= 3)
        if kind == "throttled" and isinstance(error, MetaApiError) and error.regain_access_s:
            delay = error.regain_access_s
        else:
            delay = self.config.retry_base_s * 2 ** min(attempts - 1, 8)
        row = await (
            await conn.execute(
                query("lead_fetch_failed"),
                {
                    "msg_id": message.msg_id, "leadgen_id": message.leadgen_id,
                    "final": final, "delay_s": int(delay), "error_code": code,
                    "error_subcode": subcode, "error_message": error.message,
                },
            )
        ).fetchone()  # fmt: skip
        await conn.commit()
        outcome: LeadOutcome = "failed" if row and row["outcome"] == "failed" else "retrying"
        if outcome == "failed":
            report.failed += 1
        else:
            report.retrying += 1
        report.outcomes.append((message.leadgen_id, outcome))
        facts = {"leadgen_id": message.leadgen_id, "code": code, "subcode": subcode}
        log.warning("lead fetch failed", extra={**facts, "outcome": outcome})
