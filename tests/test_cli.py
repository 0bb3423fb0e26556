"""The command line: exit codes, located errors without tracebacks, show, docs, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hookline.cli.main import main

from .test_spec import VALID

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_version() -> None:
    code, output = invoke("--version")
    assert code == 0 and output.startswith("hookline, version ")


def test_connectors_lists_the_built_ins_with_their_plugin() -> None:
    code, output = invoke("connectors")
    assert code == 0
    for name in ("argus", "pcr360", "planradar", "plextrac", "file"):
        assert f"hookline.connectors.{name}" in output


def test_validate_accepts_every_shipped_spec() -> None:
    code, output = invoke("validate", str(ROOT / "specs"))
    assert code == 0, output
    assert output.count("valid spec") == len(list((ROOT / "specs").glob("*.yaml")))


def test_validate_reports_each_mistake_located_and_exits_1(tmp_path: Path) -> None:
    bad = (
        VALID.replace("method: GET", "method: PSOT")
        .replace("    title: Get an item", "    titel: Get an item")
        .replace("title: Demo", "title: [De, mo]")
        .replace("path: /items/{{ input.id }}", "path: /items/{{ input.id. }}")
    )
    spec = tmp_path / "demo.yaml"
    spec.write_text(bad)
    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text(VALID.replace("name: demo", "name: demo\nname: again"))
    code, output = invoke("validate", str(spec), str(duplicate))
    assert code == 1
    assert "Traceback" not in output
    lines = output.splitlines()
    assert f"{spec}:3:8: title: expected text, got a list" in lines
    assert f"{spec}:18:5: actions.get_item: unknown key 'titel' (did you mean 'title'?)" in lines
    assert (
        f"{spec}:23:15: actions.get_item.request.method: "
        "'PSOT' is not one of GET, POST, PUT, PATCH, DELETE"
    ) in lines
    assert f"{duplicate}:3:1: name: duplicate key 'name' (first at line 2)" in lines
    assert "2 of 2 files invalid" in lines


def test_validate_reports_a_bad_expression_with_a_caret(tmp_path: Path) -> None:
    spec = tmp_path / "demo.yaml"
    spec.write_text(VALID.replace("path: /items/{{ input.id }}", "path: /items/{{ input.id. }}"))
    code, output = invoke("validate", str(spec))
    assert code == 1
    assert f"{spec}:24:32: actions.get_item.request.path:" in output
    assert "^" in output


def test_validate_refuses_a_file_that_is_neither_spec_nor_recipe(tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("hello: world\n")
    code, output = invoke("validate", str(other))
    assert code == 1
    assert "neither a connector spec" in output


def test_show_a_connector_and_an_action() -> None:
    code, output = invoke("show", "argus")
    assert code == 0 and "search_cases" in output
    lines = [" ".join(line.split()) for line in output.splitlines()]
    assert any(line.startswith("api_key * text, secret ") for line in lines), output
    assert any(line.startswith("base_url text (uri) https://api.mnemonic.no ") for line in lines)
    code, output = invoke("show", "argus.get_case")
    assert code == 0 and "Inputs" in output and "Example" in output


def test_show_resolves_shared_objects_into_types_values_defaults_and_required_marks() -> None:
    code, output = invoke("show", "pcr360.list_service_desk")
    assert code == 0
    lines = [" ".join(line.split()) for line in output.splitlines()]
    assert "#/objects" not in output
    assert "type one of IN, SO The item's type: IN (incident) or SO (service order)" in lines
    assert "RECID * text The item's record id, a whole number as text" in lines
    code, output = invoke("show", "argus.search_cases")
    flat = " ".join(output.split())
    assert "status one of pendingCustomer, pendingSoc," in flat and "; or a list of them" in flat
    code, output = invoke("show", "plextrac.create_finding")
    lines = [" ".join(line.split()) for line in output.splitlines()]
    assert "client_id * an integer The client's id" in lines
    assert "title * text, at least 1 character The title (unique within the report)" in lines
    code, output = invoke("show", "file.write_json")
    lines = [" ".join(line.split()) for line in output.splitlines()]
    assert "indent an integer, at least 0, at most 8 2 Spaces per level (0: one line)" in lines


def test_an_unknown_name_suggests_a_close_one_without_a_traceback() -> None:
    code, output = invoke("show", "argus.get_cse")
    assert code == 1
    assert output.startswith("error: ") and "did you mean 'get_case'" in output
    code, output = invoke("show", "argos")
    assert code == 1 and "did you mean 'argus'" in output


def test_debug_shows_the_traceback() -> None:
    result = CliRunner().invoke(main, ["--debug", "show", "argos"])
    assert result.exit_code == 1
    assert result.exception is not None and "argos" in str(result.exception)


def test_bad_usage_exits_2() -> None:
    code, _ = invoke("validate")
    assert code == 2
    code, _ = invoke("no-such-command")
    assert code == 2


def test_ctrl_c_while_a_command_loads_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("hookline.cli.run.load_recipe", interrupted)
    result = CliRunner().invoke(main, ["run", "recipes/argus-incident-to-plextrac.yaml"])
    assert (result.exit_code, result.output) == (130, "stopped\n")


def test_docs_writes_the_references(tmp_path: Path) -> None:
    code, _ = invoke("docs", "--output", str(tmp_path))
    assert code == 0
    for name in ("spec-reference.md", "recipe-reference.md", "cli.md", "connectors/argus.md"):
        assert (tmp_path / name).read_text().startswith("# ")


def test_schema_prints_the_path_of_a_shipped_schema() -> None:
    code, output = invoke("schema", "recipe")
    assert code == 0
    assert json.loads(Path(output.strip()).read_text())["title"] == "hookline recipe, v1"


@pytest.mark.parametrize("kind", ["spec", "recipe"])
def test_every_schema_property_has_a_description(kind: str) -> None:
    schema = json.loads((ROOT / "engine" / "schemas" / f"{kind}-v1.json").read_text())
    missing: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for name, prop in node.get("properties", {}).items():
                # a bare $ref takes the description of the definition it names
                if isinstance(prop, dict) and not ({"description", "$ref"} & set(prop)):
                    missing.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}[{index}]")

    walk(schema, kind)
    assert missing == []
