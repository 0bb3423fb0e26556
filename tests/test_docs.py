"""Meta-tests of the Markdown docs: relative links resolve, and the spec guide covers the blocks.

Links are read outside code (fenced blocks and inline code spans are skipped, since JMESPath
such as ``[?id](x)`` is not a link); a link with a scheme (``https:``, ``mailto:``) is left
alone, and a relative one must name an existing file once its ``#anchor`` is removed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hookline.cli.main import generated_docs
from hookline.spec.catalog import Catalog
from hookline.spec.reference import slug

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


def anchors(markdown: str) -> set[str]:
    """The anchors of ``markdown``'s headings, numbered as GitHub numbers repeated ones."""
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", markdown), re.MULTILINE):
        anchor = base = slug(heading.replace("`", ""))
        n = 0
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def test_slugs_follow_github() -> None:
    assert slug("error_rule") == "error_rule"
    assert slug("connection.rate_limit") == "connectionrate_limit"
    assert slug("`basic` auth type".replace("`", "")) == "basic-auth-type"


def test_every_anchor_of_the_generated_references_resolves(catalog: Catalog) -> None:
    dead = []
    for name, text in generated_docs(catalog).items():
        known = anchors(text)
        dead += [f"{name}: #{a}" for a in re.findall(r"\]\(#([^)]+)\)", text) if a not in known]
    assert dead == []


def test_the_spec_reference_describes_every_object(catalog: Catalog) -> None:
    """No key of the spec reference is a bare object: each links to a section of its keys."""
    text = generated_docs(catalog)["spec-reference.md"]
    bare = [line for line in text.splitlines() if re.match(r"\| `\w+` \| object \|", line)]
    assert bare == []
