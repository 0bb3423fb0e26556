"""``hookline test CONNECTOR``: the test kit's checks of one connector, as a readable report.

The checks are ``hookline.testing.suite``'s: the spec, its examples run against the sandbox
(or a named connection), its reference page, and its cassettes replayed. Each prints one
line, ``ok``, ``FAIL`` or ``skip``, with its problems below it; the command exits 1 when any
check failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hookline.cli.connections import connections_option
from hookline.run.connections import load_connections
from hookline.spec.cache import SpecCache
from hookline.spec.catalog import Catalog
from hookline.testing.suite import NOT_INSTALLED, CheckResult, check_connector

DEFAULT_CASSETTES = Path("tests/cassettes")


@click.command("test")
@click.argument("connector")
@click.option(
    "--record",
    is_flag=True,
    help="Record each example to a cassette as it runs (then replay them all).",
)
@click.option(
    "--cassettes",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_CASSETTES,
    show_default=True,
    help="The cassettes folder; each connector's are in a subfolder named after it.",
)
@click.option(
    "--connection",
    "connection_name",
    metavar="NAME",
    help="Run the examples against this connection (a real account) instead of the sandbox.",
)
@connections_option
@click.pass_obj
def test(
    app: Any,
    connector: str,
    record: bool,
    cassettes: Path,
    connection_name: str | None,
    connections_file: Path | None,
) -> None:
    """Check a connector: its spec, its examples, its reference page and its cassettes."""
    catalog = Catalog(app.pm, cache=SpecCache.default(), unknown_hint=NOT_INSTALLED)
    values = None
    against = "the sandbox"
    if connection_name is not None:
        entry = load_connections(catalog, connections_file).resolve(
            connection_name, connector=connector
        )
        values, against = entry.values, f"connection {entry.name!r}"
    results = check_connector(
        catalog, connector, cassettes=cassettes, record=record, values=values, against=against
    )
    click.echo(f"hookline test {connector}")
    for result in results:
        _report(result)
    failed = sum(not r.ok for r in results)
    skipped = sum(r.skipped for r in results)
    passed = len(results) - failed - skipped
    click.echo(f"{passed} passed, {skipped} skipped, {failed} failed")
    if failed:
        raise SystemExit(1)


def _report(result: CheckResult) -> None:
    mark = "FAIL" if not result.ok else "skip" if result.skipped else "ok"
    click.echo(f"{mark:<5} {result.name:<10} {result.summary}")
    for problem in result.problems:
        first, *rest = problem.splitlines() or [""]
        click.echo(f"        - {first}")
        for line in rest:
            click.echo(f"          {line}")
