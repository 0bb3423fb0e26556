"""Decoding a compressed body within bounds: counted as it is produced, never all at once.

httpx's decoders inflate each received chunk whole, so 13 KB sent with
``Content-Encoding: gzip, gzip`` can become gigabytes in one call before anyone counts them.
``decoded`` inflates at most ``PIECE`` bytes at a time through each layer, so the caller sees
every piece as it is produced and can stop at its size cap with nothing large in memory.

Codings as httpx reads them: ``gzip`` (and ``x-gzip``), ``deflate`` (zlib-wrapped, or raw
as some servers send it), ``identity``; a coding it does not know is passed over, as httpx
does (servers write ``Content-Encoding: utf-8``). More than ``MAX_LAYERS`` compression layers,
and compressed data that is malformed or cut short, are ``BadEncoding``.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator

import httpx

MAX_LAYERS = 2
"""The most compression layers accepted on one body (``gzip, gzip`` is already unusual)."""

PIECE = 64 * 1024
"""The most bytes one layer produces at a time."""

_GZIP = zlib.MAX_WBITS | 16


class BadEncoding(Exception):
    """A body whose ``Content-Encoding`` cannot be decoded; the message says why."""


def codings(headers: httpx.Headers) -> list[str]:
    """The compression layers of a body, in the order they were applied.

    ``identity`` and codings not known here are left out; more than ``MAX_LAYERS`` is
    ``BadEncoding``.
    """
    found = [
        value.strip().lower()
        for value in headers.get_list("content-encoding", split_commas=True)
        if value.strip().lower() in _LAYERS
    ]
    if len(found) > MAX_LAYERS:
        raise BadEncoding(
            f"the answer is compressed {len(found)} times over ({', '.join(found)}); "
            f"at most {MAX_LAYERS} layers are read"
        )
    return found


async def decoded(chunks: AsyncIterator[bytes], layers: list[str]) -> AsyncIterator[bytes]:
    """The body ``chunks`` carry with ``layers`` undone, in pieces of at most ``PIECE`` bytes.

    The caller counts the pieces and stops when it has had enough: nothing is inflated ahead
    of what it takes.
    """
    decoders = [_LAYERS[name]() for name in reversed(layers)]  # the last applied comes off first
    async for chunk in chunks:
        for piece in _through(decoders, [chunk]):
            yield piece
    for decoder in decoders:
        decoder.end()


def _through(decoders: list[_Inflater], pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` through every decoder in turn, lazily: one piece in flight per layer."""
    for decoder in decoders:
        pieces = _fed(decoder, pieces)
    return iter(pieces)


def _fed(decoder: _Inflater, pieces: Iterable[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from decoder.feed(piece)


class _Inflater:
    """One zlib layer, inflating at most ``PIECE`` bytes per step."""

    name = "gzip"
    wbits = _GZIP

    def __init__(self) -> None:
        self.inflater = zlib.decompressobj(self.wbits)
        self.started = False
        self.pending = False  # the last piece was full: zlib may hold more output

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The bytes ``data`` inflates to, a piece at a time."""
        while data or self.pending:
            if self.inflater.eof:  # what follows the end of the stream is not read
                return
            try:
                out = self.inflater.decompress(data, PIECE)
            except zlib.error as exc:
                out = self.first_failure(data, exc)
            self.started = True
            data = self.inflater.unconsumed_tail
            self.pending = len(out) == PIECE
            if out:
                yield out

    def first_failure(self, data: bytes, exc: zlib.error) -> bytes:
        """What to do when inflating fails; gzip has no second reading."""
        raise BadEncoding(f"the answer's {self.name} data is malformed ({exc})")

    def end(self) -> None:
        """Nothing more will come: a stream that was begun must have ended."""
        if self.started and not self.inflater.eof:
            raise BadEncoding(f"the answer's {self.name} data is cut short")


class _Deflate(_Inflater):
    """``deflate``: zlib-wrapped by the standard, raw deflate from some servers."""

    name = "deflate"
    wbits = zlib.MAX_WBITS

    def first_failure(self, data: bytes, exc: zlib.error) -> bytes:
        if self.started:
            return super().first_failure(data, exc)
        self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            return self.inflater.decompress(data, PIECE)
        except zlib.error as raw:
            raise BadEncoding(f"the answer's deflate data is malformed ({raw})") from None


_LAYERS: dict[str, type[_Inflater]] = {"gzip": _Inflater, "x-gzip": _Inflater, "deflate": _Deflate}
