"""The secrets of a job that no connection knows: environment values and declared secret inputs.

Connections redact their own secrets (``hookline.http.redaction``). A recipe passes other
credentials too, and they must stay out of job history, ``hookline jobs show``, logs and
error messages just the same:

- values read from ``env``, the way recipes pass credentials: a step input rendered from
  ``{{ env.NAME }}`` is recorded as ``***``, and the value itself is redacted wherever else
  it appears (an output that echoes it, an error message, a log line). Values shorter than
  ``MIN_ENV_SECRET`` characters are masked where they are rendered but not hunted down
  elsewhere: redacting every ``12`` or ``true`` would garble the history;
- inputs whose JSON Schema marks them ``writeOnly: true`` or ``secret: true`` (an action's
  inputs, a manual recipe's or a called recipe's inputs, the objects they reference):
  recorded as ``***`` and redacted everywhere, whatever their length.

A manual recipe's secret inputs are masked in the job's stored event too; such a job cannot be
rerun from history (``masked_inputs`` says which inputs are missing), since the values are
gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hookline.expr.templates import CompiledValue
from hookline.http.redaction import MASK, Redactor, protect_logging

MIN_ENV_SECRET = 6
"""Environment values at least this long are redacted wherever they appear."""

_Path = tuple[str | int, ...]
_MAX_REFS = 32  # $ref hops followed at most: objects that refer to each other end somewhere


class TrackedEnv(dict[str, str]):
    """The environment as templates read it, telling ``on_read`` every value read.

    JMESPath reads an object's fields with ``get``, so that is the method that tells.
    """

    def __init__(self, env: Mapping[str, str], on_read: Callable[[str], None]) -> None:
        super().__init__(env)
        self._on_read = on_read

    def get(self, key: str, default: Any = None, /) -> Any:
        """The variable's value (or ``default``); a value read is told to ``on_read``."""
        value = super().get(key, default)
        if isinstance(value, str) and key in self:
            self._on_read(value)
        return value


class JobSecrets:
    """What a job runner learns is secret, and how records show it.

    ``env`` is the environment to render with; ``shown`` gives the copy of a step's
    rendered input that its record holds; ``redact`` applies every value learnt so far.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        self.redactor = Redactor()
        protect_logging(self.redactor)
        self.env = TrackedEnv(env, self._read)

    def _read(self, value: str) -> None:
        if len(value) >= MIN_ENV_SECRET:
            self.redactor.add(value)

    def redact(self, data: Any) -> Any:
        """``data`` with every secret learnt so far replaced by ``***``."""
        return self.redactor.redact_data(data)

    def learn(self, schema: Any, value: Any, objects: Mapping[str, Any] | None = None) -> None:
        """Learn the values of ``value`` that ``schema`` declares secret."""
        for _, secret in secret_values(schema, value, objects or {}):
            if not isinstance(secret, dict | list):
                self.redactor.add(secret)
            else:
                for leaf in _leaves(secret):
                    self.redactor.add(leaf)

    def shown(
        self,
        template: CompiledValue | Mapping[str, CompiledValue] | None,
        rendered: Any,
        schema: Any = None,
        objects: Mapping[str, Any] | None = None,
    ) -> Any:
        """``rendered`` as its record shows it: values from ``env`` and declared secrets masked.

        ``template`` is what ``rendered`` was rendered from (a mapping of names to values for
        a ``set`` step); ``schema`` its JSON Schema, if it has one. The secrets are learnt.
        """
        self.learn(schema, rendered, objects)
        paths = [path for path, _ in secret_values(schema, rendered, objects or {})]
        paths += list(_env_paths(template))
        return self.redact(masked(rendered, paths))


def secret_values(
    schema: Any, value: Any, objects: Mapping[str, Any], path: _Path = (), hops: int = 0
) -> Iterator[tuple[_Path, Any]]:
    """The values in ``value`` that ``schema`` marks ``writeOnly`` or ``secret``, with paths.

    Follows ``properties``, ``items`` and ``#/objects/NAME`` references (a spec's shared
    objects); a value that is not there is not reported.
    """
    if not isinstance(schema, Mapping) or value is None:
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/objects/") and hops < _MAX_REFS:
        target = objects.get(ref.removeprefix("#/objects/"))
        yield from secret_values(target, value, objects, path, hops + 1)
        return
    if schema.get("writeOnly") is True or schema.get("secret") is True:
        yield path, value
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            for name, item in value.items():
                yield from secret_values(properties.get(name), item, objects, (*path, name), hops)
    elif isinstance(value, list):
        items = schema.get("items")
        for index, item in enumerate(value):
            yield from secret_values(items, item, objects, (*path, index), hops)


def masked(value: Any, paths: list[_Path]) -> Any:
    """A copy of ``value`` with what is at each of ``paths`` replaced by ``***``."""
    if not paths:
        return value
    if () in paths:
        return MASK
    if isinstance(value, dict):
        return {
            key: masked(item, [p[1:] for p in paths if p[0] == key]) for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item, [p[1:] for p in paths if p[0] == i]) for i, item in enumerate(value)]
    return value


def masked_inputs(schema: Any, inputs: Any) -> list[str]:
    """The declared secret inputs that a stored event holds only as ``***``."""
    return [
        ".".join(str(part) for part in path)
        for path, value in secret_values(schema, inputs, {})
        if value == MASK
    ]


def _env_paths(template: CompiledValue | Mapping[str, CompiledValue] | None) -> Iterator[_Path]:
    """The paths of the values in ``template`` whose templates read ``env``."""
    if template is None:
        return
    if isinstance(template, CompiledValue):
        for path, each in template.templates():
            if any(reference[:1] == ("env",) for reference in each.references()):
                yield tuple(path)
        return
    for name, value in template.items():
        for path in _env_paths(value):
            yield (name, *path)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
