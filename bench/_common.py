"""Shared by the benchmarks: machine facts, a fresh database, and where results go."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from workers.db import migrate

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
# The CAPI worker before per-request settlement and pre-send validation (main on 2026-11-30):
# the CAPI benchmarks run it beside today's worker, in the same run, as their baseline.
CAPI_BASELINE_REF = "95bc85d"
BASE_URL = os.environ.get("GDP_BENCH_BASE_URL", "postgresql://postgres@127.0.0.1:5432")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pg = subprocess.run(["psql", "--version"], capture_output=True, text=True, check=False)
    return (
        f"{os.cpu_count()} cores, {cpu}; Python {platform.python_version()}; "
        f"{pg.stdout.strip() or 'psql ?'}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def fresh_database(name: str) -> str:
    """Drop and rebuild a benchmark database with `gdp db up`; returns its URL."""
    with psycopg.connect(f"{BASE_URL}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    url = f"{BASE_URL}/{name}"
    migrate.up(url)
    return url


def drop_database(name: str) -> None:
    with psycopg.connect(f"{BASE_URL}/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def write_result(slug: str, markdown: str) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{slug}.md"
    path.write_text(markdown.strip() + "\n", encoding="utf-8")
    return path


def checkout(ref: str) -> Path:
    """A detached git worktree of `ref` (made once, under /tmp), to run an earlier version of a
    worker beside today's in the same benchmark; the compiled normalizer is copied in."""
    root = BENCH_DIR.parent
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()
    target = Path(f"/tmp/gdp-bench-{commit}")
    if not (target / "workers").is_dir():
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--force", str(target), commit],
            cwd=root, capture_output=True, check=True,
        )  # fmt: skip
    for built in (root / "workers" / "meta").glob("_native.*.so"):
        (target / "workers" / "meta" / built.name).write_bytes(built.read_bytes())
    return target
