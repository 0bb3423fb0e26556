"""Load the YAML documents users write, keeping the line and column of every value.

Every file hookline reads from a user (connector specs, recipes, connections files) enters
through :func:`load_document`, which returns a :class:`Document`: JSON-shaped data and the
line and column of every value and key. ``hookline.documents.schema_errors`` explains where a
document breaks its schema.

Decisions worth knowing:

- Safe YAML only, with YAML 1.1 scalars (``on`` is true as a value), but keys must be text:
  ``on:`` is an error, never a silent ``True`` key. Documents are JSON-shaped, so timestamps
  stay the text they were written as, and merge keys (``<<``), sets, binary and other tags are
  refused. Anchors and aliases work; each alias becomes an independent copy.
- Hostile input is refused before it costs anything: the byte size before parsing; the
  nesting depth and the *expanded* number of values while composing, where an alias counts
  the full size of its anchor, so a "billion laughs" document stops at its first
  oversized alias and no Python object is ever built for it.
"""

from __future__ import annotations

import bisect
import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from hookline.errors import InvalidDocumentError, Problem

MAX_BYTES = 1 << 20
"""The largest document, in bytes, that :func:`load_document` reads."""
MAX_NODES = 100_000
"""The most values (scalars, lists, mappings, keys) a document may expand to through aliases."""
MAX_DEPTH = 64
"""The deepest nesting of lists and mappings a document may have."""
NEARBY_FOLDERS = 32
"""How many folders (the missing file's own, then those just below it) a suggestion of a
close file name looks through: enough for a project, bounded in a large one."""

PathPart: TypeAlias = str | int
KeyPath: TypeAlias = tuple[PathPart, ...]
Position: TypeAlias = tuple[int, int]

_YAML = "tag:yaml.org,2002:"
_STR, _TIMESTAMP, _MERGE = f"{_YAML}str", f"{_YAML}timestamp", f"{_YAML}merge"
_SCALAR_TAGS = frozenset(
    f"{_YAML}{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
)
_KEY_TAGS = frozenset({_STR, _TIMESTAMP})
_READS_AS = {
    f"{_YAML}int": "an integer",
    f"{_YAML}float": "a number",
    f"{_YAML}bool": "true/false",
    f"{_YAML}null": "null",
}


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded document: JSON-shaped ``data``, the ``file`` name as given, and its positions.

    ``value_positions`` maps each key path (text keys, integer list indexes; ``()`` is the
    root) to the 1-based (line, column) where its value starts; ``key_positions`` does the
    same for the key of each mapping entry. A value copied through an alias is located at
    its anchor, where its text is written. ``source`` is the text the document was read
    from (empty for one made in memory), so that a place inside a value can be located.
    """

    data: Any
    file: str
    value_positions: Mapping[KeyPath, Position] = field(default_factory=dict)
    key_positions: Mapping[KeyPath, Position] = field(default_factory=dict)
    source: str = field(default="", repr=False, compare=False)

    def locate(self, path: Iterable[PathPart], *, key: bool = False) -> Position | None:
        """Where ``path`` is written: its key if ``key`` and it has one, else its value.

        A path the document does not hold (a missing key, say) is located at its nearest
        ancestor that it does hold; ``None`` only for a document with no positions at all.
        """
        parts = tuple(path)
        if key and parts in self.key_positions:
            return self.key_positions[parts]
        for end in range(len(parts), -1, -1):
            position = self.value_positions.get(parts[:end])
            if position is not None:
                return position
        return None

    def find(self, path: Iterable[PathPart], text: str) -> Position | None:
        """Where ``text`` is first written inside the value at ``path``, if it is verbatim.

        Text inside a quoted scalar with escapes, or folded across lines, is not found.
        """
        start = self.locate(path)
        if start is None or not self.source or not text:
            return None
        line, column = start
        offsets = [0]
        for found in re.finditer("\n", self.source):
            offsets.append(found.end())
        if line > len(offsets):
            return None
        index = self.source.find(text, offsets[line - 1] + column - 1)
        if index < 0:
            return None
        row = bisect.bisect_right(offsets, index)
        return row, index - offsets[row - 1] + 1

    def problem(self, path: Iterable[PathPart], message: str, *, key: bool = False) -> Problem:
        """A :class:`Problem` with this document's file, the position of ``path`` and its name."""
        parts = tuple(path)
        line, column = self.locate(parts, key=key) or (None, None)
        return Problem(message, file=self.file, line=line, column=column, path=format_path(parts))


_PLAIN_KEY = re.compile(r"[^\s.\[\]'\"]+")


def format_path(path: Iterable[PathPart]) -> str:
    """Name a key path as users read it: ``actions.create_case.request.method``, ``steps[2].with``.

    A key that would be ambiguous in that notation (empty, or holding dots, brackets, quotes
    or spaces) is written as a quoted index: ``headers["X.Key"]``.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text


def load_document(
    path: Path,
    *,
    error: type[InvalidDocumentError] = InvalidDocumentError,
    max_bytes: int = MAX_BYTES,
    text: str | None = None,
    max_nodes: int = MAX_NODES,
) -> Document:
    """Read and parse one YAML document, or raise ``error`` listing every located problem.

    ``text`` supplies the content directly, and then ``path`` is only the name shown in
    problems. Refused, always as ``error``: a file that cannot be read, is over ``max_bytes``
    or is not UTF-8; YAML that does not parse; more than one document; nesting deeper than
    :data:`MAX_DEPTH`; more than ``max_nodes`` values once aliases are expanded; a recursive
    alias; keys that are not text or appear twice in a mapping; unsupported tags. An empty
    document loads as ``None``.
    """
    file = str(path)
    source = read_source(path, text=text, error=error, max_bytes=max_bytes)
    fast = yaml.__with_libyaml__
    while True:
        try:
            loader = (_FastLoader if fast else _Loader)(source, max_nodes=max_nodes)
        except yaml.reader.ReaderError as exc:
            raise error([_reader_problem(exc, source, file)]) from None
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.build(node, ())
        except yaml.YAMLError as exc:
            if fast and not isinstance(exc, _LimitError):
                fast = False  # read it again for PyYAML's wording of the problem
                continue
            if isinstance(exc, yaml.MarkedYAMLError):
                raise error([_syntax_problem(exc, file)]) from None
            raise
        finally:
            loader.dispose()
        break
    if loader.problems:
        problems = (
            Problem(message, file=file, line=line, column=column, path=format_path(key_path))
            for ((line, column), message), key_path in loader.problems.items()
        )
        raise error(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return Document(data, file, loader.value_positions, loader.key_positions, source)


def read_source(
    path: Path,
    *,
    text: str | None = None,
    error: type[InvalidDocumentError] = InvalidDocumentError,
    max_bytes: int = MAX_BYTES,
) -> str:
    """The text of the document at ``path`` (``text`` itself when given), as ``load_document``
    reads it: at most ``max_bytes`` of UTF-8, else ``error``."""
    file = str(path)
    too_large = f"the document is larger than {max_bytes:,} bytes; split it into smaller files"
    if text is not None:
        if len(text.encode("utf-8", "surrogatepass")) > max_bytes:
            raise error([Problem(too_large, file=file)])
        return text
    try:
        with path.open("rb") as stream:
            raw = stream.read(max_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileNotFoundError):
            reason += nearby_file(path)
        raise error([Problem(f"cannot read the file: {reason}", file=file)]) from None
    if len(raw) > max_bytes:
        raise error([Problem(too_large, file=file)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        column = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        message = f"byte 0x{raw[exc.start]:02x} is not UTF-8 text; save the file as UTF-8"
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error([Problem(message, file=file, line=line, column=column)]) from None


def nearby_file(path: Path) -> str:
    """`` (did you mean 'recipes/sync.yaml'?)`` for a file whose name is close to the missing
    ``path``'s: beside it, else in a folder just below its folder (``sync`` given for
    ``recipes/sync.yaml``); or ''."""
    try:
        folders = [path.parent, *sorted(e for e in path.parent.iterdir() if e.is_dir())]
    except OSError:
        return ""
    for folder in folders[:NEARBY_FOLDERS]:
        try:
            names = [entry.name for entry in folder.iterdir() if entry.is_file()]
        except OSError:
            continue
        close = difflib.get_close_matches(path.name, names, n=1)
        if close:
            return f" (did you mean {str(folder / close[0])!r}?)"
    return ""


class _Loader(yaml.SafeLoader):
    """Composes within the depth and expansion limits, then builds data with positions.

    Composing keeps the running expanded size (``expanded``) and each finished node's size,
    so an alias adds its anchor's full size in constant time. Building then walks the node
    graph itself instead of PyYAML's constructor, to record positions, check keys and tags,
    and copy aliased values. Problems found while building are collected, not raised, so a
    user sees all of them at once.
    """

    def __init__(self, text: str, *, max_nodes: int) -> None:
        super().__init__(text)
        self.max_nodes = max_nodes
        self.expanded = 0
        self.depth = 0
        self.sizes: dict[int, int] = {}
        self.value_positions: dict[KeyPath, Position] = {}
        self.key_positions: dict[KeyPath, Position] = {}
        self.problems: dict[tuple[Position, str], KeyPath] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:
                self._count_alias(event.anchor, event.start_mark, target)
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _limit(f"the document nests deeper than {MAX_DEPTH} levels", event.start_mark)
        node = super().compose_node(parent, index)
        self.depth -= 1
        assert node is not None  # PyYAML returns None only at the end of the stream
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        self.sizes[id(node)] = 1 + sum(self.sizes[id(child)] for child in children)
        self.expanded += 1
        if self.expanded > self.max_nodes:
            message = f"the document holds more than {self.max_nodes:,} values; split it"
            raise _limit(message, node.start_mark)
        return node

    def _count_alias(self, anchor: str, mark: yaml.Mark, target: yaml.Node) -> None:
        size = self.sizes.get(id(target))
        if size is None:
            message = f"alias '*{anchor}' is inside its own anchor; a value cannot contain itself"
            raise _limit(message, mark)
        self.expanded += size
        if self.expanded > self.max_nodes:
            raise _limit(
                f"alias '*{anchor}' expands the document to more than {self.max_nodes:,} values"
                f" (anchor '&{anchor}' is at line {target.start_mark.line + 1});"
                " repeat less through aliases",
                mark,
            )

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        """The plain value of ``node`` at ``path``, recording positions and problems."""
        self.value_positions[path] = _position(node.start_mark)
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, f"{_YAML}map", path)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, f"{_YAML}seq", path)
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if node.tag not in _SCALAR_TAGS:
            self._report(node, path, _unsupported(node.tag))
            return node.value
        try:
            return self.construct_object(node)
        except (ValueError, KeyError):  # an explicit tag on text it cannot read, e.g. !!int x
            self._report(node, path, f"{node.value!r} is not a valid {_short(node.tag)} value")
            return node.value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        data: dict[str, Any] = {}
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in first_lines:
                message = f"duplicate key '{key}' (first at line {first_lines[key]})"
                self._report(key_node, (*path, key), message)
                continue
            first_lines[key] = key_node.start_mark.line + 1
            self.key_positions[(*path, key)] = _position(key_node.start_mark)
            data[key] = self.build(value_node, (*path, key))
        return data

    def _key(self, node: yaml.Node, path: KeyPath) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self._report(node, path, "keys must be text, not a list or a mapping")
            return None
        if node.tag in _KEY_TAGS:
            return str(node.value)
        if node.tag == _MERGE:
            message = "merge keys ('<<') are not supported; write the keys out"
        elif node.value == "":
            message = "an empty key reads as null, but keys must be text; write a name"
        elif node.tag in _READS_AS:
            message = (
                f"key '{node.value}' reads as {_READS_AS[node.tag]}, but keys must be text;"
                f' quote it: "{node.value}"'
            )
        else:
            message = f"key '{node.value}' has the tag {_short(node.tag)}, but keys must be text"
        self._report(node, path, message)
        return None

    def _check_tag(self, node: yaml.Node, expected: str, path: KeyPath) -> None:
        if node.tag != expected:
            self._report(node, path, _unsupported(node.tag))

    def _report(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        # Keyed by position, so a value repeated through aliases is reported once.
        self.problems.setdefault((_position(node.start_mark), message), path)

    def _timestamp_as_text(self, node: yaml.Node) -> str:
        assert isinstance(node, yaml.ScalarNode)
        return str(node.value)


_Loader.add_constructor(_TIMESTAMP, _Loader._timestamp_as_text)


class _FastLoader(_Loader):
    """The same loader reading events from libyaml's C parser.

    Scanning and parsing are most of the time a large spec takes to load; composing stays in
    Python so that every limit and check above holds. libyaml words its syntax errors
    differently, so a document it refuses is read again by ``_Loader`` for the message.
    """

    def __init__(self, text: str, *, max_nodes: int) -> None:
        super().__init__(text, max_nodes=max_nodes)
        self._events: Any = yaml.cyaml.CParser(text)  # type: ignore[attr-defined]

    def check_event(self, *choices: Any) -> bool:
        """Whether the next event is one of ``choices`` (any, when none are given)."""
        return bool(self._events.check_event(*choices))

    def peek_event(self) -> Any:
        """The next event, left in place."""
        return self._events.peek_event()

    def get_event(self) -> Any:
        """The next event, taken."""
        return self._events.get_event()

    def dispose(self) -> None:
        """Release the C parser."""
        self._events.dispose()
        super().dispose()


def _position(mark: yaml.Mark) -> Position:
    return (mark.line + 1, mark.column + 1)


def _short(tag: str) -> str:
    return tag.replace(_YAML, "!!", 1)


def _unsupported(tag: str) -> str:
    return (
        f"the tag {_short(tag)} is not supported; documents hold only text, numbers,"
        " true/false, null, lists and mappings"
    )


class _LimitError(yaml.composer.ComposerError):
    """A document over one of the loader's own limits (size, depth, alias expansion)."""


def _limit(message: str, mark: yaml.Mark | None) -> yaml.MarkedYAMLError:
    return _LimitError(None, None, message, mark)


_TOKENS = {
    "block end": "the end of the block",
    "block mapping start": "a new mapping",
    "block sequence start": "a new list",
    "stream end": "the end of the file",
    "scalar": "a value",
    "document start": "'---'",
    "document end": "'...'",
}
_JARGON = {  # whole phrases, which user text quoted in a message cannot contain
    "end of stream": "end of the file",
    "in the stream": "in the file",
    "while scanning": "while reading",
    "while parsing": "while reading",
    "quoted scalar": "quoted value",
    "plain scalar": "plain value",
    "block scalar": "block of text",
    "a block mapping": "a mapping",
    "a block collection": "a list or mapping",
    "a flow mapping": "a mapping in braces",
    "a flow sequence": "a list in brackets",
    "a simple key": "a key",
    "a block node": "a value",
    "a flow node": "a value",
}


def _plain(text: str) -> str:
    text = re.sub(r"'?<([a-z ]+)>'?", lambda m: _TOKENS.get(m[1], m[1]), text)
    for word, plain in _JARGON.items():
        text = text.replace(word, plain)
    return text


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    problem, context = exc.problem or "", exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    character = re.fullmatch(r"found character '(.+)' that cannot start any token", problem)
    if problem.startswith("found character '\\t'"):
        message = "a tab cannot indent YAML; indent with spaces"
    elif character:
        message = f"'{character[1]}' cannot start a value; quote the value"
    elif problem == "mapping values are not allowed here":
        message = "':' is not allowed here; check the indentation, or quote text containing ': '"
    else:
        message = _plain(problem)
        if context and exc.context_mark is not None and mark is not exc.context_mark:
            where = f"at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
            if context.startswith("while"):
                message += f" ({_plain(context)} {where})"
            else:
                message = f"{_plain(context)} ({where}), {message}"
        if "end of the block" in message:
            message += "; check the indentation"
    line, column = _position(mark) if mark is not None else (None, None)
    return Problem(message, file=file, line=line, column=column)


def _reader_problem(exc: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    line = text.count("\n", 0, exc.position) + 1
    column = exc.position - text.rfind("\n", 0, exc.position)
    message = f"the character U+{exc.character:04X} is not allowed in YAML; remove it"
    return Problem(message, file=file, line=line, column=column)
