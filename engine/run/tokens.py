"""OAuth tokens in the state store, sealed: the ``TokenStore`` every process shares.

A row of ``oauth_tokens`` (``hookline.run.sealed``) per authorized connection, keyed by its
name in the connections file, holds the tokens (access token, refresh token, expiry) sealed
together with the installation key (``hookline.run.keys``), so a refresh token the server
rotated is replaced with its access token in one write; and the connection's refresh lease,
taken like the login lease of ``hookline.run.sessions``. The access token's expiry is kept
in clear beside the sealed tokens: it is no secret, and ``hookline connections list`` shows
it.

Tokens sealed with another key (``HOOKLINE_SECRET_KEY`` changed, or another key file) cannot
be had again by logging in, unlike a session: reading them is a ``ConfigurationError`` that
says which key was tried and to authorize again.

Earlier versions kept each connection's tokens in a Fernet-encrypted file,
``<name>.json`` in ``tokens/`` beside the connections file, with ``HOOKLINE_SECRET_KEY`` or
the key file ``tokens.key`` there. ``TokenFiles`` reads such a file the first time its
connection's tokens are asked for: its tokens move into the store (unless the store already
has newer ones), the file is removed with a one-line notice (a ``TokenFilesImported``
warning), and the folder and ``tokens.key`` go once the last file went. A file neither key
opens stays, and asking for its tokens says to authorize again, which replaces it.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from hookline.errors import ConfigurationError
from hookline.run.keys import KEY_VARIABLE, InstallationKey
from hookline.run.sealed import SealedRows
from hookline.run.store import SqlStore

OLD_KEY_FILE = "tokens.key"
"""The key file of the token files of earlier versions, beside their folder."""

_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class TokenFilesImported(UserWarning):
    """A token file of an earlier version was moved into the state store."""


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """What can be told of a connection's tokens without showing one.

    ``problem`` says why kept tokens cannot be used (sealed with another key, an old file
    no key opens); ``expires_at`` is the access token's expiry (Unix time; None: none given).
    """

    authorized: bool
    expires_at: float | None = None
    problem: str | None = None

    def told(self, name: str) -> str:
        """The status of connection ``name`` in words, as the command line and console say it."""
        if self.problem:
            return f"not usable: {self.problem}"
        if not self.authorized:
            return f"not authorized (hookline connections authorize {name})"
        if self.expires_at is None:
            return "authorized"
        when = datetime.fromtimestamp(self.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if self.expires_at <= time.time():
            return f"authorized; access token expired {when}, refreshed at next use"
        return f"authorized; access token expires {when}"


class StoreTokens:
    """A ``TokenStore`` over a SQLite or PostgreSQL state store, sealed with ``key``.

    ``files`` is the folder of an earlier version's token files to import, if there is one.
    """

    def __init__(
        self,
        store: SqlStore,
        key: InstallationKey,
        *,
        files: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.rows = SealedRows(store, "oauth_tokens")
        self.key = key
        self.files = None if files is None else TokenFiles(files, environ)

    async def load(self, name: str) -> dict[str, Any] | None:
        """The tokens of connection ``name``, opened; None when it has none."""
        await self._import(name)
        sealed, _ = await self.rows.read(name)
        if sealed is None:
            return None
        opened = self.key.open(sealed)
        if opened is None:
            raise ConfigurationError(self._unreadable(name))
        tokens = json.loads(opened)
        return tokens if isinstance(tokens, dict) else None

    async def save(self, name: str, tokens: Mapping[str, Any]) -> None:
        """Seal and keep the tokens of ``name`` in one write; an old token file goes."""
        await self._write(name, tokens)
        if self.files is not None:
            self.files.remove(name)

    async def _write(self, name: str, tokens: Mapping[str, Any]) -> None:
        sealed = self.key.seal(json.dumps(dict(tokens), separators=(",", ":")).encode())
        expires = tokens.get("expires_at")
        await self.rows.write(name, sealed, expires if _is_number(expires) else None)

    async def delete(self, name: str) -> bool:
        """Forget the tokens of ``name`` (an old token file too); whether there were any."""
        had_file = self.files is not None and self.files.remove(name)
        return await self.rows.clear(name) or had_file

    async def claim(self, name: str, holder: str, seconds: float) -> bool:
        """Take the refresh lease of ``name`` unless another holder's lease still runs, or
        keep it: ``holder`` claiming it again holds it ``seconds`` from now."""
        return await self.rows.claim(name, holder, seconds)

    async def release(self, name: str, holder: str) -> None:
        """Give back the refresh lease of ``name`` if ``holder`` holds it."""
        await self.rows.release(name, holder)

    async def status(self, name: str) -> TokenStatus:
        """Whether ``name`` is authorized and when its access token expires; no token."""
        try:
            await self._import(name)
        except ConfigurationError as exc:
            return TokenStatus(False, problem=str(exc))
        sealed, expires_at = await self.rows.read(name)
        if sealed is None:
            return TokenStatus(False)
        if self.key.open(sealed) is None:
            return TokenStatus(False, problem=self._unreadable(name))
        return TokenStatus(True, expires_at)

    def _unreadable(self, name: str) -> str:
        return (
            f"the OAuth tokens of connection {name!r} in the state store cannot be opened with "
            f"{self.key.source}: they were sealed with another key; set the key they were "
            f"sealed with, or run `hookline connections authorize {name}` again"
        )

    async def _import(self, name: str) -> None:
        """Move the token file an earlier version kept for ``name`` into the store."""
        path = None if self.files is None else self.files.path(name)
        if self.files is None or path is None or not path.exists():
            return
        sealed, _ = await self.rows.read(name)
        if sealed is None:
            await self._write(name, self.files.read(path, name))
        self.files.remove(name)
        warnings.warn(
            f"the OAuth tokens of connection {name!r} moved from {path} into the state store; "
            "the file is removed",
            TokenFilesImported,
            stacklevel=2,
        )


class TokenFiles:
    """The token files of an earlier version: ``<folder>/<name>.json``, Fernet-encrypted."""

    def __init__(self, folder: Path, environ: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.key_file = folder.with_name(OLD_KEY_FILE)
        self._environ = os.environ if environ is None else environ

    def path(self, name: str) -> Path | None:
        """The file of connection ``name``; None for a name no file could have."""
        return self.folder / f"{name}.json" if _FILE_NAME.match(name) else None

    def read(self, path: Path, name: str) -> dict[str, Any]:
        """The tokens of connection ``name`` in ``path``, opened with either key it may have
        had."""
        from cryptography.fernet import Fernet, InvalidToken

        for key in self._keys():
            try:
                tokens = json.loads(Fernet(key).decrypt(path.read_bytes()))
            except (InvalidToken, ValueError, OSError):
                continue
            if isinstance(tokens, dict):
                return tokens
        raise ConfigurationError(
            f"the OAuth tokens of connection {name!r} in {path}, kept by an earlier version, "
            f"cannot be read with ${KEY_VARIABLE} or {self.key_file}; run `hookline "
            f"connections authorize {name}` again (that removes the file)"
        )

    def _keys(self) -> list[bytes]:
        keys = []
        given = self._environ.get(KEY_VARIABLE)
        if given:
            keys.append(given.strip().encode("ascii", "replace"))
        with suppress(OSError):
            keys.append(self.key_file.read_bytes().strip())
        return keys

    def remove(self, name: str) -> bool:
        """Remove the file of ``name``; the folder and its key file go with the last one.

        Whether there was a file.
        """
        path = self.path(name)
        if path is None or not path.exists():
            return False
        path.unlink(missing_ok=True)
        if not any(self.folder.glob("*.json")):
            with suppress(OSError):
                self.folder.rmdir()  # kept if something else is in it
            if not self.folder.exists():
                self.key_file.unlink(missing_ok=True)
        return True


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
