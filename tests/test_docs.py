"""Meta-tests of the Markdown docs: relative links resolve, and the spec guide covers the blocks.

Links are read outside code (fenced blocks and inline code spans are skipped, since JMESPath
such as ``[?id](x)`` is not a link); a link with a scheme (``https:``, ``mailto:``) is left
alone, and a relative one must name an existing file once its ``#anchor`` is removed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hookline.spec.catalog import Catalog

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([*DOCS.glob("*.md"), *DOCS.glob("*/*.md"), ROOT / "README.md"])
SPEC_GUIDE = DOCS / "specs.md"

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[^)]*)?\)")
_REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def link_targets(markdown: str) -> list[str]:
    """The targets of the inline and reference links of ``markdown``, outside code."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", markdown))
    return _INLINE_LINK.findall(prose) + _REFERENCE_LINK.findall(prose)


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file (anchor removed) does not exist."""
    broken = []
    for target in link_targets(page.read_text(encoding="utf-8")):
        if _SCHEME.match(target):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        if path and not (page.parent / path).exists():
            broken.append(target)
    return broken


def test_link_targets_skip_code_and_keep_anchors() -> None:
    text = (
        "See [the guide](specs.md#auth) and ![a chart](img/chart.png).\n"
        "`[not](a-link.md)` and [site](https://example.com)\n"
        '```yaml\nselect: "[x](y.md)"\n```\n'
        "[ref]: other.md\n"
    )
    assert link_targets(text) == [
        "specs.md#auth",
        "img/chart.png",
        "https://example.com",
        "other.md",
    ]


def test_a_link_to_a_missing_file_is_broken(tmp_path: Path) -> None:
    (tmp_path / "here.md").write_text("x")
    page = tmp_path / "page.md"
    page.write_text("[ok](here.md#top) [self](#top) [gone](gone.md#top) [web](https://x.example)")
    assert broken_links(page) == ["gone.md#top"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_existing_files(page: Path) -> None:
    assert broken_links(page) == []


def _mentioned(name: str, text: str) -> bool:
    """Whether the guide names ``name`` as code or as a ``type:`` value."""
    return f"`{name}`" in text or re.search(rf"\btype: {re.escape(name)}\b", text) is not None


def test_spec_guide_covers_every_built_in_building_block(catalog: Catalog) -> None:
    """Every auth type, paginator and verifier of the built-in plugins (no entry points)."""
    guide = SPEC_GUIDE.read_text(encoding="utf-8")
    builders = catalog.builders
    kinds = {
        "auth type": builders.auth_types,
        "paginator": builders.paginators,
        "webhook verifier": builders.verifiers,
    }
    assert all(kinds.values())
    missing = [
        f"{kind} {name!r}"
        for kind, table in kinds.items()
        for name in table
        if not _mentioned(name, guide)
    ]
    assert missing == []
