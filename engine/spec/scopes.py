"""What each template of a spec may read, and every reference that reads something else.

A template renders against the names of the place it is written in, and JMESPath reads a
name that is not there as null, so ``{{ inputs.id }}`` or a ``{{ cursor }}`` in an action
would render empty at run time. ``scope_problems`` refuses them at load, each located and
with the close name suggested. The names, place by place:

- ``connection.base_url``: ``connection``; the connection's ``headers``, ``rate_limit.key``
  and auth blocks: ``connection`` and ``session`` (an auth block's ``mfa`` step also
  ``login``, the answer of the login); ``connection.test.input`` too, rendered once logged in;
- an action's ``request`` and ``lookup.request``: ``connection``, ``session`` and ``input``,
  and ``page`` in a request read page by page (``paginate``, or a list action under
  ``defaults.paginate``);
- a poll trigger's ``request``: those and ``cursor``; its ``cursor.initial``: ``connection``,
  ``session`` and ``input``; a webhook trigger's ``verify``: ``connection`` and ``input``;
- a composite action's calls: ``input`` and ``calls`` (the top-level calls before), and in a
  ``for_each`` the item and the earlier calls of the same iteration by their ids
  (``hookline.actions.composite``).

``input.NAME`` must be an input of the action or trigger, ``connection.NAME`` a field of the
connection and ``calls.ID`` a call that runs before. Texts under ``description``, ``title``
and ``examples`` are prose and data, not templates.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any

from hookline.documents.loader import Document, KeyPath
from hookline.errors import ExpressionError, Problem
from hookline.expr.templates import Expressions

_PROSE = frozenset({"description", "title", "examples"})
_REQUEST = frozenset({"connection", "session", "input"})
_WHOSE = {
    "cursor": "only a poll trigger's request reads cursor",
    "page": "only a request read page by page (paginate) reads page",
    "login": "only an auth block's mfa step reads login",
    "env": "a spec cannot read the environment; give the value as a connection field",
}


def scope_problems(document: Document, expressions: Expressions) -> list[Problem]:
    """Every template reference of a spec document to a name its place does not have."""
    return _Scopes(document, expressions).run()


class _Scopes:
    """The checks of one spec document, collecting problems."""

    def __init__(self, document: Document, expressions: Expressions) -> None:
        self.document = document
        self.expressions = expressions
        self.data: Mapping[str, Any] = document.data
        self.problems: list[Problem] = []
        connection = self.data.get("connection", {})
        self.fields = [*connection.get("fields", {}), "allow_insecure_http"]

    def run(self) -> list[Problem]:
        """Check every place of the spec."""
        connection = self.data.get("connection", {})
        self.place(("connection", "base_url"), {"connection"})
        self.place(("connection", "headers"), {"connection", "session"})
        self.place(("connection", "rate_limit", "key"), {"connection", "session"})
        self.place(("connection", "test", "input"), {"connection", "session"})
        auth = connection.get("auth")
        for index in range(len(auth)) if isinstance(auth, list) else [None]:
            path: KeyPath = (
                ("connection", "auth") if index is None else ("connection", "auth", index)
            )
            self.place(path, {"connection", "session"})
        paginate_all = "paginate" in self.data.get("defaults", {})
        for name, block in self.data.get("actions", {}).items():
            at: KeyPath = ("actions", name)
            inputs = _inputs(block)
            paged = "paginate" in block or (paginate_all and "records" in block.get("output", {}))
            self.place((*at, "request"), _REQUEST | ({"page"} if paged else set()), inputs)
            self.place((*at, "lookup", "request"), _REQUEST, inputs)
            if isinstance(block.get("calls"), list):
                self.calls((*at, "calls"), block["calls"], inputs, frozenset(), ())
        for name, block in self.data.get("triggers", {}).items():
            at = ("triggers", name)
            inputs = _inputs(block)
            self.place((*at, "request"), _REQUEST | {"cursor", "page"}, inputs)
            self.place((*at, "cursor", "initial"), _REQUEST, inputs)
            self.place((*at, "verify"), {"connection", "input"}, inputs)
        return self.problems

    def calls(
        self,
        path: KeyPath,
        calls: list[Any],
        inputs: list[str],
        outer: frozenset[str],
        before: tuple[str, ...],
    ) -> None:
        """Check a list of a composite's calls; ``outer`` holds a loop's names around them.

        ``before`` are the ids of the top-level calls ``calls.ID`` may read here.
        """
        nested = bool(outer)
        seen: list[str] = []
        for index, call in enumerate(calls):
            if not isinstance(call, Mapping):
                continue
            at = (*path, index)
            names = {"input", "calls", *outer, *(seen if nested else ())}
            readable = before if nested else (*before, *seen)
            for key in ("if", "with", "for_each"):
                self.place((*at, key), names, inputs, readable)
            item = call.get("as")
            # An item name that hides another is reported already; its body would only echo it.
            if isinstance(call.get("calls"), list) and isinstance(item, str) and item not in names:
                inner = frozenset({*names, item})
                self.calls((*at, "calls"), call["calls"], inputs, inner, readable)
            if isinstance(call.get("id"), str):
                seen.append(call["id"])

    def place(
        self,
        path: KeyPath,
        names: set[str] | frozenset[str],
        inputs: list[str] | None = None,
        calls: tuple[str, ...] | None = None,
    ) -> None:
        """Check the templates of the value at ``path`` (absent: nothing to check)."""
        value: Any = self.data
        for part in path:
            held = isinstance(value, Mapping) and isinstance(part, str) and part in value
            held = held or (isinstance(value, list) and isinstance(part, int) and part < len(value))
            if not held:
                return
            value = value[part]
        for where, text in _texts(value, path):
            allowed = set(names) | ({"login"} if "mfa" in where else set())
            self.template(where, text, allowed, inputs, calls)

    def template(
        self,
        path: KeyPath,
        text: str,
        names: set[str],
        inputs: list[str] | None,
        calls: tuple[str, ...] | None,
    ) -> None:
        """Check one template's references (one that does not compile is reported already)."""
        try:
            template = self.expressions.compile(text)
        except ExpressionError:
            return
        for ref in template.references():
            if not ref or not isinstance(ref[0], str):
                continue
            root, shown = ref[0], _show(ref)
            if root not in names:
                self.problem(path, f"{shown}: {_unknown(root, names)}")
                continue
            name = ref[1] if len(ref) > 1 and isinstance(ref[1], str) else None
            if name is None:
                continue
            if root == "input" and inputs is not None and name not in inputs:
                self.problem(
                    path, f"{shown}: there is no input {name!r}{_suggest(name, inputs, 'inputs')}"
                )
            elif root == "connection" and name not in self.fields:
                self.problem(
                    path,
                    f"{shown}: the connection has no field "
                    f"{name!r}{_suggest(name, self.fields, 'fields')}",
                )
            elif root == "calls" and calls is not None and name not in calls:
                self.problem(
                    path,
                    f"{shown}: no call before this one has the id "
                    f"{name!r}{_suggest(name, calls, 'calls before it')}",
                )

    def problem(self, path: KeyPath, message: str) -> None:
        """Record a problem at ``path``."""
        self.problems.append(self.document.problem(path, message))


def _texts(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Every text holding ``{{`` inside ``value``, with its key path; prose left out."""
    if isinstance(value, str):
        if "{{" in value:
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _PROSE:
                yield from _texts(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, (*path, index))


def _inputs(block: Mapping[str, Any]) -> list[str]:
    names = list(block.get("input", {}))
    request = block.get("request")
    if isinstance(request, Mapping) and request.get("response") == "bytes":
        names.append("save_to")
    return names


def bare_literal(name: str) -> str | None:
    """What to say when ``name`` is ``null``, ``true`` or ``false`` read as a field."""
    if name not in ("null", "true", "false"):
        return None
    return (
        f"JMESPath reads a bare {name} as a field of that name, which is null; "
        f"write the literal as `{name}`"
    )


def _unknown(root: str, names: set[str]) -> str:
    literal = bare_literal(root)
    if literal is not None:
        return literal
    allowed = sorted(names)
    message = f"unknown name {root!r}{_close(root, allowed)}"
    if root in _WHOSE:
        message += f" ({_WHOSE[root]})"
    return f"{message}; here a template reads {', '.join(allowed)}"


def _suggest(name: str, known: list[str] | tuple[str, ...], noun: str) -> str:
    """`` (did you mean 'x'?)``, else the names there are, else that there are none."""
    close = _close(name, list(known))
    if close:
        return close
    return f" ({noun}: {', '.join(known)})" if known else f" (there are no {noun})"


def _show(ref: tuple[str | int, ...]) -> str:
    return "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(ref)
    )


def _close(name: str, choices: list[str]) -> str:
    found = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {found[0]!r}?)" if found else ""
