"""The plugin manager: built-ins first, then installed plugins, then ``--plugin`` modules.

Nothing is registered at import time. ``get_plugin_manager`` builds a fresh manager, so tests
and embedders can have several side by side. A plugin that fails to import is reported with a
``PluginLoadWarning`` naming it and skipped; hookline keeps working without it.

Set ``HOOKLINE_TRACE_HOOKS=1`` to print every hook call and its result to stderr.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pluggy

from hookline.errors import PluginError
from hookline.plugins import hookspecs

DEFAULT_PLUGINS: tuple[str, ...] = (
    "hookline.expr.builtins",
    "hookline.http.auth.types",
    "hookline.actions.paginators",
    "hookline.http.webhooks",
    "hookline.run.store",
    "hookline.run.executors",
    "hookline.connectors.file",
    "hookline.connectors.argus",
    "hookline.connectors.pcr360",
    "hookline.connectors.plextrac",
    "hookline.connectors.planradar",
)

ENTRY_POINT_GROUP = "hookline"


class PluginLoadWarning(UserWarning):
    """A plugin could not be imported or registered and was skipped."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """A registered plugin: its name, its distribution, and the hooks it implements."""

    name: str
    distribution: str | None
    hooks: tuple[str, ...]


def _register(pm: pluggy.PluginManager, module: ModuleType, name: str, dist: str | None) -> None:
    try:
        pm.register(module, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        warnings.warn(f"plugin {name!r} was not registered: {exc}", PluginLoadWarning, stacklevel=3)
        return
    pm.hookline_distributions[name] = dist  # type: ignore[attr-defined]


def _import(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # a broken plugin must not take hookline down with it
        warnings.warn(
            f"plugin {name!r} failed to import and was skipped: {type(exc).__name__}: {exc}",
            PluginLoadWarning,
            stacklevel=3,
        )
        return None


def get_plugin_manager(
    plugins: Sequence[str] = (), *, entry_points: bool = True
) -> pluggy.PluginManager:
    """Build a plugin manager with the built-ins, the ``hookline`` entry points and ``plugins``.

    ``plugins`` are module paths (the CLI's ``--plugin``); ``entry_points=False`` leaves out
    installed third-party plugins, for tests that want only the built-ins.
    """
    pm = pluggy.PluginManager("hookline")
    pm.add_hookspecs(hookspecs)
    pm.hookline_distributions = {}  # type: ignore[attr-defined]
    for name in DEFAULT_PLUGINS:
        module = importlib.import_module(name)
        _register(pm, module, name, "hookline")
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if pm.has_plugin(ep.name):
                continue
            try:
                module = ep.load()
            except Exception as exc:  # as in _import
                origin = f" of distribution {ep.dist.name} {ep.dist.version}" if ep.dist else ""
                warnings.warn(
                    f"plugin {ep.name!r} (entry point {ep.value}{origin}) failed to import and "
                    f"was skipped: {type(exc).__name__}: {exc}",
                    PluginLoadWarning,
                    stacklevel=2,
                )
                continue
            _register(pm, module, ep.name, ep.dist.name if ep.dist else None)
    for name in plugins:
        if pm.has_plugin(name):
            continue
        imported = _import(name)
        if imported is not None:
            _register(pm, imported, name, None)
    if os.environ.get("HOOKLINE_TRACE_HOOKS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Describe every registered plugin, for ``hookline plugins``."""
    distributions: dict[str, str | None] = pm.hookline_distributions  # type: ignore[attr-defined]
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(name, distributions.get(name), hooks))
    return infos


def collect(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call ``hook`` on each plugin separately; return ``(plugin name, result)`` pairs.

    Calling implementations one by one keeps the plugin each registration came from, for
    tables and for error messages about clashes. Each call still goes through pluggy (a subset
    caller holding that plugin's implementation and every wrapper), so tracing and hook
    wrappers see it. Built-ins come first.
    """
    caller = getattr(pm.hook, hook)
    impls = [impl for impl in caller.get_hookimpls() if not (impl.hookwrapper or impl.wrapper)]
    results = []
    for impl in impls:  # registration order: built-ins first
        others = [other.plugin for other in impls if other is not impl]
        for value in pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs):
            results.append((impl.plugin_name, value))
    return results


def collect_named(pm: pluggy.PluginManager, hook: str, what: str, **kwargs: Any) -> dict[str, Any]:
    """Merge ``{name: thing}`` registrations of ``hook``; a name registered twice is an error."""
    merged: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for plugin, mapping in collect(pm, hook, **kwargs):
        for name, thing in mapping.items():
            if name in merged:
                raise PluginError(
                    f"{what} {name!r} is registered by both plugin {owners[name]!r} "
                    f"and plugin {plugin!r}; uninstall one of them"
                )
            merged[name] = thing
            owners[name] = plugin
    return merged


def flatten(pairs: Iterable[tuple[str, Iterable[Any]]]) -> list[tuple[str, Any]]:
    """Turn ``(plugin, [things])`` pairs into ``(plugin, thing)`` pairs."""
    return [(plugin, thing) for plugin, things in pairs for thing in things]
