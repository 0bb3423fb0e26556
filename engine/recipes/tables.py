"""Lookup tables: a recipe's fixed mappings of keys to values, read with ``lookup()``.

A recipe's ``tables:`` block names each table and gives it in place (a mapping) or as the
path of a YAML or JSON file holding one, relative to the recipe. ``lookup('severity',
trigger.priority)`` gives the value of a key, or null for a key the table does not have (so
``lookup(...) || 'Medium'`` gives a default). A key is compared as text: a number or boolean
is looked up as its JSON text (``1``, ``true``).

``lookup`` is an ``ExpressionFunction`` like any registered one, with its arguments checked
the same way, but it is bound to one recipe's tables: ``recipe_expressions`` gives the runtime
a recipe's templates are compiled with, the catalog's functions plus this one. So the tables
are read when the recipe loads, a template never reads a file, and ``table_problems`` can
refuse, at load, a call that names a table the recipe does not have.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hookline.documents.loader import Document, KeyPath, load_document
from hookline.errors import ExpressionError, InvalidDocumentError, Problem, suggest
from hookline.expr.syntax import nodes
from hookline.expr.templates import Expressions, compact_json
from hookline.plugins.records import ExpressionFunction

Tables = Mapping[str, Mapping[str, Any]]

LOOKUP = "lookup"
_PROSE = frozenset({"title", "description"})


def load_tables(document: Document) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The recipe's tables, files read; a file that cannot be read or holds no mapping is a
    problem at the table's name."""
    tables: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for name, given in document.data.get("tables", {}).items():
        where: KeyPath = ("tables", name)
        if isinstance(given, dict):
            tables[name] = given
            continue
        file = Path(document.file).parent / given
        try:
            data = load_document(file).data
        except InvalidDocumentError as exc:
            detail = "; ".join(str(p) for p in exc.problems) or str(exc)
            problems.append(document.problem(where, f"table {name!r}: {detail}"))
            continue
        if not isinstance(data, dict):
            problems.append(
                document.problem(
                    where, f"table {name!r}: {str(file)!r} holds no mapping of keys to values"
                )
            )
            continue
        tables[name] = data
    return tables, problems


def recipe_expressions(expressions: Expressions, tables: Tables) -> Expressions:
    """``expressions`` with ``lookup`` bound to ``tables``: the runtime of one recipe."""
    return expressions.with_functions([lookup_function(tables)])


def lookup_function(tables: Tables) -> ExpressionFunction:
    """``lookup(table, key)``, reading ``tables``."""

    def lookup(table: str, key: Any) -> Any:
        rows = tables.get(table)
        if rows is None:
            known = ", ".join(sorted(tables)) or "none"
            raise ExpressionError(f"the recipe has no table {table!r} (its tables: {known})")
        if key is None:
            return None
        if isinstance(key, list | dict):
            raise ExpressionError("a key is text, a number or a boolean, not a list or mapping")
        return rows.get(key if isinstance(key, str) else compact_json(key))

    return ExpressionFunction(
        LOOKUP,
        lookup,
        (("string",), ("string", "number", "boolean", "null")),
        "The value of a key in one of the recipe's lookup tables (`tables:`), or null when "
        "the table has no such key; a number or boolean key is looked up as its JSON text.",
    )


def table_problems(document: Document, tables: Tables, expressions: Expressions) -> list[Problem]:
    """Each ``lookup()`` call whose table the recipe does not have, or does not name as text.

    Every template of the recipe is looked at (the calls are compiled, and cached, when the
    recipe is built; one that does not compile is reported there).
    """
    problems = []
    for path, text in _templates(document.data, ()):
        try:
            template = expressions.compile(text)
        except ExpressionError:
            continue
        for expression in template.expressions:
            for node in nodes(expression.parsed.parsed):
                if node["type"] != "function_expression" or node["value"] != LOOKUP:
                    continue
                name = node["children"][0] if node["children"] else None
                if not (
                    isinstance(name, dict)
                    and name["type"] == "literal"
                    and isinstance(name["value"], str)
                ):
                    message = (
                        "lookup() names its table as text, e.g. lookup('severity', "
                        "trigger.priority), so that the table can be checked before a run"
                    )
                elif name["value"] not in tables:
                    table = name["value"]
                    known = ", ".join(sorted(tables)) or "none; add a tables: block"
                    message = (
                        f"lookup(): the recipe has no table {table!r}{suggest(table, tables)} "
                        f"(its tables: {known})"
                    )
                else:
                    continue
                problems.append(document.problem(path, message))
    return problems


def _templates(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Every text holding ``{{`` in the recipe, with its key path; tables and prose left out."""
    if isinstance(value, str):
        if "{{" in value:
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not path and key == "tables":
                continue
            if key not in _PROSE:
                yield from _templates(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _templates(item, (*path, index))
