"""The built-in executors, registered as a plugin: ``inline`` and ``celery``.

``inline`` runs jobs in this process (``hookline.run.inline``); ``celery`` sends them to the
workers of ``hookline worker`` (``hookline.run.celery``). The plugin is this small module
rather than the executors themselves, so that registering them (as every command does)
imports neither the job runner nor Celery: each factory imports its executor when a command
builds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from hookline.plugins.hookspecs import hookimpl
from hookline.plugins.protocols import Executor
from hookline.plugins.records import ExecutorConfig


def inline(config: ExecutorConfig) -> Executor:
    """Jobs on this process's event loop, ``config.concurrency`` at once when serving."""
    from hookline.run.inline import InlineExecutor

    return InlineExecutor(config)


def celery(config: ExecutorConfig) -> Executor:
    """Jobs sent to Celery workers through ``config.broker`` (``hookline[celery]``)."""
    try:
        from hookline.run.celery.executor import CeleryExecutor
    except ModuleNotFoundError as exc:
        if exc.name not in ("celery", "kombu"):
            raise
        from hookline.errors import ConfigurationError

        raise ConfigurationError(
            "the celery executor needs Celery: pip install 'hookline[celery]'"
        ) from None
    return CeleryExecutor(config)


@hookimpl
def register_executors() -> Mapping[str, Callable[[ExecutorConfig], Executor]]:
    """The built-in executors: ``inline`` and ``celery``."""
    return {"inline": inline, "celery": celery}
