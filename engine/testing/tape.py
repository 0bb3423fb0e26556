"""Record a connector's HTTP exchanges to a cassette, and replay them with no platform.

``taped(catalog, path, connector)`` yields a ``Taped`` harness. Recording, its connections
go to a sandbox served for the block (or to the connection values given, a real account)
through a ``RecordingTransport``, which keeps every exchange; when the block ends without an
error, the cassette is written with every secret scrubbed (``hookline.testing.cassettes``).
Replaying, a ``ReplayTransport`` answers each request from the file and nothing is sent.

A request is matched to a recorded one by method, path and query (the origin left out, since
a sandbox's port changes), and by body where several recorded requests share those; when no
recorded request has the same query, by method and path alone (a query may hold the time, as
a poll's first cursor does). Each recorded exchange answers once, in the order recorded.
Both sides are compared with secrets scrubbed: a replayed connection's secret fields hold
placeholders (``***``, or the field's first example when the spec gives one, so that its
pattern still holds), which its redactor replaces just as the recording's real secrets were.
Replay never waits for a rate budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from hookline.errors import ConfigurationError
from hookline.http.connection import Connection
from hookline.http.network import NetworkTransport
from hookline.http.ratelimit import MAX_WAIT, Budget, Feedback
from hookline.http.redaction import MASK, Redactor
from hookline.spec.catalog import Catalog
from hookline.spec.model import Spec
from hookline.testing.cassettes import Cassette, Exchange, Scrubber, body_key, kept_headers, path_of
from hookline.testing.harness import Harness
from hookline.testing.served import serve

_KEPT_EXTENSIONS = ("http_version", "reason_phrase")


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends through ``inner`` and keeps each exchange, both bodies read whole, in ``tape``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tape: list[Exchange]) -> None:
        self.inner = inner
        self.tape = tape

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, read the whole answer, keep both, return the answer."""
        await request.aread()
        response = await self.inner.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        self.tape.append(Exchange.of(request, response))
        return httpx.Response(
            response.status_code,
            headers=kept_headers(list(response.headers.multi_items())),
            content=response.content,
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k in _KEPT_EXTENSIONS},
        )

    async def aclose(self) -> None:
        """Close the transport underneath."""
        await self.inner.aclose()


class Player:
    """Answers requests from a cassette's exchanges, each exchange once."""

    def __init__(self, cassette: Cassette, path: Path | None, scrubber: Scrubber) -> None:
        self.cassette = cassette
        self.path = path
        self.scrubber = scrubber
        self.used = [False] * len(cassette.exchanges)
        self._plain = Scrubber()

    def answer(self, request: httpx.Request) -> httpx.Response:
        """The recorded answer to ``request``; ``ConfigurationError`` when none is left."""
        headers = list(request.headers.multi_items())
        where = path_of(self.scrubber.text(str(request.url)))
        body = body_key(request.content, headers, self.scrubber)
        unused = [
            index
            for index, exchange in enumerate(self.cassette.exchanges)
            if not self.used[index] and exchange.method == request.method
        ]
        candidates = [i for i in unused if path_of(self.cassette.exchanges[i].url) == where]
        if not candidates:  # a query that holds the time (a poll's first cursor) still matches
            bare = where.partition("?")[0]
            candidates = [
                i
                for i in unused
                if path_of(self.cassette.exchanges[i].url).partition("?")[0] == bare
            ]
        if not candidates:
            raise ConfigurationError(
                f"cassette {str(self.path)!r} has no recorded answer left for "
                f"{request.method} {where}; the connector now sends a request it did not when "
                "the cassette was recorded: record it again"
            )
        chosen = next(
            (
                index
                for index in candidates
                if body_key(
                    self.cassette.exchanges[index].request_body,
                    self.cassette.exchanges[index].request_headers,
                    self._plain,
                )
                == body
            ),
            candidates[0],
        )
        self.used[chosen] = True
        exchange = self.cassette.exchanges[chosen]
        return httpx.Response(
            exchange.status,
            headers=exchange.response_headers,
            content=exchange.response_body,
            request=request,
        )

    @property
    def unused(self) -> list[Exchange]:
        """The recorded exchanges no request asked for (yet)."""
        return [e for e, used in zip(self.cassette.exchanges, self.used, strict=True) if not used]


class ReplayTransport(httpx.AsyncBaseTransport):
    """A transport that sends nothing: ``player`` answers every request."""

    def __init__(self, player: Player) -> None:
        self.player = player

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The recorded answer to ``request``."""
        await request.aread()
        return self.player.answer(request)


class _Unlimited:
    """A rate limiter that never waits: replayed answers cost the platform nothing."""

    async def acquire(
        self, key: str, budget: Budget | None, *, max_wait: float = MAX_WAIT
    ) -> float | None:
        """Return at once, counting no slot."""
        return None

    async def answered(
        self,
        key: str,
        budget: Budget | None,
        feedback: Feedback,
        *,
        slot: float | None = None,
    ) -> None:
        """Ignore the recorded answer's signals."""


class Taped(Harness):
    """Connections through a cassette: replayed from ``replay``, or recorded on their way.

    ``state`` and ``url`` are the sandbox's while one is served for a recording, else None.
    ``call_record`` and ``output``, when set, are saved in the cassette with the exchanges (a
    recorded example); ``keep`` set false drops the recording.
    """

    def __init__(
        self,
        catalog: Catalog,
        spec: Spec,
        values: Mapping[str, Any],
        *,
        replay: Cassette | None = None,
        path: Path | None = None,
        state: Any = None,
        url: str | None = None,
    ) -> None:
        super().__init__(catalog, spec, values, limiter=_Unlimited() if replay else None)
        self.redactors: list[Redactor] = []
        self.player = None if replay is None else Player(replay, path, Scrubber(self.redactors))
        self.state = state
        self.url = url
        self.exchanges: list[Exchange] = []
        self.call_record: dict[str, Any] | None = None
        self.output: Any = None
        self.keep = True

    @property
    def replaying(self) -> bool:
        """Whether answers come from the cassette rather than a platform."""
        return self.player is not None

    def transport(self) -> httpx.AsyncBaseTransport:
        """Replay from the cassette, or record what goes to the platform."""
        if self.player is not None:
            return ReplayTransport(self.player)
        return RecordingTransport(super().transport() or NetworkTransport(), self.exchanges)

    def opened(self, connection: Connection) -> None:
        """Know the connection's secrets (a session's join them as it logs in)."""
        self.redactors.append(connection.redactor)

    def scrubber(self) -> Scrubber:
        """A scrubber of every secret the harness's connections know."""
        return Scrubber(self.redactors)


def replay_values(spec: Spec, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """Connection values for a replay: the recorded ones, a placeholder for each secret."""
    values = dict(recorded)
    for name, field in spec.connection.fields.items():
        if field.secret and values.get(name) == MASK:
            examples = field.schema.get("examples")
            values[name] = examples[0] if isinstance(examples, list) and examples else MASK
    return values


@contextmanager
def taped(
    catalog: Catalog,
    path: Path,
    connector: str,
    *,
    record: bool = False,
    values: Mapping[str, Any] | None = None,
    seed: int = 0,
    **options: Any,
) -> Iterator[Taped]:
    """A harness on the cassette at ``path``: replayed, or recorded when ``record`` is true.

    Recording goes to the connection ``values`` when given (a real account), else to the
    connector's sandbox served for the block with ``seed`` and ``options``. The cassette is
    written when the block ends without an error (and ``keep`` is still true). Replaying,
    ``values`` replace recorded ones: a secret that something is computed from (a TOTP secret
    must be base32) needs a stand-in of the right form rather than ``***``.
    """
    spec = catalog.spec(connector)
    if not record:
        cassette = Cassette.load(path)
        if cassette.connector != spec.name:
            raise ConfigurationError(
                f"cassette {str(path)!r} was recorded for connector {cassette.connector!r}, "
                f"not {spec.name!r}"
            )
        replayed = {**replay_values(spec, cassette.connection), **(values or {})}
        yield Taped(catalog, spec, replayed, replay=cassette, path=path)
        return
    with _source(catalog, connector, values, seed, options) as (given, state, url):
        tape = Taped(catalog, spec, given, state=state, url=url)
        yield tape
        if tape.keep:
            cassette = Cassette(
                spec.name, dict(tape.values), tape.exchanges, tape.call_record, tape.output
            )
            cassette.save(path, tape.scrubber(), spec.connection.secret_fields)


@contextmanager
def _source(
    catalog: Catalog,
    connector: str,
    values: Mapping[str, Any] | None,
    seed: int,
    options: Mapping[str, Any],
) -> Iterator[tuple[Mapping[str, Any], Any, str | None]]:
    if values is not None:
        yield values, None, None
        return
    with serve(catalog, connector, seed=seed, **options) as served:
        yield served.values, served.state, served.url
