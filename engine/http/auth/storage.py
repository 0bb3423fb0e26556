"""Where the OAuth tokens a person authorized are kept between runs: the ``TokenStore`` contract.

An authorization-code grant needs a person at a browser once; its refresh token must then
outlive the process that got it, and be shared by every process of the installation. The
auth types keep tokens through this small interface, by connection name (the connections
file's entry); ``hookline.run.tokens`` implements it over the state store, sealed with the
installation key.

Refreshing is single flight across processes: the process that finds the access token due
takes the connection's refresh lease (``claim``) and refreshes while the others wait for the
tokens it saves. The holder claims the lease again every third of its length while its
token request runs (``hookline.http.lease``) and releases it after; a lease runs out by
itself, so a process that dies holding it delays the others and never blocks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TokenStore(Protocol):
    """Tokens, and refresh leases, by connection name: what an auth type keeps across processes."""

    async def load(self, name: str) -> dict[str, Any] | None:
        """The tokens saved for connection ``name``, or None if there are none.

        Tokens that are kept but cannot be read (another key) are a ``ConfigurationError``
        that says to authorize again.
        """
        ...

    async def save(self, name: str, tokens: Mapping[str, Any]) -> None:
        """Replace the tokens of connection ``name``, all of them in one write."""
        ...

    async def delete(self, name: str) -> bool:
        """Forget the tokens of connection ``name``; whether there were any."""
        ...

    async def claim(self, name: str, holder: str, seconds: float) -> bool:
        """Take the refresh lease of ``name`` for ``seconds`` unless another holder has it;
        ``holder`` claiming it again keeps it ``seconds`` from now."""
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give the refresh lease of ``name`` back, if ``holder`` still holds it."""
        ...
