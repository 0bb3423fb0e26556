"""The built-in executor, registered as a plugin: ``inline`` runs a job's steps in this process.

The plugin is this small module rather than the job runner itself, so that registering it (as
every command does) does not import the runner, the recipe model and the connection pool; they
are imported when a command asks for an executor.
"""

from __future__ import annotations

from typing import Any

from hookline.plugins.hookspecs import hookimpl


@hookimpl
def register_executors() -> dict[str, Any]:
    """The built-in executor: ``inline``."""
    from hookline.run.jobs import InlineExecutor

    return {"inline": InlineExecutor}
