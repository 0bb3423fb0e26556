"""The ``acme_seek`` paginator: a seek token in a response header, sent back as a parameter.

Acme pages its lists by keyset: each page but the last answers with an ``Acme-Next-Seek``
header, an opaque token that the next request sends as ``seek``, with ``per_page`` for the
page size. A list read this way neither skips nor repeats a ticket when tickets are created
while it is read, which offset paging cannot promise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from hookline import Compiler, InvalidResponseError, Page, PageSource


@dataclass(frozen=True, slots=True)
class AcmeSeekPaginator:
    """``type: acme_seek``: follow the ``Acme-Next-Seek`` header until a page has none."""

    header: str = "Acme-Next-Seek"
    param: str = "seek"
    page_size: int = 20
    max_records: int | None = None

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["type"],
        "description": "Acme's keyset pages: a seek token in a header, sent back as a parameter",
        "properties": {
            "type": {"const": "acme_seek", "description": "Acme's keyset pages"},
            "header": {
                "type": "string",
                "minLength": 1,
                "description": "The response header holding the next page's token "
                "(default Acme-Next-Seek)",
            },
            "param": {
                "type": "string",
                "minLength": 1,
                "description": "The query parameter the token goes back in (default seek)",
            },
            "page_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": 50,
                "description": "Records asked for per page, sent as per_page (Acme allows 50)",
            },
            "max_records": {
                "type": "integer",
                "minimum": 1,
                "description": "Read at most this many records (a call may ask for fewer or more)",
            },
        },
    }

    @classmethod
    def from_spec(cls, c: Compiler) -> Self:
        """Build from a ``paginate: {type: acme_seek}`` block."""
        return cls(
            header=c.get("header", default="Acme-Next-Seek"),
            param=c.get("param", default="seek"),
            page_size=c.get("page_size", default=20),
            max_records=c.get("max_records"),
        )

    async def pages(
        self, source: PageSource, *, max_records: int | None = None
    ) -> AsyncIterator[Page]:
        """The pages in order, until one has no token or ``max_records`` are read."""
        limit = self.max_records if max_records is None else max_records
        token: str | None = None
        read = 0
        while True:
            values: dict[str, Any] = {"per_page": self.page_size}
            if token is not None:
                values[self.param] = token
            page = await source.fetch(source.request({"seek": token}, "query", values))
            yield page
            read += len(page.records)
            following = _header(page, self.header)
            if not following or not page.records or (limit is not None and read >= limit):
                return
            if following == token:
                raise InvalidResponseError(
                    f"{source.label}: Acme gave the same seek token twice in a row; "
                    "reading stopped rather than loop"
                )
            token = following


def _header(page: Page, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in page.headers.items() if key.lower() == wanted), None)
