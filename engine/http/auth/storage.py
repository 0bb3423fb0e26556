"""Where OAuth tokens a user authorized are kept between runs: encrypted files, one per connection.

An authorization-code grant needs a person at a browser once; its refresh token must then
outlive the process that got it. ``TokenStore`` is the small interface an auth type keeps
tokens through, so that the store can later move into the state store without the auth types
noticing. ``EncryptedTokenFiles`` is the one there is today: ``<folder>/<connection>.json``
beside the connections file (``.hookline/tokens/``), each file written atomically with mode
0600 and encrypted with Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``).

The key comes from ``HOOKLINE_SECRET_KEY`` (a Fernet key: 32 url-safe base64 bytes) when it
is set, else from a key file beside the tokens folder (``.hookline/tokens.key``), made with
mode 0600 the first time a token is saved. A token file that cannot be decrypted (the key
changed) or read is a ``ConfigurationError`` that says to authorize again.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

from hookline.errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

KEY_VARIABLE = "HOOKLINE_SECRET_KEY"
"""The environment variable holding the Fernet key that token files are encrypted with."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@runtime_checkable
class TokenStore(Protocol):
    """Tokens by connection name: what an auth type keeps across processes."""

    async def load(self, name: str) -> dict[str, Any] | None:
        """The tokens saved for connection ``name``, or None if there are none."""
        ...

    async def save(self, name: str, tokens: Mapping[str, Any]) -> None:
        """Replace the tokens of connection ``name``."""
        ...

    async def delete(self, name: str) -> None:
        """Forget the tokens of connection ``name`` (nothing if there are none)."""
        ...


class EncryptedTokenFiles:
    """A ``TokenStore`` of Fernet-encrypted 0600 files, one per connection, in ``folder``."""

    def __init__(
        self,
        folder: str | Path,
        *,
        key_file: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.key_file = Path(key_file) if key_file else self.folder.with_name("tokens.key")
        self._environ = os.environ if environ is None else environ

    def path(self, name: str) -> Path:
        """The file of connection ``name``."""
        if not _NAME.match(name):
            raise ConfigurationError(f"{name!r} cannot name a token file")
        return self.folder / f"{name}.json"

    async def load(self, name: str) -> dict[str, Any] | None:
        """The saved tokens, decrypted; None when the connection has none yet."""
        path = self.path(name)
        if not path.exists():
            return None
        from cryptography.fernet import InvalidToken

        fernet = self._fernet(create=False)
        try:
            tokens = orjson.loads(fernet.decrypt(path.read_bytes()))
        except (InvalidToken, orjson.JSONDecodeError, OSError):
            raise ConfigurationError(
                f"the tokens of connection {name!r} in {path} cannot be read with the current "
                f"key ({KEY_VARIABLE} or {self.key_file}); run `hookline connections authorize "
                f"{name}` again"
            ) from None
        return tokens if isinstance(tokens, dict) else None

    async def save(self, name: str, tokens: Mapping[str, Any]) -> None:
        """Encrypt and write the tokens atomically, readable by the owner only."""
        path = self.path(name)
        data = self._fernet(create=True).encrypt(orjson.dumps(dict(tokens)))
        _write_private(path, data)

    async def delete(self, name: str) -> None:
        """Remove the connection's token file."""
        self.path(name).unlink(missing_ok=True)

    def _fernet(self, *, create: bool) -> Fernet:
        from cryptography.fernet import Fernet  # loaded when tokens are, not with every connection

        key = self._environ.get(KEY_VARIABLE)
        if key:
            try:
                return Fernet(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise ConfigurationError(
                    f"{KEY_VARIABLE} is not a Fernet key (32 url-safe base64-encoded bytes); "
                    'make one with `python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"`'
                ) from None
        if not self.key_file.exists():
            if not create:
                raise ConfigurationError(
                    f"no key to read tokens with: set {KEY_VARIABLE} or restore {self.key_file}"
                )
            _write_private(self.key_file, Fernet.generate_key())
        try:
            return Fernet(self.key_file.read_bytes().strip())
        except ValueError:
            raise ConfigurationError(f"{self.key_file} does not hold a Fernet key") from None


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
