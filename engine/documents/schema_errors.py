"""Explain where a document breaks its JSON Schema, one located, readable problem per place.

:func:`schema_problems` validates a loaded :class:`~hookline.documents.loader.Document` and
turns each jsonschema failure into a :class:`~hookline.errors.Problem` at the value's (or, for an
unknown key, the key's) line and column, in plain words: unknown keys with a close allowed
name suggested, missing keys at their parent, and for ``oneOf``/``anyOf`` the branch the
document meant instead of "not valid under any of the given schemas".
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hookline.documents.loader import MAX_DEPTH, Document, KeyPath, format_path
from hookline.documents.plain_schemas import plainly_valid
from hookline.errors import InvalidDocumentError, Problem


@dataclass(frozen=True, slots=True)
class _Finding:
    """One thing wrong at ``path``; ``missing`` names a required key, merged per location."""

    path: KeyPath
    message: str = ""
    key: bool = False
    missing: str | None = None
    suggests: str | None = None


def schema_problems(
    document: Document, schema: Mapping[str, Any], *, validator_cls: Any = None
) -> list[Problem]:
    """Every way ``document.data`` breaks ``schema``, one located Problem per place, by line.

    Validation is JSON Schema Draft 2020-12 (``validator_cls`` may name another jsonschema
    validator class) with format checking off. Messages are sentences in plain words; an
    unknown key is located at the key, named under its mapping's path, with a close allowed
    name suggested; a required key is
    reported missing at its parent; for ``oneOf``/``anyOf`` the branch the document meant
    (by a ``const``/``enum`` discriminator such as ``type``, else the closest) is explained
    instead of "not valid under any"; a subschema's ``x-error`` text replaces the message
    for errors it raises. Raises nothing for an invalid document: callers decide. A document
    ``plainly_valid`` passes has no problems, and jsonschema is not loaded for it.
    """
    if validator_cls is None and plainly_valid(document.data, schema):
        return []
    if validator_cls is None:  # imported here: loading jsonschema is a good part of start-up
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

        validator_cls = Draft202012Validator
    validator = validator_cls(schema)
    explainer = _Explainer(schema)
    findings = [f for error in validator.iter_errors(document.data) for f in explainer(error)]
    return _located(document, findings)


def explain(error: Any, schema: Mapping[str, Any]) -> list[tuple[KeyPath, str]]:
    """One jsonschema ``error`` of a validation against ``schema`` in plain words.

    Each finding is a key path and a sentence; for ``oneOf``/``anyOf`` the branch the value
    meant is explained (``'bogus' is not one of open, closed``) instead of "not valid under
    any of the given schemas". A missing key is a finding at its parent.
    """
    found = []
    for finding in _Explainer(schema)(error):
        if finding.missing is not None:
            found.append((finding.path, f"missing required key '{finding.missing}'"))
        else:
            found.append((finding.path, finding.message))
    return found


def ensure_valid(
    document: Document,
    schema: Mapping[str, Any],
    *,
    error: type[InvalidDocumentError] = InvalidDocumentError,
    validator_cls: Any = None,
) -> None:
    """Raise ``error`` with :func:`schema_problems` if there are any."""
    problems = schema_problems(document, schema, validator_cls=validator_cls)
    if problems:
        raise error(problems)


class _Explainer:
    """Turns jsonschema errors into findings; knows the root schema to follow ``$ref``."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        import referencing
        import referencing.jsonschema

        resource = referencing.jsonschema.DRAFT202012.create_resource(schema)
        uri = resource.id() or ""
        self.resolver = referencing.Registry().with_resource(uri, resource).resolver(uri)

    def __call__(self, error: Any) -> list[_Finding]:
        path: KeyPath = tuple(error.absolute_path)
        custom = error.schema.get("x-error") if isinstance(error.schema, Mapping) else None
        if list(error.absolute_schema_path)[-2:-1] == ["propertyNames"]:
            # jsonschema reports a bad key at its mapping, with the key as the instance.
            message = custom if isinstance(custom, str) else f"key {_message(error)}"
            return [_Finding((*path, error.instance), message, key=True)]
        if isinstance(custom, str):
            return [_Finding(path, custom)]
        kind, instance = error.validator, error.instance
        if kind in ("oneOf", "anyOf"):
            return self._branch(error, path)
        if kind == "required":
            return [_Finding(path, missing=n) for n in error.validator_value if n not in instance]
        if kind in ("additionalProperties", "unevaluatedProperties"):
            allowed = [name for name in self._property_names(error.schema) if name not in instance]
            unknown = [_unknown_key((*path, name), allowed) for name in _unexpected_keys(error)]
            return unknown or [_Finding(path, error.message)]
        return [_Finding(path, _message(error))]

    def _branch(self, error: Any, path: KeyPath) -> list[_Finding]:
        if not error.context:
            return [_Finding(path, "matches more than one of the allowed forms")]
        branches: dict[int, list[Any]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        chosen = self._discriminate(error, path)
        if isinstance(chosen, _Finding):
            return [chosen]
        candidates = [i for i in branches if chosen is None or i in chosen] or list(branches)
        wrong_types = [_root_type(branches[i]) for i in candidates]
        if all(wrong_types):
            names = [t for types in wrong_types for t in _listed(types)]
            expected = _or([TYPE_WORDS.get(t, t) for t in dict.fromkeys(names)])
            return [_Finding(path, f"expected {expected}, got {_describe(error.instance)}")]
        best = max(
            candidates,
            key=lambda i: (
                _root_type(branches[i]) is None,
                max(len(sub.relative_path) for sub in branches[i]),
                -len(branches[i]),
            ),
        )
        return [finding for sub in branches[best] for finding in self(sub)]

    def _discriminate(self, error: Any, path: KeyPath) -> _Finding | set[int] | None:
        """The branches a ``const``/``enum`` key required by every branch selects.

        ``None`` when there is no such key; a finding when the document lacks it or
        gives a value no branch accepts.
        """
        if not isinstance(error.instance, Mapping):
            return None
        tables: list[dict[str, list[Any]]] = []
        for branch in map(self._resolve, error.validator_value):
            required = branch.get("required", ())
            properties = branch.get("properties", {})
            choices = {name: self._choices(properties[name]) for name in properties}
            tables.append({n: c for n, c in choices.items() if c is not None and n in required})
        common = [name for name in tables[0] if all(name in table for table in tables)]
        if not common:
            return None
        name = "type" if "type" in common else common[0]
        allowed = _choices_text([v for table in tables for v in table[name]])
        if name not in error.instance:
            return _Finding(path, f"missing required key '{name}' (one of {allowed})")
        value = error.instance[name]
        matching = {i for i, table in enumerate(tables) if value in table[name]}
        return matching or _Finding((*path, name), f"{_show(value)} is not one of {allowed}")

    def _choices(self, schema: Any) -> list[Any] | None:
        resolved = self._resolve(schema)
        if "const" in resolved:
            return [resolved["const"]]
        enum = resolved.get("enum")
        return list(enum) if isinstance(enum, list) else None

    def _property_names(self, schema: Any, seen: set[int] | None = None) -> list[str]:
        """Property names ``schema`` declares, through ``$ref`` and composition (for hints)."""
        resolved, seen = self._resolve(schema), set() if seen is None else seen
        if id(resolved) in seen:
            return []
        seen.add(id(resolved))
        names = list(resolved.get("properties", {}))
        subschemas = [
            *resolved.get("allOf", ()),
            *resolved.get("anyOf", ()),
            *resolved.get("oneOf", ()),
        ]
        subschemas += [resolved[keyword] for keyword in ("then", "else") if keyword in resolved]
        for sub in subschemas:
            names += self._property_names(sub, seen)
        return list(dict.fromkeys(names))

    def _resolve(self, schema: Any) -> Mapping[str, Any]:
        resolver = self.resolver
        for _ in range(MAX_DEPTH):
            if not (isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str)):
                break
            resolved = resolver.lookup(schema["$ref"])
            schema, resolver = resolved.contents, resolved.resolver
        return schema if isinstance(schema, Mapping) else {}


def _located(document: Document, findings: list[_Finding]) -> list[Problem]:
    # A misspelt required key is one mistake: the unknown key's suggestion says it all.
    misspelt = {(f.path[:-1], f.suggests) for f in findings if f.suggests}
    findings = [f for f in findings if (f.path, f.missing) not in misspelt]
    grouped: dict[tuple[KeyPath, bool], tuple[list[str], list[str]]] = {}
    for finding in findings:
        messages, missing = grouped.setdefault((finding.path, finding.key), ([], []))
        target, item = (
            (missing, finding.missing) if finding.missing else (messages, finding.message)
        )
        if item not in target:
            target.append(item)
    problems = []
    for (path, key), (messages, missing) in grouped.items():
        if missing:
            plural = "s" if len(missing) > 1 else ""
            names = _and([f"'{name}'" for name in missing])
            messages.insert(0, f"missing required key{plural} {names}")
        line, column = document.locate(path, key=key) or (None, None)
        shown = format_path(path[:-1] if key else path)  # a bad key is named by its mapping
        problems.append(Problem("; ".join(messages), document.file, line, column, shown))
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0, p.path))


def _unexpected_keys(error: Any) -> list[str]:
    if error.validator == "additionalProperties":
        properties = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        return [
            key
            for key in error.instance
            if key not in properties and not any(re.search(p, key) for p in patterns)
        ]
    # jsonschema names unevaluated keys only in its message, as Python literals.
    match = re.search(r"\((.*) (?:was|were) unexpected\)$", error.message)
    try:
        keys = ast.literal_eval(f"[{match[1]}]") if match else []
    except (ValueError, SyntaxError):
        return []
    return [key for key in keys if isinstance(key, str)]


def _unknown_key(path: KeyPath, allowed: list[str]) -> _Finding:
    """An unknown key, located at the key, with the allowed key it most likely misspells."""
    name = str(path[-1])
    close = difflib.get_close_matches(name, allowed, n=1)
    if close:
        message = f"unknown key '{name}' (did you mean '{close[0]}'?)"
        return _Finding(path, message, key=True, suggests=close[0])
    return _Finding(path, f"unknown key '{name}'", key=True)


def _root_type(errors: list[Any]) -> Any:
    """The expected type(s) of a branch the instance's own type already fails, else None."""
    for error in errors:
        if error.validator == "type" and not error.relative_path:
            return error.validator_value
    return None


def _message(error: Any) -> str:
    """A sentence for one failed keyword that is not about keys or branches."""
    kind, instance, expected = error.validator, error.instance, error.validator_value
    if kind == "not" or error.schema is False:
        return f"{_show(instance)} is not allowed here"
    if kind == "type":
        types = _listed(expected)
        message = (
            f"expected {_or([TYPE_WORDS.get(t, t) for t in types])}, got {_describe(instance)}"
        )
        quote = "string" in types and not isinstance(instance, list | dict)
        return message + ("; quote it to keep it as text" if quote else "")
    if kind == "enum":
        return f"{_show(instance)} is not one of {_choices_text(expected)}"
    if kind == "const":
        return f"expected {_show(expected)}, got {_show(instance)}"
    if kind == "pattern":
        description = error.schema.get("description")
        if isinstance(description, str):
            return f"{_show(instance)} does not match the expected form: {description}"
        return f"{_show(instance)} does not match the pattern {expected!r}"
    if kind in _SIZES:
        bound, noun = _SIZES[kind]
        count = f"{expected} {noun}" + ("" if expected == 1 else "s")
        return f"expected {bound} {count}, got {len(instance)}"
    if kind in _BOUNDS:
        return f"expected {_BOUNDS[kind]} {expected}, got {_show(instance)}"
    if kind == "uniqueItems":
        return "the items must all be different"
    if kind == "dependentRequired":
        return "; ".join(
            f"key '{name}' needs key '{other}' too"
            for name, others in expected.items()
            if name in instance
            for other in others
            if other not in instance
        )
    return str(error.message)


TYPE_WORDS = {  # JSON Schema type names in the words messages use
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true/false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
_SIZES = {
    "minLength": ("at least", "character"),
    "maxLength": ("at most", "character"),
    "minItems": ("at least", "item"),
    "maxItems": ("at most", "item"),
    "minProperties": ("at least", "key"),
    "maxProperties": ("at most", "key"),
}
_BOUNDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "more than",
    "exclusiveMaximum": "less than",
    "multipleOf": "a multiple of",
}


def kind_of(value: Any) -> str:
    """What kind of JSON value ``value`` is, in the words messages use: ``a mapping``, ..."""
    kinds = (
        (list, "a list"), (dict, "a mapping"), (bool, "true/false"), (str, "a string"),
        (int, "an integer"), (float, "a number"),
    )  # fmt: skip
    return (
        "null" if value is None else next((n for c, n in kinds if isinstance(value, c)), "a value")
    )


def _describe(value: Any) -> str:
    kind = kind_of(value)
    return kind if isinstance(value, list | dict) or value is None else f"{kind} ({_show(value)})"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else f"{value[:57]}...")
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _choices_text(values: list[Any]) -> str:
    return ", ".join(dict.fromkeys(v if isinstance(v, str) else _show(v) for v in values))


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
