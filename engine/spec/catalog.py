"""The catalog: everything the plugins registered, compiled and ready to use.

A ``Catalog`` is built from a plugin manager. It composes the spec JSON Schema with the
schemas of the registered auth types, paginators and webhook verifiers (so a third-party
auth type is validated, located and documented exactly like a built-in one), loads every
registered spec file, and hands out compiled specs by connector name.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Any

import pluggy

from hookline.documents.compiler import Compiler
from hookline.documents.loader import Document, KeyPath, load_document, read_source
from hookline.documents.schema_errors import schema_problems
from hookline.errors import (
    ConfigurationError,
    PluginError,
    Problem,
    SpecError,
    SpecFormatError,
    closest,
    suggest,
)
from hookline.expr.templates import Expressions
from hookline.plugins.manager import PluginLoadWarning, collect, collect_named, flatten
from hookline.plugins.records import Sandbox
from hookline.spec.build import Builders, build_spec, iter_schemas
from hookline.spec.cache import SpecCache, digest
from hookline.spec.formats import check_format, refusal
from hookline.spec.model import Spec
from hookline.spec.params import paginate_problems
from hookline.spec.scopes import scope_problems
from hookline.version import __version__

OBJECT_REF = "#/objects/"


def base_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``hookline.schemas`` (``spec-v1`` or ``recipe-v1``)."""
    text = files("hookline.schemas").joinpath(f"{name}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def typed_union(description: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """A schema for a block whose ``type`` picks one registered builder's own schema."""
    return {
        "type": "object",
        "description": description,
        "required": ["type"],
        "properties": {
            "type": {"enum": sorted(table), "description": "Which one: " + ", ".join(sorted(table))}
        },
        "allOf": [
            {"if": {"properties": {"type": {"const": name}}}, "then": builder.schema}
            for name, builder in sorted(table.items())
        ],
    }


def compose_spec_schema(builders: Builders) -> dict[str, Any]:
    """The spec schema with each registered auth type, paginator and verifier composed in."""
    schema = base_schema("spec-v1")  # read afresh: changing it changes no one else's
    defs = schema["$defs"]
    defs["auth"] = typed_union(defs["auth"]["description"], builders.auth_types)
    defs["paginate"] = typed_union(defs["paginate"]["description"], builders.paginators)
    verify = defs["trigger"]["oneOf"][1]["properties"]["verify"]
    defs["trigger"]["oneOf"][1]["properties"]["verify"] = typed_union(
        verify["description"], builders.verifiers
    )
    return schema


@dataclass(frozen=True, slots=True)
class Connector:
    """A connector in the catalog: its compiled spec and the plugin that registered it."""

    spec: Spec
    plugin: str


class Catalog:
    """The registered connectors, building blocks, functions and sandboxes of one plugin set.

    With a ``cache``, a spec file that loaded without a problem before, with the same text,
    hookline and plugins, is built without being parsed and checked again
    (``hookline.spec.cache``); the command line uses the user's cache, the Python API none
    unless given one.

    ``unknown_hint``, a clause, ends the message of a connector name that is neither
    registered nor a likely misspelling of one: how the caller's connectors come to be
    registered (the test kit says that a plugin's package must be installed).
    """

    def __init__(
        self, pm: pluggy.PluginManager, *, cache: SpecCache | None = None, unknown_hint: str = ""
    ) -> None:
        self.pm = pm
        self.cache = cache
        self.unknown_hint = unknown_hint
        self.expressions = Expressions.from_plugins(pm)
        self.builders = Builders(
            auth_types=collect_named(pm, "register_auth_types", "auth type"),
            paginators=collect_named(pm, "register_paginators", "paginator"),
            verifiers=collect_named(pm, "register_webhook_verifiers", "webhook verifier"),
        )
        self.spec_schema = compose_spec_schema(self.builders)

    def load_spec(self, path: Path, *, text: str | None = None) -> Spec:
        """Load, validate and compile one spec file; raise ``SpecError`` with every problem.

        A spec written for another format version is a ``SpecFormatError``, before any other
        check.
        """
        if self.cache is None:
            return self._checked(load_document(path, error=SpecError, text=text))
        source = read_source(path, text=text, error=SpecError)
        name = str(path if text is not None else path.resolve())
        data = self.cache.get(name, source, self.cache_context)
        if data is not None:
            compiler = Compiler(Document(data, str(path), source=source), self.expressions)
            with suppress(Exception):  # an entry that no longer builds: the full load decides
                spec = build_spec(compiler, self.builders)
                if not compiler.problems:
                    return spec
        document = load_document(path, error=SpecError, text=source)
        spec = self._checked(document)
        self.cache.put(name, source, self.cache_context, document.data)
        return spec

    def _checked(self, document: Document) -> Spec:
        """The spec ``document`` holds, built after every check; ``SpecError`` if one fails."""
        check_format(document)
        problems = schema_problems(document, self.spec_schema)
        if problems:
            raise SpecError(problems)
        compiler = Compiler(document, self.expressions)
        compiler.problems.extend(cross_check(document))
        compiler.problems.extend(scope_problems(document, self.expressions))
        spec = build_spec(compiler, self.builders)
        compiler.raise_if_problems(SpecError)
        return spec

    @cached_property
    def cache_context(self) -> str:
        """What a cached spec must have been checked with: this hookline and plugin set.

        The version, the plugins with their distributions' versions, the spec schema with
        every registered auth type, paginator and verifier in it, and the expression
        functions with their signatures.
        """
        distributions: dict[str, str | None] = getattr(self.pm, "hookline_distributions", {})
        plugins = sorted(
            (name, distributions.get(name) or "", _distribution_version(distributions.get(name)))
            for name, plugin in self.pm.list_name_plugin()
            if plugin is not None
        )
        functions = sorted(
            (f.name, f.signature, f.optional, f.variadic)
            for f in self.expressions.functions.values()
        )
        return digest(__version__, plugins, self.spec_schema, functions)

    @cached_property
    def _sources(self) -> list[tuple[str, Any]]:
        """``(plugin, spec file)`` for every registered spec file, built-ins first."""
        return flatten(collect(self.pm, "register_connectors"))

    def _load_source(self, index: int) -> Spec:
        cache: dict[int, Spec] = self.__dict__.setdefault("_loaded", {})
        if index not in cache:
            source = self._sources[index][1]
            if isinstance(source, str | os.PathLike):
                cache[index] = self.load_spec(Path(source))
            else:  # an importlib.resources Traversable, e.g. inside a zipped package
                text = source.read_text(encoding="utf-8")
                cache[index] = self.load_spec(Path(str(source)), text=text)
        return cache[index]

    @cached_property
    def connectors(self) -> dict[str, Connector]:
        """Every registered connector by name; a spec that fails to load raises ``SpecError``.

        A plugin's spec written for another format version is refused instead: a
        ``PluginLoadWarning`` says why, the other connectors load, and asking for that
        connector by name is a ``PluginError`` with the same words (``refused``).
        """
        found: dict[str, Connector] = {}
        for index, (plugin, source) in enumerate(self._sources):
            try:
                spec = self._load_source(index)
            except SpecFormatError as exc:
                self._refuse(exc, plugin, source)
                continue
            if spec.name in found:
                raise PluginError(
                    f"connector {spec.name!r} is registered by both plugin "
                    f"{found[spec.name].plugin!r} and plugin {plugin!r}; uninstall one of them"
                )
            found[spec.name] = Connector(spec, plugin)
        return found

    @cached_property
    def refused(self) -> dict[str, str]:
        """Why each refused connector was not loaded, by connector name (see ``connectors``)."""
        return {}

    def _refuse(self, error: SpecFormatError, plugin: str, source: Any) -> None:
        distributions: dict[str, str | None] = getattr(self.pm, "hookline_distributions", {})
        message = refusal(error, plugin, distributions.get(plugin), str(source))
        self.refused[error.name or _stem(source)] = message
        warnings.warn(message, PluginLoadWarning, stacklevel=4)

    def spec(self, name: str) -> Spec:
        """The compiled spec of connector ``name``; an unknown name suggests close ones.

        When exactly one registered file is called ``NAME.yaml`` and holds that connector,
        only that file is loaded (a command that uses one connector starts fast); otherwise
        every spec is loaded, which also detects two plugins registering one name.
        """
        if "connectors" not in self.__dict__:
            named = [i for i, (_, source) in enumerate(self._sources) if _stem(source) == name]
            with suppress(SpecFormatError):  # refused, with its warning, by ``connectors``
                if len(named) == 1 and self._load_source(named[0]).name == name:
                    return self._load_source(named[0])
        if name in self.connectors:
            return self.connectors[name].spec
        if name in self.refused:
            raise PluginError(self.refused[name])
        hint = self.unknown_hint if closest(name, self.connectors) is None else ""
        raise ConfigurationError(
            f"unknown connector {name!r}{suggest(name, self.connectors)}"
            + (f"; {hint}" if hint else "")
        )

    @cached_property
    def transports(self) -> dict[str, Any]:
        """``{connector: transport factory}`` for connectors answered in-process."""
        return collect_named(self.pm, "register_transports", "transport")

    @cached_property
    def sandboxes(self) -> dict[str, Sandbox]:
        """Every registered sandbox by the name of the connector it simulates."""
        found: dict[str, Sandbox] = {}
        owners: dict[str, str] = {}
        for plugin, sandbox in flatten(collect(self.pm, "register_sandboxes")):
            if sandbox.name in found:
                raise PluginError(
                    f"a sandbox for {sandbox.name!r} is registered by both plugin "
                    f"{owners[sandbox.name]!r} and plugin {plugin!r}; uninstall one of them"
                )
            found[sandbox.name] = sandbox
            owners[sandbox.name] = plugin
        return found


@functools.cache
def _distribution_version(name: str | None) -> str:
    if not name:
        return ""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _stem(source: Any) -> str:
    return Path(str(getattr(source, "name", source))).stem


def cross_check(document: Document) -> list[Problem]:
    """Checks beyond the schema: references to shared objects, names that must exist."""
    data = document.data
    problems: list[Problem] = []
    objects = data.get("objects", {})
    for path, schema in iter_schemas(data):
        for ref_path, ref in _refs(schema, path):
            if not ref.startswith(OBJECT_REF):
                problems.append(
                    document.problem(
                        ref_path,
                        f"$ref {ref!r} is not allowed: refer to shared objects as "
                        f"'{OBJECT_REF}NAME'",
                    )
                )
            elif ref[len(OBJECT_REF) :] not in objects:
                name = ref[len(OBJECT_REF) :]
                problems.append(
                    document.problem(
                        ref_path, f"unknown shared object {name!r}{suggest(name, objects)}"
                    )
                )
    connection = data.get("connection", {})
    fields = connection.get("fields", {})
    for i, name in enumerate(connection.get("required", [])):
        if name not in fields:
            problems.append(
                document.problem(
                    ("connection", "required", i),
                    f"required field {name!r} is not among the fields{suggest(name, fields)}",
                )
            )
    for kind in ("actions", "triggers"):
        for block_name, block in data.get(kind, {}).items():
            inputs = block.get("input", {})
            for i, name in enumerate(block.get("required", [])):
                if name not in inputs:
                    problems.append(
                        document.problem(
                            (kind, block_name, "required", i),
                            f"required input {name!r} is not among the inputs"
                            f"{suggest(name, inputs)}",
                        )
                    )
    actions = data.get("actions", {})
    for name in set(actions) & set(data.get("triggers", {})):
        problems.append(
            document.problem(
                ("triggers", name),
                f"{name!r} names both an action and a trigger; give them distinct names",
                key=True,
            )
        )
    test = connection.get("test", {}).get("action")
    if test is not None and test not in actions:
        problems.append(
            document.problem(
                ("connection", "test", "action"),
                f"unknown action {test!r}{suggest(test, actions)}",
            )
        )
    return problems + _composite_problems(document) + paginate_problems(document)


# ---------------------------------------------------------------- composite actions

_BARE_NAMES = frozenset({"input", "calls"})
"""The names every call's templates see; no loop item or call id may take them."""


def _composite_problems(document: Document) -> list[Problem]:
    """Calls that name unknown actions or inputs, ids that clash, and calls that loop back."""
    actions = document.data.get("actions", {})
    problems: list[Problem] = []
    graph: dict[str, list[tuple[str, KeyPath]]] = {}
    for name, block in actions.items():
        if "calls" in block:
            top = ("actions", name, "calls")
            graph[name] = _walk_calls(document, block["calls"], top, None, problems)
    for called, path in (edge for edges in graph.values() for edge in edges):
        if called not in actions:
            message = f"unknown action {called!r}{suggest(called, actions)}"
            problems.append(document.problem(path, message))
    problems += _cycles(document, graph)
    return problems


def _walk_calls(
    document: Document,
    calls: list[Any],
    path: KeyPath,
    outer: frozenset[str] | None,
    problems: list[Problem],
) -> list[tuple[str, KeyPath]]:
    """The ``(action, path of its name)`` of every call below ``path``; problems on the way.

    ``outer`` holds the bare names a loop's calls see from around them (None at the top,
    where ids are read as ``calls.ID`` and hide nothing).
    """
    actions = document.data.get("actions", {})
    ids = [call["id"] for call in calls]
    found: list[tuple[str, KeyPath]] = []
    for i, call in enumerate(calls):
        at = (*path, i)
        if call["id"] in ids[:i]:
            message = f"call id {call['id']!r} is taken by an earlier call of this list"
            problems.append(document.problem((*at, "id"), message))
        elif outer is not None and call["id"] in outer:
            problems.append(document.problem((*at, "id"), _hidden(call["id"])))
        if "action" in call:
            found.append((call["action"], (*at, "action")))
            problems += _unknown_inputs(document, call, at, actions.get(call["action"]))
            continue
        around = _BARE_NAMES if outer is None else outer | set(ids)
        if call["as"] in around:
            problems.append(document.problem((*at, "as"), _hidden(call["as"])))
        inside = around | {call["as"]}
        found += _walk_calls(document, call["calls"], (*at, "calls"), inside, problems)
    return found


def _hidden(name: str) -> str:
    return (
        f"{name!r} is already a name in this loop's templates (input, calls, or an item or "
        "call id of an enclosing for_each); give it a name of its own"
    )


def _unknown_inputs(
    document: Document, call: Mapping[str, Any], at: KeyPath, target: Mapping[str, Any] | None
) -> list[Problem]:
    """Keys of a call's ``with`` mapping that the called action does not take, or lacks."""
    given = call.get("with")
    if target is None or not isinstance(given, dict):
        return []
    inputs = dict(target.get("input", {}))
    request = target.get("request", {})
    last = request[-1] if isinstance(request, list) and request else request
    if isinstance(last, dict) and last.get("response") == "bytes":
        inputs["save_to"] = {}
    problems = []
    meant = set()  # a misspelt required input is one mistake, not two
    for key in (key for key in given if key not in inputs):
        close = difflib.get_close_matches(key, [n for n in inputs if n not in given], n=1)
        meant.update(close)
        hint = f" (did you mean {close[0]!r}?)" if close else suggest(key, inputs)
        message = f"action {call['action']!r} has no input {key!r}{hint}"
        problems.append(document.problem((*at, "with", key), message, key=True))
    required = target.get("required", [])
    missing = [name for name in required if name not in given and name not in meant]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        message = f"action {call['action']!r} requires input {names}, which `with` does not give"
        problems.append(document.problem((*at, "with"), message))
    return problems


def _cycles(document: Document, graph: Mapping[str, list[tuple[str, KeyPath]]]) -> list[Problem]:
    """One problem per call that leads back to a composite action already being called."""
    problems: list[Problem] = []
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        trail.append(name)
        for called, path in graph.get(name, []):
            if called in trail:
                loop = " → ".join([*trail[trail.index(called) :], called])
                problems.append(
                    document.problem(
                        path,
                        f"calling {called!r} here leads back to it ({loop}); a composite "
                        "action cannot call itself, directly or through other actions",
                    )
                )
            elif called in graph and called not in done:
                visit(called, trail)
        trail.pop()
        done.add(name)

    for name in graph:
        if name not in done:
            visit(name, [])
    return problems


def _refs(schema: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _refs(value, (*path, key))
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            yield from _refs(value, (*path, i))
