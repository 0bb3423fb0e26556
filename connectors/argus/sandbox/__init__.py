"""A local simulator of mnemonic Argus: the case API v2 and its neighbours.

Served paths: ``/cases/v2/case`` (get, create, update, close, delete, move, simple and
advanced search) with its ``comments``, ``attachments``, ``tags``, ``access`` and ``history``
sub-resources; ``/cases/v2/service``, ``/cases/v2/servicesubscription``,
``/cases/v2/category``; ``/events/v1/case/{id}``; ``/currentuser/v1/user``. Every answer uses
the Argus envelope. See docs/sandboxes/argus.md for the rules it follows and where it had to
choose.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from hookline.errors import ConfigurationError

from . import acl, attachments, cases, catalog, comments, events, history, search, tags
from .data import populate
from .directory import DEMO_KEYS
from .documented import document
from .envelope import ArgusError, argus_error_handler, http_error_handler
from .state import ArgusState

__all__ = ["DEMO_CREDENTIALS", "DEMO_KEYS", "ArgusState", "create_app", "demo_connection"]

DEMO_CREDENTIALS = (
    f"Argus-API-Key {DEMO_KEYS['soc_tech']} (SOC tech, every customer); "
    f"{DEMO_KEYS['nordlys_user']} (customer user of nordlys)"
)


def create_app(
    *,
    seed: int = 0,
    case_count: int = 500,
    clock: Callable[[], float] = time.time,
    count_timeout: bool = False,
) -> Starlette:
    """A fresh Argus sandbox with its state at ``app.state.sandbox``.

    Options:
      ``seed``           seeds ``random.Random``; the same seed gives the same data and ids.
      ``case_count``     how many cases to generate (500 by default).
      ``clock``          epoch seconds for "now": stamps created objects, resolves relative
                         times (``-24hours``) and decides API-key expiry. Seeded data is fixed
                         in the year before 2025-01-01 whatever the clock says.
      ``count_timeout``  case searches answer ``count: -1``, as Argus does when counting
                         times out, so clients must page on ``size`` alone.
    """
    if isinstance(case_count, bool) or case_count < 0:
        raise ConfigurationError(
            f"argus sandbox: option case_count must be a number of at least 0, got {case_count!r}"
        )
    state = ArgusState(clock=clock, rng=random.Random(seed), count_timeout=count_timeout)
    populate(state, case_count)
    document(state)
    app = Starlette(
        routes=[
            *search.routes,
            *cases.routes,
            *comments.routes,
            *attachments.routes,
            *tags.routes,
            *acl.routes,
            *history.routes,
            *events.routes,
            *catalog.routes,
        ],
        exception_handlers={ArgusError: argus_error_handler, HTTPException: http_error_handler},
    )
    app.state.sandbox = state
    return app


def demo_connection(base_url: str) -> dict[str, Any]:
    """Connection values for the argus connector against a sandbox served at ``base_url``."""
    return {"base_url": base_url.rstrip("/"), "api_key": DEMO_KEYS["soc_tech"]}
