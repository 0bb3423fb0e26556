"""``hookline validate``: tell a spec from a recipe by its first key, then check it fully.

A recipe gets every static check ``hookline run`` makes before it sends anything, against the
process environment and the connections file (``$HOOKLINE_CONNECTIONS`` or the default).
"""

from __future__ import annotations

import os
from pathlib import Path

from hookline.documents.loader import load_document
from hookline.errors import InvalidDocumentError
from hookline.recipes.load import load_recipe
from hookline.run.connections import load_connections
from hookline.spec.catalog import Catalog


def validate_file(path: Path, catalog: Catalog) -> str:
    """Check one file; return its kind (``spec`` or ``recipe``) or raise with every problem."""
    document = load_document(path)
    data = document.data
    if isinstance(data, dict) and "spec" in data:
        catalog.load_spec(path)
        return "spec"
    if isinstance(data, dict) and "recipe" in data:
        load_recipe(path, catalog, env=os.environ, connectors=load_connections(catalog).connectors)
        return "recipe"
    raise InvalidDocumentError(
        [
            document.problem(
                (),
                "neither a connector spec (first key `spec: hookline/v1`) "
                "nor a recipe (first key `recipe: NAME`)",
            )
        ]
    )
