"""Meta's rules for `user_data`: normalize, hash, validate (see normalize.py).

Each rule is written once, in the Python modules of this package. `make compiled` (and `pip
install`, when a C compiler is there) compiles those same modules with mypyc (setup.py); the
compiled modules then load instead of the source, with the same results (tests compare the
two builds). This file is never compiled: it chooses between them before any rule loads.

* `GDP_META_COMPILED=0` in the environment: use the pure-Python modules even when compiled ones
  are built (to debug a rule, or to compare the two).
* Compiled modules older than any source file of the package (a rule edited, not rebuilt) are
  not used: the source is, with a RuntimeWarning saying to run `make compiled`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent
# The extension that holds every compiled module of the package (setup.py's group name).
COMPILED_GROUP = "workers.meta._compiled"


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Loads this package's modules from their .py files, never from compiled extensions."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __name__:
            return None
        source = _HERE / f"{name}.py"
        if not source.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def _built() -> float | None:
    """When the compiled group was built (mtime), or None when it is not."""
    stem = COMPILED_GROUP.rpartition(".")[2] + "__mypyc"
    times = [p.stat().st_mtime for p in _HERE.glob(f"{stem}.*") if p.suffix in (".so", ".pyd")]
    return max(times) if times else None


def _use_source() -> bool:
    if os.environ.get("GDP_META_COMPILED", "1") == "0":
        return True
    built = _built()
    if built is None:
        return False  # nothing compiled: the import system finds the sources anyway
    newest = max(p.stat().st_mtime for p in _HERE.glob("*.py") if p.name != "__init__.py")
    # +2 s: setuptools copies built files with their mtime cut to whole seconds.
    if newest > built + 2:
        warnings.warn(
            "workers.meta: the compiled rules are older than their source; using the source "
            "(rebuild with `make compiled`)",
            RuntimeWarning,
            stacklevel=2,
        )
        return True
    return False


if _use_source():
    sys.meta_path.insert(0, _SourceFirst())


def compiled() -> bool:
    """Whether the rules run compiled (mypyc) in this process."""
    from workers.meta import normalize

    return not (normalize.__file__ or "").endswith(".py")
