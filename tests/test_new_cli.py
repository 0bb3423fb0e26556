"""``hookline new connector``: a package that installs, validates and passes its own tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from hookline.cli.main import main
from tests.installs import environment, install, run


@dataclass(frozen=True)
class Generated:
    """A generated ``gadgets`` package installed apart: its folder, environment, output."""

    folder: Path
    env: dict[str, str]
    output: list[str]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    folder = tmp_path_factory.mktemp("new") / "hookline-gadgets"
    result = CliRunner().invoke(main, ["new", "connector", "gadgets", "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    target = tmp_path_factory.mktemp("site")
    install(folder, target)
    return Generated(folder, environment(target), result.output.splitlines())


def test_the_package_holds_a_plugin_a_spec_a_sandbox_and_tests(generated: Generated) -> None:
    folder = generated.folder
    written = [line.removeprefix(f"wrote {folder}/") for line in generated.output[:-1]]
    assert generated.output[-1].startswith(f"next: cd {folder} && pip install -e .")
    assert sorted(written) == [
        "README.md",
        "pyproject.toml",
        "src/hookline_gadgets/__init__.py",
        "src/hookline_gadgets/gadgets.yaml",
        "src/hookline_gadgets/plugin.py",
        "src/hookline_gadgets/py.typed",
        "src/hookline_gadgets/sandbox.py",
        "tests/test_gadgets.py",
    ]
    assert 'gadgets = "hookline_gadgets.plugin"' in (folder / "pyproject.toml").read_text()


def test_the_installed_plugin_is_listed_and_its_spec_validates(generated: Generated) -> None:
    folder, env = generated.folder, generated.env
    listed = run(["hookline", "connectors"], cwd=folder, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "gadgets" in listed.stdout and "Gadgets" in listed.stdout
    spec = folder / "src" / "hookline_gadgets" / "gadgets.yaml"
    checked = run(["hookline", "validate", str(spec)], cwd=folder, env=env)
    assert checked.returncode == 0, checked.stderr


def test_the_generated_tests_pass_as_generated(generated: Generated) -> None:
    folder, env = generated.folder, generated.env
    result = run(["pytest", "-q", "-p", "no:cacheprovider"], cwd=folder, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    assert (folder / "tests" / "cassettes" / "create-and-get.yaml").exists()  # recorded once


def test_hookline_test_passes_on_the_generated_connector(generated: Generated) -> None:
    folder, env = generated.folder, generated.env
    result = run(["hookline", "test", "gadgets"], cwd=folder, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    examples   3 of 3 examples ran against the sandbox" in result.stdout


def test_a_name_that_is_not_a_connector_name_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["new", "connector", "Gad-gets", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "'Gad-gets' is not a connector name" in result.output


def test_a_folder_with_files_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["new", "connector", "gadgets", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "exists and is not empty" in result.output
    assert [path.name for path in tmp_path.iterdir()] == ["keep.txt"]


OPENAPI = Path(__file__).parent / "data" / "openapi"


@pytest.mark.parametrize(
    ("document", "actions"),
    [("swagger-petstore-v3.0.yaml", 19), ("swagger-ui-petstore-v2.json", 18)],
)
def test_from_openapi_writes_a_spec_that_validates(
    tmp_path: Path, document: str, actions: int
) -> None:
    args = ["new", "connector", "petstore", "--dir", str(tmp_path)]
    result = CliRunner().invoke(main, [*args, "--from-openapi", str(OPENAPI / document)])
    assert result.exit_code == 0, result.output
    spec = tmp_path / "petstore.yaml"
    assert f"wrote {spec}: {actions} actions from " in result.output
    assert "# review:" in spec.read_text()
    checked = CliRunner().invoke(main, ["validate", str(spec)])
    assert checked.exit_code == 0, checked.output
    assert checked.output == f"{spec}: valid spec\n"


def test_from_openapi_leaves_an_existing_spec_alone(tmp_path: Path) -> None:
    (tmp_path / "petstore.yaml").write_text("mine")
    document = str(OPENAPI / "swagger-petstore-v3.0.yaml")
    args = ["new", "connector", "petstore", "--dir", str(tmp_path), "--from-openapi", document]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "petstore.yaml exists" in result.output
    assert (tmp_path / "petstore.yaml").read_text() == "mine"
