"""Insights and Lead Ads benchmarks, each against a baseline measured in the same run.

    .venv/bin/python bench/bench_insights.py [--part api|repull|webhook|all] [--days 730]
        [--campaigns-per-product 63] [--leads-per-second 100] [--seconds 20]

api      2 years x ~500 campaigns x 20 ads of daily rows (generated in SQL, in a database of its
         own, dropped afterwards); `gdp serve` as a process; GET /api/meta/insights for a 30-day
         range: p50/p95 cached, and uncached (a new range each request, so nothing is reused),
         against the naive query (the same answer summed from the ad-level rows, no rollup).
repull   a 28-day re-pull of that account (8 products x 63 campaigns x 4 ad sets x 5 ads) from
         the sandbox process by the insights worker (async report runs): rows/s and requests,
         against the naive puller: one synchronous request per day per campaign with Meta's own
         SDK (facebook-business), as simple pullers do.
webhook  leads created in the sandbox at a fixed rate, each delivered by its signed webhook to
         `gdp serve`, fetched by the lead worker process and synced to shared.person: the time
         from the delivery to the person row, p50/p95/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson
import psycopg

from bench._common import drop_database, fresh_database, machine, write_result
from workers.processes import free_port, running

TOKEN = "sandbox-token"
SECRET = "sandbox-app-secret"
ACCOUNT = "act_1000000001"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextlib.contextmanager
def serve(url: str, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    with running(
        ["workers.cli.serve_cmd", "--port", str(port)],
        env={**env, "DATABASE_URL": url, "GDP_LOG_LEVEL": "WARNING"},
        health_url=f"http://127.0.0.1:{port}/healthz",
        name="gdp serve",
        capture_stderr=False,
    ):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def sandbox(env: dict[str, str], shape: str = "3x2x2") -> Iterator[str]:
    port = free_port()
    with running(
        ["workers.cli.sandbox_cmd", "--port", str(port), "--log-level", "warning",
         "--insights-shape", shape],
        env=env, health_url=f"http://127.0.0.1:{port}/_sandbox/health", name="the sandbox",
        capture_stderr=False,
    ):  # fmt: skip
        yield f"http://127.0.0.1:{port}"


# --- api ------------------------------------------------------------------------------------------

GENERATE = """
-- ~500 campaigns (8 products x 63) x 20 ads, one row per ad per day for %(days)s days.
INSERT INTO shared.campaign_project (campaign_id, campaign_name, project_id)
SELECT (1000000 + c)::text, p.product_id || ' | Campaign ' || c, p.product_id
FROM generate_series(0, %(campaigns)s - 1) AS c
JOIN (SELECT product_id, row_number() OVER (ORDER BY product_id) - 1 AS n FROM shared.product) AS p
  ON p.n = c %% 8;

INSERT INTO shared.performance_daily (ad_id, date, account_id, campaign_id, campaign_name,
    adset_id, ad_name, spend, impressions, clicks, actions, action_values, conversions,
    conversion_value)
SELECT (1000000 + c)::text || lpad(a::text, 2, '0'), d, 'act_1000000001', (1000000 + c)::text,
       'Campaign ' || c, (1000000 + c)::text || (a / 5), 'Ad ' || a,
       round((5 + (c * 7 + a * 13 + extract(doy FROM d)::int) %% 40)::numeric, 2),
       800 + (c * 31 + a * 17 + extract(doy FROM d)::int * 7) %% 4000,
       10 + (c + a + extract(doy FROM d)::int) %% 60,
       jsonb_build_object('omni_purchase', (c + a + extract(doy FROM d)::int) %% 4,
                          'purchase', (c + a + extract(doy FROM d)::int) %% 4,
                          'lead', (c * 3 + a) %% 3),
       jsonb_build_object('omni_purchase', ((c + a) %% 4) * 30),
       (c + a + extract(doy FROM d)::int) %% 4 + (c * 3 + a) %% 3,
       ((c + a) %% 4) * 30
FROM generate_series(0, %(campaigns)s - 1) AS c
CROSS JOIN generate_series(0, 19) AS a
CROSS JOIN generate_series(current_date - (%(days)s - 1), current_date, interval '1 day') AS g(d);

INSERT INTO shared.performance_campaign_daily (date, campaign_id, spend, impressions, clicks,
    conversions, conversion_value, ads)
SELECT date, campaign_id, sum(spend), sum(impressions), sum(clicks), sum(conversions),
       sum(conversion_value), count(*)
FROM shared.performance_daily GROUP BY date, campaign_id;

INSERT INTO shared.insights_pull (account_id, date_from, date_to, mode, status, finished_at)
VALUES ('act_1000000001', current_date - 27, current_date, 'async', 'succeeded', now());
UPDATE shared.feature_flag SET enabled = true WHERE flag_key = 'ACD_META_INSIGHTS_ENABLED';
"""

NAIVE = """
SELECT sum(d.spend) AS spend, sum(d.impressions) AS impressions, sum(d.clicks) AS clicks,
       sum(d.conversions) AS conversions
FROM shared.performance_daily AS d
WHERE d.date BETWEEN %(since)s AND %(until)s;
SELECT coalesce(c.project_id, 'unassigned'), sum(d.spend), sum(d.conversions)
FROM shared.performance_daily AS d LEFT JOIN shared.campaign_project AS c USING (campaign_id)
WHERE d.date BETWEEN %(since)s AND %(until)s GROUP BY 1;
SELECT d.date, sum(d.spend), sum(d.conversions)
FROM shared.performance_daily AS d WHERE d.date BETWEEN %(since)s AND %(until)s GROUP BY 1;
"""


def bench_api(args: argparse.Namespace, env: dict[str, str]) -> str:
    name = f"gdp_bench_insights_{os.getpid()}"
    url = fresh_database(name)
    try:
        campaigns = args.campaigns_per_product * 8
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '256MB'")
            for statement in GENERATE.strip().split(";\n\n"):
                conn.execute(statement, {"days": args.days, "campaigns": campaigns})
            conn.execute("VACUUM ANALYZE shared.performance_daily")
            conn.execute("VACUUM ANALYZE shared.performance_campaign_daily")
            rows = conn.execute("SELECT count(*) FROM shared.performance_daily").fetchone()
            key = conn.execute(
                "SELECT dashboard_key FROM shared.create_dashboard_key('bench', 'bench')"
            ).fetchone()
        assert rows is not None and key is not None
        generated = time.perf_counter() - started
        print(f"  generated {rows[0]:,} rows in {generated:.0f} s", flush=True)
        headers = {"Authorization": f"Bearer {key[0]}"}
        with serve(url, env) as api, httpx.Client(base_url=api, headers=headers, timeout=60) as http:
            params = {"date_from": "-29d", "date_to": "today"}
            assert http.get("/api/meta/insights", params=params).status_code == 200
            health = []
            for _ in range(args.requests):
                t = time.perf_counter()
                http.get("/healthz")
                health.append(1000 * (time.perf_counter() - t))
            cached = []
            for _ in range(args.requests):
                t = time.perf_counter()
                answer = http.get("/api/meta/insights", params=params)
                cached.append(1000 * (time.perf_counter() - t))
                assert answer.headers["x-cache"] == "hit"
            uncached = []
            for i in range(args.requests):
                # Each request a 30-day range not asked before: computed from the views.
                t = time.perf_counter()
                answer = http.get("/api/meta/insights",
                                  params={"date_from": f"-{30 + i}d", "date_to": f"-{1 + i}d"})
                uncached.append(1000 * (time.perf_counter() - t))
                assert answer.headers["x-cache"] == "miss", answer.text
        naive = []
        with psycopg.connect(url) as conn:
            for i in range(min(args.requests, 20)):
                t = time.perf_counter()
                bounds = conn.execute(
                    "SELECT current_date - %s AS until, current_date - %s AS since", (1 + i, 30 + i)
                ).fetchone()
                assert bounds is not None
                for statement in NAIVE.strip().split(";\n"):
                    conn.execute(statement, {"since": bounds[1], "until": bounds[0]}).fetchall()
                naive.append(1000 * (time.perf_counter() - t))
        return f"""
**`GET /api/meta/insights`**, 30-day range, over {rows[0]:,} generated daily ad rows
({args.days} days x {campaigns} campaigns x 20 ads; generated in {generated:.0f} s, in a database of
its own, dropped afterwards). `gdp serve` (1 process) and the client on the same machine,
{args.requests} sequential requests each.

| | p50 | p95 | target |
|---|---:|---:|---|
| reference: `GET /healthz` (routing + one database round trip) | {pct(health, 50):.1f} ms | {pct(health, 95):.1f} ms | |
| cached (the same range again) | {pct(cached, 50):.1f} ms | {pct(cached, 95):.1f} ms | p95 < 20 ms |
| uncached (a new range each time: summary, per project, per day from the views) | {pct(uncached, 50):.1f} ms | {pct(uncached, 95):.1f} ms | p95 < 200 ms |
| baseline: the naive query (the same sums from the ad-level rows, SQL only, no HTTP) | {pct(naive, 50):.1f} ms | {pct(naive, 95):.1f} ms | |

Uncached answers read `shared.performance_campaign_daily` (kept in step by every pull), so a
30-day answer sums ~{campaigns * 30:,} rollup rows instead of {campaigns * 20 * 30:,} ad rows:
**{pct(naive, 50) / max(pct(uncached, 50), 0.001):.1f}x** faster than the naive query at p50,
HTTP included.
"""
    finally:
        drop_database(name)


# --- repull ---------------------------------------------------------------------------------------

def naive_pull(graph_url: str, campaign_ids: list[str], days: list[str]) -> tuple[int, int, float]:
    """One synchronous SDK request per day per campaign (level=ad)."""
    from facebook_business.adobjects.campaign import Campaign
    from facebook_business.api import FacebookAdsApi
    from facebook_business.session import FacebookSession

    session = FacebookSession(access_token=TOKEN)
    session.GRAPH = graph_url
    api = FacebookAdsApi(session, api_version="v25.0")
    rows = requests = 0
    started = time.perf_counter()
    for campaign in campaign_ids:
        for day in days:
            result = Campaign(campaign, api=api).get_insights(
                fields=["ad_id", "spend", "impressions", "clicks", "actions", "action_values"],
                params={"level": "ad", "time_range": {"since": day, "until": day}, "limit": 100},
            )
            rows += sum(1 for _ in result)
            requests += 1
    return rows, requests, time.perf_counter() - started


def bench_repull(args: argparse.Namespace, env: dict[str, str]) -> str:
    from workers.insights.worker import InsightsWorker
    from workers.settings import Settings

    name = f"gdp_bench_repull_{os.getpid()}"
    url = fresh_database(name)
    shape = f"{args.campaigns_per_product}x4x5"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT shared.set_setting('META_AD_ACCOUNT_ID', '\"act_1000000001\"', 'b')")
            conn.execute("UPDATE shared.feature_flag SET enabled = true "
                         "WHERE flag_key = 'ACD_META_INSIGHTS_ENABLED'")  # fmt: skip
        with sandbox(env, shape) as graph:
            settings = Settings.model_validate(
                {"DATABASE_URL": url, "META_GRAPH_URL": graph, "META_CAPI_ACCESS_TOKEN": TOKEN}
            )
            worker = InsightsWorker(settings)
            report = asyncio.run(worker.pull())
            assert report.status == "succeeded", report
            days = [(report.since.fromordinal(report.since.toordinal() + i)).isoformat()
                    for i in range((report.until - report.since).days + 1)]  # fmt: skip
            campaigns = httpx.get(f"{graph}/v25.0/{ACCOUNT}/campaigns",
                                  params={"access_token": TOKEN, "limit": 5000}).json()["data"]
            ids = [c["id"] for c in campaigns]
            subset = ids[: args.baseline_campaigns] if args.baseline_campaigns else ids
            naive_rows, naive_requests, naive_s = naive_pull(graph, subset, days)
        share = len(subset) / len(ids)
        full_naive_s = naive_s / share
        return f"""
**28-day re-pull** of the sandbox account ({len(ids)} campaigns x 20 ads; the sandbox in its own
process on the same machine, computing every row), into an empty database.

| puller | rows | requests | seconds | rows/s |
|---|---:|---:|---:|---:|
| `gdp` insights worker (async report runs, a week each, 3 in flight; pages of 1,000) | {report.rows:,} | {report.requests:,} | {report.elapsed_s:.1f} | {report.rows / report.elapsed_s:,.0f} |
| baseline: one synchronous request per day per campaign, Meta's SDK ({len(subset)} of {len(ids)} campaigns) | {naive_rows:,} | {naive_requests:,} | {naive_s:.1f} | {naive_rows / naive_s:,.0f} |

The baseline needs {len(ids) * len(days):,} requests for the whole account
(~{full_naive_s:.0f} s at the measured rate{'' if share == 1 else ', extrapolated from the subset'})
against the worker's {report.requests:,}: **{len(ids) * len(days) / max(report.requests, 1):.0f}x fewer
requests**, the budget Meta's rate limits count (calls, not rows).
Pull {report.pull_id}: {report.report_runs} report runs, {report.retries} retries, {report.splits}
splits, {report.throttle_wait_s:.1f} s waiting on usage headers.
"""
    finally:
        drop_database(name)


# --- webhook --------------------------------------------------------------------------------------

def bench_webhook(args: argparse.Namespace, env: dict[str, str]) -> str:
    name = f"gdp_bench_leads_{os.getpid()}"
    url = fresh_database(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE shared.feature_flag SET enabled = true WHERE flag_key = ANY("
                         "'{SHARED_PERSON_TABLE_ENABLED,LEAD_ADS_SYNC_ENABLED}')")  # fmt: skip
        run_env = {**env, "DATABASE_URL": url, "META_APP_SECRET": SECRET,
                   "META_WEBHOOK_VERIFY_TOKEN": "bench", "GDP_LOG_LEVEL": "WARNING"}  # fmt: skip
        with sandbox(run_env) as graph, serve(url, run_env) as api, running(
            ["workers.cli.worker_cmd", "leads"],
            env={**run_env, "META_GRAPH_URL": graph, "META_CAPI_ACCESS_TOKEN": TOKEN},
            name="the lead worker", capture_stderr=False,
        ):  # fmt: skip
            total = args.leads_per_second * args.seconds
            sent_at: dict[str, float] = {}
            # The leads exist at Meta (the sandbox) first; the benchmark then plays Meta's
            # webhook at a fixed rate, one signed delivery per lead, so the rate is the one asked.
            ids: list[str] = []
            with httpx.Client(base_url=graph, timeout=60) as http:
                for start in range(0, total, 1000):
                    batch = [
                        {"page_id": "104500000000001", "form_id": "771000000101",
                         "ad_id": "120210000000120101",
                         "field_data": {"email": f"bench.lead{i}@example.org", "full_name": "B L"}}
                        for i in range(start, min(start + 1000, total))
                    ]  # fmt: skip
                    ids += http.post("/_sandbox/leads/batch", json={"leads": batch}).json()[
                        "leadgen_ids"
                    ]

            async def offer() -> None:
                async with httpx.AsyncClient(base_url=api, timeout=30) as http:
                    start = time.perf_counter()
                    tasks = []
                    for i, lead in enumerate(ids):
                        due = start + i / args.leads_per_second
                        await asyncio.sleep(max(0.0, due - time.perf_counter()))
                        tasks.append(asyncio.create_task(one(http, lead)))
                    await asyncio.gather(*tasks)

            async def one(http: httpx.AsyncClient, lead: str) -> None:
                body = orjson.dumps({"object": "page", "entry": [{
                    "id": "104500000000001", "time": int(time.time()), "changes": [{
                        "field": "leadgen", "value": {
                            "leadgen_id": lead, "page_id": "104500000000001",
                            "form_id": "771000000101", "ad_id": "120210000000120101",
                            "created_time": int(time.time())}}]}]})  # fmt: skip
                signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                sent_at[lead] = time.time()
                answer = await http.post("/webhooks/meta", content=body, headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": f"sha256={signature}"})  # fmt: skip
                assert answer.status_code == 200, answer.text

            started = time.perf_counter()
            asyncio.run(offer())
            offered_s = time.perf_counter() - started
            deadline = time.monotonic() + 120
            with psycopg.connect(url, autocommit=True) as conn:
                while time.monotonic() < deadline:
                    done = conn.execute("SELECT count(*) FROM shared.meta_lead "
                                        "WHERE status = 'synced'").fetchone()  # fmt: skip
                    if done and done[0] >= total:
                        break
                    time.sleep(0.2)
                synced = conn.execute(
                    "SELECT leadgen_id, extract(epoch FROM synced_at) AS at,"
                    " extract(epoch FROM received_at) AS stored FROM shared.meta_lead"
                    " WHERE status = 'synced'"
                ).fetchall()
                people = conn.execute("SELECT count(*) FROM shared.person").fetchone()
        latency = [1000 * (float(at) - sent_at[lead]) for lead, at, _ in synced if lead in sent_at]
        stored = [1000 * (float(st) - sent_at[lead]) for lead, _, st in synced if lead in sent_at]
        worker = [1000 * (float(at) - float(st)) for _, at, st in synced]
        assert people is not None
        return f"""
**Lead Ads webhook -> person row**: {total:,} leads offered at {args.leads_per_second}/s for
{args.seconds} s ({total / offered_s:.0f}/s achieved): each lead created in the sandbox
beforehand, then one signed `leadgen` delivery per lead to `gdp serve` at the offered rate
(verify, store, queue), the lead worker process fetching each from the sandbox and syncing the
batch (`shared.sync_leads`). Sandbox, API, worker, client and PostgreSQL on the same machine.
Time from the delivery's start to `meta_lead.synced_at`.

| leads synced | people | p50 | p95 | p99 | max | target |
|---:|---:|---:|---:|---:|---:|---|
| {len(latency):,} / {total:,} | {people[0]:,} | {pct(latency, 50):.0f} ms | {pct(latency, 95):.0f} ms | {pct(latency, 99):.0f} ms | {max(latency):.0f} ms | p99 < 1 s |

Of which: delivery to the row stored by `gdp serve` p50 {pct(stored, 50):.0f} ms, p99
{pct(stored, 99):.0f} ms; stored to synced by the lead worker p50 {pct(worker, 50):.0f} ms, p99
{pct(worker, 99):.0f} ms.
"""
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("api", "repull", "webhook", "all"), default="all")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--campaigns-per-product", type=int, default=63)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--baseline-campaigns", type=int, default=0,
                        help="Campaigns the naive baseline pulls (0: all)")
    parser.add_argument("--leads-per-second", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("META_CAPI_ACCESS_TOKEN", None)
    titles = {"api": "Insights API", "repull": "Insights re-pull", "webhook": "Lead Ads webhook"}
    for part, run in (("api", bench_api), ("repull", bench_repull), ("webhook", bench_webhook)):
        if args.part in (part, "all"):
            print(f"== {part}", flush=True)
            section = run(args, env)
            print(section, flush=True)
            load = os.getloadavg()
            command = f"`.venv/bin/python bench/bench_insights.py --part {part}`"
            path = write_result(
                f"insights_{part}",
                f"## {titles[part]}\n\n{command} — {machine()}; load average during "
                f"the run {load[0]:.1f} (other work was running)\n{section}",
            )
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
