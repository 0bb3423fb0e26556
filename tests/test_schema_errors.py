"""Schema problems: each way a document breaks its schema is one located sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hookline.documents.loader import Document, load_document
from hookline.documents.schema_errors import ensure_valid, schema_problems
from hookline.errors import SpecError


def load(text: str, **options: Any) -> Document:
    return load_document(Path("doc.yaml"), text=text, **options)


METHOD = {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "title"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z_]+$", "x-error": "names are lower-case"},
        "title": {"type": "string", "minLength": 1},
        "version": {"type": "integer", "maximum": 3},
        "path": {"type": "string", "pattern": "^/", "description": "a path starting with '/'"},
        "code": {"type": "string", "pattern": "^[A-Z]+$"},
        "tags": {"type": "array", "uniqueItems": True, "minItems": 1},
        "actions": {"type": "object", "additionalProperties": {"$ref": "#/$defs/action"}},
        "trigger": {"oneOf": [{"$ref": "#/$defs/poll"}, {"$ref": "#/$defs/webhook"}]},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
        "status": {"oneOf": [{"type": "integer"}, {"type": "array"}]},
        "spec": {"const": "hookline/v1"},
        "kind": {"not": {"const": "legacy"}},
    },
    "$defs": {
        "action": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "title": {"type": "string"},
                "request": {"type": "object", "properties": {"method": METHOD}},
            },
        },
        "poll": {
            "type": "object",
            "required": ["type", "every"],
            "additionalProperties": False,
            "properties": {"type": {"const": "poll"}, "every": {"type": "string"}},
        },
        "webhook": {
            "type": "object",
            "required": ["type", "path"],
            "additionalProperties": False,
            "properties": {"type": {"enum": ["webhook"]}, "path": {"type": "string"}},
        },
        "step": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["action"],
                    "additionalProperties": False,
                    "properties": {"action": {"type": "string"}, "with": {"type": "object"}},
                },
                {
                    "type": "object",
                    "required": ["if", "then"],
                    "additionalProperties": False,
                    "properties": {"if": {"type": "string"}, "then": {"type": "array"}},
                },
            ]
        },
    },
}


def problems(text: str, schema: dict[str, Any] = SCHEMA) -> list[str]:
    document = load_document(Path("specs/argus.yaml"), text=text)
    return [str(problem) for problem in schema_problems(document, schema)]


def with_required(text: str) -> str:
    """``text`` followed by the required keys it lacks, so its own lines keep their numbers."""
    return text + "".join(f"{key}: x\n" for key in ("name", "title") if f"{key}:" not in text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "actions:\n  create_case:\n    request:\n      method: PSOT\n",
            "4:15: actions.create_case.request.method:"
            " 'PSOT' is not one of GET, POST, PUT, PATCH, DELETE",
        ),
        ("verison: 2\n", "1:1: unknown key 'verison' (did you mean 'version'?)"),
        ("colour: red\n", "1:1: unknown key 'colour'"),
        (
            "actions: {a: {titl: x}}\n",
            "1:15: actions.a: unknown key 'titl' (did you mean 'title'?)",
        ),
        ("version: abc\n", "1:10: version: expected an integer, got a string ('abc')"),
        (
            "title: on\n",
            "1:8: title: expected text, got true/false (true); quote it to keep it as text",
        ),
        ("tags: {a: 1}\n", "1:7: tags: expected a list, got a mapping"),
        ("name: Argus\n", "1:7: name: names are lower-case"),
        (
            "path: api\n",
            "1:7: path: 'api' does not match the expected form: a path starting with '/'",
        ),
        ("code: ab\n", "1:7: code: 'ab' does not match the pattern '^[A-Z]+$'"),
        ("title: ''\n", "1:8: title: expected at least 1 character, got 0"),
        ("version: 4\n", "1:10: version: expected at most 3, got 4"),
        ("tags: []\n", "1:7: tags: expected at least 1 item, got 0"),
        ("tags: [a, a]\n", "1:7: tags: the items must all be different"),
        ("spec: hookline/v2\n", "1:7: spec: expected 'hookline/v1', got 'hookline/v2'"),
        ("kind: legacy\n", "1:7: kind: 'legacy' is not allowed here"),
    ],
)
def test_schema_error_is_one_located_sentence(text: str, expected: str) -> None:
    assert problems(with_required(text)) == [f"specs/argus.yaml:{expected}"]


def test_valid_document_has_no_problems() -> None:
    assert problems("name: argus\ntitle: Argus\nsteps: [{action: a.b}]\n") == []


def test_missing_required_keys_are_reported_once_at_their_parent() -> None:
    assert problems("version: 1\n") == [
        "specs/argus.yaml:1:1: missing required keys 'name' and 'title'"
    ]


def test_unevaluated_key_is_located_at_the_key_with_a_suggestion() -> None:
    schema = {
        "allOf": [{"$ref": "#/$defs/base"}],
        "properties": {"extra": {"type": "string"}},
        "unevaluatedProperties": False,
        "$defs": {"base": {"properties": {"name": {"type": "string"}}}},
    }

    assert problems("extra: c\nnmae: b\n", schema) == [
        "specs/argus.yaml:2:1: unknown key 'nmae' (did you mean 'name'?)"
    ]


def test_bad_key_under_property_names_is_located_at_the_key() -> None:
    schema = {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}}

    assert problems("good: 1\nBad Key: 2\n", schema) == [
        "specs/argus.yaml:2:1: key 'Bad Key' does not match the pattern '^[a-z]+$'"
    ]


def test_dependent_keys_are_named() -> None:
    schema = {"dependentRequired": {"if": ["then"]}}

    assert problems("if: x\n", schema) == ["specs/argus.yaml:1:1: key 'if' needs key 'then' too"]


def test_one_of_follows_the_branch_the_type_discriminator_picks() -> None:
    text = "trigger:\n  type: webhook\n  every: 5m\n"

    assert problems(with_required(text)) == [
        "specs/argus.yaml:2:3: trigger: missing required key 'path'",
        "specs/argus.yaml:3:3: trigger: unknown key 'every'",
    ]


def test_unknown_discriminator_value_lists_the_choices() -> None:
    assert problems(with_required("trigger: {type: pol, every: 5m}\n")) == [
        "specs/argus.yaml:1:17: trigger.type: 'pol' is not one of poll, webhook"
    ]


def test_missing_discriminator_is_reported_with_its_choices() -> None:
    assert problems(with_required("trigger: {every: 5m}\n")) == [
        "specs/argus.yaml:1:10: trigger: missing required key 'type' (one of poll, webhook)"
    ]


def test_one_of_without_discriminator_explains_the_closest_branch() -> None:
    text = "steps:\n  - action: a.b\n  - if: x\n    then: []\n    acton: y\n  - 5\n"

    assert problems(with_required(text)) == [
        "specs/argus.yaml:5:5: steps[1]: unknown key 'acton'",
        "specs/argus.yaml:6:5: steps[2]: expected a mapping, got an integer (5)",
    ]


def test_one_of_failing_on_type_everywhere_names_every_allowed_type() -> None:
    assert problems(with_required("status: text\n")) == [
        "specs/argus.yaml:1:9: status: expected an integer or a list, got a string ('text')"
    ]


def test_independent_errors_are_all_reported_in_line_order() -> None:
    text = "version: abc\ntitel: x\nactions: {a: {request: {method: PSOT}}}\nname: Argus\n"

    # the misspelt 'titel' is reported once, not also as a missing 'title'
    assert problems(text) == [
        "specs/argus.yaml:1:10: version: expected an integer, got a string ('abc')",
        "specs/argus.yaml:2:1: unknown key 'titel' (did you mean 'title'?)",
        "specs/argus.yaml:3:33: actions.a.request.method:"
        " 'PSOT' is not one of GET, POST, PUT, PATCH, DELETE",
        "specs/argus.yaml:4:7: name: names are lower-case",
    ]


def test_ensure_valid_raises_the_callers_error_with_every_problem() -> None:
    document = load_document(Path("specs/argus.yaml"), text="version: abc\n")

    with pytest.raises(SpecError) as caught:
        ensure_valid(document, SCHEMA, error=SpecError)

    assert [problem.path for problem in caught.value.problems] == ["", "version"]


def test_ensure_valid_accepts_a_valid_document() -> None:
    ensure_valid(load_document(Path("specs/argus.yaml"), text="name: a\ntitle: b\n"), SCHEMA)
