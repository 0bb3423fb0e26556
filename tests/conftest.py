"""Fixtures shared by the whole suite: a catalog of the built-in plugins only."""

from __future__ import annotations

import pytest

from hookline.catalog import Catalog
from hookline.plugins import get_plugin_manager


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The built-in plugins, without third-party entry points."""
    return Catalog(get_plugin_manager(entry_points=False))
