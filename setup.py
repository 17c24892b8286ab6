"""Compiles the Meta rules (workers/meta/*.py) with mypyc: the same source, compiled.

There is no hand-written C: mypyc compiles the strictly typed Python modules themselves, so the
compiled and the pure-Python builds cannot disagree on a rule (tests compare them anyway).
Optional: without a C compiler the package still installs and runs the pure-Python modules
(slower, same results). `GDP_META_COMPILE=0` skips the compilation (e.g. for a quick editable
install; `make compiled` then builds it in place).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import Extension, setup

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Every module of the package but __init__.py, which picks compiled or source at import.
SOURCES = sorted(
    str(path) for path in Path("workers/meta").glob("*.py") if path.name != "__init__.py"
)
GROUP = "workers.meta._compiled"  # workers.meta.COMPILED_GROUP


def compiled_modules() -> list[Extension]:
    if os.environ.get("GDP_META_COMPILE", "1") == "0":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # mypy is a build requirement; without it, the pure-Python modules
        print("setup.py: mypyc not available; the Meta rules stay pure Python", file=sys.stderr)
        return []
    extensions = mypycify(SOURCES, opt_level="3", group_name=GROUP)
    for extension in extensions:
        extension.optional = True  # no C compiler: install anyway, run the source
    return extensions


setup(ext_modules=compiled_modules())
