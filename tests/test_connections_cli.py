"""``hookline connections``: listing hides secrets; testing logs in and runs the test action."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hookline.cli.main import main
from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from tests.servers import EchoState


@pytest.fixture
def connections_file(catalog: Catalog, tmp_path: Path) -> Iterator[Path]:
    box = catalog.sandboxes["plextrac"]
    with running(box.create_app(seed=1)) as url:
        file = tmp_path / "connections.yaml"
        values = box.connection(url)
        write_connections(
            file,
            {
                "plextrac": {"connector": "plextrac", **values},
                "wrong": {"connector": "plextrac", **values, "password": "not-it"},
            },
        )
        yield file


def test_list_shows_each_connection_with_secrets_hidden(connections_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["connections", "list", "--connections", str(connections_file)]
    )
    assert result.exit_code == 0, result.output
    assert "plextrac" in result.output and "wrong" in result.output
    assert "password=***" in result.output
    assert "plextrac-demo" not in result.output and "not-it" not in result.output


def test_a_working_connection_passes_its_test(connections_file: Path) -> None:
    args = ["connections", "test", "plextrac", "--connections", str(connections_file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "works (list_tenant_users" in result.output


def test_refused_credentials_fail_the_test_cleanly(connections_file: Path) -> None:
    args = ["connections", "test", "wrong", "--connections", str(connections_file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "not-it" not in result.output
    assert result.output.startswith("error: ")


def test_a_server_that_is_not_the_platform_fails_the_test(
    catalog: Catalog, server: tuple[str, EchoState], tmp_path: Path
) -> None:
    url, _ = server  # answers 200 with JSON about the request, whatever is asked
    file = tmp_path / "connections.yaml"
    write_connections(file, {"argus": {"connector": "argus", "base_url": url, "api_key": "k"}})
    result = CliRunner().invoke(main, ["connections", "test", "argus", "--connections", str(file)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "output.records 'data' found nothing in the response" in result.stderr


ECHO_SPEC = """\
spec: hookline/v1
name: echoed
title: Echoed
connection:
  fields:
    url: {type: string, description: Where}
    team: {type: string, description: Which team}
  required: [url, team]
  base_url: "{{ connection.url }}"
  test: {action: ping, input: {team: "{{ connection.team }}"}}
actions:
  ping:
    title: Ping a team
    input:
      team: {type: string, description: The team}
    request: {method: GET, path: /ping, query: {team: "{{ input.team }}"}}
    output:
      schema:
        type: object
        required: [path, query]
        properties:
          path: {type: string}
          query: {type: array}
"""


def test_the_test_input_is_rendered_from_the_connection(
    server: tuple[str, EchoState], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = server
    (tmp_path / "echoed.yaml").write_text(ECHO_SPEC)
    (tmp_path / "echoed_plugin.py").write_text(
        "from pathlib import Path\nfrom hookline import hookimpl\n\n\n"
        "@hookimpl\ndef register_connectors():\n"
        "    return [Path(__file__).with_name('echoed.yaml')]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    file = tmp_path / "connections.yaml"
    write_connections(file, {"echo": {"connector": "echoed", "url": url, "team": "blue"}})
    args = ["--plugin", "echoed_plugin", "connections", "test", "echo", "--connections", str(file)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output == "echoed connection 'echo' works (ping)\n"
    assert state.seen[0].query == [("team", "blue")]
