"""`gdp worker audiences` and `gdp audiences sync|replace`: each mapped segment, one run at a time.

Behind META_CUSTOM_AUDIENCE_SYNC_ENABLED (off: the worker idles and says so once; the CLI refuses,
naming the flag). Per mapped segment (META_CUSTOM_AUDIENCE_IDS):

1. the segment's advisory lock (another worker syncing it: skipped);
2. its audience: created when it has none, named as the PRD's table says. The description carries
   a marker stored before the call, so a worker that crashed between Meta's answer and storing
   the id finds the audience by its marker instead of creating a second;
3. a replace session left in flight resumes; otherwise Meta's view of the audience is read: a
   replace running there (operation_status 414) makes the run wait; a count that contradicts what
   was acknowledged marks drift, and a drifted audience is replaced;
4. the run: a diff (workers/audiences/sync.py) or a replace (replace.py), recorded in
   shared.audience_sync_run whatever its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from workers.audiences import metrics
from workers.audiences.errors import AudienceErrorKind
from workers.audiences.graph import AudienceCallError, AudienceGraph
from workers.audiences.replace import replace_run
from workers.audiences.sync import Refused, Row, RunContext, diff_run, one
from workers.db.connection import role_options
from workers.db.queries import query
from workers.errors import GdpError, MetaApiError, from_db_error
from workers.rounds import run_rounds, sleep_unless_stopped
from workers.settings import Settings

log = logging.getLogger("gdp.audiences")
ROLE = "gdp_audience_worker"
APPLICATION_NAME = "gdp-audience-worker"
REPLACE_IN_PROGRESS = 414


@dataclass(frozen=True, slots=True)
class RunReport:
    segment_id: str
    audience_id: str | None
    run_id: int | None
    kind: str
    status: str  # succeeded, failed, refused, waiting, skipped
    rows_added: int = 0
    rows_removed: int = 0
    requests: int = 0
    upload_requests: int = 0
    payload_bytes: int = 0
    message: str | None = None
    elapsed_s: float = 0.0


def drift_note(acknowledged: int, audience: Row, unrecorded: int = 0) -> str | None:
    """Why Meta's view contradicts what it acknowledged, or None.

    Meta's counts are matched people, approximate and late, so only contradictions count: Meta
    holds clearly more people than GDP acknowledges (removals lost, or someone else uploaded), or
    says nothing was uploaded while rows were acknowledged (the audience was emptied).
    `unrecorded`: rows that runs cut off mid-request may have added at Meta without a record
    (shared.audience_unrecorded_requests); Meta holding those is not drift."""
    status = audience.get("operation_status") or {}
    code = status.get("code") if isinstance(status, dict) else None
    lower = int(audience.get("approximate_count_lower_bound") or 0)
    if code == 410 and acknowledged > 0:
        return f"Meta reports no upload while {acknowledged} rows are acknowledged"
    if code == 200 and lower > (acknowledged + unrecorded) * 1.1 + 100:
        note = f"Meta counts at least {lower} people; {acknowledged} are acknowledged"
        return note + (f" (and up to {unrecorded} sent unrecorded)" if unrecorded else "")
    return None


# The collector's thresholds before the first run going in this process, and how many go.
_collector: dict[str, Any] = {"saved": None, "runs": 0}


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """A run allocates millions of short-lived objects (a dict per row read, the cells, the
    payloads) and frees them as it goes; at the cyclic collector's default first-generation
    threshold (700 allocations) it walks them again and again, a fifth of the worker's CPU on a
    first upload. Raised while any run is going, restored after the last."""
    if _collector["runs"] == 0:
        _collector["saved"] = gc.get_threshold()
        gc.set_threshold(50_000, *_collector["saved"][1:])
    _collector["runs"] += 1
    try:
        yield
    finally:
        _collector["runs"] -= 1
        if _collector["runs"] == 0:
            gc.set_threshold(*_collector["saved"])


class AudienceWorker:
    def __init__(
        self,
        settings: Settings,
        *,
        role: str | None = ROLE,
        drift_settle_s: float = 3600.0,
        graph_options: dict[str, Any] | None = None,
        rows_per_request: int | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.role = role
        self.drift_settle_s = drift_settle_s
        self.graph_options = graph_options or {}
        # META_AUDIENCE_ROWS_PER_REQUEST (Meta's maximum, 10,000) unless the caller says.
        self.rows_per_request = rows_per_request or settings.meta_audience_rows_per_request
        self.progress = progress

    def conninfo(self) -> str:
        return make_conninfo(
            self.settings.database_url, application_name=APPLICATION_NAME,
            **role_options(self.role),
        )  # fmt: skip

    async def _connect(self) -> psycopg.AsyncConnection[Row]:
        try:
            return await psycopg.AsyncConnection.connect(self.conninfo(), row_factory=dict_row)
        except psycopg.Error as exc:
            raise from_db_error(exc) from exc

    def graph(self) -> AudienceGraph:
        token = self.settings.meta_capi_access_token
        secret = self.settings.meta_app_secret
        return AudienceGraph.connect(
            self.settings.meta_graph_url, self.settings.meta_api_version,
            token.get_secret_value() if token else None,
            secret.get_secret_value() if secret else None, **self.graph_options,
        )  # fmt: skip

    async def config(self, conn: psycopg.AsyncConnection[Row]) -> Row:
        return await one(conn, "audience_worker_config", {})

    async def sync(
        self, segment_id: str | None = None, *, force: bool = False, mode: str = "auto",
        require_enabled: bool = True,
    ) -> list[RunReport]:  # fmt: skip
        """One run for one mapped segment or all; mode auto (diff, replace when drifted), diff
        or replace."""
        with _fewer_collections():
            return await self._sync(segment_id, force, mode, require_enabled)

    async def _sync(
        self, segment_id: str | None, force: bool, mode: str, require_enabled: bool
    ) -> list[RunReport]:
        conn = await self._connect()
        graph = self.graph()
        try:
            cfg = await self.config(conn)
            if require_enabled and not cfg["enabled"]:
                raise GdpError(
                    "META_CUSTOM_AUDIENCE_SYNC_ENABLED is off: enable it through the deployment "
                    "gate (gdp flags enable META_CUSTOM_AUDIENCE_SYNC_ENABLED)"
                )
            account = cfg["ad_account_id"]
            if not account:
                raise GdpError("META_AD_ACCOUNT_ID is not set (gdp settings set ...)")
            targets = await (await conn.execute(
                query("audience_targets"), {"segment_id": None}
            )).fetchall()  # fmt: skip
            await conn.commit()
            if segment_id is not None:
                targets = [t for t in targets if segment_id in (t["segment_id"],
                                                                t["audience_name"])]  # fmt: skip
                if not targets:
                    raise GdpError(
                        f"segment: {segment_id} is not mapped in META_CUSTOM_AUDIENCE_IDS (or is "
                        "not a registered segment)"
                    )
            reports = []
            for target in targets:
                reports.append(await self._one(conn, graph, account, target, force, mode))
            return reports
        finally:
            await graph.close()
            await conn.close()

    async def _one(
        self, conn: psycopg.AsyncConnection[Row], graph: AudienceGraph, account: str,
        target: Row, force: bool, mode: str,
    ) -> RunReport:  # fmt: skip
        segment_id = target["segment_id"]
        locked = await one(conn, "audience_try_lock", {"segment_id": segment_id})
        if not locked.get("locked"):
            return RunReport(segment_id, target["audience_id"], None, mode, "skipped",
                             message="another worker is syncing this segment")  # fmt: skip
        started = time.perf_counter()
        before = (graph.stats.requests, graph.stats.upload_requests, graph.stats.payload_bytes)
        run_id: int | None = None
        kind = "replace" if mode == "replace" else "diff"
        try:
            if not target["audience_id"]:
                target = {**target, "audience_id": await self._ensure_audience(
                    conn, graph, account, target)}  # fmt: skip
            state = await one(conn, "audience_replace_state", {"segment_id": segment_id})
            since = None
            if state.get("run_id"):
                kind, run_id = "replace", int(state["run_id"])
                await one(conn, "audience_resume_run", {"run_id": run_id})
            else:
                waiting, drifted = await self._check_meta(conn, graph, target)
                if drifted and mode == "auto":
                    kind = "replace"
                reason = "drift" if drifted and mode == "auto" else None
                begun = await one(conn, "audience_start_run", {
                    "segment_id": segment_id, "kind": kind, "forced": force, "reason": reason,
                })  # fmt: skip
                run_id, since = int(begun["run_id"]), begun["changed_since"]
                if waiting:
                    return await self._finish(conn, graph, target, run_id, kind, "waiting",
                                              waiting, started, before)  # fmt: skip
                state = {}
            graph.on_error = self._error_hook(conn, run_id)
            ctx = RunContext(conn, self.conninfo(), graph, target, run_id,
                             self.settings.meta_default_phone_region,
                             self.rows_per_request, since, self.progress)  # fmt: skip
            note = None
            if kind == "replace":
                note = await replace_run(ctx, state or None)
            else:
                await diff_run(ctx, forced=force)
            return await self._finish(conn, graph, target, run_id, kind, "succeeded", note,
                                      started, before)  # fmt: skip
        except Refused as refusal:
            return await self._finish(conn, graph, target, run_id, kind, "refused",
                                      str(refusal), started, before)  # fmt: skip
        except AudienceCallError as error:
            status = "waiting" if error.audience_kind == "busy" else "failed"
            message = f"Graph error {error.code}/{error.subcode}: {error.message}"
            if error.audience_kind == "busy":
                message = "a replace of this audience is in progress at Meta: " + message
            return await self._finish(conn, graph, target, run_id, kind, status, message,
                                      started, before)  # fmt: skip
        except psycopg.Error as exc:
            await conn.rollback()
            return await self._finish(conn, graph, target, run_id, kind, "failed",
                                      from_db_error(exc).message, started, before)  # fmt: skip
        finally:
            graph.on_error = None
            with contextlib.suppress(psycopg.Error):
                await one(conn, "audience_unlock", {"segment_id": segment_id})

    async def _ensure_audience(
        self, conn: psycopg.AsyncConnection[Row], graph: AudienceGraph, account: str, target: Row
    ) -> str:
        marker = str(target["create_marker"])
        found = await graph.find_by_marker(account, marker)
        if found is None:
            description = f"GDP segment {target['segment_id']} (kept in step by GDP) [{marker}]"
            found = await graph.create(account, str(target["audience_name"]), description)
            log.info("audience created", extra={"segment": target["segment_id"], "id": found})
        await one(conn, "audience_store_id", {"segment_id": target["segment_id"],
                                              "audience_id": found})  # fmt: skip
        return found

    async def _check_meta(
        self, conn: psycopg.AsyncConnection[Row], graph: AudienceGraph, target: Row
    ) -> tuple[str | None, bool]:
        """(why the run must wait, or None; whether the audience has drifted)."""
        audience = await graph.read(str(target["audience_id"]))
        status = audience.get("operation_status") or {}
        if isinstance(status, dict) and status.get("code") == REPLACE_IN_PROGRESS:
            return "a replace of this audience is in progress at Meta (operation_status 414)", False
        note = None
        last = target["last_change_at"]
        settled = last is None or (
            dt.datetime.now(dt.UTC) - last
        ).total_seconds() >= self.drift_settle_s
        if target["first_upload_at"] is not None and settled:
            cut_off = await one(conn, "audience_unrecorded_requests",
                                {"segment_id": target["segment_id"]})  # fmt: skip
            unrecorded = int(cut_off["requests"]) * self.rows_per_request
            note = drift_note(int(target["acknowledged"]), audience, unrecorded)
        await one(conn, "audience_record_count", {
            "segment_id": target["segment_id"],
            "lower": audience.get("approximate_count_lower_bound"),
            "upper": audience.get("approximate_count_upper_bound"), "drift": note,
        })  # fmt: skip
        return None, note is not None or target["drift_detected_at"] is not None

    def _error_hook(self, conn: psycopg.AsyncConnection[Row], run_id: int) -> Any:
        async def hook(error: MetaApiError, kind: AudienceErrorKind, retried: bool) -> None:
            with contextlib.suppress(psycopg.Error):
                await one(conn, "audience_record_error", {
                    "run_id": run_id, "code": error.code, "subcode": error.subcode,
                    "retried": retried,
                })  # fmt: skip

        return hook

    async def _finish(
        self, conn: psycopg.AsyncConnection[Row], graph: AudienceGraph, target: Row,
        run_id: int | None, kind: str, status: str, message: str | None, started: float,
        before: tuple[int, int, int],
    ) -> RunReport:  # fmt: skip
        if run_id is None:
            # Stopped before its run began (creating the audience, reading Meta's state): still
            # a row, so every outcome is in shared.audience_sync_run.
            begun = await one(conn, "audience_start_run", {
                "segment_id": target["segment_id"], "kind": kind, "forced": False,
                "reason": None,
            })  # fmt: skip
            run_id = int(begun["run_id"])
        row = await one(conn, "audience_finish_run",
                        {"run_id": run_id, "status": status, "message": message})
        metrics.RUNS.labels(status).inc()
        metrics.ROWS.labels("add").inc(int(row.get("rows_added") or 0))
        metrics.ROWS.labels("remove").inc(int(row.get("rows_removed") or 0))
        report = RunReport(
            target["segment_id"], target["audience_id"], run_id, kind, status,
            int(row.get("rows_added") or 0), int(row.get("rows_removed") or 0),
            graph.stats.requests - before[0], graph.stats.upload_requests - before[1],
            graph.stats.payload_bytes - before[2], message, time.perf_counter() - started,
        )  # fmt: skip
        log.info(
            "audience run",
            extra={"segment": report.segment_id, "run_id": run_id, "status": status,
                   "added": report.rows_added, "removed": report.rows_removed,
                   "requests": report.requests, "note": message},
        )  # fmt: skip
        return report

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> list[RunReport]:
        """Sync every mapped segment each interval (SEGMENT_ENGINE_CRON_INTERVAL) until `stop`."""
        reports: list[RunReport] = []

        async def sync(cfg: Row) -> bool:
            try:
                reports.extend(await self.sync())
            except GdpError as exc:
                log.warning("audience sync not started", extra={"error": exc.message})
            return False

        await run_rounds(
            stop, self._fresh_config, enabled=lambda cfg: bool(cfg["enabled"]), work=sync,
            wait=lambda cfg: sleep_unless_stopped(stop, float(cfg["interval_s"] or 300)),
            log=log, flag_off="audience sync waits for META_CUSTOM_AUDIENCE_SYNC_ENABLED",
            once=once,
        )  # fmt: skip
        return reports

    async def _fresh_config(self) -> Row:
        conn = await self._connect()
        try:
            return await self.config(conn)
        finally:
            await conn.close()
