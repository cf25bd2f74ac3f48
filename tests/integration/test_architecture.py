"""The folder layout is the data flow: packages import each other in the flow's order only.

The contract lives in pyproject.toml (``[tool.importlinter]``, a layers contract from ``cli``
down to ``ioutil``); this test runs import-linter on the source tree so that a cycle or a
backward arrow between packages fails the suite, not a later review."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.fail("import-linter is not installed (it is in the `test` extra)")
    # The source tree, not an installed (possibly compiled) copy: the contract is about code.
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    return subprocess.run([lint, "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def test_packages_import_in_the_flow_order() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_a_backward_import_breaks_the_contract(tmp_path: Path) -> None:
    """The contract really checks: the hub importing the orchestrator is reported."""
    shutil.copytree(REPO / "src" / "scenesynth", tmp_path / "src" / "scenesynth",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "data", "static"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    box = tmp_path / "src" / "scenesynth" / "graph" / "box.py"
    box.write_text(box.read_text() + "\nimport scenesynth.pipeline.shard  # noqa\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "scenesynth.graph is not allowed to import scenesynth.pipeline" in done.stdout


def test_the_contract_names_every_package() -> None:
    """A new package must be placed in the flow, or the contract would not check it."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = config["contracts"][0]["layers"]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    src = REPO / "src" / "scenesynth"
    packages = {p.name for p in src.iterdir() if (p / "__init__.py").is_file()}
    modules = {p.stem for p in src.glob("*.py") if not p.stem.startswith("__")}
    missing = (packages | modules) - named
    assert not missing, f"place these in the layers contract in pyproject.toml: {sorted(missing)}"
