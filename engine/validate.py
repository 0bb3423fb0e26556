"""``hookline validate``: tell a spec from a recipe by its first key, then check it fully."""

from __future__ import annotations

from pathlib import Path

from .catalog import Catalog, base_schema
from .errors import InvalidDocumentError, RecipeError
from .loader import load_document
from .schema_errors import schema_problems


def validate_file(path: Path, catalog: Catalog) -> str:
    """Check one file; return its kind (``spec`` or ``recipe``) or raise with every problem."""
    document = load_document(path)
    data = document.data
    if isinstance(data, dict) and "spec" in data:
        catalog.load_spec(path)
        return "spec"
    if isinstance(data, dict) and "recipe" in data:
        problems = schema_problems(document, base_schema("recipe-v1"))
        if problems:
            raise RecipeError(problems)
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
