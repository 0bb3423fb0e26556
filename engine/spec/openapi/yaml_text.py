"""YAML text for a generated spec, with a ``# review:`` comment above each guessed value.

PyYAML cannot write comments, so this small emitter writes the JSON-shaped document itself,
in the style of the built-in specs: block mappings, short schemas and lists of plain values
in flow style (``{type: string, description: ...}``), long prose folded (``>-``) and
multi-line text literal (``|-``). Every scalar is written plain only where reading it back
gives the same value (``"on"``, ``"2024-01-01"``, ``"200"`` and ``"{{ input.id }}"`` are
quoted), so the text always loads as the document it was made from.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import yaml

WIDTH = 100
"""The line length the emitter keeps to where it can."""

_FLOW_PLAIN = re.compile(r"^[A-Za-z0-9_./@+-][A-Za-z0-9_ ./@+-]*$")
_SCHEMA_KEYS = frozenset({"input", "objects", "schema", "fields"})
_NON_PRINTABLE = re.compile(
    "[^\x09\x0a\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\ufeff"
)
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}

Path = tuple[str | int, ...]


def dump(document: Mapping[str, Any], notes: Mapping[Path, Sequence[str]], header: str = "") -> str:
    """``document`` as YAML text; ``notes`` become comments above the keys they are about."""
    lines = [
        f"# {part}".rstrip()
        for line in header.splitlines()
        for part in textwrap.wrap(line, WIDTH - 2, break_on_hyphens=False) or [""]
    ]
    _Emitter(notes, lines).mapping(document, (), 0)
    return "\n".join(lines) + "\n"


class _Emitter:
    def __init__(self, notes: Mapping[Path, Sequence[str]], lines: list[str]) -> None:
        self.notes = notes
        self.inner = {path[:i] for path in notes for i in range(len(path))}
        self.lines = lines

    def mapping(self, value: Mapping[str, Any], path: Path, indent: int) -> None:
        for key, item in value.items():
            at = (*path, key)
            self.comments(at, indent)
            self.entry(" " * indent + _key(str(key)) + ":", item, at, indent)

    def sequence(self, value: Sequence[Any], path: Path, indent: int) -> None:
        for index, item in enumerate(value):
            at = (*path, index)
            if isinstance(item, Mapping) and item:
                start = len(self.lines)
                self.mapping(item, at, indent + 2)
                first = next(
                    i for i in range(start, len(self.lines)) if not _comment(self.lines[i])
                )
                self.lines[first] = " " * indent + "- " + self.lines[first][indent + 2 :]
            else:
                self.entry(" " * indent + "-", item, at, indent)

    def entry(self, prefix: str, item: Any, at: Path, indent: int) -> None:
        """Write ``item`` after ``prefix`` (``key:`` or ``-``), nested below it if need be."""
        if isinstance(item, Mapping | list) and item:
            flow = self.flow(item, at)
            if flow is not None and len(prefix) + 1 + len(flow) <= WIDTH:
                self.lines.append(f"{prefix} {flow}")
            elif isinstance(item, Mapping):
                self.lines.append(prefix)
                self.mapping(item, at, indent + 2)
            else:
                self.lines.append(prefix)
                self.sequence(item, at, indent + 2)
            return
        if isinstance(item, str):
            self.lines.extend(_text(prefix, item, indent + 2))
        else:
            self.lines.append(f"{prefix} {_scalar(item, flow=False)}")

    def flow(self, item: Mapping[str, Any] | list[Any], at: Path) -> str | None:
        """``item`` in flow style, where that suits it; None where it should be a block."""
        if at in self.inner:
            return None
        scalars = all(not isinstance(v, Mapping | list) for v in _values(item))
        in_schema = len(at) >= 4 and bool(_SCHEMA_KEYS & {p for p in at if isinstance(p, str)})
        if not (in_schema or (isinstance(item, list) and scalars)):
            return None
        return _flow(item, depth=0)

    def comments(self, at: Path, indent: int) -> None:
        for note in self.notes.get(at, ()):
            wrapped = textwrap.wrap(
                note,
                width=max(WIDTH - indent - 4, 40),
                break_long_words=False,
                break_on_hyphens=False,
            )
            for number, line in enumerate(wrapped or [""]):
                lead = "# review: " if number == 0 else "#   "
                self.lines.append(" " * indent + lead + line)


def _flow(item: Any, depth: int) -> str | None:
    if depth > 3:
        return None
    if isinstance(item, Mapping):
        parts = []
        for key, value in item.items():
            inner = _flow(value, depth + 1)
            if inner is None:
                return None
            parts.append(f"{_key(str(key), flow=True)}: {inner}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(item, list):
        items = [_flow(value, depth + 1) for value in item]
        if any(text is None for text in items):
            return None
        return "[" + ", ".join(text for text in items if text is not None) + "]"
    if isinstance(item, str) and "\n" in item:
        return None
    return _scalar(item, flow=True)


def _values(item: Mapping[str, Any] | list[Any]) -> list[Any]:
    return list(item.values()) if isinstance(item, Mapping) else list(item)


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


# ---------------------------------------------------------------- scalars


def _text(prefix: str, text: str, indent: int) -> list[str]:
    """The lines of a text value: plain or quoted on one line, else folded or literal."""
    single = f"{prefix} {_scalar(text, flow=False)}"
    if "\n" not in text and len(single) <= WIDTH:
        return [single]
    pad = " " * indent
    if "\n" in text:
        body = text.rstrip("\n")
        trailing = len(text) - len(body)
        indicator = "|-" if trailing == 0 else "|" if trailing == 1 else "|+"
        lines = body.split("\n") + [""] * max(trailing - 1, 0)
        block = [f"{pad}{line}" if line else "" for line in lines]
        if _reads_as(indicator, block, text):
            return [f"{prefix} {indicator}", *block]
        return [single]
    wrapped = textwrap.wrap(
        text, width=max(WIDTH - indent, 40), break_long_words=False, break_on_hyphens=False
    )
    block = [pad + line for line in wrapped]
    if _reads_as(">-", block, text):
        return [f"{prefix} >-", *block]
    return [single]


def _reads_as(indicator: str, block: list[str], text: str) -> bool:
    try:
        loaded = yaml.safe_load("\n".join([f"k: {indicator}", *block]) + "\n")
    except yaml.YAMLError:
        return False
    return isinstance(loaded, dict) and loaded.get("k") == text


def _scalar(value: Any, *, flow: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list):
        return "[]"
    text = str(value)
    return text if _plain(text, flow) else _quoted(text)


def _key(key: str, *, flow: bool = False) -> str:
    return key if _plain_key(key, flow) else _quoted(key)


@lru_cache(maxsize=4096)
def _plain(text: str, flow: bool) -> bool:
    if not text or text != text.strip() or "\n" in text or _NON_PRINTABLE.search(text):
        return False
    if flow and not _FLOW_PLAIN.match(text):
        return False
    try:
        loaded = yaml.safe_load(f"{{k: {text}}}" if flow else f"k: {text}")
    except yaml.YAMLError:
        return False
    return bool(loaded == {"k": text})


@lru_cache(maxsize=4096)
def _plain_key(key: str, flow: bool) -> bool:
    if not _plain(key, flow) or ":" in key or "#" in key:
        return False
    try:
        loaded = yaml.safe_load(f"{key}: x")
    except yaml.YAMLError:
        return False
    return bool(loaded == {key: "x"})


def _quoted(text: str) -> str:
    """``text`` double-quoted, escaping what YAML cannot hold as it is."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _NON_PRINTABLE.match(char) or char in "\x85\u2028\u2029":
            out.append(_escape(ord(char)))
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _escape(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{'' if exponent.startswith(('+', '-')) else '+'}{exponent}"
    return text
