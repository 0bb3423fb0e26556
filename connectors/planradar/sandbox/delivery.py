"""Outgoing webhooks: each event is POSTed to every matching webhook in the background.

PlanRadar publishes no payload schema, event names or retry policy. The sandbox sends
``{"event", "customer_id", "project_id", "ticket_uuid", "occurred_at", "data"}`` where ``data``
is the ticket as the API returns it (a JSON:API resource object), plus ``image`` for
``ticket.image_attached``. Requests carry HTTP Basic credentials and the webhook's static
headers. A delivery that gets no 2xx answer (or no answer) is retried ``retries`` times with
exponential backoff (``backoff``, then twice, four times … as long); each attempt is
written to the delivery log in ``SandboxState.deliveries``.

Deliveries run as asyncio tasks on the server's event loop, so the API answers at once. The
app's lifespan starts one shared ``httpx.AsyncClient``; on shutdown, pending deliveries are
cancelled and marked ``cancelled``. Without a lifespan (an app driven by a bare
``TestClient``) each delivery opens its own client.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from .resources import ticket_resource
from .state import Attempt, Delivery, SandboxState, Ticket, Webhook, iso

USER_AGENT = "PlanRadar-Webhooks (hookline sandbox)"


class Dispatcher:
    """Sends webhook deliveries in the background and records every attempt."""

    def __init__(
        self, state: SandboxState, *, retries: int, backoff: float, timeout: float
    ) -> None:
        self.state = state
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Open the shared HTTP client (called when the app starts)."""
        self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)

    async def stop(self) -> None:
        """Cancel pending deliveries, mark them cancelled, close the client (app shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for delivery in self.state.deliveries:
            if delivery.status == "pending":
                delivery.status = "cancelled"
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def emit(
        self, event: str, ticket: Ticket, extra: dict[str, Any] | None = None
    ) -> list[Delivery]:
        """Queue ``event`` about ``ticket`` for every webhook watching it; return the deliveries."""
        payload: dict[str, Any] = {
            "event": event,
            "customer_id": self.state.customer_id,
            "project_id": ticket.project_id,
            "ticket_uuid": ticket.uuid,
            "occurred_at": iso(self.state.clock()),
            "data": ticket_resource(ticket),
            **(extra or {}),
        }
        deliveries = []
        for webhook in self.state.webhooks.values():
            if not webhook.watches(event, ticket.project_id):
                continue
            delivery = Delivery(
                id=self.state.new_id(),
                webhook_id=webhook.id,
                event=event,
                ticket_uuid=ticket.uuid,
                payload=payload,
            )
            self.state.deliveries.append(delivery)
            task = asyncio.get_running_loop().create_task(self._deliver(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            deliveries.append(delivery)
        return deliveries

    async def _deliver(self, delivery: Delivery) -> None:
        body = json.dumps(delivery.payload).encode()
        for number in range(1, self.retries + 2):
            webhook = self.state.webhooks.get(delivery.webhook_id)
            if webhook is None:
                delivery.status = "cancelled"
                return
            status, error = await self._post(webhook, body)
            delivery.attempts.append(
                Attempt(number=number, at=iso(self.state.clock()), status_code=status, error=error)
            )
            if status is not None and 200 <= status < 300:
                delivery.status = "delivered"
                return
            if number <= self.retries:
                await asyncio.sleep(self.backoff * 2 ** (number - 1))
        delivery.status = "failed"

    async def _post(self, webhook: Webhook, body: bytes) -> tuple[int | None, str | None]:
        headers = {header.name: header.value for header in webhook.headers}
        headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT})
        if webhook.username is not None:
            pair = f"{webhook.username}:{webhook.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        try:
            async with self._client_scope() as client:
                response = await client.post(webhook.target_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            message = str(exc)
            return None, f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        return response.status_code, None

    @asynccontextmanager
    async def _client_scope(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            yield client
