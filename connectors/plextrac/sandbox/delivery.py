"""Outgoing webhooks: each event is POSTed, signed, to every webhook subscribed to it.

PlexTrac documents a thin notification, ``{"cuid", "actorCuid", "event", "targetCuid" or
"targetCuids", "targetType", "text"}``, meant as a signal to fetch the object through the API;
a 5-second timeout; and up to 5 retries with exponential backoff on a slow or failed answer,
so a receiver may see an event twice. The sandbox sends exactly that, with ``targetCuid``.

The signature is the sandbox's reading of the documentation, which does not fix the
construction: header ``X-Authorization-HMAC-256`` holds the lowercase hex HMAC-SHA256 of the
raw request body, keyed with the webhook's secret (UTF-8). A webhook without a secret sends no
signature header.

Deliveries run as asyncio tasks on the server's event loop, so the API answers at once; every
attempt goes to the delivery log (``PlexTracState.deliveries``). The app's lifespan opens the
HTTP clients (one verifying TLS certificates, one not, for webhooks with ``sslVerification``
off) and, on shutdown, cancels pending deliveries and marks them ``cancelled``. Without a
lifespan (a bare ``TestClient``) each delivery opens its own client.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from .state import PlexTracState

SIGNATURE_HEADER = "X-Authorization-HMAC-256"
USER_AGENT = "PlexTrac-Webhooks (hookline sandbox)"


def signature(secret: str, body: bytes) -> str:
    """The value of the signature header for ``body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class Dispatcher:
    """Sends webhook notifications in the background and logs every attempt."""

    def __init__(
        self, state: PlexTracState, *, retries: int, backoff: float, timeout: float
    ) -> None:
        self.state = state
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self._clients: dict[bool, httpx.AsyncClient] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Open the shared HTTP clients (called when the app starts)."""
        for verify in (True, False):
            self._clients[verify] = self._new_client(verify)

    async def stop(self) -> None:
        """Cancel pending deliveries, mark them cancelled, close the clients (app shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for delivery in self.state.deliveries:
            if delivery["status"] == "pending":
                delivery["status"] = "cancelled"
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def emit(
        self,
        event: str,
        *,
        actor_cuid: str,
        target_cuid: str,
        target_type: str,
        text: str,
        client_cuid: str | None,
        only: str | None = None,
    ) -> list[dict[str, Any]]:
        """Queue ``event`` for every enabled webhook subscribed to it; return the deliveries.

        A webhook limited to some clients (``clientCuids``) hears only of their objects;
        ``only`` names one webhook (a test delivery), whatever its events.
        """
        notification = {
            "cuid": self.state.new_cuid(),
            "actorCuid": actor_cuid,
            "event": event,
            "targetCuid": target_cuid,
            "targetType": target_type,
            "text": text,
        }
        deliveries = []
        for webhook in self.state.webhooks.values():
            if not self._listens(webhook, event, client_cuid, only):
                continue
            delivery = {
                "id": self.state.new_cuid(),
                "webhookCuid": webhook["cuid"],
                "event": event,
                "status": "pending",
                "payload": notification,
                "attempts": [],
            }
            self.state.deliveries.append(delivery)
            task = asyncio.get_running_loop().create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            deliveries.append(delivery)
        return deliveries

    @staticmethod
    def _listens(webhook: dict[str, Any], event: str, client: str | None, only: str | None) -> bool:
        if only is not None:
            return bool(webhook["cuid"] == only)
        wanted = webhook["enabled"] and event in webhook["events"]
        return bool(wanted and (not webhook["clientCuids"] or client in webhook["clientCuids"]))

    async def _deliver(self, delivery: dict[str, Any]) -> None:
        body = json.dumps(delivery["payload"]).encode()
        for number in range(1, self.retries + 2):
            webhook = self.state.webhooks.get(delivery["webhookCuid"])
            if webhook is None:
                delivery["status"] = "cancelled"
                return
            status, error = await self._post(webhook, body)
            delivery["attempts"].append(
                {"number": number, "at": self.state.now_ms(), "statusCode": status, "error": error}
            )
            if status is not None and 200 <= status < 300:
                delivery["status"] = "delivered"
                return
            if number <= self.retries:
                await asyncio.sleep(self.backoff * 2 ** (number - 1))
        delivery["status"] = "failed"

    async def _post(self, webhook: dict[str, Any], body: bytes) -> tuple[int | None, str | None]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if webhook["secret"]:
            headers[SIGNATURE_HEADER] = signature(webhook["secret"], body)
        try:
            async with self._client_scope(webhook["sslVerification"]) as client:
                response = await client.post(webhook["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            message = str(exc)
            return None, f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        return response.status_code, None

    def _new_client(self, verify: bool) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, verify=verify, follow_redirects=False)

    @asynccontextmanager
    async def _client_scope(self, verify: bool) -> AsyncIterator[httpx.AsyncClient]:
        client = self._clients.get(verify)
        if client is not None:
            yield client
            return
        async with self._new_client(verify) as fresh:
            yield fresh
