"""`gdp meta normalize` as a user runs it: a whole process on 200,000 messy JSON lines, against
a script on Meta's official SDK doing the same (bench/sdk_normalize.py), in the same run; and
how fast `gdp` starts.

    .venv/bin/python bench/bench_cli_normalize.py [--lines 200000] [--rounds 3] [--starts 15]
        [--callgrind-lines 10000]

Both commands read the same file on stdin and write JSON lines to a file, pinned to the same
core, in alternating order, each round, in Python's default environment (PYTHONUNBUFFERED and
the like removed: what a user's shell has); lines/s is input lines over wall time (start-up
included), median of the rounds. On a shared machine CPU time is steadier than wall time, and
instructions counted by callgrind (valgrind) do not depend on load at all: each command runs
once on 1 line and once on `--callgrind-lines` lines, and the difference over the extra lines is
its instructions per line (start-up excluded). Peak memory (max RSS) is read from the kernel for each
process, for the full input and for a tenth of it: a streaming command stays flat. Start-up:
`gdp --help` and `gdp meta normalize` on one line, wall time of each run, median and slowest.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BENCH_DIR, machine, write_result
from bench.bench_normalize import make_people, pin_one_core

ROOT = BENCH_DIR.parent
BIN = Path(sys.executable).parent
GDP = [str(BIN / "gdp"), "meta", "normalize"]
SDK = [sys.executable, str(BENCH_DIR / "sdk_normalize.py")]
TIME = Path("/usr/bin/time").exists()
VALGRIND = shutil.which("valgrind")
# The environment both commands run in: Python's defaults, whatever this shell has set.
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONUNBUFFERED", "PYTHONDEV"))}
EAGER = [
    sys.executable,
    "-c",
    "import workers.cli.main as m\nfor n in m.SUBCOMMANDS: m.load_command(n)",
]


# What limits the command, from a profile (not re-measured by each run of this script).
WHERE_THE_TIME_GOES = """
Where the time goes (profiled 2026-11-30 on this machine: `perf record` of the whole command,
and callgrind of `normalize_user_data` on lines 5,001-10,000, after the memo and the rules'
tables have warmed up): `normalize_user_data` is about 85% of the command's instructions,
parsing (orjson, from the bytes read) about 10%, output and the loop the rest. A warmed-up
event costs about 133,000 instructions in `normalize_user_data`, down from 149,000 in the same
profile (its CPU time about 7% less, 11.7 against 12.6 µs, best of 8 passes in one process):
a written-out `__init__` for the frozen result dataclasses, whose generated one ran
interpreted even in the compiled build, and date patterns tried only where the length allows
(−6,000); the Meta key of each input key planned once per key order instead of grouping every
event into a dict (−9,000); memo tables keyed by tuples, not strings built per lookup
(−1,000). What is left is spread over the values themselves: phone numbers 18,000
(phonenumbers' metadata regexes), SHA-256 in OpenSSL 20,000 (3.8 values hashed per event),
dates 13,000, fbc/fbp 11,500, IP 9,400, email 8,900, the memo and the per-key plumbing most of
the rest. CPython's own SHA-256 (`_sha256`) executes a fifth fewer instructions but takes 10%
longer (295 against 268 ns a value): OpenSSL's block function uses the CPU's SHA instructions.
The SDK executes more than twice the instructions per line but runs them at a higher rate
(small interpreted loops, no tables of its own), so the ratio of CPU times is lower than the
ratio of instructions.
"""


def write_input(path: Path, lines: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for person in make_people(lines, seed):
            out.write(json.dumps(person, ensure_ascii=False) + "\n")


def run(command: list[str], source: Path) -> tuple[float, float, int, int, int]:
    """(wall seconds, CPU seconds, output lines, stderr lines, max RSS in KiB) of one whole
    process. CPU time and peak memory come from GNU time (`/usr/bin/time`; CPU from this
    process's own accounting and RSS 0 when missing): a child's own rusage would start from
    this script's peak memory, which it inherits at fork."""
    out_path, err_path = source.with_suffix(".out"), source.with_suffix(".err")
    usage_path = source.with_suffix(".usage")
    timed = ["/usr/bin/time", "-f", "%M %U %S", "-o", str(usage_path)] if TIME else []
    before = os.times()
    with source.open("rb") as stdin, out_path.open("wb") as stdout, err_path.open("wb") as err:
        start = time.perf_counter()
        done = subprocess.run([*timed, *command], stdin=stdin, stdout=stdout, stderr=err,
                              cwd=ROOT, env=ENV, check=False)  # fmt: skip
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command} exited {done.returncode}: {err_path.read_text()[-500:]}")
    if TIME:
        peak, user, system = usage_path.read_text().split()[-3:]
        cpu, rss = float(user) + float(system), int(peak)
    else:
        after = os.times()
        cpu = after.children_user + after.children_system
        cpu -= before.children_user + before.children_system
        rss = 0
    return elapsed, cpu, _count(out_path), _count(err_path), rss


def _count(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def startup(command: list[str], stdin: str, times: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of a command, run `times` times."""
    walls, cpus = [], []
    for _ in range(times):
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=ROOT, env=ENV)  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(stdin.encode())
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        assert os.waitstatus_to_exitcode(status) == 0, command
    return statistics.median(walls), statistics.median(cpus)


def instructions(command: list[str], source: Path) -> int:
    """Instructions one whole process executes (valgrind's callgrind; load does not change it)."""
    out = source.with_suffix(".callgrind")
    with source.open("rb") as stdin:
        subprocess.run([str(VALGRIND), "--tool=callgrind", f"--callgrind-out-file={out}", *command],
                       stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       cwd=ROOT, env=ENV, check=True)  # fmt: skip
    found = re.search(r"^summary: (\d+)$", out.read_text(), re.MULTILINE)
    out.unlink()
    if found is None:
        raise SystemExit(f"callgrind wrote no summary for {command}")
    return int(found.group(1))


def per_line_instructions(work: Path, lines: int, seed: int) -> dict[str, tuple[int, float]]:
    """Per command: (instructions of a 1-line run, instructions per further line)."""
    one, many = work / "cg_one.jsonl", work / "cg_many.jsonl"
    write_input(one, 1, seed)
    write_input(many, lines, seed)
    counts: dict[str, tuple[int, float]] = {}
    for name, command in (("gdp", GDP), ("sdk", SDK)):
        start = instructions(command, one)
        counts[name] = (start, (instructions(command, many) - start) / (lines - 1))
        print(f"  callgrind {name}: {counts[name][1]:,.0f} instructions per line", flush=True)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--starts", type=int, default=15)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--callgrind-lines", type=int, default=10_000,
                        help="lines for the instruction count (0: skip; needs valgrind)")  # fmt: skip
    args = parser.parse_args()
    load_before = os.getloadavg()
    pinned = pin_one_core()
    work = BENCH_DIR / ".work"
    full, tenth = work / "cli_full.jsonl", work / "cli_tenth.jsonl"
    write_input(full, args.lines, args.seed)
    write_input(tenth, args.lines // 10, args.seed)
    rates: dict[str, list[float]] = {"gdp": [], "sdk": []}  # lines per wall second
    cpu_rates: dict[str, list[float]] = {"gdp": [], "sdk": []}  # lines per CPU second
    outputs: dict[str, tuple[int, int]] = {}
    rss: dict[str, dict[str, int]] = {"gdp": {}, "sdk": {}}
    for round_ in range(args.rounds):
        order = [("gdp", GDP), ("sdk", SDK)]
        for name, command in order if round_ % 2 == 0 else order[::-1]:
            elapsed, cpu, written, errors, peak = run(command, full)
            rates[name].append(args.lines / elapsed)
            cpu_rates[name].append(args.lines / cpu)
            outputs[name] = (written, errors)
            rss[name]["full"] = max(rss[name].get("full", 0), peak)
        print(f"  round {round_ + 1}: gdp {rates['gdp'][-1]:,.0f} lines/s"
              f" ({cpu_rates['gdp'][-1]:,.0f} per CPU s), sdk {rates['sdk'][-1]:,.0f} lines/s"
              f" ({cpu_rates['sdk'][-1]:,.0f} per CPU s)", flush=True)  # fmt: skip
    for name, command in (("gdp", GDP), ("sdk", SDK)):
        rss[name]["tenth"] = run(command, tenth)[4]
    gdp, sdk = statistics.median(rates["gdp"]), statistics.median(rates["sdk"])
    ratios = [g / s for g, s in zip(rates["gdp"], rates["sdk"], strict=True)]
    cpu_ratios = [g / s for g, s in zip(cpu_rates["gdp"], cpu_rates["sdk"], strict=True)]
    line = '{"email": "a@example.com"}\n'
    starts = {
        "`gdp --help`": startup([str(BIN / "gdp"), "--help"], "", args.starts),
        "`gdp meta normalize`, one line": startup(GDP, line, args.starts),
        "every subcommand imported (what `gdp` did at start before)": startup(EAGER, "", args.starts),
        "`python -c pass` (the interpreter alone)": startup([sys.executable, "-c", "pass"], "", args.starts),
    }  # fmt: skip
    cpu = (statistics.median(cpu_rates["gdp"]), statistics.median(cpu_rates["sdk"]))
    counts = {}
    if VALGRIND and args.callgrind_lines > 1:
        counts = per_line_instructions(work, args.callgrind_lines, args.seed)
    load = (load_before, os.getloadavg())
    path = write_result("cli_normalize", report(args, pinned, load, (gdp, sdk), cpu, ratios,
                                                cpu_ratios, outputs, rss, starts, counts))  # fmt: skip
    print(f"wrote {path}")


def report(
    args: argparse.Namespace,
    pinned: str,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
    wall: tuple[float, float],
    cpu: tuple[float, float],
    ratios: list[float],
    cpu_ratios: list[float],
    outputs: dict[str, tuple[int, int]],
    rss: dict[str, dict[str, int]],
    starts: dict[str, tuple[float, float]],
    counts: dict[str, tuple[int, float]],
) -> str:
    n = args.lines
    gdp, sdk = wall
    ratio, cpu_ratio = statistics.median(ratios), statistics.median(cpu_ratios)
    verdict = "Met" if ratio >= 2 else "**Not met**"
    cpu_verdict = "met" if cpu_ratio >= 2 else "not met"
    command = "`.venv/bin/python bench/bench_cli_normalize.py"
    if (n, args.rounds) != (200_000, 3):
        command += f" --lines {n} --rounds {args.rounds}"
    command += "`"
    loads = " → ".join(f"{a:.1f}, {b:.1f}, {c:.1f}" for a, b, c in load)
    if counts:
        per_line = counts["sdk"][1] / counts["gdp"][1]
        counted = f"""
Instructions (callgrind, {args.callgrind_lines:,} lines against 1 line, so start-up is left out;
the same on a busy or an idle machine):

| command | instructions, 1 line (start-up) | instructions per further line |
|---|---:|---:|
| `gdp meta normalize` | {counts["gdp"][0]:,} | {counts["gdp"][1]:,.0f} |
| SDK script | {counts["sdk"][0]:,} | {counts["sdk"][1]:,.0f} |

Per line the SDK script executes **{per_line:.2f}×** the instructions of `gdp meta normalize`.
"""
    else:
        counted = "\n(valgrind not installed or `--callgrind-lines 0`: no instruction count.)\n"
    return f"""## `gdp meta normalize`, the whole command, vs a script on the official SDK

{command} — {machine()}; {pinned}; load average (1, 5, 15 min) {loads}
(start → end: other sessions share the 2 cores, so wall times scatter)

{n:,} JSON lines of messy user_data (the people of the normalization benchmark: PRD field
names, mixed-case emails, phones in 15 formats, names with accents, country names, 8 date
formats, IPv4/IPv6, fbc/fbp), read from a file on stdin, written to a file. `gdp meta
normalize` against `bench/sdk_normalize.py` (what a user writes with `facebook-business`: JSON
per line, `UserData(...).normalize()`, JSON out), same input, same core, alternating, median of
{args.rounds} rounds, start-up included, both in Python's default environment (no
PYTHONUNBUFFERED; `gdp meta normalize` buffers its output itself either way, and flushes it
whenever it is about to wait for input).

| command | lines/s (wall) | lines per CPU second | lines out | lines on stderr | max RSS, {n:,} lines | max RSS, {n // 10:,} lines |
|---|---:|---:|---:|---:|---:|---:|
| `gdp meta normalize` | {gdp:,.0f} | {cpu[0]:,.0f} | {outputs["gdp"][0]:,} | {outputs["gdp"][1]:,} (dropped values, by key and reason) | {rss["gdp"]["full"] / 1024:,.0f} MiB | {rss["gdp"]["tenth"] / 1024:,.0f} MiB |
| SDK script | {sdk:,.0f} | {cpu[1]:,.0f} | {outputs["sdk"][0]:,} | {outputs["sdk"][1]:,} (lines lost to an exception) | {rss["sdk"]["full"] / 1024:,.0f} MiB | {rss["sdk"]["tenth"] / 1024:,.0f} MiB |

`gdp meta normalize` ÷ SDK, wall time: **{ratio:.2f}×** (rounds: {", ".join(f"{r:.2f}×" for r in ratios)}); CPU time:
**{cpu_ratio:.2f}×** (rounds: {", ".join(f"{r:.2f}×" for r in cpu_ratios)}). Target ≥ 2×: {verdict} on wall time,
{cpu_verdict} on CPU time. On a busy machine each whole run (tens of seconds) meets a different load, so
wall-time rounds scatter; CPU time is what each command itself spent. Peak memory barely
grows from a tenth of the input to the whole of it: the command streams (one object in memory
at a time) and its memo of normalized values is bounded; every input line gets an output
line.
{counted}
{WHERE_THE_TIME_GOES}
Start-up, median of {args.starts} runs each (wall time depends on the machine's load, CPU time
much less):

| command | wall | CPU (user + system) |
|---|---:|---:|
{chr(10).join(f"| {name} | {wall:.3f} s | {cpu:.3f} s |" for name, (wall, cpu) in starts.items())}

Target ≤ 0.3 s on an idle machine. Subcommands import their dependencies when they run
(`workers/cli/main.py`); `tests/test_cli_startup.py` checks which modules each imports.
"""


if __name__ == "__main__":
    main()
