"""A deterministic synthetic ad account for Ads Insights.

Eight products, three campaigns each ("snapmix | Prospecting | Signup", ...), two ad sets per
campaign and two ads per ad set. Every (ad, day) row is a pure function of (seed, ad id, date):
the same request gives the same numbers, in this process or the next. Money is kept in cents.
Rows exist for the last `history_days` days up to today, except on weeks a campaign or ad was
paused (Meta omits rows without delivery).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from dataclasses import dataclass, field

PRODUCTS = (
    "waitlistlab", "snapmix", "softwarehub", "velvethold",
    "steadyletters", "blogcanvas", "vellopad", "gapradar",
)  # fmt: skip
# (stage, goal, objective)
CAMPAIGNS = (
    ("Prospecting", "Signup", "OUTCOME_LEADS"),
    ("Retargeting", "Purchase", "OUTCOME_SALES"),
    ("Lead Gen", "Lead", "OUTCOME_LEADS"),
)
AD_SETS = ("Broad 25-54", "Lookalike 1%")
ADS = ("Video A", "Static B")
ID_BASE = 120_210_000_000_000_000
GOAL_ACTIONS = {
    "Signup": ("complete_registration", "offsite_conversion.fb_pixel_complete_registration"),
    "Purchase": ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase"),
    "Lead": ("lead", "onsite_conversion.lead_grouped"),
}
VALUE_ACTIONS = frozenset(GOAL_ACTIONS["Purchase"])
WEEKDAY = (1.0, 1.06, 1.05, 1.0, 0.94, 0.84, 0.8)
DELIVERY_ACTIONS = frozenset(
    {"link_click", "landing_page_view", "post_engagement", "page_engagement"}
)
# Hours after a day starts (UTC, the account's time zone) until its figures stop changing.
MATURE_AFTER_H = 72
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class Ad:
    index: int
    product: str
    goal: str
    objective: str
    campaign_id: str
    campaign_name: str
    adset_id: str
    adset_name: str
    ad_id: str
    ad_name: str
    scale: float  # relative delivery volume
    ctr: float  # base click-through rate
    cpm_cents: float  # base cost per mille
    cvr: float  # conversions per landing-page view
    order_cents: int  # average purchase value
    phase: float  # seasonality phase


@dataclass(slots=True)
class DayRow:
    impressions: int
    reach: int
    clicks: int
    spend_cents: int
    actions: dict[str, int]
    values_cents: dict[str, int]


@dataclass(slots=True)
class Totals:
    impressions: int = 0
    reach: int = 0
    clicks: int = 0
    spend_cents: int = 0
    days: set[int] = field(default_factory=set)
    actions: dict[str, int] = field(default_factory=dict)
    values_cents: dict[str, int] = field(default_factory=dict)

    def add(self, ordinal: int, row: DayRow) -> None:
        self.impressions += row.impressions
        self.reach += row.reach
        self.clicks += row.clicks
        self.spend_cents += row.spend_cents
        self.days.add(ordinal)
        actions = self.actions
        for name, count in row.actions.items():
            actions[name] = actions.get(name, 0) + count
        if row.values_cents:
            values = self.values_cents
            for name, cents in row.values_cents.items():
                values[name] = values.get(name, 0) + cents

    @property
    def unique_reach(self) -> int:
        """Reach does not add up over days; a fixed overlap model keeps it deterministic."""
        if len(self.days) <= 1:
            return self.reach
        return min(self.impressions, round(self.reach / (1 + 0.35 * math.log(len(self.days)))))


_WORDS = struct.Struct(">8I")
_SCALE = 1 / 2**32
# Day rows are a pure function of (seed, ad, day), so one memo serves every app in the process
# (tests build many apps; the demo one). Bounded by seeds x 96 ads x history days.
_DAY_MEMO: dict[tuple[int, int, int, int], DayRow | None] = {}
_PAUSE_MEMO: dict[tuple[int, str, int], bool] = {}


def _uniforms(*parts: object) -> tuple[float, ...]:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).digest()
    return tuple(word * _SCALE for word in _WORDS.unpack(digest))


def _paused(seed: int, entity_id: str, week: int, share: float) -> bool:
    key = (seed, entity_id, week)
    paused = _PAUSE_MEMO.get(key)
    if paused is None:
        paused = _PAUSE_MEMO[key] = _uniforms(seed, "pause", entity_id, week)[0] < share
    return paused


@dataclass(frozen=True, slots=True)
class Shape:
    """How large the account is. The default is the eight products x 3 campaigns x 2 ad sets x
    2 ads the tests know by name; benchmarks ask for hundreds of campaigns."""

    campaigns_per_product: int = 3
    adsets_per_campaign: int = 2
    ads_per_adset: int = 2

    def __post_init__(self) -> None:
        if not (1 <= self.campaigns_per_product <= 999 and 1 <= self.adsets_per_campaign <= 98
                and 1 <= self.ads_per_adset <= 98):
            raise ValueError("campaigns 1-999 per product, ad sets 1-98, ads 1-98")


def _variant(names: tuple[str, ...], index: int) -> str:
    base = names[index % len(names)]
    return base if index < len(names) else f"{base} {index // len(names) + 1}"


class SyntheticAccount:
    def __init__(self, seed: int, history_days: int, shape: Shape | None = None) -> None:
        self.seed = seed
        self.history_days = history_days
        self.shape = shape = shape or Shape()
        self._shape_key = hash(shape)
        self.ads: list[Ad] = []
        self._by_id: dict[str, tuple[str, list[Ad]]] = {}
        # Ids of the default shape are stable (tests name them); larger shapes space them wider.
        stride = 10 if shape.campaigns_per_product <= 10 else 1000
        for p, product in enumerate(PRODUCTS):
            for c in range(shape.campaigns_per_product):
                stage, goal, objective = CAMPAIGNS[c % len(CAMPAIGNS)]
                label = stage if c < len(CAMPAIGNS) else f"{stage} {c // len(CAMPAIGNS) + 1}"
                campaign_id = str(ID_BASE + (p * stride + c) * 10_000)
                for s in range(shape.adsets_per_campaign):
                    adset = _variant(AD_SETS, s)
                    adset_id = str(int(campaign_id) + (s + 1) * 100)
                    for a in range(shape.ads_per_adset):
                        ad = _variant(ADS, a)
                        u = _uniforms(seed, "ad", p, c, s, a)
                        self.ads.append(
                            Ad(
                                index=len(self.ads),
                                product=product,
                                goal=goal,
                                objective=objective,
                                campaign_id=campaign_id,
                                campaign_name=f"{product} | {label} | {goal}",
                                adset_id=adset_id,
                                adset_name=f"{product} | {label} | {adset}",
                                ad_id=str(int(adset_id) + a + 1),
                                ad_name=f"{product} | {adset} | {ad}",
                                scale=(0.4 if stage == "Retargeting" else 1.0) * (0.5 + u[0]),
                                ctr=0.006 + 0.018 * u[1],
                                cpm_cents=600 + 1800 * u[2],
                                cvr={"Signup": 0.12, "Purchase": 0.03, "Lead": 0.09}[goal]
                                * (0.6 + 0.8 * u[3]),
                                order_cents=int(1900 + 18000 * u[4]),
                                phase=2 * math.pi * u[5],
                            )
                        )

    def first_day(self, today: dt.date) -> dt.date:
        return today - dt.timedelta(days=self.history_days - 1)

    def entity_count(self, level: str) -> int:
        if level == "account":
            return 1
        attr = {"campaign": "campaign_id", "adset": "adset_id", "ad": "ad_id"}[level]
        return len({getattr(ad, attr) for ad in self.ads})

    def find(self, node_id: str) -> tuple[str, list[Ad]] | None:
        """The level and ads of a campaign, ad set or ad id."""
        if not self._by_id:
            levels = (("ad", "ad_id"), ("adset", "adset_id"), ("campaign", "campaign_id"))
            for level, attr in levels:
                for ad in self.ads:
                    self._by_id.setdefault(getattr(ad, attr), (level, []))[1].append(ad)
        return self._by_id.get(node_id)

    def matured(self, row: DayRow, ordinal: int, now_s: float) -> DayRow:
        """A day's row as Meta would report it `now_s`: today's delivery is still accruing, and
        conversions keep being attributed for about three days (clicks convert late), so the
        figures of recent days change between pulls, as Meta's do. Older days are final."""
        age_h = (now_s - (ordinal - _EPOCH_ORDINAL) * 86_400) / 3600
        if age_h >= MATURE_AFTER_H:
            return row
        delivered = min(1.0, max(age_h, 0.0) / 24)
        attributed = delivered * min(1.0, 0.55 + 0.45 * max(age_h, 0.0) / MATURE_AFTER_H)

        def part(value: int, share: float) -> int:
            return int(value * share)

        return DayRow(
            impressions=part(row.impressions, delivered),
            reach=max(part(row.reach, delivered), 0),
            clicks=part(row.clicks, delivered),
            spend_cents=part(row.spend_cents, delivered),
            actions={
                k: n
                for k, v in row.actions.items()
                if (n := part(v, attributed if k not in DELIVERY_ACTIONS else delivered)) > 0
            },
            values_cents={
                k: n for k, v in row.values_cents.items() if (n := part(v, attributed)) > 0
            },
        )

    def day(self, ad: Ad, day: dt.date, today: dt.date) -> DayRow | None:
        if day > today or day < self.first_day(today):
            return None
        return self.day_at(ad, day.toordinal())

    def day_at(self, ad: Ad, ordinal: int) -> DayRow | None:
        """The row of a day given as an ordinal, without the history window check."""
        key = (self.seed, self._shape_key, ad.index, ordinal)
        try:
            return _DAY_MEMO[key]
        except KeyError:
            row = _DAY_MEMO[key] = self._generate(ad, ordinal)
            return row

    def _generate(self, ad: Ad, ordinal: int) -> DayRow | None:
        week = ordinal // 7
        if _paused(self.seed, ad.campaign_id, week, 0.06):
            return None  # campaign paused this week
        if ad.ad_name.endswith("Static B") and _paused(self.seed, ad.ad_id, week, 0.1):
            return None
        u = _uniforms(self.seed, ad.ad_id, ordinal)
        season = 1 + 0.25 * math.sin(2 * math.pi * ordinal / 365.25 + ad.phase)
        weekday = WEEKDAY[(ordinal + 6) % 7]  # ordinal 1 (0001-01-01) was a Monday
        impressions = int(ad.scale * 4200 * season * weekday * (0.7 + 0.6 * u[0]))
        if impressions <= 0:
            return None
        clicks = int(impressions * ad.ctr * (0.8 + 0.4 * u[1]) + u[2])
        spend_cents = round(impressions * ad.cpm_cents * (0.85 + 0.3 * u[3]) / 1000)
        reach = max(1, int(impressions * (0.55 + 0.3 * u[4])))
        link_clicks = int(clicks * (0.85 + 0.1 * u[5]))
        landing = int(link_clicks * (0.6 + 0.25 * u[6]))
        conversions = int(landing * ad.cvr * (0.7 + 0.6 * u[7]) + u[2] * 0.9)
        actions = {
            "link_click": link_clicks,
            "landing_page_view": landing,
            "post_engagement": clicks + impressions // 150,
            "page_engagement": clicks + impressions // 140,
        }
        values: dict[str, int] = {}
        if conversions:
            for name in GOAL_ACTIONS[ad.goal]:
                actions[name] = conversions
            if ad.goal == "Purchase":
                cents = round(conversions * ad.order_cents * (0.8 + 0.4 * u[5]))
                values = dict.fromkeys(GOAL_ACTIONS["Purchase"], cents)
        actions = {k: v for k, v in actions.items() if v > 0}
        return DayRow(impressions, reach, clicks, spend_cents, actions, values)
