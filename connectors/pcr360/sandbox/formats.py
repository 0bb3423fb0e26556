"""The three output formats a call can ask for with its suffix: json, xml and php.

The same body dict is written in each. XML follows the documented envelope: the root element
is named after the request type, each key becomes a child element, and list entries become
``<item>`` elements, e.g. ``<equipment><status>success</status>…<equipment><item>…</item>
</equipment></equipment>``. PHP is PHP's ``serialize()`` of the same array.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

from starlette.responses import Response

_MEDIA_TYPES = {"json": "application/json", "xml": "application/xml", "php": "text/plain"}
_NOT_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.-]")


def render(root: str, body: dict[str, Any], output: str, status: int = 200) -> Response:
    """The body in the requested output format; JSON when ``output`` is not a known one."""
    if output == "xml":
        text = _xml(root, body)
    elif output == "php":
        text = _php(body)
    else:
        output = "json"
        text = json.dumps(body, ensure_ascii=False)
    return Response(text, status_code=status, media_type=_MEDIA_TYPES[output])


def _xml(root: str, body: dict[str, Any]) -> str:
    element = ElementTree.Element(_tag(root))
    _fill(element, body)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(
        element, encoding="unicode"
    )


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ElementTree.SubElement(element, _tag(str(key))), child)
    elif isinstance(value, list):
        for child in value:
            _fill(ElementTree.SubElement(element, "item"), child)
    elif value is not None:
        element.text = str(value)


def _tag(name: str) -> str:
    """An XML element name for a key (SQL aliases such as ``COUNT(*)`` are not names)."""
    tag = _NOT_NAME_CHAR.sub("_", name) or "_"
    return tag if tag[0].isalpha() or tag[0] == "_" else f"_{tag}"


def _php(value: Any) -> str:
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, float):
        return f"d:{value!r};"
    if isinstance(value, dict | list):
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        inner = "".join(_php(key) + _php(child) for key, child in pairs)
        return f"a:{len(value)}:{{{inner}}}"
    text = str(value)
    return f's:{len(text.encode())}:"{text}";'
