"""What ``defaults`` gives every action and trigger: records, select, the paginator, opting out."""

from __future__ import annotations

from pathlib import Path

import pytest

from hookline.errors import SpecError
from hookline.spec.catalog import Catalog
from hookline.spec.model import PollTrigger, Spec

SPEC = """\
spec: hookline/v1
name: envelope
title: Envelope
connection:
  fields: {url: {type: string}}
  base_url: "{{ connection.url }}"
defaults:
  records: data
  select: data
  paginate: {type: offset, total: count}
actions:
  get_item:
    title: Get an item
    request: {method: GET, path: /items/1}
  whole_item:
    title: Get an item with its envelope
    request: {method: GET, path: /items/1}
    output: {select: "@"}
  list_items:
    title: List items
    request: {method: GET, path: /items}
    output: {list: true}
  list_tags:
    title: List tags, from a list of their own
    request: {method: GET, path: /tags}
    output: {records: tags}
  list_recent:
    title: List the recent items, one page
    request: {method: GET, path: /recent}
    paginate: false
    output: {list: true}
  download:
    title: Download a file
    request: {method: GET, path: /file, response: bytes}
  both:
    title: Get an item and its tags
    calls:
      - {id: item, action: get_item}
      - {id: tags, action: list_tags}
triggers:
  new_item:
    type: poll
    title: New item
    request: {method: GET, path: /items}
    id: id
  new_tag:
    type: poll
    title: New tag
    request: {method: GET, path: /tags}
    records: tags
    id: id
"""


@pytest.fixture(scope="module")
def spec(catalog: Catalog) -> Spec:
    return catalog.load_spec(Path("envelope.yaml"), text=SPEC)


def source(expression: object) -> str | None:
    return getattr(expression, "source", None)


def test_defaults_select_unwraps_the_answer_of_an_action_without_its_own(spec: Spec) -> None:
    assert source(spec.actions["get_item"].output.select) == "data"
    assert source(spec.actions["whole_item"].output.select) == "@"


def test_defaults_select_leaves_lists_downloads_and_composites_alone(spec: Spec) -> None:
    for name in ("list_items", "list_tags", "download", "both"):
        assert spec.actions[name].output.select is None, name


def test_a_list_takes_defaults_records_unless_it_says_where_its_records_are(spec: Spec) -> None:
    assert source(spec.actions["list_items"].output.records) == "data"
    assert source(spec.actions["list_tags"].output.records) == "tags"
    assert spec.actions["list_items"].is_list and spec.actions["list_recent"].is_list


def test_a_poll_trigger_takes_defaults_records_unless_it_says_where_its_records_are(
    spec: Spec,
) -> None:
    new_item, new_tag = spec.triggers["new_item"], spec.triggers["new_tag"]
    assert isinstance(new_item, PollTrigger) and isinstance(new_tag, PollTrigger)
    assert (source(new_item.records), source(new_tag.records)) == ("data", "tags")


def test_paginate_false_reads_one_page_despite_the_default(spec: Spec) -> None:
    assert spec.actions["list_items"].paginator is not None
    assert spec.actions["list_recent"].paginator is None


def test_a_list_without_records_anywhere_is_a_problem(catalog: Catalog) -> None:
    text = SPEC.replace("  records: data\n", "", 1)
    with pytest.raises(SpecError) as error:
        catalog.load_spec(Path("envelope.yaml"), text=text)
    messages = [str(p) for p in error.value.problems]
    assert len(messages) == 3
    assert messages[0].startswith("envelope.yaml:21:20: actions.list_items.output.list:")
    assert "a list action needs records" in messages[0]
    assert messages[2].startswith("envelope.yaml:41:11: triggers.new_item.type:")
    assert "a poll trigger needs records" in messages[2]


def test_a_misspelt_paginator_is_still_one_precise_problem(catalog: Catalog) -> None:
    text = SPEC.replace("paginate: false", "paginate: {type: offest}")
    with pytest.raises(SpecError) as error:
        catalog.load_spec(Path("envelope.yaml"), text=text)
    messages = [str(p) for p in error.value.problems]
    assert len(messages) == 1, messages
    assert "actions.list_recent.paginate.type: 'offest' is not one of" in messages[0]
