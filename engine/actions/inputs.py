"""An action's input as a call receives it: defaults applied, file content encoded, validated.

The input is checked against the action's input schema (``#/objects/NAME`` references
resolved) before anything is rendered or sent; every problem is named by its field in one
``InvalidRequestError``. A download action's schema also accepts ``save_to``
(``hookline.actions.files``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from hookline.actions.files import SAVE_TO, SAVE_TO_SCHEMA, encoded_content
from hookline.documents.plain_schemas import plainly_valid
from hookline.documents.schema_errors import explain
from hookline.errors import InvalidRequestError, suggest
from hookline.http.responses import ErrorContext
from hookline.spec.model import Action, Spec

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped, unused-ignore]

_MESSAGE_LIMIT = 300


def prepared_input(
    spec: Spec, action: Action, given: Mapping[str, Any] | None, errors: ErrorContext
) -> dict[str, Any]:
    """``given`` with defaults applied and file contents encoded, validated.

    An optional input given as null counts as not given (a recipe passing a field that an
    object lacks), unless its schema accepts null. Problems raise one ``InvalidRequestError``
    named by ``errors``.
    """
    schema = input_schema(action)
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    values = {
        name: value
        for name, value in (given or {}).items()
        if value is not None or name in required or _accepts_null(properties.get(name))
    }
    for name, prop in properties.items():
        if name not in values and isinstance(prop, Mapping) and "default" in prop:
            values[name] = prop["default"]
    for name, prop in properties.items():
        if name in values and isinstance(prop, Mapping) and prop.get("contentEncoding") == "base64":
            values[name] = encoded_content(name, values[name], errors)
    full = spec.schema_with_objects(schema)
    assert isinstance(full, Mapping)
    if plainly_valid(values, full):
        return values
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

    validator = Draft202012Validator(full)
    problems = [_problem(error, properties, full) for error in validator.iter_errors(values)]
    if problems:
        raise errors.error(InvalidRequestError, f"{errors.where}: {'; '.join(sorted(problems))}")
    return values


def input_schema(action: Action) -> dict[str, Any]:
    """The action's input schema; a download also accepts ``save_to``."""
    schema = dict(action.input_schema)
    if action.is_download:
        schema["properties"] = {SAVE_TO: SAVE_TO_SCHEMA, **schema.get("properties", {})}
    return schema


def field_name(path: Iterable[Any]) -> str:
    """A field's place in a value as messages name it: ``tags[1]``, ``service.id``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def shortened(message: str) -> str:
    """A validation message cut to a readable length (it may quote a large value)."""
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."


def _accepts_null(schema: Any) -> bool:
    if not isinstance(schema, Mapping) or "type" not in schema:
        return True
    kinds = schema["type"]
    return kinds == "null" or (isinstance(kinds, list) and "null" in kinds)


def _problem(
    error: ValidationError, properties: Mapping[str, Any], schema: Mapping[str, Any]
) -> str:
    """One sentence naming the input field ``error`` is about."""
    where = field_name(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, Mapping):
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]
        missing = [name for name in required if name not in error.instance]
        inside = f" in input {where!r}" if where else ""
        return "; ".join(f"input {name!r} is required{inside}" for name in missing)
    if error.validator == "additionalProperties" and not where:
        unknown = sorted(set(error.instance) - set(properties))  # type: ignore[arg-type]
        return "; ".join(f"unknown input {name!r}{suggest(name, properties)}" for name in unknown)
    if error.validator in ("anyOf", "oneOf"):  # say which form was meant, not "any of"
        return "; ".join(
            f"input {field_name(path)!r}: {shortened(message)}" if path else f"input: {message}"
            for path, message in explain(error, schema)
        )
    if where:
        return f"input {where!r}: {shortened(error.message)}"
    return f"input: {shortened(error.message)}"
