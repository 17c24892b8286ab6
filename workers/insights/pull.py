"""One insights pull: act_<id>/insights at ad level, one row per ad per day, into Postgres.

    plan     the range: the last META_INSIGHTS_REPULL_DAYS days up to today in the ad account's
             time zone (Meta restates recent days; insights do not change after 28 days)
    fetch    short ranges with GET .../insights, paged until `paging.next` is absent (an empty
             page with `next` is not the end); ranges of META_INSIGHTS_ASYNC_MIN_DAYS or more
             with async report runs, a week per run, a few runs at once: POST .../insights,
             poll GET /{report_run_id} until "Job Completed" at 100 %, read /{id}/insights
    split    a range Meta refuses as too much data (100/1487534) or whose report run fails is
             halved and retried, down to single days
    write    every page through shared.insights_write_rows in its own transaction
    record   the pull's row: range, rows, requests, retries, report runs, splits, waits, error

See https://developers.facebook.com/docs/marketing-api/insights/best-practices
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workers.errors import GdpError, MetaApiError
from workers.graph_reader import GraphReader

log = logging.getLogger("gdp.insights")

FIELDS = (
    "account_currency", "campaign_id", "campaign_name", "adset_id", "adset_name", "ad_id",
    "ad_name", "spend", "impressions", "clicks", "reach", "actions", "action_values",
)  # fmt: skip
TOO_MUCH_DATA = (100, 1487534)
RUN_DONE, RUN_FAILED, RUN_SKIPPED = "Job Completed", "Job Failed", "Job Skipped"

WriteRows = Callable[[list[dict[str, Any]]], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class PullPlan:
    account_id: str
    since: dt.date
    until: dt.date
    use_async: bool
    attribution_windows: tuple[str, ...] = ()

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1


@dataclass(frozen=True, slots=True)
class PullOptions:
    page_limit: int = 1000
    days_per_run: int = 7
    runs_in_flight: int = 3
    poll_first_s: float = 1.0
    poll_max_s: float = 30.0
    # An async job can take up to an hour (Meta's insights best practices).
    run_timeout_s: float = 3600.0


@dataclass(slots=True)
class PullResult:
    rows: int = 0
    report_runs: int = 0
    splits: int = 0
    elapsed_s: float = 0.0
    errors: list[str] = field(default_factory=list)


class RangeFailed(GdpError):
    """A range could not be pulled even split to single days."""


async def account_today(graph: GraphReader, account_id: str) -> dt.date:
    """Today in the ad account's time zone (Meta reports days in it)."""
    node = await graph.get(account_id, {"fields": "timezone_name"})
    try:
        zone = ZoneInfo(str(node.get("timezone_name") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return dt.datetime.now(zone).date()


def plan_pull(
    account_id: str, today: dt.date, repull_days: int, async_min_days: int,
    windows: tuple[str, ...] = (), since: dt.date | None = None, until: dt.date | None = None,
) -> PullPlan:  # fmt: skip
    until = until or today
    since = since or until - dt.timedelta(days=repull_days - 1)
    if since > until:
        raise GdpError("since: must be on or before until", field="since")
    days = (until - since).days + 1
    return PullPlan(account_id, since, until, days >= async_min_days, windows)


def _halves(since: dt.date, until: dt.date) -> list[tuple[dt.date, dt.date]]:
    middle = since + dt.timedelta(days=((until - since).days + 1) // 2 - 1)
    return [(since, middle), (middle + dt.timedelta(days=1), until)]


class InsightsPuller:
    def __init__(self, graph: GraphReader, write: WriteRows, options: PullOptions | None = None):
        self.graph = graph
        self.write = write
        self.options = options or PullOptions()
        self.result = PullResult()
        self._write_lock = asyncio.Lock()

    def _params(self, plan: PullPlan, since: dt.date, until: dt.date) -> dict[str, Any]:
        params: dict[str, Any] = {
            "level": "ad",
            "time_increment": "1",
            "fields": ",".join(FIELDS),
            "time_range": {"since": since.isoformat(), "until": until.isoformat()},
            "limit": str(self.options.page_limit),
        }
        if plan.attribution_windows:
            params["action_attribution_windows"] = list(plan.attribution_windows)
        return params

    async def run(self, plan: PullPlan) -> PullResult:
        started = time.monotonic()
        if plan.use_async:
            step = dt.timedelta(days=self.options.days_per_run)
            chunks: list[tuple[dt.date, dt.date]] = []
            start = plan.since
            while start <= plan.until:
                chunks.append((start, min(start + step - dt.timedelta(days=1), plan.until)))
                start += step
            gate = asyncio.Semaphore(self.options.runs_in_flight)

            async def one(chunk: tuple[dt.date, dt.date]) -> None:
                async with gate:
                    await self._range(plan, *chunk)

            await asyncio.gather(*(one(chunk) for chunk in chunks))
        else:
            await self._range(plan, plan.since, plan.until)
        self.result.elapsed_s = time.monotonic() - started
        return self.result

    async def _range(self, plan: PullPlan, since: dt.date, until: dt.date) -> None:
        """Pull [since, until]; halve it when Meta says it is too much or its run fails."""
        try:
            if plan.use_async:
                await self._async_range(plan, since, until)
            else:
                await self._pages(f"{plan.account_id}/insights", self._params(plan, since, until))
        except MetaApiError as error:
            if (error.code, error.subcode) != TOO_MUCH_DATA or since == until:
                raise
            await self._split(plan, since, until, "too much data (100/1487534)")
        except RangeFailed:
            if since == until:
                raise
            await self._split(plan, since, until, "report run failed")

    async def _split(self, plan: PullPlan, since: dt.date, until: dt.date, why: str) -> None:
        self.result.splits += 1
        log.info("insights range split", extra={"since": str(since), "until": str(until),
                                                "reason": why})  # fmt: skip
        for half in _halves(since, until):
            await self._range(plan, *half)

    async def _pages(self, path: str, params: dict[str, Any] | None) -> None:
        """Follow `paging.next` until it is absent, writing each page."""
        body = await self.graph.get(path, params)
        while True:
            rows = body.get("data") or []
            if rows:
                async with self._write_lock:
                    self.result.rows += await self.write(rows)
            next_url = (body.get("paging") or {}).get("next")
            if not next_url:
                return
            body = await self.graph.get(next_url)

    async def _async_range(self, plan: PullPlan, since: dt.date, until: dt.date) -> None:
        for attempt in (1, 2):  # a failed run is retried once as is, then the range is split
            created = await self.graph.post(
                f"{plan.account_id}/insights", self._params(plan, since, until)
            )
            run_id = str(created.get("report_run_id") or created.get("id") or "")
            if not run_id:
                raise GdpError("Meta did not return a report_run_id")
            self.result.report_runs += 1
            status = await self._wait_for(run_id)
            if status == RUN_DONE:
                await self._pages(f"{run_id}/insights", {"limit": str(self.options.page_limit)})
                return
            log.warning("report run did not complete", extra={"run": run_id, "status": status,
                                                              "attempt": attempt})  # fmt: skip
        raise RangeFailed(f"report runs for {since}..{until} failed twice")

    async def _wait_for(self, run_id: str) -> str:
        deadline = time.monotonic() + self.options.run_timeout_s
        delay = self.options.poll_first_s
        while True:
            node = await self.graph.get(
                run_id, {"fields": "async_status,async_percent_completion,error_code"}
            )
            status = str(node.get("async_status") or "")
            if status == RUN_DONE and int(node.get("async_percent_completion") or 0) == 100:
                return status
            if status in (RUN_FAILED, RUN_SKIPPED):
                return status
            if time.monotonic() > deadline:
                return "timed out"
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.options.poll_max_s)
