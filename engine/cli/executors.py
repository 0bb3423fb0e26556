"""The options that choose an executor (``--executor``, ``--broker``, ``--queue``), and
building the one chosen from the executors the plugins registered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from hookline.errors import ConfigurationError, suggest
from hookline.plugins.manager import collect_named
from hookline.plugins.protocols import Executor
from hookline.plugins.records import ExecutorConfig
from hookline.spec.catalog import Catalog

DEFAULT_QUEUE = "hookline"
"""The queue jobs are sent on, and workers take them from, unless told otherwise."""


def broker_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--broker URL`` option."""
    return click.option(
        "--broker",
        metavar="URL",
        envvar="HOOKLINE_BROKER",
        help="The Celery broker jobs go through: redis://HOST:6379/0 or "
        "amqp://USER:PASSWORD@HOST:5672// (default: $HOOKLINE_BROKER).",
    )(function)


def executor_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--executor NAME``, ``--broker URL`` and ``--queue NAME``."""
    function = click.option(
        "--queue",
        default=DEFAULT_QUEUE,
        show_default=True,
        metavar="NAME",
        help="The queue jobs are sent on (--executor celery); workers take from it.",
    )(function)
    function = broker_option(function)
    return click.option(
        "--executor",
        "executor_name",
        default="inline",
        envvar="HOOKLINE_EXECUTOR",
        metavar="NAME",
        help="How jobs run: inline (in this process) or celery (sent through --broker to "
        "the workers of `hookline worker`), or one a plugin adds (default: "
        "$HOOKLINE_EXECUTOR, else inline).",
    )(function)


def build_executor(catalog: Catalog, name: str, config: ExecutorConfig) -> Executor:
    """The executor ``name`` registered through ``register_executors``, built for ``config``."""
    executors = collect_named(catalog.pm, "register_executors", "executor")
    factory = executors.get(name)
    if factory is None:
        raise ConfigurationError(f"no executor named {name!r}{suggest(name, executors)}")
    executor: Executor = factory(config)
    return executor
