"""Argus's sanitation of HTML fields (case description, comments).

Argus accepts HTML in these fields and silently drops what its policy disallows, returning
"safe HTML". The sandbox keeps a small allow-list of formatting tags, keeps ``href`` on links
only for http, https and mailto, drops every other attribute, and drops the content of
script-like elements entirely. Text is re-escaped, so the output is always well-formed.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

_ALLOWED = frozenset({
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "u", "ul",
})  # fmt: skip
_VOID = frozenset({"br", "hr"})
_DROP_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template"})
_SAFE_SCHEMES = ("http://", "https://", "mailto:")


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_CONTENT:
            self.dropping += 1
            return
        if self.dropping or tag not in _ALLOWED:
            return
        kept = ""
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if href.strip().lower().startswith(_SAFE_SCHEMES):
                kept = f' href="{escape(href.strip())}"'
        self.out.append(f"<{tag}{kept}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.dropping and tag in _VOID:
            self.out.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_CONTENT:
            self.dropping = max(0, self.dropping - 1)
            return
        if not self.dropping and tag in _ALLOWED and tag not in _VOID:
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(escape(data, quote=False))


def safe_html(text: str) -> str:
    """``text`` with disallowed tags and attributes removed, as Argus stores HTML fields."""
    parser = _Sanitizer()
    parser.feed(text)
    parser.close()
    return "".join(parser.out)


TEXT_FORMATS = ("html", "plainText")


def as_html(text: str, text_format: str = "html") -> str:
    """A field's stored form: sanitised HTML, or plain text escaped so it reads as given.

    mnemonic's models take ``textFormat`` (``descriptionTextFormat`` on create): plainText
    tells consumers the content needs no HTML renderer, so its markup is kept as text.
    """
    return safe_html(text) if text_format == "html" else escape(text, quote=False)
