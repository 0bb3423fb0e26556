"""A spec's templates read only the names their place provides; anything else is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hookline.cli.main import main

SPEC = """\
spec: hookline/v1
name: shop
title: Shop
connection:
  fields:
    url: {type: string, description: Where}
    user: {type: string, description: Who}
  required: [url]
  base_url: "{{ connection.url }}"
  headers: {X-User: "{{ connection.user }}"}
  test: {action: get_item, input: {id: "{{ connection.user }}"}}
actions:
  get_item:
    title: Get an item
    description: "Reads {{ anything }} in prose, which is not a template"
    input:
      id: {type: string, description: The id}
    request:
      method: GET
      path: /items/{{ input.id }}
  list_items:
    title: List items
    request:
      method: GET
      path: /items
      query: {from: "{{ page.offset }}"}
    paginate: {type: offset}
    output: {records: items}
  copy:
    title: Copy an item
    input:
      id: {type: string, description: The id}
    calls:
      - {id: first, action: get_item, with: {id: "{{ input.id }}"}}
      - id: each
        for_each: "{{ [calls.first] }}"
        as: one
        calls:
          - {id: again, action: get_item, with: {id: "{{ one.id }}"}}
          - {id: twice, action: get_item, with: {id: "{{ again.id || calls.first.id }}"}}
triggers:
  new_item:
    type: poll
    title: A new item
    request:
      method: GET
      path: /items
      query: {after: "{{ cursor }}"}
    records: items
    id: id
    cursor: {value: id, initial: "{{ input.since }}"}
    input:
      since: {type: string, description: From when}
"""


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    spec = tmp_path / "shop.yaml"
    spec.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(spec)])
    return result.exit_code, result.output.replace(f"{spec}:", "shop.yaml:")


def test_every_place_reads_what_it_provides(tmp_path: Path) -> None:
    assert validate(tmp_path, SPEC) == (0, "shop.yaml: valid spec\n")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "/items/{{ input.id }}",
            "/items/{{ inputs.id }}",
            "shop.yaml:20:13: actions.get_item.request.path: inputs.id: unknown name 'inputs' "
            "(did you mean 'input'?); here a template reads connection, input, session",
            id="unknown-root",
        ),
        pytest.param(
            "/items/{{ input.id }}",
            "/items/{{ cursor }}",
            "shop.yaml:20:13: actions.get_item.request.path: cursor: unknown name 'cursor' (only "
            "a poll trigger's request reads cursor); here a template reads connection, input, "
            "session",
            id="cursor-in-an-action",
        ),
        pytest.param(
            "/items/{{ input.id }}",
            "/items/{{ input.idd }}",
            "shop.yaml:20:13: actions.get_item.request.path: input.idd: there is no input 'idd' "
            "(did you mean 'id'?)",
            id="unknown-input",
        ),
        pytest.param(
            'X-User: "{{ connection.user }}"',
            'X-User: "{{ connection.usr }}"',
            "shop.yaml:10:21: connection.headers.X-User: connection.usr: the connection has no "
            "field 'usr' (did you mean 'user'?)",
            id="unknown-field",
        ),
        pytest.param(
            'base_url: "{{ connection.url }}"',
            'base_url: "{{ session.url }}"',
            "shop.yaml:9:13: connection.base_url: session.url: unknown name 'session'; here a "
            "template reads connection",
            id="session-in-the-base-url",
        ),
        pytest.param(
            'with: {id: "{{ again.id || calls.first.id }}"}',
            'with: {id: "{{ again.id || calls.each.id }}"}',
            "shop.yaml:40:54: actions.copy.calls[1].calls[1].with.id: calls.each.id: no call "
            "before this one has the id 'each' (calls before it: first)",
            id="a-call-that-has-not-run",
        ),
        pytest.param(
            'with: {id: "{{ one.id }}"}',
            'with: {id: "{{ twice.id }}"}',
            "shop.yaml:39:54: actions.copy.calls[1].calls[0].with.id: twice.id: unknown name "
            "'twice'; here a template reads calls, input, one",
            id="a-later-call-in-a-loop",
        ),
        pytest.param(
            'query: {after: "{{ cursor }}"}',
            'query: {after: "{{ cursor == null }}"}',
            "shop.yaml:48:22: triggers.new_item.request.query.after: null: JMESPath reads a bare "
            "null as a field of that name, which is null; write the literal as `null`",
            id="bare-null",
        ),
        pytest.param(
            'initial: "{{ input.since }}"',
            'initial: "{{ cursor }}"',
            "shop.yaml:51:34: triggers.new_item.cursor.initial: cursor: unknown name 'cursor' "
            "(only a poll trigger's request reads cursor); here a template reads connection, "
            "input, session",
            id="cursor-before-there-is-one",
        ),
        pytest.param(
            'input: {id: "{{ connection.user }}"}',
            'input: {id: "{{ input.user }}"}',
            "shop.yaml:11:40: connection.test.input.id: input.user: unknown name 'input'; here a "
            "template reads connection, session",
            id="test-input",
        ),
    ],
)
def test_a_name_the_place_lacks_is_a_located_error(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in SPEC
    code, output = validate(tmp_path, SPEC.replace(old, new, 1))
    assert code == 1
    assert output.splitlines()[0] == expected
