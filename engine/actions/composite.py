"""Composite actions: one action made of calls to other actions of the same connector.

A composite action has ``calls:`` where other actions have ``request:``. ``run_calls`` runs
them in order, one after another, on the connection the composite was called on: a composite
that copies data between tenants copies into whichever connection it is given. Each call goes
through ``call_action``, so input validation, auth, rate limit, retries and typed errors are
the called action's own; a list action gives the list of all its records.

Names. Every template of a call (``with``, ``if``, ``for_each``) sees:

- ``input``: the composite's input, validated, defaults applied;
- ``calls``: the outputs of the top-level calls that ran before it, by id (inside a loop,
  those that ran before the loop began);
- inside a ``for_each``: the item under its ``as`` name and the outputs of the calls before
  it in the same iteration under their bare ids. An inner loop also sees the names of the
  loops around it. Loading refuses an id or item name that would hide another name.

Nothing else: neither ``connection`` nor ``session``, which belong to the called actions'
requests. A loop's output is a list with one entry per item, in item order, holding the item
under its ``as`` name and each nested call's output under its id; a call its ``if`` skips
gives null, and a ``for_each`` list that is null runs no item. The composite's output is
``output.select`` applied to ``{input, calls}`` (``calls`` itself without a select), checked
against ``output.schema`` (``hookline.actions.call`` does both, as for any action).

Failures. A failing call's error is raised with its kind and its attributes (action, method,
URL, status are the failing call's), its message naming the call's place and action:
``plextrac.import_client: call reports[2].new_report (create_report): ...``. A composite is
idempotent only where its spec says so: when a call of one that is not fails after a call
that changed something (any completed call of an action that is not idempotent), running
it again would repeat that change, so the failure becomes an ``OutcomeUnknownError`` naming
the last change, and a job stops for its operator rather than retrying.

Dry runs. ``plan_calls`` plans the top-level calls in order, as far as the input alone
allows: it stops at the first loop or the first call whose templates read ``calls``, since a
dry run sends nothing and those outputs do not exist, and says which calls it left out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

from hookline.actions.plans import RenderedRequest
from hookline.documents.schema_errors import kind_of
from hookline.errors import HooklineError, InvalidRequestError, OutcomeUnknownError
from hookline.http.connection import Connection
from hookline.http.rendering import reads
from hookline.http.responses import truthy
from hookline.spec.model import Action, ActionCall, Call, Composite, ForEachCall


class CallAction(Protocol):
    """How a composite action calls another action: ``hookline.actions.call.call_action``."""

    async def __call__(
        self,
        connection: Connection,
        name: str,
        values: Mapping[str, Any],
        /,
        *,
        dry_run: bool = ...,
    ) -> Any:
        """Call action ``name`` of ``connection`` with ``values``; its output, or its plan."""
        ...


async def run_calls(
    connection: Connection, action: Action, values: Mapping[str, Any], call_action: CallAction
) -> dict[str, Any]:
    """Run the calls of composite ``action`` with its validated input; their outputs by id.

    Each call goes through ``call_action``, as a call from outside would.
    """
    run = _Run(connection, action, call_action)
    try:
        return await run.level(_composite(action).calls, {"input": values}, "", nested=False)
    except _Failed as failed:
        raise run.error(failed) from failed.error


async def plan_calls(
    connection: Connection, action: Action, values: Mapping[str, Any], call_action: CallAction
) -> tuple[list[RenderedRequest], str]:
    """The requests a dry run of composite ``action`` can render, and a note on the rest.

    The note is empty when every call was planned.
    """
    run = _Run(connection, action, call_action)
    calls = _composite(action).calls
    context = {"input": values, "calls": {}}
    requests: list[RenderedRequest] = []
    for index, call in enumerate(calls):
        if (
            isinstance(call, ForEachCall)
            or reads(call.condition, "calls")
            or reads(call.input, "calls")
        ):
            left = ", ".join(c.id for c in calls[index:])
            return requests, (
                f"calls {left} are not planned: they read the outputs of earlier calls or run "
                "once per item of a list, and a dry run sends nothing, so those do not exist"
            )
        try:
            if not run.holds(call, context):
                continue
            given = _input(call, context, connection)
            plan = await call_action(connection, call.action, given, dry_run=True)
        except HooklineError as exc:
            raise run.error(_Failed(call.id, call.action, exc)) from exc
        prefix = f"call {call.id} ({call.action})"
        requests += [replace(r, role=f"{prefix}: {r.role}") for r in plan.requests]
        if plan.note:
            return requests, f"{prefix}: {plan.note}"
    return requests, ""


class _Failed(Exception):
    """A call failed: its place, its action (None for a loop) and the error, on the way up."""

    def __init__(self, label: str, action: str | None, error: HooklineError) -> None:
        super().__init__(label)
        self.label = label
        self.action = action
        self.error = error


class _Run:
    """One run of one composite action: where it is, and the last change it made."""

    def __init__(self, connection: Connection, action: Action, call_action: CallAction) -> None:
        self.connection = connection
        self.action = action
        self.call_action = call_action
        self.label = f"{connection.spec.name}.{action.name}"
        self.last_change: str | None = None

    async def level(
        self, calls: tuple[Call, ...], scope: dict[str, Any], path: str, *, nested: bool
    ) -> dict[str, Any]:
        """Run one list of calls in order; their outputs by id.

        ``scope`` is what the list's templates see from around it. Earlier outputs of the
        list are added as ``calls`` at the top, under their own ids inside a loop.
        """
        outputs: dict[str, Any] = {}
        for call in calls:
            label = f"{path}.{call.id}" if path else call.id
            context = {**scope, **outputs} if nested else {**scope, "calls": dict(outputs)}
            if isinstance(call, ForEachCall):
                outputs[call.id] = await self.loop(call, context, label)
            else:
                outputs[call.id] = await self.call(call, context, label)
        return outputs

    async def loop(self, call: ForEachCall, context: dict[str, Any], label: str) -> Any:
        """Run a loop's calls once per item; one entry per item, or None when skipped."""
        try:
            if not self.holds(call, context):
                return None
            items = _items(call.items.render(context), self.connection, self.action)
        except HooklineError as exc:
            raise _Failed(label, None, exc) from exc
        entries = []
        for index, item in enumerate(items):
            scope = {**context, call.item: item}
            outputs = await self.level(call.calls, scope, f"{label}[{index}]", nested=True)
            entries.append({call.item: item, **outputs})
        return entries

    async def call(self, call: ActionCall, context: dict[str, Any], label: str) -> Any:
        """Call one action; its output, or None when its ``if`` skips it."""
        try:
            if not self.holds(call, context):
                return None
            given = _input(call, context, self.connection)
            output = await self.call_action(self.connection, call.action, given)
        except HooklineError as exc:
            raise _Failed(label, call.action, exc) from exc
        if not self.connection.spec.actions[call.action].idempotent:
            self.last_change = label
        return output

    def holds(self, call: Call, context: dict[str, Any]) -> bool:
        """Whether ``call`` runs: it has no ``if``, or its ``if`` is true."""
        return call.condition is None or truthy(call.condition.render(context))

    def error(self, failed: _Failed) -> HooklineError:
        """The error a failed call becomes, named by its place; see the module's Failures."""
        cause = failed.error
        detail = str(cause)
        named = f"call {failed.label}"
        if failed.action is not None:
            detail = detail.removeprefix(f"{self.connection.spec.name}.{failed.action}: ")
            named += f" ({failed.action})"
        message = f"{self.label}: {named}: {detail}"
        if (
            self.last_change is not None
            and not self.action.idempotent
            and not isinstance(cause, OutcomeUnknownError)
        ):
            return OutcomeUnknownError(
                f"{message}. {self.label} was partly applied: call {self.last_change} and "
                "calls before it made changes that running it again would repeat; check "
                "what they made before sending it again",
                connector=self.connection.spec.name,
                action=getattr(cause, "action", None) or self.action.name,
                method=getattr(cause, "method", None),
                url=getattr(cause, "url", None),
                status=getattr(cause, "status", None),
            )
        renamed = copy.copy(cause)
        renamed.args = (message,)
        return renamed


def _composite(action: Action) -> Composite:
    composite = action.composite
    assert composite is not None, f"{action.name} is not a composite action"
    return composite


def _input(call: ActionCall, context: dict[str, Any], connection: Connection) -> dict[str, Any]:
    """The called action's input as ``with`` renders it: a mapping, or a refusal."""
    given = {} if call.input is None else call.input.render(context)
    if not isinstance(given, dict):
        raise InvalidRequestError(
            f"`with` gave {kind_of(given)}, expected a mapping of the action's inputs",
            connector=connection.spec.name,
            action=call.action,
        )
    return given


def _items(value: Any, connection: Connection, action: Action) -> list[Any]:
    """The list a ``for_each`` runs over; null is an empty list, anything else is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequestError(
            f"for_each gave {kind_of(value)}, expected a list",
            connector=connection.spec.name,
            action=action.name,
        )
    return value
