"""Meta-tests that keep the project aligned: public API, hook docs, generated references."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import hookline
from hookline import hookspecs
from hookline.catalog import Catalog
from hookline.cli import generated_docs

ROOT = Path(__file__).resolve().parent.parent


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(hookline) if not name.startswith("_")}
    modules = {name for name, value in vars(hookline).items() if inspect.ismodule(value)}
    assert set(hookline.__all__) == (public - modules) | {"__version__"}


def test_every_hook_is_documented_in_its_module_and_in_the_plugin_guide() -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [name for name in dir(hookspecs) if name.startswith("register_")]
    assert hooks
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name
        assert f"`{name}`" in guide, name


def test_every_module_and_public_function_has_a_docstring() -> None:
    missing = []
    for folder in ("engine", "connectors"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            if not ast.get_docstring(tree):
                missing.append(str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    if not node.name.startswith("_") and not ast.get_docstring(node):
                        missing.append(f"{path}:{node.lineno} {node.name}")
    assert missing == []


def test_generated_references_are_current(catalog: Catalog) -> None:
    for name, text in generated_docs(catalog).items():
        committed = ROOT / "docs" / name
        assert committed.read_text() == text, f"docs/{name} is stale: run `hookline docs`"
