"""``hookline validate``: tell a spec from a recipe by its first key, then check it fully.

A recipe gets every static check ``hookline run`` makes before it sends anything, except
that validating needs no credentials, so that it runs in CI: a connection named like a
connector stands for one of that connector when the connections file (``--connections``,
``$HOOKLINE_CONNECTIONS`` or the default, if there is one) lacks it, and ``{{ env.NAME }}``
is checked for its form, not for the variable being set (``--strict-env`` warns about each
one that is not). A Markdown file is checked block by block: each fenced YAML block that is
a whole recipe or spec, unless marked as an illustration
(``hookline.documents.markdown``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from hookline.cli.connections import connections_option
from hookline.documents.loader import load_document
from hookline.documents.markdown import fenced_blocks
from hookline.errors import HooklineError, InvalidDocumentError, Problem
from hookline.recipes.load import load_recipe
from hookline.run.connections import load_connections
from hookline.spec.catalog import Catalog

_YAML = (".yaml", ".yml")
_MARKDOWN = (".md", ".markdown")
_KINDS = ("spec", "recipe")


@dataclass(frozen=True, slots=True)
class _Checker:
    """What every file is checked against: the plugins, the file's connections, the env."""

    catalog: Catalog
    connectors: dict[str, str]
    env: dict[str, str] | None
    warnings: list[Problem] | None

    def file(self, path: Path, text: str | None = None) -> str:
        """Check one document; its kind (``spec`` or ``recipe``), or raise with every problem."""
        document = load_document(path, text=text)
        data = document.data
        if isinstance(data, dict) and "spec" in data:
            self.catalog.load_spec(path, text=text)
            return "spec"
        if isinstance(data, dict) and "recipe" in data:
            load_recipe(
                path,
                self.catalog,
                env=self.env,
                connectors=self.connectors,
                unset_env=self.warnings,
                text=text,
            )
            return "recipe"
        raise InvalidDocumentError(
            [
                document.problem(
                    (),
                    "neither a connector spec (first key `spec: hookline/v1`) "
                    "nor a recipe (first key `recipe: NAME`)",
                )
            ]
        )

    def markdown(self, path: Path) -> tuple[list[str], list[Problem]]:
        """Check the recipe and spec blocks of a Markdown file: a line per valid block, and
        the problems of the others."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidDocumentError(
                [Problem(f"cannot read the file: {exc}", str(path))]
            ) from None
        checked, problems = [], []
        for block in fenced_blocks(text):
            if block.language not in ("yaml", "yml") or block.illustration:
                continue
            if first_key(block.text) not in _KINDS:
                continue  # a fragment: a step, a trigger, a connections file
            try:
                kind = self.file(path, block.padded())
            except InvalidDocumentError as exc:
                problems += exc.problems
            else:
                checked.append(f"{path}:{block.line}: valid {kind}")
        return checked, problems


def first_key(text: str) -> str | None:
    """The first top-level key of a YAML text, without parsing it (comments skipped)."""
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or line.startswith("---"):
            continue
        key, colon, _ = line.partition(":")
        return key.strip() if colon and not line[0].isspace() else None
    return None


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@connections_option
@click.option(
    "--strict-env",
    is_flag=True,
    help="Warn about each {{ env.NAME }} whose variable is not set here (without it, "
    "references are checked for their form only).",
)
@click.pass_obj
def validate(
    app: Any, paths: tuple[Path, ...], connections_file: Path | None, strict_env: bool
) -> None:
    """Check specs and recipes (found by their first key); exit 1 if any is invalid.

    A folder is searched for .yaml and .yml files, and for Markdown files, whose fenced
    YAML blocks that are whole recipes or specs are checked (a block marked
    `illustration` after its language is not). No credentials are needed.
    """
    catalog: Catalog = app.catalog
    warnings: list[Problem] | None = [] if strict_env else None
    environ = dict(os.environ)
    connections = load_connections(
        catalog, connections_file, environ=environ, render=False, unset_env=warnings
    )
    checker = _Checker(catalog, connections.connectors, environ if strict_env else None, warnings)
    checked = failed = 0
    for file in (f for path in paths for f in _files(path)):
        lines: list[str] = []
        error: HooklineError | None = None
        try:
            if file.suffix in _MARKDOWN:
                lines, problems = checker.markdown(file)
                error = InvalidDocumentError(problems) if problems else None
            else:
                lines = [f"{file}: valid {checker.file(file)}"]
        except HooklineError as exc:
            error = exc
        for line in lines:
            click.echo(line)
        if error is not None:
            failed += 1
            click.echo(str(error), err=True)
        checked += bool(lines) or error is not None  # Markdown with no recipe or spec: uncounted
    for warning in sorted(set(warnings or ()), key=_order):
        click.echo(f"warning: {warning}", err=True)
    if failed:
        click.echo(f"{failed} of {checked} files invalid", err=True)
        sys.exit(1)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (*_YAML, *_MARKDOWN))
    return [path]


def _order(problem: Problem) -> tuple[str, int, int, str]:
    return (problem.file or "", problem.line or 0, problem.column or 0, problem.message)
