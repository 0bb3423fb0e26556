"""A connector's sandbox served on a free loopback port, with connections pointing at it.

``serve(catalog, name, seed=0, **options)`` creates a fresh sandbox app (its ``create_app``
options: a seed, a ``clock``, limits), serves it in a background thread and yields a
``Served``: the harness of connections to it, plus the app's state (the witness of what a
write changed) and its base URL. The sandbox stops when the block ends.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hookline.errors import ConfigurationError, suggest
from hookline.plugins.records import Sandbox
from hookline.run.sandbox import running
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec
from hookline.testing.harness import Harness


class Served(Harness):
    """A sandbox being served: its app state, base URL, connection values and the spec."""

    def __init__(
        self, catalog: Catalog, spec: Spec, state: Any, url: str, values: Mapping[str, Any]
    ) -> None:
        super().__init__(catalog, spec, values)
        self.state = state
        self.url = url


def sandbox_of(catalog: Catalog, name: str) -> Sandbox:
    """The sandbox registered for connector ``name``; a clear error when there is none."""
    try:
        return catalog.sandboxes[name]
    except KeyError:
        raise ConfigurationError(
            f"no sandbox is registered for connector {name!r}{suggest(name, catalog.sandboxes)}; "
            "a plugin registers one with the register_sandboxes hook"
        ) from None


@contextmanager
def serve(catalog: Catalog, name: str, *, seed: int = 0, **options: Any) -> Iterator[Served]:
    """Serve a fresh sandbox of connector ``name`` on loopback while the block runs.

    ``seed`` and ``options`` go to the sandbox's ``create_app``. ``Served.state`` is what
    the app keeps at ``app.state.sandbox`` (None when it keeps nothing there).
    """
    spec = catalog.spec(name)  # an unknown connector is told as such, not as a missing sandbox
    box = sandbox_of(catalog, name)
    try:
        inspect.signature(box.create_app).bind(seed=seed, **options)
    except TypeError as exc:
        raise ConfigurationError(f"the {name} sandbox cannot take these options: {exc}") from None
    except ValueError:
        pass  # a create_app without a signature to check: it is called as it is
    app = box.create_app(seed=seed, **options)
    state = getattr(getattr(app, "state", None), "sandbox", None)
    with running(app) as url:
        yield Served(catalog, spec, state, url, box.connection(url))
