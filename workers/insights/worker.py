"""`gdp worker insights`: pull Meta's Ads Insights into shared.performance_daily on a schedule.

Behind ACD_META_INSIGHTS_ENABLED (off: the worker idles and says so once). Every
META_INSIGHTS_PULL_INTERVAL_SEC it re-pulls the rolling window (workers/insights/pull.py); each
pull is a row of shared.insights_pull whatever its outcome, so freshness and failures are
visible in SQL and on the dashboard. The worker connects as gdp_insights_worker, which can run
the four insights functions and nothing else.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from workers.db.connection import role_options
from workers.db.queries import query
from workers.db.rows import Row, fetch_one
from workers.errors import GdpError, MetaApiError, from_db_error
from workers.graph_reader import GraphReader, RetryPolicy
from workers.insights.pull import (
    InsightsPuller,
    PullOptions,
    PullPlan,
    PullResult,
    account_today,
    plan_pull,
)
from workers.rounds import run_rounds, sleep_unless_stopped
from workers.settings import Settings
from workers.statuses import PullMode, PullStatus

log = logging.getLogger("gdp.insights")
ROLE = "gdp_insights_worker"
APPLICATION_NAME = "gdp-insights-worker"


@dataclass(frozen=True, slots=True)
class InsightsConfig:
    """What the worker runs by (`insights_worker_config`)."""

    enabled: bool
    ad_account_id: str | None
    repull_days: int
    async_min_days: int
    pull_interval_s: int
    attribution_windows: list[str] | None
    last_succeeded_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PullReport:
    pull_id: int
    status: PullStatus
    since: dt.date
    until: dt.date
    mode: PullMode
    rows: int
    requests: int
    retries: int
    report_runs: int
    splits: int
    throttle_wait_s: float
    elapsed_s: float
    error: str | None


class InsightsWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        options: PullOptions | None = None,
        policy: RetryPolicy | None = None,
        role: str | None = ROLE,
    ) -> None:
        self.settings = settings
        self.options = options or PullOptions()
        self.policy = policy or RetryPolicy()
        self.role = role

    async def _connect(self) -> psycopg.AsyncConnection[Row]:
        try:
            return await psycopg.AsyncConnection.connect(
                make_conninfo(
                    self.settings.database_url,
                    application_name=APPLICATION_NAME,
                    **role_options(self.role),
                ),
                row_factory=dict_row,
            )
        except psycopg.Error as exc:
            raise from_db_error(exc) from exc

    def _graph(self) -> GraphReader:
        token = self.settings.meta_capi_access_token
        secret = self.settings.meta_app_secret
        return GraphReader(
            self.settings.meta_graph_url,
            self.settings.meta_api_version,
            token.get_secret_value() if token else None,
            app_secret=secret.get_secret_value() if secret else None,
            policy=self.policy,
        )

    async def config(self, conn: psycopg.AsyncConnection[Row]) -> InsightsConfig:
        row = await fetch_one(conn, query("insights_worker_config"), InsightsConfig)
        await conn.commit()
        assert row is not None
        return row

    async def pull(
        self, *, since: dt.date | None = None, until: dt.date | None = None, force: bool = False
    ) -> PullReport:
        """One pull now (the rolling window unless a range is given)."""
        conn = await self._connect()
        graph = self._graph()
        try:
            cfg = await self.config(conn)
            if not cfg.enabled and not force:
                raise GdpError(
                    "ACD_META_INSIGHTS_ENABLED is off: enable it through the deployment gate "
                    "(gdp flags enable ACD_META_INSIGHTS_ENABLED)"
                )
            account = cfg.ad_account_id
            if not account:
                raise GdpError("META_AD_ACCOUNT_ID is not set (gdp settings set ...)")
            if since is not None and until is not None:
                today = until
            else:
                try:
                    today = await account_today(graph, account)
                except MetaApiError:
                    # The pull itself will fail the same way, and be recorded with Meta's code.
                    today = dt.datetime.now(dt.UTC).date()
            plan = plan_pull(
                account, today, cfg.repull_days, cfg.async_min_days,
                tuple(cfg.attribution_windows or ()), since, until,
            )  # fmt: skip
            return await self._run(conn, graph, plan)
        finally:
            await graph.close()
            await conn.close()

    async def _run(
        self, conn: psycopg.AsyncConnection[Row], graph: GraphReader, plan: PullPlan
    ) -> PullReport:
        mode: PullMode = "async" if plan.use_async else "sync"
        cursor = await conn.execute(
            query("insights_begin_pull"),
            {"account_id": plan.account_id, "since": plan.since, "until": plan.until, "mode": mode},
        )
        pull_row = await cursor.fetchone()
        await conn.commit()
        assert pull_row is not None
        pull_id = int(pull_row["pull_id"])

        async def write(rows: list[dict[str, Any]]) -> int:
            cur = await conn.execute(
                query("insights_write_rows"),
                {"pull_id": pull_id, "rows": orjson.dumps(rows).decode()},
            )
            written = await cur.fetchone()
            await conn.commit()
            return int(written["rows_written"]) if written else 0

        puller = InsightsPuller(graph, write, self.options)
        error: BaseException | None = None
        result = PullResult()
        try:
            result = await puller.run(plan)
        except (MetaApiError, GdpError, psycopg.Error) as exc:
            error = exc
            result = puller.result
            await conn.rollback()
        status: PullStatus = "failed" if error is not None else "succeeded"
        stats = graph.stats
        message = None
        code = subcode = None
        if isinstance(error, MetaApiError):
            code, subcode, message = error.code, error.subcode, error.message
        elif isinstance(error, GdpError):
            message = error.message
        elif isinstance(error, psycopg.Error):
            message = from_db_error(error).message
        await conn.execute(
            query("insights_finish_pull"),
            {
                "pull_id": pull_id,
                "status": status,
                "stats": orjson.dumps({
                    "requests": stats.requests, "retries": stats.retries,
                    "report_runs": result.report_runs, "splits": result.splits,
                    "throttle_wait_ms": int(stats.throttle_wait_s * 1000),
                    "max_usage_pct": int(stats.max_usage_pct), "error_code": code,
                    "error_subcode": subcode, "error_message": message,
                }).decode(),
            },
        )  # fmt: skip
        await conn.commit()
        report = PullReport(
            pull_id, status, plan.since, plan.until, mode, result.rows, stats.requests,
            stats.retries, result.report_runs, result.splits, stats.throttle_wait_s,
            result.elapsed_s, message,
        )  # fmt: skip
        log.info("insights pull", extra={k: str(v) for k, v in asdict(report).items()})
        return report

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> list[PullReport]:
        """Pull every META_INSIGHTS_PULL_INTERVAL_SEC until `stop` (or once)."""
        reports: list[PullReport] = []

        async def pull_when_due(cfg: InsightsConfig) -> bool:
            last = cfg.last_succeeded_at
            elapsed = None if last is None else (dt.datetime.now(dt.UTC) - last).total_seconds()
            if once or elapsed is None or elapsed >= cfg.pull_interval_s:
                try:
                    reports.append(await self.pull())
                except GdpError as exc:
                    log.warning("insights pull not started", extra={"error": exc.message})
            return False

        async def config() -> InsightsConfig:
            conn = await self._connect()
            try:
                return await self.config(conn)
            finally:
                await conn.close()

        # Wakes at least every 30 s, so a shorter interval set meanwhile applies soon.
        await run_rounds(
            stop, config, enabled=lambda cfg: cfg.enabled, work=pull_when_due,
            wait=lambda cfg: sleep_unless_stopped(stop, min(float(cfg.pull_interval_s), 30.0)),
            log=log, flag_off="insights pulls wait for ACD_META_INSIGHTS_ENABLED", once=once,
        )  # fmt: skip
        return reports
