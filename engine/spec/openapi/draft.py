"""What the converter produces: a spec document and the review notes on its guesses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from hookline.spec.openapi.yaml_text import dump

KeyPath: TypeAlias = tuple[str | int, ...]


class Notes:
    """Review notes, each kept at the key path of the spec value it is about."""

    def __init__(self) -> None:
        self.by_path: dict[KeyPath, list[str]] = {}

    def add(self, path: KeyPath, text: str) -> None:
        """Note ``text`` at ``path`` (once: the same note twice at one place is one note)."""
        found = self.by_path.setdefault(path, [])
        if text not in found:
            found.append(text)

    def frozen(self) -> dict[KeyPath, tuple[str, ...]]:
        """The notes as they stand, for a ``SpecDraft``."""
        return {path: tuple(texts) for path, texts in self.by_path.items()}


@dataclass(frozen=True, slots=True)
class SpecDraft:
    """A spec document made from an OpenAPI document, with what a person should review.

    ``document`` is the spec as plain data (it validates with the built-in plugins);
    ``notes`` holds, by key path, what was guessed there; ``skipped`` names the operations
    that did not become actions (``HEAD /pets``) with the reason; ``source`` says which
    format the document was (``OpenAPI 3.0.2``, ``Swagger 2.0``).
    """

    document: dict[str, Any]
    notes: Mapping[KeyPath, tuple[str, ...]]
    skipped: tuple[str, ...]
    source: str

    def yaml(self, header: str = "") -> str:
        """The spec as YAML text, each note a ``# review:`` comment above the value it is about.

        ``header`` (lines of text) is written first, as comments.
        """
        return dump(self.document, self.notes, header=header)
