"""Run every benchmark and assemble bench/RESULTS.md from bench/results/*.md.

    make bench                      # all of them
    .venv/bin/python bench/run.py people_upsert normalize   # some of them
    .venv/bin/python bench/run.py --assemble                # only rebuild RESULTS.md
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))

from bench._common import RESULTS_DIR, machine  # noqa: E402

HEADER = """# Benchmark results

Each section is written by one script in `bench/` (run them all with `make bench`) and states
the command, the machine, and a baseline measured in the same run. Numbers from a shared
2-core machine vary by ±15% between runs; compare ratios within a section, not across sections.
Run them on an otherwise idle machine: with a test suite running beside them, the same scripts
measured 3-5x less (SQL ingest 22,655 instead of 75,086 events/s; HTTP single events 621
instead of 2,907 requests/s).
"""


def assemble() -> Path:
    sections = [p.read_text(encoding="utf-8").strip() for p in sorted(RESULTS_DIR.glob("*.md"))]
    out = BENCH_DIR / "RESULTS.md"
    out.write_text(HEADER + "\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    return out


def main() -> None:
    if sys.argv[1:] == ["--assemble"]:
        print(f"wrote {assemble()}")
        return
    wanted = set(sys.argv[1:])
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    unknown = wanted - {s.stem.removeprefix("bench_") for s in scripts}
    if unknown:
        sys.exit(f"no such benchmark: {', '.join(sorted(unknown))} "
                 f"(have: {', '.join(s.stem.removeprefix('bench_') for s in scripts)})")
    print(f"machine: {machine()}")
    for script in scripts:
        name = script.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script)], check=True)
    print(f"wrote {assemble()}")


if __name__ == "__main__":
    main()
