"""What plugins hand to the host: an expression function, a sandbox (and its webhook target).

These records are built by plugins (``register_functions``, ``register_sandboxes``) and read by
the layers above, so they live with the hook specifications that name them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hookline.errors import PluginError

TYPE_NAMES = frozenset({"any", "array", "boolean", "expref", "null", "number", "object", "string"})
"""The JMESPath type names a signature may use; ``array-<type>`` also checks every item."""


@dataclass(frozen=True, slots=True)
class ExpressionFunction:
    """A function added to the expression language, as a plugin's ``register_functions`` gives it.

    ``signature`` holds, per parameter, the JMESPath type names it accepts (``string``,
    ``number``, ``boolean``, ``array``, ``object``, ``null``, ``expref``, ``any``, or
    ``array-<type>`` for an array whose items all have that type). The last ``optional``
    parameters may be left out, and a ``variadic`` function's last parameter may repeat.
    Arguments are checked against the signature, then ``function`` is called with them
    positionally; it returns JSON-shaped data and reports bad input by raising
    ``ExpressionError`` with a sentence naming what was wrong.
    """

    name: str
    function: Callable[..., Any]
    signature: tuple[tuple[str, ...], ...]
    description: str
    optional: int = 0
    variadic: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.name.isascii():
            raise PluginError(f"expression function name {self.name!r} is not an identifier")
        for types in self.signature:
            if not types or not all(map(_valid_type, types)):
                raise PluginError(
                    f"expression function {self.name}() has a parameter with types {types!r}; "
                    f"use {', '.join(sorted(TYPE_NAMES))} or array-<type>"
                )
        if not 0 <= self.optional <= len(self.signature) or (self.variadic and not self.signature):
            raise PluginError(
                f"expression function {self.name}() declares more optional or variadic "
                "parameters than its signature has"
            )
        if not self.description.strip():
            raise PluginError(f"expression function {self.name}() has no description")
        self._check_callable()

    @property
    def min_args(self) -> int:
        """The fewest arguments a call may pass."""
        return len(self.signature) - self.optional

    @property
    def max_args(self) -> int | None:
        """The most arguments a call may pass; None when the last parameter repeats."""
        return None if self.variadic else len(self.signature)

    @property
    def usage(self) -> str:
        """How a call reads, e.g. ``parse_time(value: string|number, format?: string)``."""
        params = []
        for index, types in enumerate(self.signature):
            name = self.parameter(index) or f"arg{index + 1}"
            mark = "?" if index >= self.min_args else ""
            repeat = "..." if self.variadic and index == len(self.signature) - 1 else ""
            params.append(f"{name}{mark}: {'|'.join(types)}{repeat}")
        return f"{self.name}({', '.join(params)})"

    def parameter(self, index: int) -> str | None:
        """The Python name of the parameter argument ``index`` fills; None when unknowable.

        A variadic function's repeated arguments all fill its last parameter.
        """
        try:
            parameters = inspect.signature(self.function).parameters.values()
        except (TypeError, ValueError):
            return None
        names = [p.name for p in parameters if p.kind is not p.KEYWORD_ONLY]
        position = min(index, len(self.signature) - 1)
        return names[position] if position < len(names) else None

    def _check_callable(self) -> None:
        try:
            bind = inspect.signature(self.function).bind
        except (TypeError, ValueError):  # some callables cannot be introspected; trust them
            return
        counts = {self.min_args, len(self.signature), len(self.signature) + int(self.variadic)}
        for count in sorted(counts):
            try:
                bind(*([None] * count))
            except TypeError:
                raise PluginError(
                    f"expression function {self.name}() cannot be called with {count} "
                    "arguments, which its signature allows"
                ) from None


def _valid_type(name: str) -> bool:
    kind, dash, item = name.partition("-")
    return kind in TYPE_NAMES and (not dash or (kind == "array" and item in TYPE_NAMES))


ASGIApp = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class ExecutorConfig:
    """What a command asks of the executor it builds (``register_executors``).

    ``concurrency`` is how many jobs run at once in this process; an executor that sends jobs
    to workers sends them to ``broker`` (a URL) on ``queue``, and sends a job again when it is
    still unfinished ``resend`` seconds after it was last sent (its worker may be gone).
    """

    concurrency: int = 4
    broker: str | None = None
    queue: str = "hookline"
    resend: float = 300.0


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where a sandbox sends its webhook events, and the credentials it sends them with."""

    url: str
    username: str | None = None
    password: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A local simulator of one platform.

    ``create_app(seed=0, **options)`` returns a fresh ASGI app with state seeded from ``seed``;
    ``connection(base_url)`` returns connection values (demo credentials included) for a
    connection of connector ``name`` to an app served at ``base_url``; ``credentials`` says the
    demo credentials in one line for people.

    A sandbox of a platform that sends webhooks may also give ``subscribe(base_url, target)``,
    which makes the sandbox at ``base_url`` send every event to a ``WebhookTarget``, and
    ``emit(base_url)``, which makes one event happen there (as a person would, in the
    platform's app) and says what it did in a sentence. ``hookline serve --sandbox`` and
    ``hookline run --sandbox`` use them to show a webhook recipe working end to end.

    ``example_files`` is a folder holding the files the connector's examples upload: an
    example input ``@NAME`` is read from ``example_files / NAME`` when ``hookline test`` runs
    the examples, wherever it is run from.
    """

    name: str
    title: str
    create_app: Callable[..., ASGIApp]
    connection: Callable[[str], dict[str, Any]]
    credentials: str
    subscribe: Callable[[str, WebhookTarget], None] | None = None
    emit: Callable[[str], str] | None = None
    example_files: Path | None = None
