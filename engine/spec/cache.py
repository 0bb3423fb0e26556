"""The spec cache: which spec files are known to be valid, so that loading them again is fast.

A compiled ``Spec`` holds closures, which do not pickle; what takes the time in loading a spec
is in any case reading the YAML with the position of every value and validating it (JSON
Schema, the cross-checks, the expressions' scopes), not building it. So the cache keeps, for
a file that passed every check, the data it was read as; a later load of the same text by the
same hookline with the same plugins builds from that data straight away, and skips the YAML,
jsonschema and the checks.

An entry is one JSON file per spec file and plugin set, in ``$HOOKLINE_CACHE_DIR``, else
``$XDG_CACHE_HOME/hookline``, else ``~/.cache/hookline`` (under ``specs/``), written
atomically with mode 0600. It is used only when it names the same text (by SHA-256), the same
hookline version and the same plugin set (the plugins and their distributions' versions, the
composed spec schema, the expression functions), and when it belongs to this user and no one
else may write it; anything else, a corrupt file included, counts as no entry and is
replaced. The cache only ever saves work: a spec it has no entry for is loaded and checked in
full, and building from an entry that reports a problem falls back to the full load, whose
messages carry lines and columns.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ENVIRONMENT_VARIABLE = "HOOKLINE_CACHE_DIR"
"""Names the cache folder, instead of the user's cache folder."""

FORMAT = 1
"""The layout of an entry; an entry of another layout is not used."""

MAX_ENTRY_BYTES = 64 << 20
"""The largest entry read; a larger file is not one this cache wrote (specs are at most 1 MiB)."""


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$HOOKLINE_CACHE_DIR``, else ``$XDG_CACHE_HOME/hookline``, else ``~/.cache/hookline``."""
    env = os.environ if environ is None else environ
    if env.get(ENVIRONMENT_VARIABLE):
        return Path(env[ENVIRONMENT_VARIABLE])
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "hookline"
    return Path.home() / ".cache" / "hookline"


def digest(*parts: Any) -> str:
    """The SHA-256 of JSON-shaped ``parts`` (hex): what a cache key is made of."""
    text = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS, default=repr)
    return hashlib.sha256(text).hexdigest()


@dataclass(frozen=True, slots=True)
class SpecCache:
    """The entries of one cache folder; ``context`` identifies hookline and the plugin set."""

    folder: Path

    @classmethod
    def default(cls) -> SpecCache:
        """The cache in the user's cache folder (``default_cache_dir``)."""
        return cls(default_cache_dir() / "specs")

    def get(self, name: str, source: str, context: str) -> Any | None:
        """The data of spec text ``source`` (loaded as ``name``) known to be valid, else None."""
        try:
            with self._entry(name, context).open("rb") as stream:
                status = os.fstat(stream.fileno())
                if not _private(status):
                    return None
                text = stream.read(MAX_ENTRY_BYTES + 1)
            if len(text) > MAX_ENTRY_BYTES:
                return None
            entry = orjson.loads(text)
        except (OSError, orjson.JSONDecodeError):
            return None
        if (
            not isinstance(entry, dict)
            or entry.get("format") != FORMAT
            or entry.get("context") != context
            or entry.get("source") != _text_digest(source)
        ):
            return None
        return entry.get("data")

    def put(self, name: str, source: str, context: str, data: Any) -> None:
        """Keep ``data``, read from ``source``, as valid; a failure to write is ignored."""
        try:
            text = orjson.dumps(
                {
                    "format": FORMAT,
                    "context": context,
                    "source": _text_digest(source),
                    "data": data,
                }
            )
        except TypeError:  # not JSON data (an integer past 64 bits): not cached
            return
        if orjson.loads(text)["data"] != data:  # NaN and infinities: not kept exactly
            return
        with contextlib.suppress(OSError):
            self._write(self._entry(name, context), text)

    def _entry(self, name: str, context: str) -> Path:
        return self.folder / f"{digest(name, context)[:40]}.json"

    def _write(self, target: Path, text: bytes) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:  # mkstemp made it 0600
                stream.write(text)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _text_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def _private(status: os.stat_result) -> bool:
    """Whether an entry is a regular file of this user that no one else may write."""
    owner = not hasattr(os, "getuid") or status.st_uid == os.getuid()
    return stat.S_ISREG(status.st_mode) and owner and not status.st_mode & 0o022
