"""Graph node reads (`GET /{version}/{id}`), audience deletion and the unknown-path catch-all.

One path shape serves several node types, as at Meta: the id decides whether it is a custom
audience, a lead, the ad account, or a campaign / ad set / ad of the synthetic account.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from meta_sandbox.audiences import delete_audience, read_audience
from meta_sandbox.errors import nonexisting_field, unknown_object, unknown_path
from meta_sandbox.graph import account_key, begin, sandbox_of
from meta_sandbox.insights import ACCOUNT_NAME, account_of
from meta_sandbox.insights_async import read_report_run
from meta_sandbox.leads import read_lead
from meta_sandbox.params import fields_param

router = APIRouter()
ACCOUNT_FIELDS = ("id", "account_id", "name", "currency", "timezone_name", "account_status")


@router.get("/{version}/{node_id}")
# The official SDK reads a node as /vX/{id}/ (api_get's endpoint is "/").
@router.get("/{version}/{node_id}/")
async def get_node(request: Request, version: str, node_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    lead = sandbox.leads.get(node_id)
    if lead is not None:
        params = await begin(request, usage_type="leadgen", usage_key=lead.page_id)
        return JSONResponse(read_lead(lead, params, account_of(sandbox)))
    run = sandbox.report_runs.get(node_id)
    if run is not None:
        params = await begin(request, usage_type="ads_insights")
        return JSONResponse(read_report_run(sandbox, run, params))
    audience = sandbox.audiences.get(node_id)
    params = await begin(request, usage_type="custom_audience" if audience else "ads_management")
    if audience is not None:
        return JSONResponse(read_audience(sandbox, audience, params))
    fields = fields_param(params, ("id",))
    if node_id == sandbox.config.ad_account_id:
        full = {
            "id": node_id,
            "account_id": account_key(sandbox),
            "name": ACCOUNT_NAME,
            "currency": sandbox.config.account_currency,
            "timezone_name": "Etc/UTC",
            "account_status": 1,
        }
        node_type = "AdAccount"
    else:
        found = account_of(sandbox).find(node_id)
        if found is None:
            raise unknown_object(node_id, "GET")
        level, ads = found
        ad = ads[0]
        name = {"campaign": ad.campaign_name, "adset": ad.adset_name, "ad": ad.ad_name}[level]
        full = {"id": node_id, "name": name, "account_id": account_key(sandbox)}
        if level != "campaign":
            full["campaign_id"] = ad.campaign_id
        if level == "ad":
            full["adset_id"] = ad.adset_id
        node_type = {"campaign": "Campaign", "adset": "AdSet", "ad": "Adgroup"}[level]
    for name in fields:
        if name not in full:
            raise nonexisting_field(name, node_type)
    return JSONResponse({name: full[name] for name in ["id", *fields]})


@router.delete("/{version}/{node_id}")
@router.delete("/{version}/{node_id}/")  # the SDK's api_delete, like api_get, ends with "/"
async def delete_node(request: Request, version: str, node_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    await begin(request, usage_type="custom_audience")
    delete_audience(sandbox, node_id)
    return JSONResponse({"success": True})


@router.api_route("/{version}/{rest:path}", methods=["GET", "POST", "DELETE", "PUT", "PATCH"])
async def unknown(request: Request, version: str, rest: str) -> JSONResponse:
    await begin(request, usage_type="ads_management")
    raise unknown_path(request.url.path)
