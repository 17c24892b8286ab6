"""The rows of `GET /{version}/{object_id}/insights` over the synthetic account (the route
is in insights_async.py, which also answers it for report runs) (docs/meta-rules.md §4).

`level`, `fields`, `time_range` (inclusive) or `date_preset`, `time_increment` (1-90 days,
`monthly`, `all_days`), `limit` with cursor paging. Numbers are strings, `actions` a list of
`{action_type, value}`. Dates are in the ad account's time zone, which is UTC here. The sandbox
serves one empty page that still has `next` (as Meta can), so clients must page until `next` is
absent. Too-large calls answer 100/1487534; start dates beyond 37 months answer code 100.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from meta_sandbox.errors import GraphError, invalid_param, unknown_object
from meta_sandbox.graph import account_key
from meta_sandbox.params import fields_param, json_param, str_param
from meta_sandbox.state import Sandbox
from meta_sandbox.synthetic import VALUE_ACTIONS, Ad, DayRow, SyntheticAccount, Totals

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
UNSUPPORTED = ("time_ranges", "filtering", "summary_action_breakdowns")
# Breakdowns the sandbox answers, each value with a fixed share of the row's delivery.
BREAKDOWNS: dict[str, tuple[tuple[str, float], ...]] = {
    "age": (("18-24", 0.18), ("25-34", 0.32), ("35-44", 0.24), ("45-54", 0.14), ("55-64", 0.08),
            ("65+", 0.04)),
    "gender": (("female", 0.52), ("male", 0.45), ("unknown", 0.03)),
    "country": (("US", 0.62), ("GB", 0.14), ("CA", 0.12), ("DE", 0.12)),
    "publisher_platform": (("facebook", 0.58), ("instagram", 0.34), ("audience_network", 0.05),
                           ("messenger", 0.03)),
}  # fmt: skip
# Meta omits reach for breakdown queries starting more than 13 months back (since 2025-06-10).
REACH_BREAKDOWN_MONTHS = 13
LOOKBACK_MONTHS = 37
SUBCODE_TOO_MUCH_DATA = 1487534
ACCOUNT_NAME = "GDP Sandbox Ad Account"


def account_of(sandbox: Sandbox) -> SyntheticAccount:
    with sandbox.lock:
        account = sandbox.synthetic
        if account is None:
            config = sandbox.config
            account = SyntheticAccount(
                config.seed, config.insights_history_days, config.insights_shape
            )
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
        purchases = totals.values_cents.get("omni_purchase", 0)
        if spend:
            computed["purchase_roas"] = [
                {
                    "action_type": "omni_purchase",
                    "value": f"{purchases / totals.spend_cents:.6f}",
                }
            ]
    computed.update(labels)
    return {name: computed[name] for name in fields if name in computed}


def breakdowns_param(params: dict[str, Any]) -> list[str]:
    given = params.get("breakdowns")
    text = json.dumps(given) if isinstance(given, list) else str_param(params, "breakdowns")
    if not text:
        return []
    # A JSON list (what the SDK sends) or a comma-separated list.
    raw: Any = json_param(params, "breakdowns") if text.lstrip().startswith("[") else text
    names = raw if isinstance(raw, list) else [n.strip() for n in str(raw).split(",") if n.strip()]
    for name in names:
        if name not in BREAKDOWNS:
            raise invalid_param(
                f"breakdowns: {name!r} is not supported by the sandbox "
                f"(supported: {', '.join(BREAKDOWNS)})"
            )
    if len(set(names)) != len(names):
        raise invalid_param("breakdowns must not repeat a breakdown")
    return [str(n) for n in names]


def _share(totals: Totals, share: float) -> Totals:
    part = Totals(
        impressions=round(totals.impressions * share),
        reach=round(totals.reach * share),
        clicks=round(totals.clicks * share),
        spend_cents=round(totals.spend_cents * share),
        days=set(totals.days),
    )
    part.actions = {k: round(v * share) for k, v in totals.actions.items()}
    part.values_cents = {k: round(v * share) for k, v in totals.values_cents.items()}
    return part


def _combinations(breakdowns: list[str]) -> list[tuple[dict[str, str], float]]:
    combos: list[tuple[dict[str, str], float]] = [({}, 1.0)]
    for name in breakdowns:
        combos = [
            ({**labels, name: value}, share * part)
            for labels, share in combos
            for value, part in BREAKDOWNS[name]
        ]
    return combos


def _day(account: SyntheticAccount, ad: Ad, ordinal: int, now_s: float) -> DayRow | None:
    data = account.day_at(ad, ordinal)
    return account.matured(data, ordinal, now_s) if data is not None else None


def build_rows(
    sandbox: Sandbox, ads: list[Ad], level: str, fields: list[str],
    since: dt.date, until: dt.date, increment: str, today: dt.date,
    breakdowns: list[str] | None = None, *, locked: bool = True, size_only: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    """The rows of one insights query. `locked=False` for a report run computed in a thread
    (the day memo's dict writes are atomic; holding the sandbox's lock would stall every other
    call for the whole computation)."""
    account = account_of(sandbox)
    now_s = sandbox.now()
    breakdowns = breakdowns or []
    combos = _combinations(breakdowns)
    keep_reach = not breakdowns or since >= months_back(today, REACH_BREAKDOWN_MONTHS)
    buckets = _buckets(since, until, increment)
    key_attr = {"account": None, "campaign": "campaign_id", "adset": "adset_id", "ad": "ad_id"}[
        level
    ]
    entities = len({getattr(ad, key_attr) for ad in ads}) if key_attr else 1
    limit = sandbox.config.insights_max_cells or 400 * account.entity_count("ad")
    spans = sum((b - a).days + 1 if increment == "1" else 1 for a, b in buckets)
    cells = entities * len(combos) * spans
    if cells > limit:
        raise GraphError(
            "(#100) Please reduce the amount of data you're asking for, then retry your request",
            code=100,
            subcode=SUBCODE_TOO_MUCH_DATA,
            user_title="Too much data requested",
            user_msg="Narrow the date range, the level or the fields (data-per-call limit).",
        )
    if size_only:
        return []
    rows: list[dict[str, Any]] = []
    first, last = account.first_day(today).toordinal(), today.toordinal()
    with sandbox.lock if locked else contextlib.nullcontext():
        for start, stop in buckets:
            groups: dict[str, tuple[Ad, Totals]] = {}
            days = range(max(start.toordinal(), first), min(stop.toordinal(), last) + 1)
            for ad in ads:
                key = getattr(ad, key_attr) if key_attr else "account"
                totals: Totals | None = None
                for ordinal in days:
                    data = _day(account, ad, ordinal, now_s)
                    if data is not None and data.impressions > 0:
                        if totals is None:
                            totals = groups.setdefault(key, (ad, Totals()))[1]
                        totals.add(ordinal, data)
            for key in sorted(groups):
                ad, totals = groups[key]
                for labels, share in combos:
                    part = _share(totals, share) if breakdowns else totals
                    if part.impressions <= 0:
                        continue
                    row = _format(part, _level_values(level, ad, sandbox), fields)
                    if not keep_reach:
                        row.pop("reach", None)
                        row.pop("frequency", None)
                    row.update(labels)
                    row["date_start"] = start.isoformat()
                    row["date_stop"] = stop.isoformat()
                    rows.append(row)
    return rows


@dataclass(frozen=True, slots=True)
class InsightsQuery:
    ads: list[Ad]
    level: str
    fields: list[str]
    since: dt.date
    until: dt.date
    increment: str
    today: dt.date
    breakdowns: list[str]


def parse_query(sandbox: Sandbox, object_id: str, params: dict[str, Any]) -> InsightsQuery:
    """The parameters of an insights call (GET, or POST for a report run), checked as Meta does."""
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
    return InsightsQuery(
        ads, level, fields, since, until, _increment(params), today, breakdowns_param(params)
    )


def rows_of(
    sandbox: Sandbox, q: InsightsQuery, *, locked: bool = True, size_only: bool = False
) -> list[dict[str, Any]]:
    """The query's rows; with size_only, only Meta's data-per-call check (100/1487534)."""
    return build_rows(
        sandbox, q.ads, q.level, q.fields, q.since, q.until, q.increment, q.today, q.breakdowns,
        locked=locked, size_only=size_only,
    )


def throttle_header(sandbox: Sandbox) -> dict[str, str]:
    with sandbox.lock:
        usage = sandbox.usage.usage(account_key(sandbox), "ads_insights", sandbox.now())
    throttle = {
        "app_id_util_pct": 0,
        "acc_id_util_pct": usage.call_count,
        "ads_api_access_tier": "standard_access",
    }
    return {"X-FB-Ads-Insights-Throttle": json.dumps(throttle)}
