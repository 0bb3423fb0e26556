"""Calling an action: input → request → response → output, each step a short function.

``call_action`` runs one action on an open ``Connection`` and returns its output;
``iter_records`` streams the records of a list action page after page. Both prepare the input
(``hookline.actions.inputs``), render the request with ``Connection.build_request`` against
``connection``, ``session`` and ``input`` (and ``page``, the paginator's values), send it
through the connection, and turn the answer into output: ``records`` and ``select`` applied,
the result checked against the output schema (``hookline.actions.outputs``), a download
described (``hookline.actions.files``).

Unknown outcomes. When the connection breaks after a request that is not safe to repeat, the
connection raises ``OutcomeUnknownError``. An action with a ``lookup`` then asks the platform
whether the object was made: the first matching record, reshaped by the lookup's own
``select`` (``output.select`` was written for the action's answer, not for the record a lookup
finds), is the output, checked against the output schema as any answer is. If none matches,
the request is sent again, as many times as the action's retry attempts allow. Without a
lookup the error propagates and the job records the outcome as unknown.

Resumed calls. A job taken over after its process stopped (``resumed=True``) may have sent
this call already. An action with a ``lookup`` asks first and sends only if nothing was made;
an idempotent action (or a read) is sent again; any other raises ``OutcomeUnknownError``
without sending, for the operator to decide.

Dry runs (``dry_run=True``) send nothing and return a ``hookline.actions.plans.Plan``. Composite
actions (``calls:`` instead of ``request:``) are run by ``hookline.actions.composite``, whose calls
come back here, one ``call_action`` each; their output is selected and checked here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import replace
from functools import cached_property
from typing import Any

import httpx

from hookline.actions.composite import plan_calls, run_calls
from hookline.actions.files import downloaded, save_path
from hookline.actions.inputs import prepared_input
from hookline.actions.outputs import OutputCheck, OutputMismatchWarning, page_records
from hookline.actions.pages import (
    DEFAULT_MAX_PAGES,
    Page,
    PageGuard,
    PageLimitWarning,
    bounded,
    first_request,
)
from hookline.actions.plans import Plan, RenderedRequest, stand_in
from hookline.errors import ActionError, ConfigurationError, OutcomeUnknownError, suggest
from hookline.http.connection import CallPolicy, Connection, Response
from hookline.http.responses import ErrorContext, truthy
from hookline.spec.model import Action, Request
from hookline.spec.params import with_params

__all__ = [
    "OutputMismatchWarning",
    "PageLimitWarning",
    "Plan",
    "call_action",
    "iter_pages",
    "iter_records",
]


async def call_action(
    connection: Connection,
    action_name: str,
    input: Mapping[str, Any] | None = None,
    *,
    dry_run: bool = False,
    max_records: int | None = None,
    max_pages: int | None = None,
    confirm_shape: bool = False,
    resumed: bool = False,
) -> Any:
    """Run ``action_name`` on ``connection`` with ``input``; return its output.

    A list action returns the list of its records (at most ``max_records``, read from at
    most ``max_pages`` pages; ``iter_records`` streams them instead). ``dry_run`` sends
    nothing and returns a ``Plan``. With ``confirm_shape`` the answer must show the
    platform's shape: a list's records where the spec says (an empty list, but not nothing),
    and the output matching its schema even where the spec says ``strict: false``.
    ``resumed`` says an earlier attempt of this very call may have reached the platform.
    """
    call = _Call(connection, action_name, confirm_shape=confirm_shape)
    values = call.prepare(input)
    if dry_run:
        return await call.plan(values, max_records)
    if resumed and not call.action.is_list:
        found = await call.resume(values)
        if found:
            return found[0]
    if call.action.composite is not None:
        return await call.composed(values)
    if call.action.is_list:
        async with aclosing(call.pages(values, max_records, max_pages)) as pages:
            return [record async for page in pages for record in page]
    return await call.single(values)


async def iter_records(
    connection: Connection,
    action_name: str,
    input: Mapping[str, Any] | None = None,
    *,
    max_records: int | None = None,
    max_pages: int | None = None,
) -> AsyncIterator[Any]:
    """Stream the records of list action ``action_name``, fetching pages as they are needed.

    ``max_records`` and ``max_pages`` override the spec's. Leaving the loop early stops the
    reading (and cancels pages fetched ahead).
    """
    pages = iter_pages(connection, action_name, input, max_records=max_records, max_pages=max_pages)
    async with aclosing(pages):
        async for page in pages:
            for record in page:
                yield record


async def iter_pages(
    connection: Connection,
    action_name: str,
    input: Mapping[str, Any] | None = None,
    *,
    max_records: int | None = None,
    max_pages: int | None = None,
) -> AsyncGenerator[list[Any], None]:
    """Stream the records of list action ``action_name`` a page at a time, each page a list.

    The records of ``iter_records``, read the same way; a caller that handles records in bulk
    (``hookline call`` writes a page's JSON lines at once) saves a step per record. Pages
    left without records (by ``max_records``) are not yielded.
    """
    call = _Call(connection, action_name)
    if not call.action.is_list:
        raise ConfigurationError(
            f"{call.label} is not a list action (it has no output.records); use call_action"
        )
    values = call.prepare(input)
    async with aclosing(call.pages(values, max_records, max_pages)) as pages:
        async for page in pages:
            yield page


class _Call:
    """One call of one action on one connection: the steps ``call_action`` is made of."""

    def __init__(
        self, connection: Connection, action_name: str, *, confirm_shape: bool = False
    ) -> None:
        spec = connection.spec
        action = spec.actions.get(action_name)
        if action is None:
            raise ConfigurationError(
                f"connector {spec.name!r} has no action {action_name!r}"
                f"{suggest(action_name, spec.actions)}"
            )
        self.connection = connection
        self.action: Action = action
        self.label = f"{spec.name}.{action_name}"
        self.errors = ErrorContext(
            connector=spec.name, action=action_name, redactor=connection.redactor
        )
        self.confirm_shape = confirm_shape
        self.chosen: Request | None = action.request

    @cached_property
    def output_check(self) -> OutputCheck | None:
        """The check of the output against its schema, made when the first output comes (a dry
        run checks none); None where the action declares no schema."""
        strict = True if self.confirm_shape else None
        return OutputCheck.of(self.connection.spec, self.action, self.errors, strict=strict)

    @property
    def request(self) -> Request:
        """The request this call sends (the form its input picked, where the action has
        several); only an action that is not composite reaches for it."""
        request = self.chosen
        assert isinstance(request, Request), f"{self.label} is a composite action"
        return request

    def prepare(self, input: Mapping[str, Any] | None) -> dict[str, Any]:
        """The input with defaults applied and file contents encoded, validated; the form of
        the request it picks is chosen here."""
        values = prepared_input(self.connection.spec, self.action, input, self.errors)
        if self.action.forms:
            context = {"connection": self.connection.values, "input": values}
            self.chosen = self.action.request_for(context)
        return values

    # ------------------------------------------------------------ requests

    def build(
        self,
        request: Request,
        values: Mapping[str, Any],
        page: Mapping[str, Any] | None = None,
        *,
        dry_run: bool = False,
    ) -> httpx.Request:
        """``request`` rendered with the input (and ``page``); a dry run shows no session."""
        names: dict[str, Any] = {"input": values}
        if page is not None:
            names["page"] = page
        context = self.connection.context(dry_run=dry_run, **names)
        return self.connection.build_request(request, context, action=self.action.name)

    async def ready(self, request: Request) -> None:
        """Log the session in first where rendering ``request`` reads ``session.*``."""
        if self.connection.reads_session(request):
            await self.connection.ready()

    def policy(
        self, request: Request, values: Mapping[str, Any], *, idempotent: bool
    ) -> CallPolicy:
        """How the connection sends ``request`` for this action."""
        return CallPolicy(
            action=self.action.name,
            errors=self.action.errors,
            retry=self.action.retry,
            idempotent=idempotent,
            response=request.response,
            save_to=save_path(values) if request.response == "bytes" else None,
        )

    # ------------------------------------------------------------ one answer

    async def single(self, values: Mapping[str, Any]) -> Any:
        """Send the request; after a lost answer, look up (when the spec can) and maybe resend."""
        request = self.request
        policy = self.policy(request, values, idempotent=self.action.idempotent)
        attempts = max(1, self.action.retry.attempts)
        attempt = 0
        while True:
            attempt += 1
            await self.ready(request)
            built = self.build(request, values)
            try:
                response = await self.connection.send(built, policy=policy)
            except OutcomeUnknownError as lost:
                if self.action.lookup is None or attempt >= attempts:
                    raise
                found = await self.look_up(values, lost)
                if found:
                    return found[0]
                continue  # the platform has no such object: sending again is safe
            return self.output(self.answer(response))

    async def resume(self, values: Mapping[str, Any]) -> list[Any]:
        """Before sending a call that may have been sent already: what it made, or nothing.

        An action with a lookup asks the platform; an idempotent one may simply be sent
        again (nothing found); any other raises ``OutcomeUnknownError`` without sending.
        """
        method = self.request.method if self.action.composite is None else None
        lost = OutcomeUnknownError(
            f"{self.label}: the job stopped while this call was being sent, so the platform "
            "may have applied it",
            connector=self.connection.spec.name,
            action=self.action.name,
            method=method,
        )
        if self.action.lookup is not None:
            return await self.look_up(values, lost)
        if self.action.idempotent:
            return []
        raise OutcomeUnknownError(
            f"{lost} It is not safe to send again (the action is not idempotent and has no "
            "lookup): check the platform, then `hookline jobs resolve` or "
            "`hookline jobs rerun --resend` the job",
            connector=lost.connector,
            action=lost.action,
            method=lost.method,
        )

    async def look_up(self, values: Mapping[str, Any], lost: OutcomeUnknownError) -> list[Any]:
        """What a lost create made, as the action's output in a one-item list; or nothing.

        The first record ``match`` accepts, reshaped by the lookup's ``select``, is checked
        against the output schema like any answer.
        """
        lookup = self.action.lookup
        assert lookup is not None
        await self.ready(lookup.request)
        built = self.build(lookup.request, values)
        policy = self.policy(lookup.request, values, idempotent=True)
        try:
            response = await self.connection.send(built, policy=policy)
        except ActionError as exc:
            raise OutcomeUnknownError(
                f"{lost} The lookup that would tell whether it was applied failed too: {exc}",
                connector=lost.connector,
                action=lost.action,
                method=lost.method,
                url=lost.url,
            ) from exc
        data = response.data
        candidates = lookup.records.search(data) if lookup.records is not None else data
        if candidates is None:
            return []
        if not isinstance(candidates, list):
            candidates = [candidates]
        for record in candidates:
            names = {"record": record, "input": values}
            if truthy(lookup.match.search(names)):
                found = record if lookup.select is None else lookup.select.search(names)
                self.check(found, "the lookup's match")
                return [found]
        return []

    def answer(self, response: Response) -> Any:
        """The body of ``response`` as output data: a download becomes a description of it."""
        return downloaded(response) if self.request.response == "bytes" else response.data

    # ------------------------------------------------------------ records

    async def pages(
        self, values: Mapping[str, Any], max_records: int | None, max_pages: int | None = None
    ) -> AsyncGenerator[list[Any], None]:
        """Every record of a list action, in order, up to ``max_records``: a list per page.

        At most ``max_pages`` pages are read (else the spec's ``paginate.max_pages``, else
        ``DEFAULT_MAX_PAGES``), and none twice (``hookline.actions.pages.PageGuard``).
        """
        await self.ready(self.request)
        guard = PageGuard(self.label, max_pages or self.action.max_pages or DEFAULT_MAX_PAGES)
        source = _Source(self, values, guard=guard)
        paginator = self.action.paginator
        limit = max_records
        if paginator is None:
            pages: AsyncGenerator[Page, None] = _one_page(source)
        else:
            pages = bounded(paginator.pages(source, max_records=max_records), guard)
            limit = max_records if max_records is not None else paginator.max_records
        select = self.action.output.select
        count = 0
        async with aclosing(pages) as stream:
            async for page in stream:
                records = page.records
                if limit is not None and count + len(records) > limit:
                    records = records[: limit - count]
                if select is not None:
                    records = select.search_each(records)
                if self.output_check is not None:  # a name per record costs where none is checked
                    for index, record in enumerate(records, start=count):
                        self.output_check(record, f"record {index}")
                count += len(records)
                if records:
                    yield records
                if limit is not None and count >= limit:
                    return

    def page_records(self, data: Any) -> list[Any]:
        """The records in one page's body, as the spec's ``records`` expression finds them."""
        expression = self.action.output.records
        assert expression is not None
        return page_records(expression, data, self.errors, required=self.confirm_shape)

    async def composed(self, values: Mapping[str, Any]) -> Any:
        """Run a composite action's calls; ``select`` reads ``{input, calls}``."""
        calls = await run_calls(self.connection, self.action, values, call_action)
        if self.action.output.select is None:
            return self.output(calls)
        return self.output({"input": values, "calls": calls})

    # ------------------------------------------------------------ output

    def output(self, data: Any) -> Any:
        """``data`` reshaped by ``select`` and checked against the output schema."""
        select = self.action.output.select
        result = select.search(data) if select is not None else data
        self.check(result)
        return result

    def check(self, value: Any, where: str = "") -> None:
        """Check ``value`` against the output schema, if the action has one."""
        if self.output_check is not None:
            self.output_check(value, where)

    # ------------------------------------------------------------ dry runs

    async def plan(self, values: Mapping[str, Any], max_records: int | None) -> Plan:
        """The requests this call would begin with, redacted, and its example output.

        A connection that answers dry runs gives its answer instead of the example.
        """
        plan = await self.planned(values, max_records)
        if not self.connection.answers_dry_runs:
            return plan
        answer = await call_action(
            self.connection, self.action.name, values, max_records=max_records
        )
        return replace(plan, output=answer, example=False)

    async def planned(self, values: Mapping[str, Any], max_records: int | None) -> Plan:
        """The requests this call would begin with, redacted, and its example output."""
        example = stand_in(self.action.examples, values)
        if self.action.composite is not None:
            planned, note = await plan_calls(self.connection, self.action, values, call_action)
            return Plan(self.label, tuple(planned), example, note)
        requests = []
        if self.action.is_list:
            requests.append(self.shown("first page", await self.first_page(values, max_records)))
        else:
            requests.append(self.shown("request", self.build(self.request, values, dry_run=True)))
        if self.action.lookup is not None:
            built = self.build(self.action.lookup.request, values, dry_run=True)
            requests.append(self.shown("lookup, only after a lost answer", built))
        return Plan(self.label, tuple(requests), example)

    async def first_page(self, values: Mapping[str, Any], max_records: int | None) -> httpx.Request:
        """The first request the paginator would send, without sending it."""
        source = _Source(self, values, dry_run=True)
        return await first_request(self.action.paginator, source, max_records=max_records)

    def shown(self, role: str, request: httpx.Request) -> RenderedRequest:
        """``request`` as plain data, as auth would send it, every credential ``***``."""
        redact = self.connection.redactor.redact
        return RenderedRequest.of(role, request, redact, self.connection.with_credentials(request))


class _Source:
    """The ``PageSource`` a paginator reads one call's pages through."""

    def __init__(
        self,
        call: _Call,
        values: Mapping[str, Any],
        *,
        dry_run: bool = False,
        guard: PageGuard | None = None,
    ) -> None:
        self.call = call
        self.values = values
        self.label = call.label
        self.dry_run = dry_run
        self.guard = guard or PageGuard(call.label)
        self.policy = call.policy(call.request, values, idempotent=call.action.idempotent)

    def request(
        self, page: Mapping[str, Any], where: str = "query", values: Mapping[str, Any] | None = None
    ) -> httpx.Request:
        """The action's request with the paginator's parameters, rendered with ``page``."""
        template = self.call.request
        if values:
            template = with_params(template, where, values, label=self.label)
        return self.call.build(template, self.values, page, dry_run=self.dry_run)

    async def fetch(self, request: httpx.Request) -> Page:
        """Send one page request."""
        self.guard.admit()
        response = await self.call.connection.send(request, policy=self.policy)
        self.guard.check(response.content)
        return Page(request, response.data, response.headers, self.call.page_records(response.data))


async def _one_page(source: _Source) -> AsyncGenerator[Page, None]:
    """The single page of a list action that does not paginate."""
    yield await source.fetch(source.request({}))
