"""Where a paginator's parameters go in a spec's request: the query, or a body that can take them.

Parameters go in the query, or in a body written out in the spec as an object (JSON or form),
where a dotted name such as ``pagination.offset`` is a nested member. ``paginate_problems``
refuses, when a spec loads, an ``in: body`` paginator on a request whose body cannot take them;
``with_params`` refuses the same at run time for what a loaded spec cannot show (a plugin's
paginator that puts its parameters somewhere of its own choosing), naming the action.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from hookline.documents.loader import Document, KeyPath
from hookline.errors import ConfigurationError, Problem
from hookline.expr.templates import CompiledValue
from hookline.spec.model import Request

_PLACES = ("query", "body")
_BODIES = ("json", "form", "multipart", "body")


def with_params(request: Request, where: str, values: Mapping[str, Any], *, label: str) -> Request:
    """``request`` with ``values`` set in its query, or in its JSON object or form body.

    A dotted name in a body (``pagination.offset``) sets a nested member, creating the objects
    on the way. A value set here replaces any the template gave the same parameter. Merging
    into the template (rather than into a rendered request) keeps a page to one rendering.
    Parameters that cannot go where asked are a ``ConfigurationError`` naming ``label``, the
    action.
    """
    if where not in _PLACES:
        raise ConfigurationError(
            f"{label}: the paginator sets its parameters in {where!r}; they can go in "
            f"{' or '.join(repr(place) for place in _PLACES)}"
        )
    if where == "query":
        return replace(request, query=_merged(request.query, values, dotted=False))
    bodies = {name: getattr(request, name) for name in _BODIES}
    refusal = _body_refusal(
        {
            name: value.value if isinstance(value, CompiledValue) else value
            for name, value in bodies.items()
            if value is not None
        }
    )
    if refusal is not None:
        raise ConfigurationError(
            f"{label}: the paginator sets its parameters in the body, which cannot take them: "
            f"{refusal}"
        )
    if request.form is not None:
        return replace(request, form=_merged(request.form, values, dotted=False))
    return replace(request, json=_merged(request.json, values, dotted=True))


def _body_refusal(bodies: Mapping[str, Any]) -> str | None:
    """Why paginator parameters cannot go in a request's body, or None when they can.

    ``bodies`` holds the body keys the request has (``json``, ``form``, ``multipart``,
    ``body``) with their values as written: parameters need a form, a JSON body written out
    as an object (its members may be templates), or no body at all.
    """
    for name in ("multipart", "body"):
        if name in bodies:
            return f"the request has a {'raw' if name == 'body' else name} body"
    if "json" in bodies and not isinstance(bodies["json"], dict):
        return (
            "the request's json is not written out as an object (write its members out; "
            "each may be a template)"
        )
    return None


def paginate_problems(document: Document) -> list[Problem]:
    """Each ``in: body`` paginate block on a request whose body cannot take its parameters.

    A problem is at the block's ``in``; for the spec's default block, it names the action or
    trigger that takes the default.
    """
    data = document.data
    default = data.get("defaults", {}).get("paginate")
    problems: list[Problem] = []
    for kind, name, block in _requesting(data):
        where: KeyPath
        if isinstance(block.get("paginate"), dict):
            where, paginate, whose = (kind, name, "paginate"), block["paginate"], ""
        elif isinstance(default, dict) and _is_list(kind, block):
            where, paginate, whose = ("defaults", "paginate"), default, f"{kind[:-1]} {name!r}: "
        else:
            continue
        if paginate.get("in") != "body":
            continue
        written = block["request"]
        for request in written if isinstance(written, list) else [written]:
            refusal = _body_refusal({key: request[key] for key in _BODIES if key in request})
            if refusal is not None:
                message = f"{whose}in: body puts the parameters in the body, but {refusal}"
                problems.append(document.problem((*where, "in"), message + "; or use in: query"))
                break
    return problems


def _requesting(data: Mapping[str, Any]) -> Iterable[tuple[str, str, Mapping[str, Any]]]:
    """``(kind, name, block)`` of every action and trigger that sends a request of its own.

    An action's request may be a list of forms, each a request.
    """
    for kind in ("actions", "triggers"):
        for name, block in data.get(kind, {}).items():
            if isinstance(block, dict) and isinstance(block.get("request"), dict | list):
                yield kind, name, block


def _is_list(kind: str, block: Mapping[str, Any]) -> bool:
    """Whether the spec's default paginate block applies: a list action or a poll trigger."""
    output = block.get("output")
    if block.get("paginate") is False:
        return False
    listed = isinstance(output, dict) and ("records" in output or bool(output.get("list")))
    return kind == "triggers" or listed


def _merged(
    value: CompiledValue | None, values: Mapping[str, Any], *, dotted: bool
) -> CompiledValue:
    tree: dict[str, Any] = dict(value.value) if value is not None else {}
    for name, item in values.items():
        *parents, last = name.split(".") if dotted else [name]
        node = tree
        for key in parents:
            child = node.get(key)
            node[key] = node = dict(child) if isinstance(child, dict) else {}
        node[last] = item
    return CompiledValue(tree)
