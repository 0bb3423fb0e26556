"""``hookline validate`` in CI: no connections file, no secrets, Markdown checked block by block."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hookline.cli.main import main
from hookline.documents.markdown import fenced_blocks

ROOT = Path(__file__).resolve().parent.parent

RECIPE = """\
recipe: export
connections:
  plextrac: plextrac
  files: {connector: file, folder: exports}
  argus:
    connector: argus
    api_key: "{{ env.ARGUS_KEY }}"
trigger:
  manual:
    inputs:
      file: {type: string, default: clients.json}
steps:
  - id: clients
    action: plextrac.list_clients
  - action: files.write_json
    with: {path: "{{ inputs.file }}", data: "{{ steps.clients }}"}
"""


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """A folder without a connections file, and an environment without hookline's variables."""
    monkeypatch.chdir(tmp_path)
    names = ["HOOKLINE_CONNECTIONS", "ARGUS_KEY", "PLANRADAR_WEBHOOK_PASSWORD"]
    names += [name for name in os.environ if name.startswith(("PLEXTRAC_", "ARGUS_"))]
    return dict.fromkeys(names)


def validate(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(main, ["validate", *args], env=env)


def test_the_shipped_specs_recipes_and_docs_validate_without_connections_or_secrets(
    clean: dict[str, str | None],
) -> None:
    result = validate(clean, *(str(ROOT / name) for name in ("specs", "recipes", "docs")))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.count(": valid recipe") >= 7
    assert f"{ROOT / 'docs' / 'recipes.md'}:16: valid recipe" in result.stdout.splitlines()


def test_a_connection_named_like_a_connector_needs_no_connections_file(
    clean: dict[str, str | None], tmp_path: Path
) -> None:
    (tmp_path / "export.yaml").write_text(RECIPE)
    result = validate(clean, "export.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout == "export.yaml: valid recipe\n"


def test_strict_env_warns_about_each_unset_variable_and_still_passes(
    clean: dict[str, str | None], tmp_path: Path
) -> None:
    (tmp_path / "export.yaml").write_text(RECIPE)
    result = validate(clean, "--strict-env", "export.yaml")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "warning: export.yaml:7:14: connections.argus.api_key: env.ARGUS_KEY: the environment "
        "variable 'ARGUS_KEY' is not set\n"
    )
    assert validate({**clean, "ARGUS_KEY": "k"}, "--strict-env", "export.yaml").stderr == ""


def test_connections_names_the_file_whose_entries_recipes_name(
    clean: dict[str, str | None], tmp_path: Path
) -> None:
    (tmp_path / "export.yaml").write_text(RECIPE.replace("plextrac: plextrac", "plextrac: prod"))
    unknown = validate(clean, "export.yaml")
    assert unknown.exit_code == 1
    assert "connections.plextrac: no connection named 'prod' in the connections file" in (
        unknown.stderr
    )
    file = tmp_path / "team.yaml"
    file.write_text(
        "prod:\n  connector: plextrac\n  instance_url: https://plextrac.example\n"
        '  username: "{{ env.PLEXTRAC_USER }}"\n  password: "{{ env.PLEXTRAC_PASSWORD }}"\n'
    )
    file.chmod(0o600)
    result = validate(clean, "--connections", str(file), "export.yaml")
    assert result.exit_code == 0, result.output
    strict = validate(clean, "--connections", str(file), "--strict-env", "export.yaml")
    assert strict.exit_code == 0
    assert f"warning: {file}:4:13: prod.username: the environment variable PLEXTRAC_USER" in (
        strict.stderr
    )


def test_markdown_blocks_that_are_recipes_or_specs_are_checked_where_they_are_written(
    clean: dict[str, str | None], tmp_path: Path
) -> None:
    broken = RECIPE.replace("list_clients", "list_clints")
    page = tmp_path / "guide.md"
    page.write_text(
        "# Guide\n\n```yaml\n- id: a step, not a recipe\n```\n\n"
        f"```yaml\n{RECIPE}```\n\n```yaml illustration\n{broken}```\n\n"
        f"Text.\n\n```yaml\n{broken}```\n"
    )
    result = validate(clean, "guide.md")
    assert result.exit_code == 1
    assert result.stdout == "guide.md:8: valid recipe\n"
    written = page.read_text().splitlines()
    line = [n for n, text in enumerate(written, start=1) if "list_clints" in text][-1]
    assert result.stderr == (
        f"guide.md:{line}:13: steps[0].action: connector 'plextrac' has no action "
        "'list_clints' (did you mean 'list_clients'?)\n1 of 1 files invalid\n"
    )


def test_fenced_blocks_keep_their_language_words_and_first_line() -> None:
    blocks = fenced_blocks("x\n```yaml illustration\na: 1\n```\n  ~~~sh\n  ls\n  ~~~\n")
    assert [(b.language, b.words, b.text, b.line) for b in blocks] == [
        ("yaml", ("illustration",), "a: 1\n", 3),
        ("sh", (), "ls\n", 6),
    ]
    assert blocks[0].illustration and not blocks[1].illustration


def test_a_missing_file_exits_1_for_every_command(clean: dict[str, str | None]) -> None:
    for args in (
        ["validate", "missing.yaml"],
        ["run", "missing.yaml"],
        ["call", "file.read_json", "-i", "path=x", "--connections", "missing.yaml"],
    ):
        result = CliRunner().invoke(main, args, env=clean)
        assert result.exit_code == 1, (args, result.output)
        assert "missing.yaml: cannot read the file: No such file or directory" in result.stderr


def test_bad_usage_exits_2_for_every_command(clean: dict[str, str | None]) -> None:
    for args in (
        ["validate"],
        ["run"],
        ["run", "r.yaml", "--no-such-option"],
        ["call", "file.read_json", "-i", "novalue"],
        ["sandbox", "--port", "-1"],
    ):
        assert CliRunner().invoke(main, args, env=clean).exit_code == 2, args


def test_a_bad_expression_is_reported_at_its_own_line_and_column_and_nothing_else(
    clean: dict[str, str | None], tmp_path: Path
) -> None:
    source = (ROOT / "recipes" / "argus-incident-to-plextrac.yaml").read_text()
    text = source.replace("trigger.priority == 'critical'", "trigger.priority = 'critical'")
    assert text != source
    (tmp_path / "bad.yaml").write_text(text)
    result = validate(clean, "bad.yaml")
    assert result.exit_code == 1
    line = text.splitlines().index(
        "      severity: \"{{ trigger.priority = 'critical' && 'Critical' || 'High' }}\""
    )
    assert result.stderr == (
        f"bad.yaml:{line + 1}:38: steps[0].with.severity: unexpected character '=' "
        "(did you mean '=='?):\n"
        "  trigger.priority = 'critical' && 'Critical' || 'High'\n"
        "                   ^\n"
        "1 of 1 files invalid\n"
    )


def test_a_bad_expression_in_a_folded_text_is_located_inside_it(
    clean: dict[str, str | None], tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text(
        "recipe: b\nconnections:\n  files: {connector: file}\ntrigger: {manual: {}}\n"
        "steps:\n  - action: files.write_text\n    with:\n      path: x\n      text: >-\n"
        "        line one\n        {{ a = b }}\n"
    )
    result = validate(clean, "bad.yaml")
    assert result.stderr.splitlines()[0] == (
        "bad.yaml:11:14: steps[0].with.text: unexpected character '=' (did you mean '=='?):"
    )
