"""The Meta Graph API sandbox is a development tool: a production install of GDP does not hold it.

`pip install growth-data-plane` (the wheel built from pyproject.toml) contains workers/ and
edge_compat/ only; the sandbox is its own distribution (meta_sandbox/pyproject.toml), pulled in
by the `sandbox` and `dev` extras only. Without it, `gdp sandbox` says how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs `gdp sandbox` in a process where meta_sandbox cannot be imported, as after a production
# install (the package is not on the path at all).
WITHOUT_SANDBOX = """
import sys

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "meta_sandbox":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
sys.argv = ["gdp", *sys.argv[1:]]
from workers.cli.main import main
main()
"""


def build_wheel(project: Path, out: Path) -> zipfile.ZipFile:
    """pip's own build of `project` (a copy: the build writes build/ and *.egg-info)."""
    env = {**os.environ, "GDP_META_COMPILE": "0"}
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out)]
    subprocess.run(
        [*command, str(project)], env=env, check=True, capture_output=True, timeout=600
    )
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def copy_project(target: Path) -> Path:
    target.mkdir()
    ignore = shutil.ignore_patterns(
        "*.so", "__pycache__", "*.egg-info", "node_modules", "dist", "build"
    )
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, target / name)
    for package in ("workers", "edge_compat", "meta_sandbox"):
        shutil.copytree(ROOT / package, target / package, ignore=ignore)
    return target


def requires(wheel: zipfile.ZipFile) -> list[str]:
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    text = wheel.read(metadata).decode()
    return [line.removeprefix("Requires-Dist: ") for line in text.splitlines()
            if line.startswith("Requires-Dist: ")]  # fmt: skip


@pytest.mark.slow
def test_the_production_wheel_holds_no_sandbox(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "src")
    wheel = build_wheel(project, tmp_path / "wheels")
    top = {name.split("/")[0] for name in wheel.namelist()}
    assert {"workers", "edge_compat"} <= top
    assert not any(name.startswith("meta_sandbox") for name in top), sorted(top)
    sandbox = [r for r in requires(wheel) if r.startswith("gdp-meta-sandbox")]
    # Only through the extras: a plain install does not pull it in.
    assert sandbox and all("extra ==" in r for r in sandbox), sandbox
    assert {r.split('extra == "')[1].rstrip('"') for r in sandbox} == {"sandbox", "dev"}


def test_the_sandbox_is_its_own_distribution(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "src")
    wheel = build_wheel(project / "meta_sandbox", tmp_path / "wheels")
    top = {name.split("/")[0] for name in wheel.namelist()}
    assert "meta_sandbox" in top and "workers" not in top and "edge_compat" not in top
    assert "meta_sandbox/app.py" in wheel.namelist()
    assert any(r.startswith("growth-data-plane") for r in requires(wheel))


def test_gdp_sandbox_without_the_sandbox_says_how_to_install_it() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_SANDBOX, "sandbox", "--port", "8765"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("gdp: the Meta Graph API sandbox is not installed")
    assert "pip install -e ./meta_sandbox" in result.stderr
    assert "Traceback" not in result.stderr
    # The other commands do not need it.
    listing = subprocess.run(
        [sys.executable, "-c", WITHOUT_SANDBOX, "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert listing.returncode == 0 and "sandbox" in listing.stdout
