"""The installation's secret key: what seals cached sessions and OAuth tokens in the state store.

The key is ``HOOKLINE_SECRET_KEY`` when set (a Fernet key), else the key file beside the
SQLite state database
(``secret.key``, created on first use with mode 0600; with another store,
``.hookline/secret.key``). Every process that shares a state store must share its key: the
processes of one machine using one SQLite file do so through the file; machines sharing a
PostgreSQL store need the same ``HOOKLINE_SECRET_KEY``. A session sealed with another key
reads as no session, so a process with the wrong key logs in again rather than failing;
OAuth tokens sealed with another key cannot be had again that way, and say so
(``hookline.run.tokens``).

Besides sealing, the key names things: a cached session's row is keyed by an HMAC of its
credential's hash, so the database holds nothing from which a guessed password could be
checked. Naming needs only the key's bytes: ``cryptography`` is loaded to seal or open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hookline.errors import ConfigurationError
from hookline.run.store import DEFAULT_STATE, SqliteStore, SqlStore

KEY_VARIABLE = "HOOKLINE_SECRET_KEY"
"""The environment variable that gives the key."""

_KEY_TEXT = re.compile(rb"[A-Za-z0-9_-]+={0,2}")

KEY_FILE = "secret.key"
"""The key file's name, beside the SQLite state database."""


@dataclass(frozen=True, slots=True)
class InstallationKey:
    """Seals and names data with one Fernet key (AES-128-CBC with HMAC-SHA256).

    ``source`` says where the key came from, for messages: the variable or the key file.
    """

    material: bytes = field(repr=False)
    source: str = "the installation key"

    def seal(self, data: bytes) -> str:
        """``data`` encrypted and authenticated, as text."""
        from cryptography.fernet import Fernet

        return Fernet(self.material).encrypt(data).decode("ascii")

    def open(self, sealed: str) -> bytes | None:
        """What ``seal`` sealed; None when it was sealed with another key or altered."""
        from cryptography.fernet import Fernet, InvalidToken

        try:
            return Fernet(self.material).decrypt(sealed.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return None

    def name(self, text: str) -> str:
        """A keyed hash of ``text``: stable for this key, meaningless without it."""
        return hmac.new(self.material, text.encode("utf-8"), hashlib.sha256).hexdigest()


def key_file(store: SqlStore) -> Path:
    """Where the key file of ``store`` lives: beside a SQLite file, else in ``.hookline``."""
    if isinstance(store, SqliteStore):
        return store.path.parent / KEY_FILE
    return DEFAULT_STATE.parent / KEY_FILE


def installation_key(store: SqlStore, environ: Mapping[str, str] | None = None) -> InstallationKey:
    """The key of the installation ``store`` belongs to (see the module's docstring)."""
    env = os.environ if environ is None else environ
    given = env.get(KEY_VARIABLE)
    if given:
        return InstallationKey(_from_text(given), f"${KEY_VARIABLE}")
    path = key_file(store)
    return InstallationKey(_read_or_create(path), str(path))


def _from_text(text: str) -> bytes:
    try:
        check_key(text.strip())
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{KEY_VARIABLE} is not a Fernet key (32 url-safe base64-encoded bytes); make one "
            'with `python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"`'
        ) from None
    return text.strip().encode("ascii")


def _read_or_create(path: Path) -> bytes:
    """The key in ``path``, written first (mode 0600) if the file does not exist.

    The key goes to a temporary file that is then linked into place, which fails if another
    process got there first: every process ends up reading the one key that won.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(new_key() + b"\n")
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    try:
        text = path.read_text(encoding="ascii").strip()
        check_key(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot use the key file {path}: {exc}; remove it (cached sessions are then "
            f"logged in again) or set {KEY_VARIABLE}"
        ) from None
    return text.encode("ascii")


def new_key() -> bytes:
    """A new Fernet key: 32 random bytes, url-safe base64 (``Fernet.generate_key``)."""
    return base64.urlsafe_b64encode(os.urandom(32))


def check_key(text: str | bytes) -> None:
    """``ValueError`` unless ``text`` is a Fernet key, as Fernet reads one: 32 bytes in url-safe
    base64, padded or not, whitespace around it allowed."""
    raw = (text.encode("ascii", "replace") if isinstance(text, str) else text).strip()
    if not _KEY_TEXT.fullmatch(raw) or (raw.endswith(b"=") and len(raw) % 4):
        raise ValueError("Fernet key must be 32 url-safe base64-encoded bytes.")
    data = raw.rstrip(b"=")
    try:
        decoded = base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None
    if len(decoded) != 32:
        raise ValueError("Fernet key must be 32 url-safe base64-encoded bytes.")
