"""Fenced code blocks of Markdown, so that the recipes, specs and commands of docs are checked.

``hookline validate`` checks the YAML blocks of a Markdown file that are whole recipes or
specs, and the docs' tests run its shell blocks. A block written as an illustration only
(a fragment with ``...``, a made-up host) says so with the word ``illustration`` after its
language, ```` ```yaml illustration ````, and is left alone. A block that is a file the
page's commands read says so with ``file=NAME`` (```` ```yaml file=acme.yaml ````).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ILLUSTRATION = "illustration"
"""The info-string word that marks a block as not meant to be run or validated."""

_OPENING = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block: its language, the other words of its info string, its text, and
    the line of the file (1-based) its first line of text is on."""

    language: str
    words: tuple[str, ...]
    text: str
    line: int

    @property
    def illustration(self) -> bool:
        """Whether the block is marked as an illustration, not to be checked."""
        return ILLUSTRATION in self.words

    @property
    def file(self) -> str | None:
        """The file name a ``file=NAME`` word gives the block, if any."""
        for word in self.words:
            key, equals, name = word.partition("=")
            if key == "file" and equals and name:
                return name
        return None

    def padded(self) -> str:
        """The text preceded by blank lines, so that a parser's line numbers are the file's."""
        return "\n" * (self.line - 1) + self.text


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced code block of ``markdown``, in order (an unclosed one runs to the end)."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _OPENING.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        words = tuple(opening["info"].split())
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            body.append(_dedent(lines[end], indent))
            end += 1
        language = words[0].lower() if words else ""
        text = "\n".join(body) + ("\n" if body else "")
        blocks.append(Block(language, words[1:], text, index + 2))
        index = end + 1
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3
        and stripped.startswith(fence[0] * len(fence))
        and not stripped.strip(fence[0])
    )


def _dedent(line: str, indent: int) -> str:
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(indent, spaces) :]
