"""``hookline call CONNECTOR.ACTION``: run one action from the command line.

The output is JSON on stdout: one document for an action, one line per record (JSON lines,
written as the pages arrive) for a list action, the rendered requests for ``--dry-run``.
Input comes from ``--input-json`` (an object) and ``--input key=value`` pairs on top of it,
each value read as the type its input declares (``hookline.cli.inputs``: ``-i labels=bug`` and
``-i 'labels=["bug"]'`` both give a list input ``["bug"]``, ``-i id=0042`` gives a text input
``"0042"``); a key given several times makes a list. For an input declared with
``contentEncoding: base64``, ``--input data=@photo.png`` sends the file's content.

The connection is ``--connection NAME`` from the connections file, or else the only one of the
connector (or, for a connector that needs no values, such as ``file``, one with its
defaults). Its rate budget and session are shared through the state store (``--state``, by
default the one ``hookline run`` uses), so that calls started together, and a ``run`` or
``serve`` beside them, keep within one budget and one login; a long wait for the budget is
told on stderr. On a terminal, reading a list shows the records and pages read so far on
stderr; off a terminal stderr carries errors only. Errors are hookline errors, which the
``hookline`` group prints as one clean message with the error's exit code.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import sys
import time
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import IO, Any, TextIO

import click
import orjson

from hookline.actions.call import Plan, call_action, iter_pages
from hookline.cli.connections import connections_option, open_entry, state_option
from hookline.cli.inputs import read_inputs
from hookline.errors import ConfigurationError, suggest
from hookline.http.connection import Connection
from hookline.run.connections import load_connections
from hookline.spec.catalog import Catalog

_BATCH = 1 << 20
"""Bytes of JSON lines written at once at the latest."""

_line = functools.partial(orjson.dumps, option=orjson.OPT_APPEND_NEWLINE)


def parse_inputs(
    pairs: tuple[str, ...],
    input_json: str | None,
    properties: Mapping[str, Any] | None = None,
    objects: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The action's input from ``--input-json`` and ``--input key=value`` pairs on top of it.

    Each pair's value is read as the type ``properties`` (the action's input schema, with
    the spec's ``objects``) declares for it (``hookline.cli.inputs``).
    """
    values: dict[str, Any] = {}
    if input_json is not None:
        try:
            parsed = orjson.loads(input_json)
        except orjson.JSONDecodeError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--input-json") from None
        if not isinstance(parsed, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--input-json")
        values.update(parsed)
    values.update(read_inputs(pairs, properties, objects))
    return values


@click.command("call")
@click.argument("target", metavar="CONNECTOR.ACTION")
@click.option(
    "--connection",
    "connection_name",
    metavar="NAME",
    help="The connection to use (default: the only one of the connector).",
)
@connections_option
@state_option
@click.option(
    "--input",
    "-i",
    "inputs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An input value, read as its declared type: JSON where it parses as one the input "
    "takes, else text; a single value for a list input is a one-item list (repeatable; a "
    "repeated key makes a list).",
)
@click.option("--input-json", metavar="JSON", help="The input as a JSON object.")
@click.option(
    "--max-records",
    type=click.IntRange(min=1),
    metavar="N",
    help="Read at most N records of a list action.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the requests the call would start with, with the headers its auth adds, "
    "every credential shown as ***, and an example of its output; send nothing. The "
    "connection needs its values as for a call.",
)
def call(
    target: str,
    connection_name: str | None,
    connections_file: Path | None,
    state: str | None,
    inputs: tuple[str, ...],
    input_json: str | None,
    max_records: int | None,
    dry_run: bool,
) -> None:
    """Run one action and print its output as JSON (a list action: one JSON line per record)."""
    catalog: Catalog = click.get_current_context().obj.catalog
    connector, _, action = target.partition(".")
    if not connector or not action:
        raise click.BadParameter(
            f"{target!r} is not CONNECTOR.ACTION", param_hint="CONNECTOR.ACTION"
        )
    spec = catalog.spec(connector)
    if action not in spec.actions:
        raise ConfigurationError(
            f"connector {connector!r} has no action {action!r}{suggest(action, spec.actions)}"
        )
    properties = spec.actions[action].input_schema.get("properties")
    values = parse_inputs(inputs, input_json, properties, spec.objects)
    found = load_connections(catalog, connections_file)
    entry = found.resolve(connection_name or connector, connector=connector, catalog=catalog)
    out = sys.stdout.buffer
    opened = open_entry(catalog, found, entry, state, dry_run=dry_run)
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    # What start-up made lives as long as the call: frozen, the collector does not walk it
    # again on every full collection while the pages' records come and go.
    gc.freeze()
    try:
        asyncio.run(_run(opened, action, values, max_records, dry_run, out, progress))
    finally:
        gc.unfreeze()


async def _run(
    opened: AbstractAsyncContextManager[Connection],
    action: str,
    values: Mapping[str, Any],
    max_records: int | None,
    dry_run: bool,
    out: IO[bytes],
    progress: _Progress | None = None,
) -> None:
    async with opened as connection:
        if dry_run or not connection.spec.actions[action].is_list:
            result = await call_action(
                connection, action, values, dry_run=dry_run, max_records=max_records
            )
            document = result.to_dict() if isinstance(result, Plan) else result
            out.write(
                orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
            )
            return
        lines = _Lines(out)
        try:
            async for page in iter_pages(connection, action, values, max_records=max_records):
                lines.add(page)
                if progress is not None:
                    progress.page(len(page))
            lines.write()
        except BrokenPipeError:  # the reader (``| head``) has had enough: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        finally:
            if progress is not None:
                progress.done()


class _Progress:
    """The records and pages read so far, on one line of a terminal, redrawn as pages come.

    Shown only when stderr is a terminal: a script reading stderr sees nothing but errors.
    """

    def __init__(self, stream: TextIO, interval: float = 0.1) -> None:
        self.stream = stream
        self.interval = interval
        self.records = self.pages = 0
        self.started = self.shown = time.monotonic()

    def page(self, records: int) -> None:
        """A page of ``records`` was read."""
        self.records += records
        self.pages += 1
        now = time.monotonic()
        if now - self.shown >= self.interval:
            self.shown = now
            self.write(f"reading: {self.counts()}")

    def done(self) -> None:
        """Leave the totals on the line."""
        seconds = time.monotonic() - self.started
        self.write(f"read {self.counts()} ({seconds:.1f}s)\n")

    def counts(self) -> str:
        """``1,234 records in 13 pages``."""
        records = f"{self.records:,} record{'' if self.records == 1 else 's'}"
        return f"{records} in {self.pages:,} page{'' if self.pages == 1 else 's'}"

    def write(self, text: str) -> None:
        """Replace the line with ``text``."""
        self.stream.write(f"\r\x1b[2K{text}")
        self.stream.flush()


class _Lines:
    """A list's records as JSON lines, written a page at a time.

    A page's records arrive one after another without a pause; reading pauses when it waits
    for the next page, and a callback scheduled on the event loop runs exactly then. So each
    page's lines go out in one write as soon as the page has been read, while the request for
    the next page is on its way: a page costs one write rather than one per record, and
    writing overlaps waiting. Lines past ``_BATCH`` bytes are written at once, since a
    connector answered in-process may never pause.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.pages: list[bytes] = []
        self.size = 0
        self.failure: OSError | None = None

    def add(self, records: list[Any]) -> None:
        """Queue the lines of a page's ``records``; raise a write failure of an earlier page."""
        if self.failure is not None:
            raise self.failure
        if not self.pages:
            asyncio.get_running_loop().call_soon(self._write_soon)
        page = b"".join(map(_line, records))
        self.pages.append(page)
        self.size += len(page)
        if self.size >= _BATCH:
            self.write()

    def write(self) -> None:
        """Write and flush the lines queued so far."""
        if self.pages:
            data = b"".join(self.pages)
            self.pages.clear()
            self.size = 0
            self.out.write(data)
            self.out.flush()

    def _write_soon(self) -> None:
        try:
            self.write()
        except OSError as exc:  # the event loop would only log it: the reading task raises it
            self.failure = exc
