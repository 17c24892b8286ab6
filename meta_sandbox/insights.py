"""`GET /{version}/{object_id}/insights` over the synthetic account (facts §4).

`level`, `fields`, `time_range` (inclusive) or `date_preset`, `time_increment` (1-90 days,
`monthly`, `all_days`), `limit` with cursor paging. Numbers are strings, `actions` a list of
`{action_type, value}`. Dates are in the ad account's time zone, which is UTC here. The sandbox
serves one empty page that still has `next` (as Meta can), so clients must page until `next` is
absent. Too-large calls answer 100/1487534; start dates beyond 37 months answer code 100.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse

from meta_sandbox.errors import GraphError, invalid_param, unknown_object
from meta_sandbox.graph import account_key, begin, sandbox_of
from meta_sandbox.paging import paginate
from meta_sandbox.params import fields_param, json_param, str_param
from meta_sandbox.state import Sandbox
from meta_sandbox.synthetic import VALUE_ACTIONS, Ad, SyntheticAccount, Totals

router = APIRouter()

LEVELS = ("account", "campaign", "adset", "ad")
LEVEL_FIELDS = {
    "account": ("account_id", "account_name", "account_currency"),
    "campaign": ("campaign_id", "campaign_name", "objective"),
    "adset": ("adset_id", "adset_name"),
    "ad": ("ad_id", "ad_name"),
}
METRIC_FIELDS = frozenset(
    {
        "spend", "impressions", "clicks", "ctr", "cpc", "cpm", "reach", "frequency",
        "actions", "action_values", "cost_per_action_type", "purchase_roas",
    }
)  # fmt: skip
ALL_FIELDS = METRIC_FIELDS | {f for fs in LEVEL_FIELDS.values() for f in fs}
DEFAULT_FIELDS = ("impressions", "spend")
IGNORED = ("action_attribution_windows", "action_report_time", "use_unified_attribution_setting",
           "use_account_attribution_setting", "sort", "locale", "default_summary")  # fmt: skip
UNSUPPORTED = ("breakdowns", "time_ranges", "filtering", "summary_action_breakdowns")
LOOKBACK_MONTHS = 37
SUBCODE_TOO_MUCH_DATA = 1487534
ACCOUNT_NAME = "GDP Sandbox Ad Account"


def account_of(sandbox: Sandbox) -> SyntheticAccount:
    with sandbox.lock:
        account = sandbox.synthetic
        if account is None:
            account = SyntheticAccount(sandbox.config.seed, sandbox.config.insights_history_days)
            sandbox.synthetic = account
        return account


def months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def preset_range(preset: str, today: dt.date, first_day: dt.date) -> tuple[dt.date, dt.date]:
    day = dt.timedelta(days=1)
    if preset == "today":
        return today, today
    if preset == "yesterday":
        return today - day, today - day
    if preset.startswith("last_") and preset.endswith("d") and preset[5:-1].isdigit():
        days = int(preset[5:-1])
        if days in {3, 7, 14, 28, 30, 90}:  # Meta's last_Nd end yesterday
            return today - days * day, today - day
    month_start = today.replace(day=1)
    quarter_start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    monday = today - dt.timedelta(days=today.weekday())
    sunday = today - dt.timedelta(days=(today.weekday() + 1) % 7)
    ranges = {
        "this_month": (month_start, today),
        "last_month": (months_back(month_start, 1), month_start - day),
        "this_quarter": (quarter_start, today),
        "last_quarter": (months_back(quarter_start, 3), quarter_start - day),
        "this_year": (today.replace(month=1, day=1), today),
        "last_year": (dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)),
        "this_week_mon_today": (monday, today),
        "this_week_sun_today": (sunday, today),
        "last_week_mon_sun": (monday - 7 * day, monday - day),
        "last_week_sun_sat": (sunday - 7 * day, sunday - day),
        # The sandbox's history is shorter than 37 months: "maximum" starts at its first day.
        "maximum": (first_day, today),
        "data_maximum": (first_day, today),
    }
    if preset not in ranges:
        raise invalid_param(f"date_preset {preset!r} is not a valid date preset")
    return ranges[preset]


def _date_range(
    params: dict[str, Any], today: dt.date, first_day: dt.date
) -> tuple[dt.date, dt.date]:
    raw = json_param(params, "time_range")
    if raw is not None and raw != "":
        if not isinstance(raw, dict) or not {"since", "until"} <= set(raw):
            raise invalid_param('time_range must be {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}')
        try:
            since = dt.date.fromisoformat(str(raw["since"]))
            until = dt.date.fromisoformat(str(raw["until"]))
        except ValueError:
            raise invalid_param(
                "time_range dates must be YYYY-MM-DD (timestamps are not supported)"
            ) from None
        if since > until:
            raise invalid_param("time_range.since must not be after time_range.until")
    else:
        since, until = preset_range(
            str_param(params, "date_preset") or "last_30d", today, first_day
        )
    if since < months_back(today, LOOKBACK_MONTHS):
        # Real Graph versions answer this with code 3018; the issue asks for code 100.
        raise invalid_param(
            f"The start date of the time range cannot be beyond {LOOKBACK_MONTHS} months from "
            f"the current date ({since.isoformat()} is too old)"
        )
    return since, until


def _buckets(since: dt.date, until: dt.date, increment: str) -> list[tuple[dt.date, dt.date]]:
    if increment == "all_days":
        return [(since, until)]
    out: list[tuple[dt.date, dt.date]] = []
    start = since
    while start <= until:
        if increment == "monthly":
            stop = start.replace(day=calendar.monthrange(start.year, start.month)[1])
        else:
            stop = start + dt.timedelta(days=int(increment) - 1)
        out.append((start, min(stop, until)))
        start = min(stop, until) + dt.timedelta(days=1)
    return out


def _increment(params: dict[str, Any]) -> str:
    raw = str_param(params, "time_increment") or "all_days"
    if raw in {"all_days", "monthly"}:
        return raw
    if raw.isdigit() and 1 <= int(raw) <= 90:
        return str(int(raw))
    raise invalid_param("time_increment must be an integer from 1 to 90, monthly or all_days")


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}".rstrip("0").rstrip(".") or "0"


def _level_values(level: str, ad: Ad, sandbox: Sandbox) -> dict[str, str]:
    values = {
        "account_id": account_key(sandbox),
        "account_name": ACCOUNT_NAME,
        "account_currency": sandbox.config.account_currency,
    }
    depth = LEVELS.index(level)
    if depth >= 1:
        values.update(
            campaign_id=ad.campaign_id, campaign_name=ad.campaign_name, objective=ad.objective
        )
    if depth >= 2:
        values.update(adset_id=ad.adset_id, adset_name=ad.adset_name)
    if depth >= 3:
        values.update(ad_id=ad.ad_id, ad_name=ad.ad_name)
    return values


def _format(totals: Totals, labels: dict[str, str], fields: list[str]) -> dict[str, Any]:
    spend = totals.spend_cents / 100
    computed: dict[str, Any] = {
        "spend": _money(totals.spend_cents),
        "impressions": str(totals.impressions),
        "clicks": str(totals.clicks),
        "reach": str(totals.unique_reach),
        "frequency": f"{totals.impressions / max(totals.unique_reach, 1):.6f}",
        "ctr": f"{100 * totals.clicks / totals.impressions:.6f}",
        "cpm": f"{1000 * spend / totals.impressions:.6f}",
    }
    if totals.clicks:
        computed["cpc"] = f"{spend / totals.clicks:.6f}"
    actions = sorted(totals.actions.items())
    if actions:
        computed["actions"] = [{"action_type": k, "value": str(v)} for k, v in actions]
        computed["cost_per_action_type"] = [
            {"action_type": k, "value": f"{spend / v:.6f}"} for k, v in actions
        ]
    values = sorted((k, v) for k, v in totals.values_cents.items() if k in VALUE_ACTIONS)
    if values:
        computed["action_values"] = [{"action_type": k, "value": _money(v)} for k, v in values]
        if spend:
            computed["purchase_roas"] = [
                {
                    "action_type": "omni_purchase",
                    "value": f"{totals.values_cents['omni_purchase'] / totals.spend_cents:.6f}",
                }
            ]
    computed.update(labels)
    return {name: computed[name] for name in fields if name in computed}


def build_rows(
    sandbox: Sandbox, ads: list[Ad], level: str, fields: list[str],
    since: dt.date, until: dt.date, increment: str, today: dt.date,
) -> list[dict[str, Any]]:  # fmt: skip
    account = account_of(sandbox)
    buckets = _buckets(since, until, increment)
    key_attr = {"account": None, "campaign": "campaign_id", "adset": "adset_id", "ad": "ad_id"}[
        level
    ]
    entities = len({getattr(ad, key_attr) for ad in ads}) if key_attr else 1
    limit = sandbox.config.insights_max_cells or 400 * account.entity_count("ad")
    if entities * sum((b - a).days + 1 if increment == "1" else 1 for a, b in buckets) > limit:
        raise GraphError(
            "(#100) Please reduce the amount of data you're asking for, then retry your request",
            code=100,
            subcode=SUBCODE_TOO_MUCH_DATA,
            user_title="Too much data requested",
            user_msg="Narrow the date range, the level or the fields (data-per-call limit).",
        )
    rows: list[dict[str, Any]] = []
    first, last = account.first_day(today).toordinal(), today.toordinal()
    with sandbox.lock:
        for start, stop in buckets:
            groups: dict[str, tuple[Ad, Totals]] = {}
            days = range(max(start.toordinal(), first), min(stop.toordinal(), last) + 1)
            for ad in ads:
                key = getattr(ad, key_attr) if key_attr else "account"
                totals: Totals | None = None
                for ordinal in days:
                    data = account.day_at(ad, ordinal)
                    if data is not None:
                        if totals is None:
                            totals = groups.setdefault(key, (ad, Totals()))[1]
                        totals.add(ordinal, data)
            for key in sorted(groups):
                ad, totals = groups[key]
                row = _format(totals, _level_values(level, ad, sandbox), fields)
                row["date_start"] = start.isoformat()
                row["date_stop"] = stop.isoformat()
                rows.append(row)
    return rows


@router.get("/{version}/{object_id}/insights")
async def get_insights(request: Request, version: str, object_id: str) -> JSONResponse:
    sandbox = sandbox_of(request)
    params = await begin(request, usage_type="ads_insights")
    account = account_of(sandbox)
    if object_id == sandbox.config.ad_account_id:
        node_level, ads = "account", account.ads
    else:
        found = account.find(object_id)
        if found is None:
            raise unknown_object(object_id, "GET")
        node_level, ads = found
    for name in UNSUPPORTED:
        if params.get(name) not in (None, "", "[]"):
            raise invalid_param(f"{name} is not supported by the sandbox")
    if params.get("action_breakdowns") not in (None, "", "action_type", '["action_type"]'):
        raise invalid_param(
            "action_breakdowns other than action_type are not supported by the sandbox"
        )
    level = str_param(params, "level") or node_level
    if level not in LEVELS:
        raise invalid_param(f"level must be one of {', '.join(LEVELS)}")
    level = LEVELS[max(LEVELS.index(level), LEVELS.index(node_level))]
    fields = fields_param(params, DEFAULT_FIELDS)
    for name in fields:
        if name not in ALL_FIELDS and name not in {"date_start", "date_stop"}:
            raise invalid_param(f"{name} is not valid for fields param")
    today = dt.datetime.fromtimestamp(sandbox.now(), dt.UTC).date()
    since, until = _date_range(params, today, account.first_day(today))
    rows = build_rows(sandbox, ads, level, fields, since, until, _increment(params), today)
    body = paginate(request, sandbox, rows, params, inject_empty=sandbox.config.insights_empty_page)
    with sandbox.lock:
        usage = sandbox.usage.usage(account_key(sandbox), "ads_insights", sandbox.now())
    throttle = {
        "app_id_util_pct": 0,
        "acc_id_util_pct": usage.call_count,
        "ads_api_access_tier": "standard_access",
    }
    return JSONResponse(body, headers={"X-FB-Ads-Insights-Throttle": json.dumps(throttle)})
