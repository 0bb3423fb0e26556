"""Inputs sent by name: the ``inputs`` block of a request.

An API whose query or body takes an action's inputs one for one would have the spec restate
each of them (``assignedUser: "{{ input.assigned_user }}"``). A request says instead where
its inputs go and under which names::

    inputs: {to: json, case: camel, rename: {customer_id: customerID}, except: [acl_members]}

Every input the action declares is sent, in the order declared, except those its path reads
(they name the resource, as the parameters of a URL template do) and those listed under
``except``: each under its own name, made camelCase or kebab-case by ``case``, or under the
name ``rename`` gives it. When the spec loads, this becomes the mapping the author would have
written, ``{wire name: "{{ input.NAME }}"}``, put before the request's own keys of its
``query``, ``form`` or ``json`` (at the key path ``at``, for a body wrapped in an envelope), so that
rendering, ``omit_nulls``, dry runs and the checks of templates see one request, however it
was written. A name the request already sets, two inputs sent under one name, a name that is
not an input and a rename that restates the rule are located problems.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hookline.documents.compiler import Compiler
from hookline.errors import suggest
from hookline.expr.templates import CompiledValue, Template

CASES: Mapping[str, Callable[[str], str]] = {
    "camel": lambda name: re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name),
    "kebab": lambda name: name.replace("_", "-"),
}
"""The wire-name rules of ``case``, from an input's snake_case name."""

BODIES = ("json", "form", "multipart", "body")
"""The keys of a request that are its body; a request has at most one."""

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def place_inputs(
    c: Compiler,
    declared: Sequence[str] | None,
    path: Template,
    target: CompiledValue | None,
) -> CompiledValue | None:
    """``target``, the request's own value at ``inputs.to``, with the inputs sent by name.

    ``c`` is the request block; ``declared`` the inputs of its action or trigger in order
    (None for a request that has none, such as a login); ``path`` its compiled path. Every
    problem is recorded on ``c``, and ``target`` is then handed back as it was.
    """
    block = c.get("inputs")
    if declared is None:
        c.problem(
            ["inputs"],
            "`inputs` sends the inputs of an action or poll trigger by name; this request has "
            "no inputs",
            key=True,
        )
        return target
    to: str = block["to"]
    at: list[str] = block.get("at", [])
    if not _fits(c, to, at, target):
        return target
    wires = _wire_names(c, declared, path)
    if wires is None:
        return target
    value: Any = {} if target is None else target.value
    node = value = dict(value)
    for depth, key in enumerate(at):
        inner = node.get(key, {})
        if not isinstance(inner, dict):
            c.problem(
                ["inputs", "at", depth],
                f"the request's {to} sets {'.'.join(at[: depth + 1])} to a value that is not "
                "an object, so no input can be sent inside it",
            )
            return target
        node[key] = node = dict(inner)
    where = f"{to} key" if not at else f"{to} key under {'.'.join(at)},"
    placed: dict[str, Any] = {}
    for name, wire in wires.items():
        if wire in node:
            c.problem(
                _spot(block, name),
                f"input {name!r} would be sent as {where} {wire!r}, which the request sets "
                "itself; list the input under `except`, or drop the key",
            )
            return target
        placed[wire] = c.expressions.compile(_reading(name))
    placed.update(node)
    node.clear()
    node.update(placed)
    return CompiledValue(value)


def _fits(c: Compiler, to: str, at: list[str], target: CompiledValue | None) -> bool:
    """Whether inputs can go to ``to`` at ``at`` in this request; a problem if not."""
    request = c.get()
    if at and to != "json":
        c.problem(["inputs", "at"], f"`at` places inputs inside a JSON body; these go to {to}")
        return False
    others = [key for key in BODIES if key in request and key != to]
    if to in BODIES and others:
        c.problem(
            ["inputs", "to"],
            f"the inputs would make a {to} body, and the request already has a body "
            f"({', '.join(others)}); a request has one body",
        )
        return False
    if target is not None and not isinstance(target.value, dict):
        c.problem(
            [to],
            f"inputs sent by name go into an object, and this {to} is one expression; write "
            "it as an object, or send the inputs in the expression",
        )
        return False
    return True


def _wire_names(c: Compiler, declared: Sequence[str], path: Template) -> dict[str, str] | None:
    """Each input sent, with the name it is sent under; None after a problem."""
    block = c.get("inputs")
    kept_out: list[str] = block.get("except", [])
    rename: dict[str, str] = block.get("rename", {})
    rule: Callable[[str], str] = CASES.get(block.get("case", ""), _as_named)
    known = True
    for index, name in enumerate(kept_out):
        known &= _known(c, ["inputs", "except", index], name, declared)
    for name in rename:
        known &= _known(c, ["inputs", "rename", name], name, declared, key=True)
    if not known:
        return None
    in_path = {ref[1] for ref in path.references() if len(ref) > 1 and ref[0] == "input"}
    for name, wire in rename.items():
        if name in kept_out or name in in_path:
            c.problem(
                ["inputs", "rename", name],
                f"input {name!r} is not sent by name ("
                + ("it is listed under `except`" if name in kept_out else "the path reads it")
                + "), so it has no name to be sent under",
                key=True,
            )
            return None
        if wire == rule(name):
            c.problem(
                ["inputs", "rename", name],
                f"input {name!r} is sent as {wire!r} without a rename; drop this entry",
            )
            return None
    sent = [name for name in declared if name not in in_path and name not in kept_out]
    if not sent:
        c.problem(
            ["inputs"],
            "every input is read by the path or listed under `except`, so `inputs` sends "
            "none; drop the block",
            key=True,
        )
        return None
    wires: dict[str, str] = {}
    taken: dict[str, str] = {}
    for name in sent:
        wire = rename.get(name, rule(name))
        if wire in taken:
            c.problem(
                _spot(block, name),
                f"inputs {taken[wire]!r} and {name!r} would both be sent as {wire!r}; rename "
                "one, or list one under `except`",
            )
            return None
        taken[wire] = name
        wires[name] = wire
    return wires


def _as_named(name: str) -> str:
    """The wire name of an input without ``case``: its own."""
    return name


def _known(
    c: Compiler, at: list[str | int], name: str, declared: Sequence[str], *, key: bool = False
) -> bool:
    """Whether ``name`` is a declared input; a located problem if not."""
    if name in declared:
        return True
    c.problem(at, f"{name!r} is not an input{suggest(name, list(declared))}", key=key)
    return False


def _spot(block: Mapping[str, Any], name: str) -> list[str | int]:
    """Where a problem about input ``name`` is best shown: its rename, else the block."""
    return ["inputs", "rename", name] if name in block.get("rename", {}) else ["inputs"]


def _reading(name: str) -> str:
    """The template that reads input ``name``."""
    field = name if _IDENTIFIER.match(name) else '"' + name.replace('"', '\\"') + '"'
    return f"{{{{ input.{field} }}}}"
