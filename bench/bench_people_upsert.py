"""Bulk upsert of 100k people (with identity links) through the SQL API, against a plain
INSERT ... ON CONFLICT into the same table, measured in the same run.

    .venv/bin/python bench/bench_people_upsert.py [--people 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import drop_database, fresh_database, machine, write_result
from workers.db.queries import parse_queries

QUERIES = parse_queries((Path(__file__).parent / "sql" / "people_upsert.sql").read_text())
PRODUCTS = [
    "waitlistlab",
    "snapmix",
    "softwarehub",
    "velvethold",
    "steadyletters",
    "blogcanvas",
    "vellopad",
    "gapradar",
]
FIRST = ["Maya", "Jonas", "Aiko", "Sam", "Lee", "Ana", "Omar", "Zoë", "Chloé", "Ravi"]
LAST = ["Chen", "Weber", "Tanaka", "Rivera", "Kim", "Silva", "Haddad", "Müller", "Dubois", "Rao"]


def make_people(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        email = f"person{i}@example{i % 97}.com"
        if rng.random() < 0.3:  # messy capitalisation and whitespace, as products send it
            email = f"  {email.upper()} "
        people.append(
            {
                "email": email,
                "phone": f"+1415{rng.randrange(10**6, 10**7)}",
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "utm_source": rng.choice(["meta", "google", "newsletter", None]),
                "utm_campaign": f"campaign-{rng.randrange(40)}",
                "source_product": rng.choice(PRODUCTS),
                "identities": [{"provider": "stripe", "external_id": f"cus_{i}"}]
                + ([{"provider": "supabase_auth", "external_id": f"auth-{i}"}] if i % 2 else []),
            }
        )
    return people


def run(url: str, name: str, people: list[dict[str, Any]], batch: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(QUERIES["reset_people"])
        started = time.perf_counter()
        for start in range(0, len(people), batch):
            conn.execute(QUERIES[name], {"people": json.dumps(people[start : start + batch])})
        elapsed = time.perf_counter() - started
        links = conn.execute("SELECT count(*) FROM shared.identity_link").fetchone()
        persons = conn.execute("SELECT count(*) FROM shared.person").fetchone()
    assert persons == (len(people),), (name, persons)
    assert links is not None and links[0] == sum(len(p["identities"]) for p in people)
    return len(people) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    people = make_people(args.people)
    # The naive baseline cannot normalize: give it clean emails so it can run at all.
    clean = [{**p, "email": p["email"].strip()} for p in people]
    url = fresh_database("gdp_bench_people")
    try:
        results: dict[str, list[float]] = {"sql_api_upsert_people": [], "naive_upsert_people": []}
        for _ in range(args.rounds):  # alternate, so neither side gets a warmer cache
            results["sql_api_upsert_people"].append(
                run(url, "sql_api_upsert_people", people, args.batch)
            )
            results["naive_upsert_people"].append(
                run(url, "naive_upsert_people", clean, args.batch)
            )
    finally:
        drop_database("gdp_bench_people")
    api, naive = max(results["sql_api_upsert_people"]), max(results["naive_upsert_people"])
    report = f"""
## Bulk upsert of people through the SQL API

`{" ".join([".venv/bin/python", "bench/bench_people_upsert.py", *sys.argv[1:]])}` — {machine()}

{args.people:,} people, each with 1–2 identity links, in calls of {args.batch:,}, into an empty
`shared.person` (trigger on), best of {args.rounds} alternating rounds.

| path | people/s | what it does |
|---|---:|---|
| `shared.upsert_people` (SQL API) | {api:,.0f} | validates every field, normalizes email/phone, merges variants in a batch, first-touch rules, links identities and refuses links owned by someone else |
| plain `INSERT … ON CONFLICT` (baseline) | {naive:,.0f} | inserts pre-cleaned rows and links, no validation, no conflict check |

The SQL API runs at **{api / naive:.2f}×** the baseline's rate.
"""
    print(report)
    print(write_result("people_upsert", report))


if __name__ == "__main__":
    main()
