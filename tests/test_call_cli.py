"""``hookline call`` end to end: a connections file, a server on 127.0.0.1, JSON on stdout."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from hookline import hookimpl
from hookline.cli.call import call, parse_inputs
from hookline.cli.main import main
from hookline.errors import ConfigurationError, InvalidRequestError
from hookline.plugins.manager import get_plugin_manager
from hookline.run.connections import write_connections
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog

from .servers import EchoState, PagedState, Reply, paged_app

SECRET = "t0ken/with+chars="

SPEC = """
spec: hookline/v1
name: shop
title: Shop
connection:
  fields:
    url: {type: string}
    token: {type: string, secret: true}
  required: [url, token]
  base_url: "{{ connection.url }}"
  auth: {type: bearer, token: "{{ connection.token }}"}
actions:
  list_items:
    title: List the items
    request: {method: GET, path: /offset}
    paginate: {type: offset, page_size: 5, total: meta.total}
    output: {records: data}
  find:
    title: Find items
    input:
      name: {type: string}
      count: {type: integer}
      tags: {type: array, items: {type: string}}
      exact: {type: boolean}
      state:
        anyOf:
          - {enum: [open, closed]}
          - {type: array, items: {enum: [open, closed]}}
    required: [name]
    request:
      method: POST
      path: /find
      query: {key: "{{ connection.token }}"}
      json: {name: "{{ input.name }}", count: "{{ input.count }}", tags: "{{ input.tags }}",
             exact: "{{ input.exact }}"}
    output: {select: "{body: body, path: path}"}
"""


@dataclass(frozen=True)
class Obj:
    """What the ``hookline`` group puts in the click context."""

    catalog: Catalog
    debug: bool = False


@pytest.fixture(scope="module")
def obj(tmp_path_factory: pytest.TempPathFactory) -> Obj:
    spec = tmp_path_factory.mktemp("specs") / "shop.yaml"
    spec.write_text(SPEC)

    class ShopPlugin:
        @hookimpl
        def register_connectors(self) -> list[Path]:
            return [spec]

    pm = get_plugin_manager(entry_points=False)
    for name, _ in pm.list_name_plugin():
        if name.startswith("hookline.connectors."):  # only the connector under test
            pm.unregister(name=name)
    pm.register(ShopPlugin(), name="shop")
    return Obj(Catalog(pm))


@pytest.fixture(scope="module")
def paged() -> Iterator[tuple[str, PagedState]]:
    app = paged_app(12)
    with running(app) as url:
        yield url, app.state.paged


def connections(tmp_path: Path, **entries: str) -> Path:
    """A connections file with one ``shop`` connection per name, pointing at each URL."""
    file = tmp_path / "connections.yaml"
    text = "".join(
        f"{name}:\n  connector: shop\n  url: {url}\n  token: '{SECRET}'\n"
        for name, url in entries.items()
    )
    file.write_text(text)
    file.chmod(0o600)
    return file


def invoke(obj: Obj, *args: str | Path) -> Result:
    return CliRunner().invoke(call, [str(a) for a in args], obj=obj)


def test_a_list_action_prints_one_json_line_per_record(
    obj: Obj, paged: tuple[str, PagedState], tmp_path: Path
) -> None:
    url, state = paged
    state.seen.clear()
    result = invoke(obj, "shop.list_items", "--connections", connections(tmp_path, main=url))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"id": i, "name": f"record {i}"} for i in range(12)
    ]
    assert len(state.seen) == 3


def test_max_records_limits_a_list(obj: Obj, paged: tuple[str, PagedState], tmp_path: Path) -> None:
    url, _ = paged
    file = connections(tmp_path, main=url)
    result = invoke(obj, "shop.list_items", "--connections", file, "--max-records", "4")
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [0, 1, 2, 3]


@pytest.mark.parametrize("tags", ['["bug"]', "bug"])
def test_a_list_input_takes_json_or_one_item(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path, tags: str
) -> None:
    url, _ = echo
    args = [
        "--connections",
        str(connections(tmp_path, main=url)),
        "-i",
        "name=x",
        "-i",
        f"tags={tags}",
    ]
    result = invoke(obj, "shop.find", *args)
    assert result.exit_code == 0, result.output
    assert json.loads(json.loads(result.stdout)["body"])["tags"] == ["bug"]


def test_a_value_outside_an_enum_names_the_allowed_values(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path
) -> None:
    url, state = echo
    state.reset()
    args = [
        "--connections",
        str(connections(tmp_path, main=url)),
        "-i",
        "name=x",
        "-i",
        "state=shut",
    ]
    result = invoke(obj, "shop.find", *args)
    assert result.exit_code == 1
    assert str(result.exception) == "shop.find: input 'state': 'shut' is not one of open, closed"
    assert state.seen == []


def test_inputs_parse_as_json_or_text_and_repeat_into_lists(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path
) -> None:
    url, state = echo
    state.reset()
    result = invoke(
        obj, "shop.find", "--connections", connections(tmp_path, main=url),
        "--input-json", '{"name": "ignored", "exact": false}',
        "-i", "name=door 4", "--input", "count=3", "-i", "tags=red", "-i", "tags=5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert output["path"] == "/find"
    assert json.loads(output["body"]) == {
        "name": "door 4",
        "count": 3,
        "tags": ["red", "5"],  # declared as strings: kept as text
        "exact": False,
    }
    assert state.seen[0].headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("pairs", "given_json", "expected"),
    [
        (("a=1",), None, {"a": 1}),
        (("a=1.5", "b=true", "c=null"), None, {"a": 1.5, "b": True, "c": None}),
        (('a="1"',), None, {"a": "1"}),
        (("a=x=y",), None, {"a": "x=y"}),
        (("a=",), None, {"a": ""}),
        (("a=[1, 2]", 'b={"c": 1}'), None, {"a": [1, 2], "b": {"c": 1}}),
        (("a=1", "a=two", "a=3"), None, {"a": [1, "two", 3]}),
        (("a=@photo.png",), None, {"a": "@photo.png"}),
        (("b=2",), '{"a": 1, "b": 1}', {"a": 1, "b": 2}),
    ],
)
def test_parse_inputs(
    pairs: tuple[str, ...], given_json: str | None, expected: dict[str, Any]
) -> None:
    assert parse_inputs(pairs, given_json) == expected


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("name=0042", "0042"),
        ("tags=5", ["5"]),
        ("tags=bug", ["bug"]),
        ('tags=["bug", "ui"]', ["bug", "ui"]),
        ("count=5", 5),
        ("other=5", 5),
        ('name="x"', '"x"'),
        ('name=["x"]', '["x"]'),
        ("either=open", "open"),
        ('either=["open", "new"]', ["open", "new"]),
        ("either=5", "5"),
    ],
)
def test_inputs_are_read_as_their_declared_type(pair: str, expected: Any) -> None:
    properties = {
        "name": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "count": {"type": "integer"},
        "either": {"$ref": "#/objects/states"},
    }
    objects = {
        "states": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    }
    key = pair.split("=")[0]
    assert parse_inputs((pair,), None, properties, objects) == {key: expected}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "novalue"], "'novalue' is not KEY=VALUE"),
        (["-i", "=1"], "'=1' is not KEY=VALUE"),
        (["--input-json", "{nope"], "not valid JSON"),
        (["--input-json", "[1]"], "must be a JSON object"),
    ],
)
def test_bad_inputs_are_usage_errors(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path, args: list[str], message: str
) -> None:
    url, _ = echo
    result = invoke(obj, "shop.find", "--connections", connections(tmp_path, main=url), *args)
    assert result.exit_code == 2
    assert message in result.output


def test_invalid_input_is_a_clean_error(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path
) -> None:
    url, _ = echo
    file = connections(tmp_path, main=url)
    result = invoke(obj, "shop.find", "--connections", file, "-i", "count=many")
    assert isinstance(result.exception, InvalidRequestError)
    message = "input 'count': 'many' is not of type 'integer'; input 'name' is required"
    assert message in str(result.exception)


def test_several_connections_of_the_connector_must_be_chosen_between(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path
) -> None:
    url, state = echo
    state.reset()
    file = connections(tmp_path, prod=url, staging=url)
    result = invoke(obj, "shop.find", "--connections", file, "-i", "name=x")
    assert isinstance(result.exception, ConfigurationError)
    assert "several connections use connector 'shop'" in str(result.exception)
    assert "prod, staging" in str(result.exception)
    assert state.seen == []
    chosen = invoke(obj, "shop.find", "--connections", file, "-i", "name=x", "--connection", "prod")
    assert chosen.exit_code == 0, chosen.output
    assert len(state.seen) == 1


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("shop.fnid", "connector 'shop' has no action 'fnid' (did you mean 'find'?)"),
        ("shopp.find", "unknown connector 'shopp'"),
    ],
)
def test_unknown_names_are_clean_errors(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path, target: str, message: str
) -> None:
    url, _ = echo
    result = invoke(obj, target, "--connections", connections(tmp_path, main=url))
    assert isinstance(result.exception, ConfigurationError)
    assert message in str(result.exception)


def test_a_target_without_an_action_is_a_usage_error(obj: Obj, tmp_path: Path) -> None:
    result = invoke(obj, "shop", "--connections", connections(tmp_path, main="http://127.0.0.1:9"))
    assert result.exit_code == 2
    assert "'shop' is not CONNECTOR.ACTION" in result.output


def test_dry_run_prints_the_request_without_secrets_and_sends_nothing(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path
) -> None:
    url, state = echo
    state.reset()
    file = connections(tmp_path, main=url)
    result = invoke(obj, "shop.find", "--connections", file, "-i", "name=door", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "t0ken" not in result.output
    plan = json.loads(result.stdout)
    assert plan["requests"][0]["url"] == f"{url}/find?key=***"
    assert plan["requests"][0]["body"]["name"] == "door"
    assert state.seen == []


def test_a_platform_error_reaches_the_group_as_a_hookline_error(
    obj: Obj, echo: tuple[str, EchoState], tmp_path: Path
) -> None:
    url, state = echo
    state.reset()
    state.replies.append(Reply(status=404, body={"message": "no such shop"}))

    @click.group()
    def group() -> None:
        """A stand-in for the hookline group."""

    group.add_command(call)
    file = connections(tmp_path, main=url)
    result = CliRunner().invoke(group, ["call", "shop.find", "--connections", str(file),
                                        "-i", "name=x"], obj=obj)  # fmt: skip
    assert result.exception is not None
    assert "no such shop" in str(result.exception)
    assert SECRET not in str(result.exception)


def test_a_dry_run_shows_auth_and_session_headers_redacted_and_labels_the_example(
    catalog: Catalog, tmp_path: Path
) -> None:
    box = catalog.sandboxes["plextrac"]
    with running(box.create_app(seed=1)) as url:
        file = tmp_path / "connections.yaml"
        write_connections(file, {"plextrac": {"connector": "plextrac", **box.connection(url)}})
        args = ["call", "plextrac.list_clients", "--dry-run", "--connections", str(file)]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    (request,) = plan["requests"]
    assert request["headers"]["authorization"] == "***"  # the session's bearer token
    assert "output" not in plan
    assert plan["example_output"][0]["name"] == "Karbo Industries"
    assert "plextrac-demo" not in result.stdout


def test_a_dry_run_of_an_action_with_a_static_key_shows_it_redacted(
    obj: Obj, tmp_path: Path
) -> None:
    file = connections(tmp_path, main="http://127.0.0.1:9")
    result = invoke(obj, "shop.find", "--connections", file, "-i", "name=x", "--dry-run")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["requests"][0]["headers"]["authorization"] == "***"
    assert plan["requests"][0]["url"] == "http://127.0.0.1:9/find?key=***"
    assert plan["example_output"] is None
    assert SECRET not in result.stdout


@pytest.fixture
def argus_connections(catalog: Catalog, tmp_path: Path) -> Iterator[Path]:
    box = catalog.sandboxes["argus"]
    with running(box.create_app(seed=1)) as url:
        file = tmp_path / "connections.yaml"
        write_connections(file, {"argus": {"connector": "argus", **box.connection(url)}})
        yield file


def test_a_list_read_on_a_terminal_shows_records_and_pages_on_stderr(
    argus_connections: Path,
) -> None:
    args = ["call", "argus.search_cases", "--max-records", "120"]
    args += ["--connections", str(argus_connections)]
    main_fd, terminal = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "hookline", *args],
            stdout=subprocess.PIPE,
            stderr=terminal,
            timeout=60,
            check=False,
        )
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # the terminal's other end is closed: all is read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main_fd)
    assert process.returncode == 0
    assert len(process.stdout.splitlines()) == 120
    last = shown.decode().replace("\r\n", "\n").split("\x1b[2K")[-1]
    assert re.fullmatch(r"read 120 records in 2 pages \(\d+\.\ds\)\n", last), shown


def test_off_a_terminal_stderr_carries_nothing_but_errors(argus_connections: Path) -> None:
    args = ["call", "argus.search_cases", "--max-records", "120"]
    result = CliRunner().invoke(main, [*args, "--connections", str(argus_connections)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 120
    assert result.stderr == ""


def test_a_connector_that_needs_no_values_works_without_a_connections_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"HOOKLINE_CONNECTIONS": None}
    runner = CliRunner()
    written = runner.invoke(
        main, ["call", "file.write_text", "-i", "path=a.txt", "-i", "text=hi"], env=env
    )
    assert written.exit_code == 0, written.output
    assert json.loads(written.stdout) == {"path": "a.txt", "size": 2}
    read = runner.invoke(main, ["call", "file.read_text", "-i", "path=a.txt"], env=env)
    assert json.loads(read.stdout) == {"text": "hi"}
    argus = runner.invoke(main, ["call", "argus.get_case", "-i", "id=1"], env=env)
    assert argus.exit_code == 1
    assert "no connection for connector 'argus'" in argus.stderr
