"""How long the Python test suite takes, as `make test-python` runs it, against the way it ran
before (one pytest-xdist worker per core, default scheduling, then the tests that restart
PostgreSQL in a serial phase of their own), in the same run, one after the other.

    .venv/bin/python bench/bench_test_suite.py [--only new|old]

Wall time is what a developer waits; on a machine other sessions share it mostly measures their
load, so the CPU time of everything the suite ran is reported beside it: the pytest processes
and every process they started and waited for (rusage of the children), and the tests'
PostgreSQL clusters (the postmaster's own CPU and that of its exited backends, from /proc).
The load average is read before and after each configuration.
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

from bench._common import BENCH_DIR, machine, write_result

ROOT = BENCH_DIR.parent
BIN = ROOT / ".venv" / "bin"
TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    name: str
    wall: float
    cpu: float  # the pytest process trees
    server_cpu: float  # the clusters' postmasters and backends
    passed: bool
    load: tuple[float, float]  # 1-minute load average before, after
    tail: str  # pytest's closing lines


def cluster_port(offset: int = 0) -> int:
    port = subprocess.run([str(ROOT / "tests" / "cluster.sh"), "port"], capture_output=True,
                          text=True, check=True, cwd=ROOT).stdout.strip()  # fmt: skip
    return int(port) + offset


def server_cpu(port: int) -> float:
    """CPU seconds of a cluster so far: the postmaster and its exited children (backends)."""
    data = Path(os.environ.get("GDP_TEST_PGDATA", f"/var/tmp/gdp-test-pg-{port}"))
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime


def measure(name: str, commands: list[str]) -> Run:
    ports = [cluster_port(), cluster_port(1000)]
    for port in ports:
        subprocess.run([str(ROOT / "tests" / "cluster.sh"), "start"], cwd=ROOT, check=True,
                       env={**os.environ, "GDP_TEST_PGPORT": str(port)})  # fmt: skip
    env = {**os.environ, "GDP_REQUIRE_COMPILED": "1"}
    load_before = os.getloadavg()[0]
    server_before = sum(server_cpu(p) for p in ports)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    outputs, passed = [], True
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True,
                              text=True, check=False)  # fmt: skip
        outputs.append(done.stdout + done.stderr)
        passed = passed and done.returncode == 0
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    log = (
        ROOT
        / "tests"
        / "artifacts"
        / f"bench_test_suite_{'new' if 'make' in commands[0] else 'old'}.log"
    )
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("\n".join(outputs), encoding="utf-8")  # every failure, to read afterwards
    closing = [line for out in outputs for line in out.splitlines()
               if " passed" in line or " failed" in line]  # fmt: skip
    return Run(name, wall, cpu, sum(server_cpu(p) for p in ports) - server_before, passed,
               (load_before, os.getloadavg()[0]), "; ".join(closing[-3:]))  # fmt: skip


def old_way() -> list[str]:
    port = cluster_port()
    env = f"GDP_TEST_PGPORT={port} GDP_TEST_BASE_URL=postgresql://postgres@127.0.0.1:{port}"
    return [
        f'{env} {BIN}/pytest -q -n {os.cpu_count()} -m "not restarts_server"',
        f"{env} {BIN}/pytest -q -m restarts_server",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", choices=["new", "old"])
    args = parser.parse_args()
    runs = []
    if args.only != "old":
        runs.append(measure("`make test-python` (this checkout)", ["make -s test-python"]))
        print(runs[-1], flush=True)
    if args.only != "new":
        runs.append(measure("before: one worker per core, restart tests afterwards", old_way()))
        print(runs[-1], flush=True)
    print(f"wrote {write_result('test_suite', report(runs))}")


def report(runs: list[Run]) -> str:
    rows = "\n".join(
        f"| {r.name} | {r.wall:.0f} s | {r.cpu:.0f} s | "
        f"{f'{r.server_cpu:.0f} s' if r.server_cpu >= 0 else '– (a test restarted it)'} | "
        f"{r.load[0]:.1f} → {r.load[1]:.1f} | {'yes' if r.passed else '**no**'} | {r.tail} |"
        for r in runs
    )
    return f"""## The Python test suite: `make test-python` against the way it ran before

`.venv/bin/python bench/bench_test_suite.py` — {machine()}

Each configuration runs the whole Python suite once, one after the other. *CPU, tests*: the
pytest processes and everything they started and waited for (workers, `gdp` commands, the
sandbox, Chromium); *CPU, PostgreSQL*: the tests' clusters (postmaster and backends). On a
machine that other sessions share, wall time mostly measures their load; compare CPU time.

| configuration | wall | CPU, tests | CPU, PostgreSQL | load average (1 min), before → after | passed | pytest |
|---|---:|---:|---:|---|---|---|
{rows}
"""


if __name__ == "__main__":
    main()
