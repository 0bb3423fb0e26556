"""Meta-tests that keep the project aligned: public API and its reference, hook docs, generated
references."""

from __future__ import annotations

import ast
import inspect
import re
import sys
from pathlib import Path

import hookline
import hookline.testing
from hookline.cli.main import generated_docs
from hookline.plugins import hookspecs
from hookline.spec.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent


def test_all_lists_exactly_the_public_names() -> None:
    for name in hookline.__all__:  # each resolves, from the module that defines it
        assert getattr(hookline, name) is getattr(sys.modules[hookline._EXPORTS[name]], name)
    public = {name for name in vars(hookline) if not name.startswith("_")}
    modules = {name for name, value in vars(hookline).items() if inspect.ismodule(value)}
    assert set(hookline.__all__) == (public - modules) | {"__version__"}


def _listed(section: str) -> list[str]:
    """The names docs/api.md lists (``- `name`: ...``) under the heading ``## `section```."""
    text = (ROOT / "docs" / "api.md").read_text()
    body = text.split(f"\n## `{section}`\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- `([A-Za-z_][A-Za-z0-9_]*)`: \S", body, re.MULTILINE)


def test_the_api_reference_lists_exactly_the_public_names_once_each() -> None:
    for module in (hookline, hookline.testing):
        listed = _listed(module.__name__)
        assert len(listed) == len(set(listed)), module.__name__
        assert set(listed) == set(module.__all__), module.__name__


def test_the_test_kit_exports_what_it_lists() -> None:
    assert all(hasattr(hookline.testing, name) for name in hookline.testing.__all__)


def test_every_hook_is_documented_in_its_module_and_in_the_plugin_guide() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    assert hooks
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name
        assert f"`{name}`" in guide, name


def _public_definitions(tree: ast.Module, methods: bool) -> list[ast.AST]:
    """Module-level functions and classes, and (with ``methods``) public classes' methods."""
    found: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name.startswith("_"):
                continue
            found.append(node)
            if methods and isinstance(node, ast.ClassDef):
                found += [
                    item
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and not item.name.startswith("_")
                ]
    return found


def test_every_module_and_public_definition_has_a_docstring() -> None:
    missing = []
    for folder in ("engine", "connectors"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            if not ast.get_docstring(tree):
                missing.append(str(path.relative_to(ROOT)))
            for node in _public_definitions(tree, methods=folder == "engine"):
                if not ast.get_docstring(node):  # type: ignore[arg-type]
                    name = getattr(node, "name", "?")
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")  # type: ignore[attr-defined]
    assert missing == []


def test_generated_references_are_current(catalog: Catalog) -> None:
    for name, text in generated_docs(catalog).items():
        committed = ROOT / "docs" / name
        assert committed.read_text() == text, f"docs/{name} is stale: run `hookline docs`"
