"""Lead Ads: read a lead, list a form's (or ad's) leads, and the control call that creates a
lead and delivers Meta's `leadgen` webhook, signed with the app secret (docs/meta-rules.md §5).

The webhook body is serialized once and signed over those exact bytes:
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, body)>` (plus the legacy SHA-1
`X-Hub-Signature`). A delivery answered non-2xx (or not at all) is retried after
`webhook_retry_delays_s` (Meta retries for 36 hours; the sandbox compresses that), then dropped.
`POST /_sandbox/leads/batch` delivers several leads in one notification (an entry per page, a
change per lead); `POST /_sandbox/leads/{id}/redeliver` sends the same notification again, to
test receivers' dedup.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import ssl
from functools import lru_cache
from typing import Any

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse

from meta_sandbox.errors import invalid_param, nonexisting_field, unknown_object
from meta_sandbox.graph import begin, sandbox_of
from meta_sandbox.paging import paginate
from meta_sandbox.params import fields_param, json_param
from meta_sandbox.state import Lead, Sandbox
from meta_sandbox.synthetic import SyntheticAccount

router = APIRouter()
control = APIRouter(prefix="/_sandbox")

LEAD_ID_BASE = 1_200_000_000_000_000
DEFAULT_FIELDS = ("id", "created_time", "ad_id", "form_id", "field_data")
READ_FIELDS = frozenset(
    {
        *DEFAULT_FIELDS, "adgroup_id", "is_organic", "platform", "custom_disclaimer_responses",
        "ad_name", "adset_id", "adset_name", "campaign_id", "campaign_name",
    }
)  # fmt: skip


class FieldDatum(BaseModel):
    name: str = Field(min_length=1)
    values: list[str]


class NewLead(BaseModel):
    page_id: str = Field(pattern=r"^[0-9]{1,20}$")
    form_id: str = Field(pattern=r"^[0-9]{1,20}$")
    ad_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    field_data: list[FieldDatum]
    webhook_url: str | None = None
    created_time: int | None = None

    @field_validator("page_id", "form_id", "ad_id", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("field_data", mode="before")
    @classmethod
    def _mapping_form(cls, value: Any) -> Any:
        """Also accept {"email": "a@b.c", "full_name": ["A B"]}."""
        if isinstance(value, dict):
            return [
                {"name": k, "values": v if isinstance(v, list) else [v]} for k, v in value.items()
            ]
        return value


@lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """Built once: creating a TLS context per delivery costs tens of milliseconds."""
    return ssl.create_default_context()


def iso_time(seconds: float) -> str:
    """Meta's lead time format: 2015-02-28T08:49:14+0000."""
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _change(lead: Lead) -> dict[str, Any]:
    value: dict[str, Any] = {
        "leadgen_id": lead.id,
        "page_id": lead.page_id,
        "form_id": lead.form_id,
        "created_time": int(lead.created_at),
    }
    if lead.ad_id is not None:
        value["adgroup_id"] = lead.ad_id
        value["ad_id"] = lead.ad_id
    return {"field": "leadgen", "value": value}


def webhook_body(leads: Lead | list[Lead], now: float) -> bytes:
    """One notification: an entry per page, a change per lead (Meta batches them so)."""
    batch = leads if isinstance(leads, list) else [leads]
    pages: dict[str, list[dict[str, Any]]] = {}
    for lead in batch:
        pages.setdefault(lead.page_id, []).append(_change(lead))
    payload = {
        "object": "page",
        "entry": [
            {"id": page, "time": int(now), "changes": changes} for page, changes in pages.items()
        ],
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signature_headers(app_secret: str, body: bytes) -> dict[str, str]:
    key = app_secret.encode()
    return {
        "Content-Type": "application/json",
        "User-Agent": "facebookexternalua",
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
    }


def _ok(record: dict[str, Any]) -> bool:
    return record["status_code"] is not None and 200 <= record["status_code"] < 300


async def _post(sandbox: Sandbox, leads: list[Lead], url: str, attempt: int) -> dict[str, Any]:
    body = webhook_body(leads, sandbox.now())
    headers = signature_headers(sandbox.config.app_secret, body)
    try:
        timeout = sandbox.config.webhook_timeout_s
        async with httpx.AsyncClient(timeout=timeout, verify=_tls()) as client:
            response = await client.post(url, content=body, headers=headers)
        record = {"url": url, "status_code": response.status_code, "error": None}
    except httpx.HTTPError as exc:
        record = {"url": url, "status_code": None, "error": f"{type(exc).__name__}: {exc}"}
    record.update(at=sandbox.now(), attempt=attempt, batch=len(leads))
    with sandbox.lock:
        for lead in leads:
            lead.deliveries.append(dict(record))
    return record


async def _retry(sandbox: Sandbox, leads: list[Lead], url: str) -> None:
    """Meta's retries after a non-2xx answer: again and again, then the delivery is dropped."""
    for attempt, delay in enumerate(sandbox.config.webhook_retry_delays_s, start=2):
        await asyncio.sleep(delay)
        if _ok(await _post(sandbox, leads, url, attempt)):
            return


async def deliver(
    sandbox: Sandbox, lead: Lead | list[Lead], url: str | None, *, retry: bool = True
) -> dict[str, Any]:
    """Send one notification for the lead(s); a non-2xx answer schedules Meta-style retries."""
    leads = lead if isinstance(lead, list) else [lead]
    if not url:
        record: dict[str, Any] = {"url": None, "status_code": None, "error": "no webhook URL"}
        record.update(at=sandbox.now(), attempt=1, batch=len(leads))
        with sandbox.lock:
            for item in leads:
                item.deliveries.append(dict(record))
        return record
    record = await _post(sandbox, leads, url, 1)
    if not _ok(record) and retry and sandbox.config.webhook_retry_delays_s:
        task = asyncio.get_running_loop().create_task(_retry(sandbox, leads, url))
        with sandbox.lock:
            sandbox.webhook_tasks.add(task)
        task.add_done_callback(sandbox.webhook_tasks.discard)
    return record


def lead_json(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "created_time": iso_time(lead.created_at),
        "page_id": lead.page_id,
        "form_id": lead.form_id,
        "ad_id": lead.ad_id,
        "field_data": lead.field_data,
        "deliveries": list(lead.deliveries),
    }


@control.post("/leads")
async def create_lead(request: Request, body: NewLead) -> JSONResponse:
    sandbox = sandbox_of(request)
    with sandbox.lock:
        lead = Lead(
            id=sandbox.new_id(LEAD_ID_BASE),
            created_at=float(body.created_time) if body.created_time else sandbox.now(),
            page_id=body.page_id,
            form_id=body.form_id,
            ad_id=body.ad_id,
            field_data=[d.model_dump() for d in body.field_data],
        )
        sandbox.leads[lead.id] = lead
    record = await deliver(sandbox, lead, body.webhook_url or sandbox.config.lead_webhook_url)
    return JSONResponse(
        {
            "leadgen_id": lead.id,
            "delivered": record["status_code"] is not None and 200 <= record["status_code"] < 300,
            "delivery_status": record["status_code"],
            "delivery_error": record["error"],
            "webhook_url": record["url"],
        }
    )


class NewLeads(BaseModel):
    """Several leads delivered in one notification (entries per page, changes per lead)."""

    leads: list[NewLead] = Field(min_length=1, max_length=1000)
    webhook_url: str | None = None


@control.post("/leads/batch")
async def create_leads(request: Request, body: NewLeads) -> JSONResponse:
    sandbox = sandbox_of(request)
    with sandbox.lock:
        leads = [
            Lead(
                id=sandbox.new_id(LEAD_ID_BASE),
                created_at=float(item.created_time) if item.created_time else sandbox.now(),
                page_id=item.page_id,
                form_id=item.form_id,
                ad_id=item.ad_id,
                field_data=[d.model_dump() for d in item.field_data],
            )
            for item in body.leads
        ]
        for lead in leads:
            sandbox.leads[lead.id] = lead
    record = await deliver(sandbox, leads, body.webhook_url or sandbox.config.lead_webhook_url)
    return JSONResponse(
        {
            "leadgen_ids": [lead.id for lead in leads],
            "entries": len({lead.page_id for lead in leads}),
            "delivered": _ok(record),
            "delivery_status": record["status_code"],
            "delivery_error": record["error"],
            "webhook_url": record["url"],
        }
    )


@control.post("/leads/{lead_id}/redeliver")
async def redeliver(request: Request, lead_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    lead = sandbox.leads.get(lead_id)
    if lead is None:
        return JSONResponse({"detail": f"no lead {lead_id}"}, status_code=404)
    body = await request.body()
    url = json.loads(body).get("webhook_url") if body else None
    record = await deliver(sandbox, lead, url or sandbox.config.lead_webhook_url, retry=False)
    return JSONResponse({"leadgen_id": lead.id, "delivery_status": record["status_code"], **record})


@control.get("/leads")
async def list_leads_control(request: Request) -> JSONResponse:
    sandbox = sandbox_of(request)
    with sandbox.lock:
        leads = [lead_json(lead) for lead in sandbox.leads.values()]
    return JSONResponse({"leads": leads})


def read_lead(
    lead: Lead, params: dict[str, Any], account: SyntheticAccount | None = None
) -> dict[str, Any]:
    fields = fields_param(params, DEFAULT_FIELDS)
    for name in fields:
        if name not in READ_FIELDS:
            raise nonexisting_field(name, "UserLeadGenInfo")
    # The ad's place in the account (campaign, ad set), when the ad is one of the account's.
    found = account.find(lead.ad_id) if account is not None and lead.ad_id else None
    ad = found[1][0] if found is not None and found[0] == "ad" else None
    full: dict[str, Any] = {
        "ad_name": ad.ad_name if ad else None,
        "adset_id": ad.adset_id if ad else None,
        "adset_name": ad.adset_name if ad else None,
        "campaign_id": ad.campaign_id if ad else None,
        "campaign_name": ad.campaign_name if ad else None,
        "id": lead.id,
        "created_time": iso_time(lead.created_at),
        "ad_id": lead.ad_id,
        "adgroup_id": lead.ad_id,
        "form_id": lead.form_id,
        "field_data": lead.field_data,
        "is_organic": lead.ad_id is None,
        "platform": "fb",
        "custom_disclaimer_responses": [],
    }
    return {name: full[name] for name in ["id", *fields] if full[name] is not None}


def _time_filter(params: dict[str, Any]) -> list[tuple[str, int]]:
    raw = json_param(params, "filtering")
    if raw is None or raw == "":
        return []
    if not isinstance(raw, list):
        raise invalid_param("filtering must be a list of {field, operator, value}")
    out: list[tuple[str, int]] = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or item.get("field") != "time_created"
            or item.get("operator") not in {"GREATER_THAN", "LESS_THAN"}
        ):
            raise invalid_param(
                "the sandbox supports filtering on time_created with GREATER_THAN or LESS_THAN"
            )
        try:
            out.append((str(item["operator"]), int(item["value"])))
        except (KeyError, TypeError, ValueError):
            raise invalid_param("filtering value must be a Unix timestamp") from None
    return out


@router.get("/{version}/{node_id}/leads")
async def list_leads(request: Request, version: str, node_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="leadgen", usage_key=node_id)
    if not node_id.isdigit():
        raise unknown_object(node_id, "GET")
    filters = _time_filter(params)
    with sandbox.lock:
        # Any numeric id is a form or ad; one without leads answers an empty list.
        leads = [
            lead
            for lead in sandbox.leads.values()
            if node_id in (lead.form_id, lead.ad_id)
            and all(
                lead.created_at > value if op == "GREATER_THAN" else lead.created_at < value
                for op, value in filters
            )
        ]
    leads.sort(key=lambda lead: (lead.created_at, int(lead.id)), reverse=True)  # newest first
    from meta_sandbox.insights import account_of

    account = account_of(sandbox)
    rows = [read_lead(lead, params, account) for lead in leads]
    return JSONResponse(paginate(request, sandbox, rows, params, inject_empty=False))
