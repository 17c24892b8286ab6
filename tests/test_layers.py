"""The layers, as import-linter checks them (pyproject.toml, [tool.importlinter]; `make lint`).

The repository keeps every contract, and each contract catches what it is there for: the same
check run on a copy of the packages with one bad import added fails, naming the contract and the
import. No database needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workers", "edge_compat", "meta_sandbox")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "Entry points over services over the core, imports only downwards"
PRIVATE = "A package's _private modules are imported only from inside that package"
ACYCLIC = "No import cycles between the modules of one package"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy under test comes first on the path, before the editable install of ROOT.
    env = {**os.environ, "PYTHONPATH": str(root), "NO_COLOR": "1"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_repository_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in (LAYERS, PRIVATE, ACYCLIC):
        assert f"{contract} KEPT" in result.stdout


def test_every_module_of_the_packages_has_a_layer() -> None:
    """A module left out of the layers would be checked by nothing: each top-level module of
    `workers` (and the other two packages) is named in one layer."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    modules = {
        f"workers.{path.stem}"
        for path in (ROOT / "workers").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists())
    }
    assert modules | {"edge_compat", "meta_sandbox"} == named


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The three packages (sources only) and pyproject.toml, copied."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("*.so", "__pycache__", "node_modules", "dist"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_copy_keeps_every_contract_before_a_bad_import_is_added(copy: Path) -> None:
    result = lint_imports(copy)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("files", "contract", "named"),
    [
        # A service using another service (the HTTP API reaching into the CAPI worker).
        (
            {"edge_compat/shortcut.py": "from workers.capi import worker\n"},
            LAYERS,
            "edge_compat.shortcut -> workers.capi.worker",
        ),
        # The core using a service: settings importing the CAPI package (the old cycle).
        (
            {"workers/settings.py": "import workers.capi.build\n"},
            LAYERS,
            "workers.settings -> workers.capi.build",
        ),
        # An entry point imported from below.
        (
            {"workers/capi/cli_use.py": "from workers.cli import main\n"},
            LAYERS,
            "workers.capi.cli_use -> workers.cli.main",
        ),
        # Another package's private module (edge_compat/ingest.py once imported this one).
        (
            {"edge_compat/phones.py": "from workers.meta._phone import normalize_phone\n"},
            PRIVATE,
            "edge_compat.phones -> workers.meta._phone",
        ),
        # Two modules of one package importing each other.
        (
            {
                "workers/db/ring_a.py": "from workers.db import ring_b\n",
                "workers/db/ring_b.py": "from workers.db import ring_a\n",
            },
            ACYCLIC,
            "ring_",
        ),
    ],
    ids=["service-to-service", "core-to-service", "upward-to-cli", "private-module", "cycle"],
)
def test_a_bad_import_breaks_its_contract(
    copy: Path, files: dict[str, str], contract: str, named: str
) -> None:
    for name, text in files.items():
        path = copy / name
        before = path.read_text() if path.exists() else "from __future__ import annotations\n"
        path.write_text(f"{before}\n{text}")
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert named in broken


# What a clone of the repository cannot follow: the project's private facts file, issue numbers,
# folders outside the repository. Cite docs/meta-rules.md (by section), docs/design.md instead.
OUTSIDE_REFERENCE = re.compile(
    r"facts(?: file)? ?§|facts file|meta-api-facts|\bissue \d+|\(issue\b|/work/shared|\.\./shared/",
    re.IGNORECASE,
)


def test_code_and_docs_cite_only_what_the_repository_holds() -> None:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    found = []
    for name in listed:
        # Migrations are history (never edited once written); the schema dump repeats them.
        if name.startswith(("db/migrations/", "supabase/migrations/")) or name == "db/schema.sql":
            continue
        if not name.endswith((".py", ".md", ".sql", ".js", ".mjs", ".ts", ".toml", ".sh")):
            continue
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        found += [
            f"{name}:{n}: {line.strip()[:80]}"
            for n, line in enumerate(text.splitlines(), 1)
            if OUTSIDE_REFERENCE.search(line) and name != "tests/test_layers.py"
        ]
    assert found == [], "\n".join(found)
