"""How long `make test` takes (lint, the Python suite, pgTAP), against the same target in a
checkout of the commit before this stream's speed-ups (BASELINE_REF), in the same run, one after
the other.

    .venv/bin/python bench/bench_test_suite.py [--only new|old] [--baseline REF]

The baseline is a detached git worktree of REF (bench/_common.checkout) sharing this checkout's
virtualenv, compiled normalizer, Supabase CLI and dashboard build, so both run the same
dependencies; it runs `make lint test-python test-sql` (its `make test` minus the set-up steps,
which would reinstall the shared virtualenv from that checkout), this checkout `make test`. Each
checkout has its own test clusters (tests/cluster.sh picks the port from the path).

Wall time is what a developer waits; on a machine other sessions share it mostly measures their
load, so the CPU time of everything the suite ran is reported beside it: make and every process
it started and waited for (rusage of the children: pytest and its workers, `gdp` commands, the
sandbox, Chromium, mypy, pg_prove), and the tests' PostgreSQL clusters (the postmaster's own CPU
and that of its exited backends, from /proc). The load average is read before and after each
configuration. Wall time on an idle machine is about (CPU, tests + CPU, PostgreSQL) / cores: the
suite keeps both cores busy.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BENCH_DIR, checkout, machine, write_result

ROOT = BENCH_DIR.parent
TICK = os.sysconf("SC_CLK_TCK")
# The last commit before the suite was made faster (bytecode caches, FILE_COPY clones, long
# tests first, smaller kill test, lint and pgTAP beside pytest).
BASELINE_REF = "b55a356"


@dataclass(frozen=True)
class Run:
    name: str
    wall: float
    cpu: float  # make's process tree
    server_cpu: float  # the clusters' postmasters and backends
    passed: bool
    load: tuple[float, float]  # 1-minute load average before, after
    tail: str  # pytest's and pg_prove's closing lines


def cluster_port(tree: Path, offset: int = 0) -> int:
    port = subprocess.run([str(tree / "tests" / "cluster.sh"), "port"], capture_output=True,
                          text=True, check=True, cwd=tree).stdout.strip()  # fmt: skip
    return int(port) + offset


def cluster_data(tree: Path, port: int) -> Path:
    """The cluster's data directory as the tree's tests/cluster.sh places it (older trees,
    without `datadir`, kept it under /var/tmp)."""
    done = subprocess.run([str(tree / "tests" / "cluster.sh"), "datadir"], capture_output=True,
                          text=True, check=False, cwd=tree,
                          env={**os.environ, "GDP_TEST_PGPORT": str(port)})  # fmt: skip
    if done.returncode == 0 and done.stdout.strip():
        return Path(done.stdout.strip())
    return Path(os.environ.get("GDP_TEST_PGDATA", f"/var/tmp/gdp-test-pg-{port}"))


def server_cpu(data: Path) -> float:
    """CPU seconds of a cluster so far: the postmaster and its exited children (backends)."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime


def measure(name: str, tree: Path, command: str) -> Run:
    ports = [cluster_port(tree), cluster_port(tree, 1000)]
    for port in ports:  # started (or created) before the clock starts, in both configurations
        subprocess.run([str(tree / "tests" / "cluster.sh"), "start"], cwd=tree, check=True,
                       env={**os.environ, "GDP_TEST_PGPORT": str(port)})  # fmt: skip
    load_before = os.getloadavg()[0]
    datas = [cluster_data(tree, p) for p in ports]
    server_before = sum(server_cpu(d) for d in datas)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(["bash", "-c", command], cwd=tree, capture_output=True, text=True,
                          check=False)  # fmt: skip
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    output = done.stdout + done.stderr
    log = ROOT / "tests" / "artifacts" / f"bench_test_suite_{'new' if tree == ROOT else 'old'}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(output, encoding="utf-8")  # every failure, to read afterwards
    closing = [line for line in output.splitlines()
               if " passed" in line or " failed" in line or line.startswith("Files=")]  # fmt: skip
    return Run(name, wall, cpu, sum(server_cpu(d) for d in datas) - server_before,
               done.returncode == 0, (load_before, os.getloadavg()[0]), "; ".join(closing[-4:]))  # fmt: skip


def baseline_tree(ref: str) -> Path:
    """A worktree of `ref` wired to this checkout's built dependencies."""
    tree = checkout(ref)
    for shared in (".venv", ".tools"):
        link = tree / shared
        if not link.exists():
            link.symlink_to(ROOT / shared)
    for built in (ROOT / "workers" / "meta").glob("*.so"):
        (tree / "workers" / "meta" / built.name).write_bytes(built.read_bytes())
    dist = ROOT / "edge_compat" / "dashboard" / "dist"
    subprocess.run(["cp", "-a", str(dist), str(tree / "edge_compat" / "dashboard")], check=True)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", choices=["new", "old"])
    parser.add_argument("--baseline", default=BASELINE_REF)
    args = parser.parse_args()
    runs = []
    if args.only != "old":
        runs.append(measure("`make test` (this checkout)", ROOT, "make -s test"))
        print(runs[-1], flush=True)
    if args.only != "new":
        tree = baseline_tree(args.baseline)
        runs.append(measure(f"before: `make lint test-python test-sql` at {args.baseline}", tree,
                            "make -s lint test-python test-sql"))  # fmt: skip
        print(runs[-1], flush=True)
    print(f"wrote {write_result('test_suite', report(runs))}")


def report(runs: list[Run]) -> str:
    rows = "\n".join(
        f"| {r.name} | {r.wall:.0f} s | {r.cpu:.0f} s | "
        f"{f'{r.server_cpu:.0f} s' if r.server_cpu >= 0 else '– (a test restarted it)'} | "
        f"{(r.cpu + r.server_cpu) / (os.cpu_count() or 1):.0f} s | "
        f"{r.load[0]:.1f} → {r.load[1]:.1f} | {'yes' if r.passed else '**no**'} | {r.tail} |"
        for r in runs
    )
    return f"""## The Python test suite: `make test` against the way it ran before

`.venv/bin/python bench/bench_test_suite.py` — {machine()}

Each configuration runs lint, the whole Python suite and pgTAP once, one after the other.
*CPU, tests*: make and everything it started (pytest and its workers, `gdp` commands, the
sandbox, Chromium, mypy, pg_prove); *CPU, PostgreSQL*: the tests' clusters (postmaster and
backends). On a machine that other sessions share, wall time mostly measures their load; the
suite keeps every core busy, so *CPU / cores* is about what an idle machine's wall time is.

| configuration | wall | CPU, tests | CPU, PostgreSQL | CPU / cores | load average (1 min), before → after | passed | closing lines |
|---|---:|---:|---:|---:|---|---|---|
{rows}

The baseline shares this checkout's virtualenv, where `gdp` is installed in editable mode from
this checkout: the baseline's test databases are built from this checkout's `db/`, so its pgTAP
tests of SQL that changed since can fail ("passed: no"); what the table compares is the time.
"""


if __name__ == "__main__":
    main()
