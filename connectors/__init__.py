"""Built-in connectors: one plugin package per platform, with its spec and its sandbox.

Each platform package registers its spec file (``specs/<name>.yaml``) and its sandbox through
the same hooks a third-party plugin uses; the files its examples upload are in the sandbox's
``examples`` folder.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from hookline import Sandbox, hookimpl


@dataclass(frozen=True, slots=True)
class BuiltinConnector:
    """The hook implementations of one built-in platform package."""

    name: str
    title: str

    @hookimpl
    def register_connectors(self) -> Sequence[Traversable]:
        """The platform's spec file, shipped in ``hookline.specs``."""
        return [files("hookline.specs").joinpath(f"{self.name}.yaml")]

    @hookimpl
    def register_sandboxes(self) -> Sequence[Sandbox]:
        """The platform's simulator, from the package's ``sandbox`` module."""
        module = importlib.import_module(f"hookline.connectors.{self.name}.sandbox")
        return [
            Sandbox(
                name=self.name,
                title=self.title,
                create_app=module.create_app,
                connection=module.demo_connection,
                credentials=module.DEMO_CREDENTIALS,
                subscribe=getattr(module, "subscribe", None),
                emit=getattr(module, "emit_event", None),
                example_files=Path(str(module.__file__)).parent / "examples",
            )
        ]
