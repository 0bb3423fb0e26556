"""Compressed answers: decompressed as they are read, within the size cap, typed when broken."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from hookline.errors import InvalidResponseError, ResponseTooLargeError
from hookline.http.connection import Connection
from hookline.http.ratelimit import InProcessRateLimiter
from hookline.spec.catalog import Catalog
from tests.cli_kit import Hookline
from tests.measure import measured
from tests.rawserver import reply, serve_raw, serve_raw_in_thread
from tests.servers import demo_spec, fetch

pytestmark = pytest.mark.anyio

MIB = 1 << 20
BOMB_MIB = 4000


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """About 13 KB that ``Content-Encoding: gzip, gzip`` inflates to 4,000 MiB of zeros.

    The inner gzip stream is a megabyte of zeros compressed once, flushed to a byte boundary
    so that the same block can be repeated, with the header and trailer the whole needs.
    """
    block = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(MIB)
    block.compress(zeros)
    block.flush(zlib.Z_FULL_FLUSH)
    repeated = block.compress(zeros) + block.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(BOMB_MIB):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    end = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()  # an empty final block
    trailer = struct.pack("<II", crc, (BOMB_MIB * MIB) & 0xFFFFFFFF)
    inner = header + repeated * BOMB_MIB + end + trailer
    return gzip.compress(inner, 9)


def test_the_bomb_is_small_and_inflates_to_gigabytes(bomb: bytes) -> None:
    assert len(bomb) < 20_000
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    inner = inflater.decompress(bomb)
    first = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(inner, 16 * MIB)
    assert len(inner) > 3_000_000 and first == bytes(16 * MIB)  # 4,000 such megabytes in all


def connection(catalog: Catalog, url: str, **settings: Any) -> Connection:
    return Connection(
        demo_spec(catalog, **settings),
        {"url": url},
        expressions=catalog.expressions,
        limiter=InProcessRateLimiter(),
    )


async def test_a_stacked_gzip_bomb_stops_at_the_size_cap(catalog: Catalog, bomb: bytes) -> None:
    answer = reply(bomb, b"Content-Encoding: gzip, gzip", b"Content-Type: application/json")
    async with (
        serve_raw(lambda head, body: answer) as served,
        connection(catalog, served.url) as conn,
    ):
        outcome = await measured(fetch(conn))
    assert isinstance(outcome.error, ResponseTooLargeError)
    assert "67,108,864 bytes" in str(outcome.error)  # the default max_response_bytes, 64 MiB
    assert outcome.seconds < 10
    assert outcome.peak_mib < 200


async def test_the_cap_counts_decompressed_bytes(catalog: Catalog) -> None:
    body = gzip.compress(b'"' + b"a" * 5000 + b'"')
    answer = reply(body, b"Content-Encoding: gzip")
    async with (
        serve_raw(lambda head, body: answer) as served,
        connection(catalog, served.url, max_response_bytes=4096) as conn,
    ):
        with pytest.raises(ResponseTooLargeError, match="more than 4,096 bytes"):
            await fetch(conn)
        async with connection(catalog, served.url, max_response_bytes=8192) as conn:
            assert await fetch(conn) == "a" * 5000


async def test_more_than_two_layers_are_refused(catalog: Catalog) -> None:
    body = gzip.compress(gzip.compress(gzip.compress(b"{}")))
    answer = reply(body, b"Content-Encoding: gzip, gzip, gzip")
    async with (
        serve_raw(lambda head, body: answer) as served,
        connection(catalog, served.url) as conn,
    ):
        with pytest.raises(InvalidResponseError, match="compressed 3 times over"):
            await fetch(conn)


@pytest.mark.parametrize(
    ("encoding", "body", "problem"),
    [
        (b"gzip", b"\x1f\x8b\x08\x00not gzip at all", "gzip data is malformed"),
        (b"gzip", gzip.compress(b'{"a": 1}')[:-12], "gzip data is cut short"),
        (b"deflate", b"\x00\x01\x02 neither zlib nor raw", "deflate data is malformed"),
    ],
)
async def test_broken_compressed_data_is_an_invalid_response(
    catalog: Catalog, encoding: bytes, body: bytes, problem: str
) -> None:
    answer = reply(body, b"Content-Encoding: " + encoding)
    async with (
        serve_raw(lambda head, body: answer) as served,
        connection(catalog, served.url) as conn,
    ):
        with pytest.raises(InvalidResponseError, match=problem) as caught:
            await fetch(conn)
    assert type(caught.value) is InvalidResponseError
    assert caught.value.status == 200


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        (b"gzip", gzip.compress(b'{"a": 1}')),
        (b"x-gzip", gzip.compress(b'{"a": 1}')),
        (b"deflate", zlib.compress(b'{"a": 1}')),
        (b"deflate", zlib.compress(b'{"a": 1}')[2:-4]),  # raw deflate, as some servers send
        (b"gzip, deflate", zlib.compress(gzip.compress(b'{"a": 1}'))),
        (b"identity, utf-8", b'{"a": 1}'),  # codings not known are passed over, as httpx does
    ],
)
async def test_compressed_answers_are_read(catalog: Catalog, encoding: bytes, body: bytes) -> None:
    answer = reply(body, b"Content-Encoding: " + encoding)
    async with (
        serve_raw(lambda head, body: answer) as served,
        connection(catalog, served.url) as conn,
    ):
        assert await fetch(conn) == {"a": 1}


async def test_a_large_compressed_answer_within_the_cap_is_read_whole(catalog: Catalog) -> None:
    data = b'["' + b"x" * (20 * MIB) + b'"]'
    answer = reply(gzip.compress(data), b"Content-Encoding: gzip")
    async with (
        serve_raw(lambda head, body: answer) as served,
        connection(catalog, served.url) as conn,
    ):
        found = await fetch(conn)
    assert found == ["x" * (20 * MIB)]


SPEC = """\
spec: hookline/v1
name: demo
title: Demo
connection:
  fields: {url: {type: string}}
  required: [url]
  base_url: "{{ connection.url }}"
actions:
  ping: {title: Ping, request: {method: GET, path: /}}
"""


def test_the_command_line_reports_the_bomb_without_a_traceback(tmp_path: Path, bomb: bytes) -> None:
    answer = reply(bomb, b"Content-Encoding: gzip, gzip")
    hookline = Hookline(tmp_path, SPEC)
    with serve_raw_in_thread(lambda head, body: answer) as served:
        connections = hookline.connections(f"demo: {{connector: demo, url: '{served.url}'}}\n")
        result = hookline.invoke("call", "demo.ping", "--connections", str(connections))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "answered with more than 67,108,864 bytes" in result.stderr
