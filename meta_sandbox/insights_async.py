"""Async insights report runs and the ad account's object listings (docs/meta-rules.md §4.3).

    POST /{version}/{object_id}/insights   same parameters as GET -> {"report_run_id": "..."}
    GET  /{version}/{report_run_id}        AdReportRun: async_status, async_percent_completion...
    GET  /{version}/{report_run_id}/insights   the rows, cursor-paged, once "Job Completed"
    GET  /{version}/act_{id}/campaigns | adsets | ads   the account's objects, cursor-paged

A run's rows are computed in the background from the moment it is created (the figures of that
moment), as Meta computes them while the client polls; its status moves one step per status
read: "Job Not Started", then "Job Running" with a growing percentage, then "Job Completed" at
100 (`insights_async_polls` reads, and not before the rows are ready). Every Nth run fails when
`insights_async_fail_every` is set, with the error fields v25.0 adds to failed jobs. Reading the
results of a run that has not completed answers code 2601 subcode 1815107, as Meta does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from meta_sandbox.errors import (
    GraphError,
    invalid_param,
    nonexisting_field,
    unknown_object,
    unknown_path,
)
from meta_sandbox.graph import account_key, begin, sandbox_of
from meta_sandbox.insights import account_of, parse_query, rows_of, throttle_header
from meta_sandbox.paging import paginate
from meta_sandbox.params import fields_param
from meta_sandbox.state import ReportRun, Sandbox
from meta_sandbox.synthetic import Ad

router = APIRouter()

REPORT_RUN_ID_BASE = 6_100_000_000_000_000
NOT_STARTED, RUNNING, COMPLETED, FAILED = (
    "Job Not Started", "Job Running", "Job Completed", "Job Failed",
)  # fmt: skip
RUN_FIELDS = frozenset(
    {
        "id", "account_id", "async_status", "async_percent_completion", "date_start",
        "date_stop", "time_ref", "time_completed", "is_running", "error_code", "error_message",
        "error_subcode", "error_user_title", "error_user_msg",
    }
)  # fmt: skip
OBJECT_FIELDS = {
    "campaigns": frozenset({"id", "name", "objective", "status", "effective_status", "account_id"}),
    "adsets": frozenset({"id", "name", "campaign_id", "status", "effective_status", "account_id"}),
    "ads": frozenset(
        {"id", "name", "adset_id", "campaign_id", "status", "effective_status", "account_id"}
    ),
}


@router.post("/{version}/{object_id}/insights")
async def create_report_run(request: Request, version: str, object_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="ads_insights")
    query = parse_query(sandbox, object_id, params)
    rows_of(sandbox, query, size_only=True)  # too much data is refused at once, as Meta does
    with sandbox.lock:
        sandbox.report_run_count += 1
        every = sandbox.config.insights_async_fail_every
        run = ReportRun(
            id=sandbox.new_id(REPORT_RUN_ID_BASE),
            account_id=account_key(sandbox),
            created_at=sandbox.now(),
            date_start=query.since.isoformat(),
            date_stop=query.until.isoformat(),
            rows=None,
            failed=bool(every) and sandbox.report_run_count % every == 0,
        )
        sandbox.report_runs[run.id] = run

    async def compute() -> None:
        try:
            run.rows = await asyncio.to_thread(rows_of, sandbox, query, locked=False)
        except Exception:  # a job that cannot be computed fails, as Meta's do
            run.failed = True
            run.rows = []

    task = asyncio.get_running_loop().create_task(compute())
    with sandbox.lock:
        sandbox.webhook_tasks.add(task)  # kept referenced until done (and cancelled on reset)
    task.add_done_callback(sandbox.webhook_tasks.discard)
    return JSONResponse({"report_run_id": run.id}, headers=throttle_header(sandbox))


def _status(sandbox: Sandbox, run: ReportRun) -> tuple[str, int]:
    polls, needed = run.polls, max(sandbox.config.insights_async_polls, 1)
    if polls == 0:
        return NOT_STARTED, 0
    if run.failed and polls >= needed:
        return FAILED, 0
    if run.rows is None:
        return RUNNING, min(99, int(100 * polls / (needed + 1)))
    if polls >= needed:
        return COMPLETED, 100
    return RUNNING, min(99, int(100 * polls / needed))


def read_report_run(sandbox: Sandbox, run: ReportRun, params: dict[str, Any]) -> dict[str, Any]:
    """GET /{report_run_id}: one status read, which moves the job one step on."""
    fields = fields_param(params, ("id", "async_status", "async_percent_completion"))
    for name in fields:
        if name not in RUN_FIELDS:
            raise nonexisting_field(name, "AdReportRun")
    with sandbox.lock:
        status, percent = _status(sandbox, run)
        run.polls += 1
    full: dict[str, Any] = {
        "id": run.id,
        "account_id": run.account_id,
        "async_status": status,
        "async_percent_completion": percent,
        "date_start": run.date_start,
        "date_stop": run.date_stop,
        "time_ref": int(run.created_at),
        "time_completed": int(sandbox.now()) if status == COMPLETED else None,
        "is_running": status in (NOT_STARTED, RUNNING),
    }
    if status == FAILED:
        full.update(
            error_code=2601,
            error_subcode=1815107,
            error_message="The report could not be generated; try a smaller date range",
            error_user_title="Report failed",
            error_user_msg="Split the date range or the level and retry.",
        )
    return {name: full[name] for name in ["id", *fields] if full.get(name) is not None}


def run_results(
    request: Request, sandbox: Sandbox, run: ReportRun, params: dict[str, Any]
) -> dict[str, Any]:
    """GET /{report_run_id}/insights: the rows, once the job completed."""
    with sandbox.lock:
        status, _ = _status(sandbox, run)
    if status != COMPLETED:
        raise GraphError(
            "(#2601) Error accessing adreport job: the report cannot be loaded until it completes",
            code=2601,
            subcode=1815107,
            user_title="Report not ready",
            user_msg=f"The report's status is {status}; poll it until Job Completed.",
        )
    return paginate(request, sandbox, run.rows or [], params, inject_empty=False)


def _object_rows(sandbox: Sandbox, edge: str, ads: list[Ad]) -> list[dict[str, Any]]:
    account = account_key(sandbox)
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for ad in ads:
        if edge == "campaigns":
            row = {"id": ad.campaign_id, "name": ad.campaign_name, "objective": ad.objective}
        elif edge == "adsets":
            row = {"id": ad.adset_id, "name": ad.adset_name, "campaign_id": ad.campaign_id}
        else:
            row = {
                "id": ad.ad_id, "name": ad.ad_name, "adset_id": ad.adset_id,
                "campaign_id": ad.campaign_id,
            }  # fmt: skip
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        row.update(status="ACTIVE", effective_status="ACTIVE", account_id=account)
        rows.append(row)
    return rows


@router.get("/{version}/{object_id}/insights")
async def get_insights(request: Request, version: str, object_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="ads_insights")
    run = sandbox.report_runs.get(object_id)
    if run is not None:
        body = run_results(request, sandbox, run, params)
        return JSONResponse(body, headers=throttle_header(sandbox))
    rows = rows_of(sandbox, parse_query(sandbox, object_id, params))
    body = paginate(request, sandbox, rows, params, inject_empty=sandbox.config.insights_empty_page)
    return JSONResponse(body, headers=throttle_header(sandbox))


@router.get("/{version}/{object_id}/{edge}")
async def list_objects(request: Request, version: str, object_id: str, edge: str) -> JSONResponse:
    """The account's (or a campaign's / ad set's) campaigns, ad sets and ads."""
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="ads_management")
    if edge not in OBJECT_FIELDS:
        raise unknown_path(request.url.path)
    account = account_of(sandbox)
    if object_id == sandbox.config.ad_account_id:
        ads = account.ads
    else:
        found = account.find(object_id)
        if found is None or found[0] == "ad":
            raise unknown_object(object_id, "GET")
        ads = found[1]
    fields = fields_param(params, ("id",))
    for name in fields:
        if name not in OBJECT_FIELDS[edge]:
            raise invalid_param(f"{name} is not a field of {edge}")
    rows = [
        {name: row[name] for name in ["id", *fields]} for row in _object_rows(sandbox, edge, ads)
    ]
    return JSONResponse(paginate(request, sandbox, rows, params, inject_empty=False))
