"""Names a spec accepts, made from the names an OpenAPI document uses.

Connector, action, input, field and shared-object names follow the spec schema's pattern
``^[a-z][a-z0-9_]*$``: ``getPetById`` becomes ``get_pet_by_id``, ``filter[status]`` becomes
``filter_status``, ``X-Request-ID`` becomes ``x_request_id``. A ``Namer`` hands out each name
once, so two document names that snake-case alike still get distinct spec names.
"""

from __future__ import annotations

import re
import unicodedata

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
"""The spec schema's pattern for every name."""

_WORD_BREAKS = (
    (re.compile(r"([a-z0-9])([A-Z])"), r"\1_\2"),
    (re.compile(r"([A-Z]+)([A-Z][a-z])"), r"\1_\2"),
)
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def snake(text: str, fallback: str) -> str:
    """``text`` as a valid name; ``fallback`` stands in for text with no letter or digit.

    Accents are dropped (``Übersicht`` is ``ubersicht``) and a name that would start with a
    digit or underscore starts with ``fallback`` instead (``200_response`` is
    ``n_200_response`` for fallback ``n``).
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    for pattern, replacement in _WORD_BREAKS:
        ascii_text = pattern.sub(replacement, ascii_text)
    name = _NOT_NAME.sub("_", ascii_text.lower()).strip("_")
    if not name:
        return fallback
    if not name[0].isalpha():
        return f"{fallback}_{name}"
    return name


class Namer:
    """Hands out unique names: the first choice that is free, else a numbered one."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken: set[str] = set() if taken is None else set(taken)

    def claim(self, *choices: str) -> str:
        """The first of ``choices`` not yet taken, or the first with the lowest free suffix."""
        for choice in choices:
            if choice not in self.taken:
                self.taken.add(choice)
                return choice
        number = 2
        while f"{choices[0]}_{number}" in self.taken:
            number += 1
        name = f"{choices[0]}_{number}"
        self.taken.add(name)
        return name


def identifier(name: str) -> str:
    """``name`` as a JMESPath identifier: bare where it can be, else quoted (``"@odata.next"``)."""
    if _IDENTIFIER.match(name):
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
