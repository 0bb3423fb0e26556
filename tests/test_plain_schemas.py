"""The quick validity check of plain schemas says valid only where jsonschema does."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from hookline.documents.loader import Document
from hookline.documents.plain_schemas import HANDLED, VALIDATION_KEYWORDS, plainly_valid
from hookline.documents.schema_errors import schema_problems

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.0, 1.0, 1.5, -2.0, float("nan"), float("inf")]),
    st.sampled_from(["", "a", "ab", "abc", "x-1", "é"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "c", "x-y"]), inner, max_size=3),
    ),
    max_leaves=8,
)
TYPES = st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])


def _schemas(inner: Any) -> Any:
    keys = st.sampled_from(["a", "b", "c", "x-y"])
    keywords = st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(TYPES, st.lists(TYPES, min_size=1, max_size=3)),
            "enum": st.lists(SCALARS, min_size=1, max_size=3),
            "const": SCALARS,
            "minLength": st.integers(0, 3),
            "maxLength": st.integers(0, 3),
            "pattern": st.sampled_from(["^a", "b$", "[0-9]", "^x-"]),
            "minimum": st.integers(-3, 3),
            "maximum": st.integers(-3, 3),
            "exclusiveMinimum": st.integers(-3, 3),
            "exclusiveMaximum": st.integers(-3, 3),
            "minItems": st.integers(0, 2),
            "maxItems": st.integers(0, 2),
            "required": st.lists(keys, max_size=2, unique=True),
            "properties": st.dictionaries(keys, inner, max_size=2),
            "additionalProperties": inner,
            "propertyNames": inner,
            "items": inner,
            "format": st.just("uri"),
            "description": st.just("annotations change nothing"),
            "x-error": st.just("nor do extensions"),
            "oneOf": st.lists(inner, min_size=1, max_size=2),
            "allOf": st.lists(inner, min_size=1, max_size=2),
        },
    )
    return st.one_of(st.booleans(), keywords)


SCHEMAS: st.SearchStrategy[Any] = st.recursive(st.booleans() | st.just({}), _schemas, max_leaves=6)


@settings(max_examples=2000, deadline=None)
@given(value=VALUES, schema=SCHEMAS)
def test_valid_by_the_quick_check_is_valid_by_jsonschema(value: Any, schema: Any) -> None:
    if plainly_valid(value, schema):
        assert Draft202012Validator(schema).is_valid(value)


@settings(max_examples=300, deadline=None)
@given(value=VALUES, schema=SCHEMAS)
def test_a_plainly_valid_document_has_no_problems_either_way(value: Any, schema: Any) -> None:
    document = Document(value, "x.yaml")
    if plainly_valid(value, schema):
        assert schema_problems(document, schema) == []
        assert schema_problems(document, schema, validator_cls=Draft202012Validator) == []


def test_the_keywords_are_those_jsonschema_validates_with() -> None:
    assert set(Draft202012Validator.VALIDATORS) == VALIDATION_KEYWORDS
    assert HANDLED <= VALIDATION_KEYWORDS


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        (
            {"api_key": "1/2/x", "base_url": "https://x"},
            {"type": "object", "required": ["api_key"]},
        ),
        ({"a": 1.0}, {"properties": {"a": {"type": "integer"}}}),
        (["a", "b"], {"type": "array", "items": {"type": "string", "maxLength": 1}}),
        ({"name-1": {}}, {"propertyNames": {"pattern": "^[a-z0-9-]+$"}}),
        ("open", {"enum": ["open", "closed"]}),
    ],
)
def test_plain_valid_values_are_decided_without_jsonschema(value: Any, schema: Any) -> None:
    assert plainly_valid(value, schema)


@pytest.mark.parametrize(
    ("value", "schema"),
    [
        (True, {"enum": [1]}),  # true is not 1
        (1, {"const": True}),
        ({"a": 1}, {"additionalProperties": False}),
        ({}, {"required": ["a"]}),
        ("x", {"$ref": "#/$defs/x", "$defs": {"x": True}}),  # left to jsonschema
        ({"a": [1]}, {"enum": [{"a": [1]}]}),  # containers: left to jsonschema
        (1, {"type": "whole"}),  # an unknown type name: left to jsonschema
    ],
)
def test_invalid_or_unsure_values_go_to_jsonschema(value: Any, schema: Any) -> None:
    assert not plainly_valid(value, schema)
