"""The layer contracts: import-linter keeps each layer above the ones it imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run the project's contracts on the ``hookline`` package found in ``package_parent``."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(package_parent)},
        capture_output=True,
        text=True,
    )


def copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "engine", tmp_path / "hookline", ignore=shutil.ignore_patterns("*.pyc"))
    return tmp_path / "hookline"


def test_the_tree_keeps_its_layers(tmp_path: Path) -> None:
    copy_of_the_package(tmp_path)
    result = lint_imports(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    package = copy_of_the_package(tmp_path)
    errors = package / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom hookline.run import jobs  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "hookline.errors is not allowed to import hookline.run" in result.stdout


def test_a_cycle_inside_a_subpackage_breaks_the_contract(tmp_path: Path) -> None:
    package = copy_of_the_package(tmp_path)
    model = package / "recipes" / "model.py"
    model.write_text(model.read_text() + "\nfrom hookline.recipes import load  # noqa: E402\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "No cycles are allowed in hookline.recipes" in result.stdout
