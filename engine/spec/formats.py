"""The spec format versions this hookline reads, and the refusal of any other.

A spec names its format on its first line, ``spec: hookline/v1``. Within a version the format
only grows (new optional keys, new block types); a change that would make a valid spec
invalid, or change what it means, is a new version. A spec written for a version this
hookline does not read is refused before its schema is checked, with one message that names
both versions, rather than with every key the older grammar does not know.
"""

from __future__ import annotations

import re

from hookline.documents.loader import Document
from hookline.errors import SpecFormatError
from hookline.version import __version__

SPEC_FORMAT = "hookline/v1"
"""The one spec format version this hookline reads."""

_VERSIONED = re.compile(r"hookline/v\d+")


def check_format(document: Document) -> None:
    """Raise ``SpecFormatError`` when the document names another ``hookline/vN`` format.

    A ``spec`` value of any other shape is left to the schema, which says what it expects.
    """
    data = document.data
    found = data.get("spec") if isinstance(data, dict) else None
    if not isinstance(found, str) or found == SPEC_FORMAT or not _VERSIONED.fullmatch(found):
        return
    message = (
        f"this spec is written for {found}, which this hookline ({__version__}) does not "
        f"read: it reads {SPEC_FORMAT}. Use a hookline that reads {found}, or a version of "
        f"the connector written for {SPEC_FORMAT}"
    )
    name = data.get("name")
    raise SpecFormatError(
        [document.problem(("spec",), message)],
        found=found,
        name=name if isinstance(name, str) else "",
    )


def refusal(error: SpecFormatError, plugin: str, distribution: str | None, file: str) -> str:
    """Why a plugin's connector is not loaded: it was written for another spec format."""
    origin = f"plugin {plugin!r}" + (f" (distribution {distribution})" if distribution else "")
    return (
        f"{origin} registers {file}, a spec written for {error.found}; this hookline "
        f"({__version__}) reads {SPEC_FORMAT} only, so connector {error.name!r} is not loaded. "
        f"Install a version of the plugin written for {SPEC_FORMAT}, or a hookline that "
        f"reads {error.found}"
    )
