"""``hookline test CONNECTOR``: each check on a line, problems below, exit 1 on a failure.

The connectors under test are packages ``hookline new connector`` writes, loaded with
``--plugin`` from their source folders; one of them has an example its sandbox refuses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from hookline.cli.main import main
from hookline.cli.new import scaffold
from hookline.plugins.manager import get_plugin_manager
from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from hookline.testing.checks import with_example_files

PLUGINS = ("--plugin", "hookline_gizmos.plugin", "--plugin", "hookline_gizmos_broken.plugin")


@pytest.fixture(scope="module", autouse=True)
def packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Two scaffolded packages on the import path: ``gizmos``, and one with a bad example."""
    sources = []
    for name in ("gizmos", "gizmos_broken"):
        folder = tmp_path_factory.mktemp(name)
        scaffold(name, folder)
        sources.append(str(folder / "src"))
    spec = Path(sources[1]) / "hookline_gizmos_broken" / "gizmos_broken.yaml"
    spec.write_text(spec.read_text().replace("- input: {id: 1}", "- input: {id: 99}"))
    sys.path[:0] = sources
    yield
    for source in sources:
        sys.path.remove(source)


def hookline_test(*args: str) -> Result:
    return CliRunner().invoke(main, [*PLUGINS, "test", *args])


def test_every_check_passes_on_a_sound_connector(tmp_path: Path) -> None:
    result = hookline_test("gizmos", "--cassettes", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "hookline test gizmos",
        "ok    spec       3 actions, 0 triggers and 3 examples; no problems",
        "ok    examples   3 of 3 examples ran against the sandbox",
        "ok    docs       the reference page renders (104 lines)",
        f"skip  cassettes  skipped: no example cassettes in {tmp_path}/gizmos (record them "
        "with --record)",
        "3 passed, 1 skipped, 0 failed",
    ]


def test_record_writes_a_cassette_per_example_and_replays_them(tmp_path: Path) -> None:
    result = hookline_test("gizmos", "--record", "--cassettes", str(tmp_path))
    assert result.exit_code == 0, result.output
    names = sorted(path.name for path in (tmp_path / "gizmos").iterdir())
    assert names == ["create_item.yaml", "get_item.yaml", "list_items.yaml"]
    assert "demo-token-gizmos" not in (tmp_path / "gizmos" / "get_item.yaml").read_text()
    assert f"ok    cassettes  3 of 3 cassettes replayed from {tmp_path}/gizmos" in result.output
    again = hookline_test("gizmos", "--cassettes", str(tmp_path))
    assert again.output.splitlines()[-1] == "4 passed, 0 skipped, 0 failed"


def test_an_example_the_sandbox_refuses_fails_the_run_and_is_named(tmp_path: Path) -> None:
    result = hookline_test("gizmos_broken", "--cassettes", str(tmp_path))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[2] == "FAIL  examples   2 of 3 examples ran against the sandbox"
    assert lines[3].startswith("        - get_item #1: NotFoundError: gizmos_broken.get_item: GET ")
    assert lines[3].endswith("/items/99 answered 404 Not Found: No such item")
    assert lines[-1] == "2 passed, 1 skipped, 1 failed"


def test_a_replay_that_no_longer_matches_fails_the_cassettes_check(tmp_path: Path) -> None:
    hookline_test("gizmos", "--record", "--cassettes", str(tmp_path))
    recorded = tmp_path / "gizmos" / "get_item.yaml"
    cassette = yaml.safe_load(recorded.read_text())
    cassette["output"]["name"] = "Item One"  # as if the connector's output had changed since
    recorded.write_text(yaml.safe_dump(cassette))
    result = hookline_test("gizmos", "--cassettes", str(tmp_path))
    assert result.exit_code == 1
    assert "FAIL  cassettes  2 of 3 cassettes replayed" in result.output
    assert (
        "- get_item #1 (get_item.yaml): the output differs from the one recorded: "
        "['name'] is 'Item 1', not 'Item One'"
    ) in result.output


def test_examples_run_against_a_named_connection(tmp_path: Path) -> None:
    catalog = Catalog(get_plugin_manager(["hookline_gizmos.plugin"], entry_points=False))
    box = catalog.sandboxes["gizmos"]
    connections = tmp_path / "connections.yaml"
    with running(box.create_app()) as url:
        write_connections(connections, {"account": {"connector": "gizmos", **box.connection(url)}})
        result = hookline_test(
            "gizmos", "--connection", "account", "--connections", str(connections),
            "--cassettes", str(tmp_path),
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ok    examples   3 of 3 examples ran against connection 'account'" in result.output


def test_an_unknown_connector_fails_the_spec_check(tmp_path: Path) -> None:
    result = hookline_test("gizmo", "--cassettes", str(tmp_path))
    assert result.exit_code == 1
    assert result.output.splitlines()[1:3] == [
        "FAIL  spec       the spec does not load",
        "        - unknown connector 'gizmo' (did you mean 'gizmos'?)",
    ]


def test_a_connector_of_no_installed_plugin_says_to_install_its_package(tmp_path: Path) -> None:
    result = hookline_test("widgets", "--cassettes", str(tmp_path))
    assert result.exit_code == 1
    problem = result.output.splitlines()[2]
    assert problem.startswith("        - unknown connector 'widgets' (known: argus, file, gizmos")
    assert problem.endswith(
        "; a plugin's connectors are registered through its entry point, which hookline sees "
        "once the plugin's package is installed: run `pip install -e .` in the plugin's folder"
    )


@pytest.mark.parametrize("connector", ["argus", "pcr360", "planradar", "plextrac"])
def test_every_built_in_connector_passes_from_any_folder(
    connector: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each example names objects the fresh sandbox holds, and files its sandbox ships."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["test", connector, "--cassettes", str(tmp_path)])
    assert result.exit_code == 0, result.output
    spec, examples = result.output.splitlines()[1:3]
    assert spec.startswith("ok    spec ") and spec.endswith("; no problems")
    ran, total = examples.split("examples   ")[1].split(" examples")[0].split(" of ")
    assert examples.startswith("ok    examples ") and ran == total


def test_an_upload_example_reads_its_file_from_the_sandbox_folder() -> None:
    catalog = Catalog(get_plugin_manager())
    files = catalog.sandboxes["argus"].example_files
    assert files is not None
    given = {"id": 1, "content": "@capture.pcap", "name": "@missing.txt"}
    assert with_example_files(given, files) == {
        "id": 1,
        "content": f"@{files / 'capture.pcap'}",
        "name": "@missing.txt",
    }
    assert with_example_files(given, None) is given
