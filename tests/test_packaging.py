"""The distribution: a built wheel carries the package, the schemas, the specs and sandboxes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {"hookline": "engine", "hookline.connectors": "connectors", "hookline.specs": "specs"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the source files, so the build leaves the tree untouched."""
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=source,
        check=True,
        capture_output=True,
    )
    return next(out.glob("hookline-*.whl"))


def test_every_package_folder_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for package, folder in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *relative.parts]))
    assert found - listed == set()


def test_wheel_holds_schemas_specs_sandboxes_the_kit_and_the_skeleton(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "hookline/py.typed",
        "hookline/schemas/spec-v1.json",
        "hookline/schemas/recipe-v1.json",
        "hookline/specs/argus.yaml",
        "hookline/connectors/argus/sandbox/__init__.py",
        "hookline/testing/plugin.py",
        "hookline/cli/templates/connector/spec.yaml.tmpl",
        "hookline-0.1.0.dist-info/licenses/LICENSE",
    ):
        assert expected in names


def test_wheel_registers_the_test_kit_as_a_pytest_plugin(wheel: Path) -> None:
    entry_points = zipfile.ZipFile(wheel).read("hookline-0.1.0.dist-info/entry_points.txt")
    assert "[pytest11]\nhookline = hookline.testing.plugin" in entry_points.decode()


def test_spec_loads_from_the_wheel(wheel: Path) -> None:
    # -S keeps the editable install's path hook out, so hookline comes from the wheel alone.
    site = sysconfig.get_paths()["purelib"]
    code = (
        "import hookline, sys;"
        "from hookline.spec.catalog import Catalog;"
        "from hookline.plugins.manager import get_plugin_manager;"
        "spec = Catalog(get_plugin_manager(entry_points=False)).spec('argus');"
        "print(hookline.__file__); print(spec.title)"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={"PYTHONPATH": f"{wheel}:{site}"},
        check=True,
        capture_output=True,
        text=True,
    )
    module_file, title = result.stdout.splitlines()
    assert module_file.startswith(str(wheel))
    assert title == "mnemonic Argus"
