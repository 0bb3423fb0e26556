"""The network under every connection: httpx's own transport, routed as httpx routes it.

``NetworkTransport`` sends each request through httpx's ``AsyncHTTPTransport`` (httpcore),
directly or through the proxy the environment names for its URL, exactly as an
``httpx.AsyncClient(trust_env=True)`` would: ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY`` and
``NO_PROXY`` are read by httpx's own rules, and TLS is verified against ``SSL_CERT_FILE`` or
``SSL_CERT_DIR`` where set, else certifi's roots. httpx builds those routes only for a client
given no ``transport=``; a connection's client is given one (the rate limit and the deadline
wrap the network), so the routes are built here, from the same httpx functions.

Each route has its own pool within ``LIMITS`` (httpx's defaults: 100 connections, 20 kept
idle, an idle one closed after 5 seconds); a request waits for a free connection up to its
``pool`` timeout. Connections speak HTTP/1.1.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx
from httpx._utils import URLPattern, get_environment_proxies

from hookline.errors import ConfigurationError

LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)
"""The pool of each route: httpx's defaults."""


class NetworkTransport(httpx.AsyncBaseTransport):
    """httpx's transport, one pool per route: direct, or through an environment proxy.

    Direct requests go through two pools, by scheme: ``https`` through one verifying TLS
    against the roots, ``http`` through one whose context has no roots at all, so that it
    could never complete a TLS handshake. Loading the roots costs tens of milliseconds, so it
    waits for the first https request, unless a proxy is set, or ``SSL_CERT_FILE`` or
    ``SSL_CERT_DIR`` names a file or folder that is not there: then at once, so that a setting
    that cannot be used fails here.
    """

    def __init__(self, *, limits: httpx.Limits = LIMITS, trust_env: bool = True) -> None:
        self.limits = limits
        self.trust_env = trust_env
        self.plain = httpx.AsyncHTTPTransport(verify=_no_roots(), limits=limits)
        self._direct: httpx.AsyncHTTPTransport | None = None
        proxies = get_environment_proxies() if trust_env else {}
        if proxies or (trust_env and not all(map(os.path.exists, filter(None, _named_roots())))):
            self._context()
        routes: dict[URLPattern, httpx.AsyncHTTPTransport | None] = {}
        for pattern, proxy in proxies.items():
            routes[URLPattern(pattern)] = (
                None if proxy is None else _proxied(proxy, self._context(), limits)
            )
        self.routes = dict(sorted(routes.items()))  # httpx's order: the most specific first

    @property
    def direct(self) -> httpx.AsyncHTTPTransport:
        """The pool of direct https requests, verifying TLS (made on first use)."""
        if self._direct is None:
            self._direct = httpx.AsyncHTTPTransport(verify=self._context(), limits=self.limits)
        return self._direct

    def _context(self) -> ssl.SSLContext:
        return verified_context() if self.trust_env else _unconfigured_context()

    def route(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        """The transport a request to ``url`` goes through, as ``httpx.AsyncClient`` picks it."""
        for pattern, transport in self.routes.items():
            if pattern.matches(url):
                return self._origin(url) if transport is None else transport
        return self._origin(url)

    def _origin(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        return self.plain if url.scheme == "http" else self.direct

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on its route; the body streams from the pooled connection."""
        return await self.route(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        """Close every route's pool."""
        await self.plain.aclose()
        if self._direct is not None:
            await self._direct.aclose()
        for transport in self.routes.values():
            if transport is not None:
                await transport.aclose()


def _no_roots() -> ssl.SSLContext:
    """A client context that verifies certificates and trusts none: TLS through it fails."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _named_roots() -> tuple[str, str]:
    return os.environ.get("SSL_CERT_FILE") or "", os.environ.get("SSL_CERT_DIR") or ""


@functools.cache
def _unconfigured_context() -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=False)


def verified_context() -> ssl.SSLContext:
    """httpx's default SSL context, honouring ``SSL_CERT_FILE`` and ``SSL_CERT_DIR``.

    Loading the roots takes tens of milliseconds, so one context is kept per setting of those
    variables and shared by every connection (an ``SSLContext`` is safe to share).
    """
    return _context(*_named_roots())


@functools.lru_cache(maxsize=4)
def _context(cert_file: str, cert_dir: str) -> ssl.SSLContext:
    try:
        return httpx.create_ssl_context(trust_env=True)
    except (OSError, ssl.SSLError) as exc:
        named = "SSL_CERT_FILE" if cert_file else "SSL_CERT_DIR"
        raise ConfigurationError(
            f"the certificates that {named} names cannot be loaded ({cert_file or cert_dir}): {exc}"
        ) from None


def _proxied(proxy: str, context: ssl.SSLContext, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's transport through ``proxy``; a setting it cannot use is a ``ConfigurationError``."""
    try:
        return httpx.AsyncHTTPTransport(verify=context, limits=limits, proxy=proxy)
    except (ValueError, ImportError, httpx.InvalidURL) as exc:
        raise ConfigurationError(
            f"the proxy {_shown(proxy)} set in the environment cannot be used: {exc}"
        ) from None


def _shown(proxy: str) -> str:
    """A proxy URL without its password, for messages."""
    try:
        url = httpx.URL(proxy)
    except httpx.InvalidURL:
        return "(an invalid URL)"
    return str(url.copy_with(password=None)) if url.password else str(url)
