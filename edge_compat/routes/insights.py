"""GAP-004: the PRD's insights endpoints, for dashboard users.

    GET /api/meta/insights?date_from=-7d&date_to=today&breakdown=campaign
    GET /api/meta/insights/{projectId}
    GET /api/meta/lead-forms

Authenticated with a dashboard key (`Authorization: Bearer gdp_dk_...`, `gdp dashboard keys
create`), read as gdp_dashboard from the views only, cached for META_INSIGHTS_CACHE_TTL_SEC and
refreshed when a pull lands. `{"disabled": true}` while ACD_META_INSIGHTS_ENABLED is off.

Dates: `today`, `yesterday`, `-Nd` (N days before today) or `YYYY-MM-DD`, in the ad account's
time zone (UTC for the sandbox); both ends included. Conversions, cost per conversion and ROAS
come from Meta's actions and action values (one per conversion family: omni_purchase, purchase
and the pixel purchase are one purchase); the `gdp*` fields are the same from the conversions GDP
itself delivered through the Conversions API.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from edge_compat.errors import FieldError, json_response
from edge_compat.insights_state import AnswerCache, as_number, insights_state
from edge_compat.models import ErrorResponse

router = APIRouter(tags=["Ad performance (GAP-004)"])

MAX_RANGE_DAYS = 1125  # Meta keeps insights for 37 months
_RELATIVE = re.compile(r"-(\d{1,4})d")
_PROJECT = re.compile(r"[a-z][a-z0-9_]{1,39}")


class Summary(BaseModel):
    spend: float
    impressions: int
    clicks: int
    ctr: float | None = Field(description="Clicks per 100 impressions.")
    cpc: float | None
    conversions: float = Field(description="Meta's conversions (one per conversion family).")
    costPerConversion: float | None
    conversionValue: float
    roas: float | None = Field(description="Meta's action values / spend.")
    gdpConversions: int = Field(description="Conversions GDP delivered through the CAPI.")
    gdpCostPerConversion: float | None
    gdpConversionValue: float
    gdpRoas: float | None


class ProjectRow(BaseModel):
    project: str
    spend: float
    conversions: float
    costPerConversion: float | None
    roas: float | None
    gdpConversions: int
    gdpCostPerConversion: float | None
    gdpRoas: float | None


class DailyRow(BaseModel):
    date: dt.date
    spend: float
    impressions: int
    clicks: int
    conversions: float
    costPerConversion: float | None
    roas: float | None
    gdpConversions: int
    gdpRoas: float | None


class InsightsData(BaseModel):
    summary: Summary
    byProject: list[ProjectRow]
    daily: list[DailyRow]
    range: dict[str, dt.date]
    breakdown: list[dict[str, Any]] | None = None
    freshness: dict[str, Any]


class InsightsAnswer(BaseModel):
    success: Literal[True]
    data: InsightsData


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": 'The numbers; {"disabled": true} while ACD_META_INSIGHTS_ENABLED is off'},
    401: {"model": ErrorResponse, "description": "No or an unknown dashboard key."},
    404: {"model": ErrorResponse, "description": "No such project."},
    422: {"model": ErrorResponse, "description": "A parameter breaks a rule (named)."},
}


def parse_day(value: str, field: str, today: dt.date) -> dt.date:
    text = value.strip().lower()
    if text == "today":
        return today
    if text == "yesterday":
        return today - dt.timedelta(days=1)
    relative = _RELATIVE.fullmatch(text)
    if relative:
        days = int(relative.group(1))
        if days > MAX_RANGE_DAYS:
            raise FieldError(field, f"must be at most -{MAX_RANGE_DAYS}d (Meta keeps 37 months)")
        return today - dt.timedelta(days=days)
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else _invalid(field)
    except ValueError:
        return _invalid(field)


def _invalid(field: str) -> dt.date:
    raise FieldError(field, "must be today, yesterday, -Nd (e.g. -7d) or a date as YYYY-MM-DD")


def date_range(date_from: str, date_to: str) -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(dt.UTC).date()
    start = parse_day(date_from, "date_from", today)
    end = parse_day(date_to, "date_to", today)
    if start > end:
        raise FieldError("date_from", "must be on or before date_to")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise FieldError("date_from", f"the range must be at most {MAX_RANGE_DAYS} days")
    return start, end


def _money(row: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: as_number(row.get(name)) for name in names}


async def cached(
    request: Request, key: str, build: Callable[[], Awaitable[dict[str, Any]]]
) -> Response:
    """Serve from the cache while the newest pull and the TTL allow; else build and keep."""
    state = insights_state(request)
    await state.authenticate(request)
    cache_state = await state.cache_state()
    if not cache_state.enabled:
        return json_response({"disabled": True})
    cache: AnswerCache = state.cache
    body = cache.get(key, cache_state)
    status = "hit"
    if body is None:
        status = "miss"
        body = orjson.dumps(await build())
        cache.put(key, cache_state, body)
    headers = {
        "X-Cache": status,
        "Cache-Control": f"private, max-age={max(cache_state.ttl_s, 0)}",
    }
    return Response(body, media_type="application/json", headers=headers)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "spend": as_number(row["spend"]) or 0,
        "impressions": int(row["impressions"] or 0),
        "clicks": int(row["clicks"] or 0),
        "ctr": as_number(row["ctr"]),
        "cpc": as_number(row["cpc"]),
        "conversions": as_number(row["conversions"]) or 0,
        "costPerConversion": as_number(row["cost_per_conversion"]),
        "conversionValue": as_number(row["conversion_value"]) or 0,
        "roas": as_number(row["roas"]),
        "gdpConversions": int(row["gdp_conversions"] or 0),
        "gdpCostPerConversion": as_number(row["gdp_cost_per_conversion"]),
        "gdpConversionValue": as_number(row["gdp_conversion_value"]) or 0,
        "gdpRoas": as_number(row["gdp_roas"]),
    }


def _daily(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "date": r["date"].isoformat(),
            "spend": as_number(r["spend"]) or 0,
            "impressions": int(r["impressions"] or 0),
            "clicks": int(r["clicks"] or 0),
            "conversions": as_number(r["conversions"]) or 0,
            "costPerConversion": as_number(r.get("cost_per_conversion")),
            "roas": as_number(r.get("roas")),
            "gdpConversions": int(r["gdp_conversions"] or 0),
            "gdpRoas": as_number(r.get("gdp_roas")),
        }
        for r in rows
    ]


async def _freshness(request: Request) -> dict[str, Any]:
    rows = await insights_state(request).db.fetch("insights_freshness")
    row = rows[0] if rows else {}
    last = row.get("last_pull_at")
    return {
        "lastPullAt": last.isoformat() if last else None,
        "minutes": as_number(row.get("minutes")),
        "withinTarget": bool(row.get("met")),
    }


@router.get(
    "/api/meta/insights",
    summary="Ad performance across projects: summary, per project, per day",
    response_model=InsightsAnswer,
    responses=_RESPONSES,
)
async def get_insights(
    request: Request,
    date_from: str = Query("-7d", max_length=20, description="today, yesterday, -Nd or YYYY-MM-DD"),
    date_to: str = Query("today", max_length=20, description="today, yesterday, -Nd or YYYY-MM-DD"),
    breakdown: Literal["project", "campaign", "adset"] = Query(
        "project", description="Also list campaigns (or ad sets) when campaign or adset."
    ),
) -> Response:
    start, end = date_range(date_from, date_to)
    db = insights_state(request).db
    params = {"date_from": start, "date_to": end}

    async def build() -> dict[str, Any]:
        rows = await db.fetch("insights_range", params)
        [summary] = [r for r in rows if r["level"] == "summary"]
        projects = [r for r in rows if r["level"] == "project"]
        daily = sorted((r for r in rows if r["level"] == "day"), key=lambda r: r["date"])
        data: dict[str, Any] = {
            "summary": _summary(summary),
            "byProject": [
                {
                    "project": p["project"],
                    "spend": as_number(p["spend"]) or 0,
                    "conversions": as_number(p["conversions"]) or 0,
                    "costPerConversion": as_number(p["cost_per_conversion"]),
                    "roas": as_number(p["roas"]),
                    "gdpConversions": int(p["gdp_conversions"] or 0),
                    "gdpCostPerConversion": as_number(p["gdp_cost_per_conversion"]),
                    "gdpRoas": as_number(p["gdp_roas"]),
                }
                for p in projects
            ],
            "daily": _daily(daily),
            "range": {"dateFrom": start.isoformat(), "dateTo": end.isoformat()},
            "freshness": await _freshness(request),
        }
        if breakdown != "project":
            rows = await db.fetch("insights_breakdown_range", {**params, "breakdown": breakdown})
            data["breakdown"] = [
                {
                    "project": r["project"],
                    "campaignId": r["campaign_id"],
                    "campaignName": r["campaign_name"],
                    **({"adsetId": r["adset_id"], "adsetName": r["adset_name"]}
                       if breakdown == "adset" else {}),
                    **_money(r, "spend", "conversions", "roas"),
                    "impressions": int(r["impressions"] or 0),
                    "clicks": int(r["clicks"] or 0),
                    "costPerConversion": as_number(r["cost_per_conversion"]),
                }
                for r in rows
            ]  # fmt: skip
        return {"success": True, "data": data}

    return await cached(request, f"insights:{start}:{end}:{breakdown}", build)


@router.get(
    "/api/meta/insights/{projectId}",
    summary="One project's ad performance with ad-level detail",
    responses=_RESPONSES,
)
async def get_project_insights(
    request: Request,
    projectId: str = Path(..., max_length=40, description="A product id, or unassigned"),
    date_from: str = Query("-7d", max_length=20),
    date_to: str = Query("today", max_length=20),
) -> Response:
    if not _PROJECT.fullmatch(projectId):
        raise FieldError("projectId", "must be a product id (lowercase letters, digits, _)")
    start, end = date_range(date_from, date_to)
    db = insights_state(request).db
    params = {"project": projectId, "date_from": start, "date_to": end}

    async def build() -> dict[str, Any]:
        ads = await db.fetch("insights_project_ads_range", params)
        daily = await db.fetch("insights_project_daily_range", params)
        if not ads and not daily:
            projects = await db.fetch("known_projects")
            if projectId not in {p["project"] for p in projects}:
                raise FieldError("projectId", f"no project {projectId}", status=404)
        spend = sum((a["spend"] for a in ads), start=0)
        conversions = sum((a["conversions"] for a in ads), start=0)
        value = sum((a["conversion_value"] for a in ads), start=0)
        return {
            "success": True,
            "data": {
                "project": projectId,
                "range": {"dateFrom": start.isoformat(), "dateTo": end.isoformat()},
                "summary": {
                    "spend": as_number(spend) or 0,
                    "conversions": as_number(conversions) or 0,
                    "costPerConversion": round(float(spend) / float(conversions), 2)
                    if conversions else None,
                    "roas": round(float(value) / float(spend), 2) if spend else None,
                    "gdpConversions": sum(int(d["gdp_conversions"] or 0) for d in daily),
                },
                "daily": _daily(daily),
                "ads": [
                    {
                        "campaignId": a["campaign_id"], "campaignName": a["campaign_name"],
                        "adsetId": a["adset_id"], "adsetName": a["adset_name"],
                        "adId": a["ad_id"], "adName": a["ad_name"],
                        **_money(a, "spend", "ctr", "cpc", "conversions", "roas"),
                        "impressions": int(a["impressions"] or 0),
                        "clicks": int(a["clicks"] or 0),
                        "costPerConversion": as_number(a["cost_per_conversion"]),
                        "conversionValue": as_number(a["conversion_value"]),
                        "restatements": int(a["restatements"] or 0),
                    }
                    for a in ads
                ],
            },
        }  # fmt: skip

    return await cached(request, f"project:{projectId}:{start}:{end}", build)


@router.get(
    "/api/meta/lead-forms",
    summary="Lead Ads submissions across products (ids and outcomes, no answers)",
    responses=_RESPONSES,
)
async def get_lead_forms(
    request: Request,
    project: str | None = Query(None, max_length=40),
    form_id: str | None = Query(None, max_length=30, pattern=r"^[0-9]{1,30}$"),
    since: dt.date | None = Query(None, description="Submissions received on or after this day"),
    limit: int = Query(100, ge=1, le=1000),
) -> Response:
    if project is not None and not _PROJECT.fullmatch(project):
        raise FieldError("project", "must be a product id (lowercase letters, digits, _)")
    db = insights_state(request).db
    params = {"project": project, "form_id": form_id, "since": since, "limit": limit}

    async def build() -> dict[str, Any]:
        forms = await db.fetch("lead_forms_list")
        rows = await db.fetch("lead_submissions_list", params)
        return {
            "success": True,
            "data": {
                "forms": [
                    {
                        "formId": f["form_id"], "leads": f["leads"], "synced": f["synced"],
                        "failed": f["failed"], "pending": f["pending"],
                        "activated": f["activated"], "customers": f["customers"],
                        "projects": f["projects"] or [],
                        "firstLeadAt": _iso(f["first_lead_at"]),
                        "lastLeadAt": _iso(f["last_lead_at"]),
                    }
                    for f in forms
                ],
                "submissions": [
                    {
                        "leadgenId": r["leadgen_id"], "formId": r["form_id"],
                        "pageId": r["page_id"], "adId": r["ad_id"], "campaignId": r["campaign_id"],
                        "campaignName": r["campaign_name"], "project": r["project"],
                        "isOrganic": r["is_organic"], "createdTime": _iso(r["created_time"]),
                        "receivedAt": _iso(r["received_at"]), "deliveries": r["deliveries"],
                        "status": r["status"], "personId": _str(r["person_id"]),
                        "lifecycleStage": r["lifecycle_stage"], "errorCode": r["error_code"],
                        "error": r["error_message"],
                    }
                    for r in rows
                ],
            },
        }  # fmt: skip

    key = orjson.dumps(params, option=orjson.OPT_SORT_KEYS, default=str).decode()
    return await cached(request, f"leads:{key}", build)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None
