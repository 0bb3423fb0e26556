"""The receiver on the network: uvicorn on a socket bound before it starts, signals left alone.

``Listener`` is the uvicorn server ``hookline serve`` runs its receiver with, on the asyncio
loop the service runs on. ``receive_from_sandbox`` serves the receiver of one webhook recipe
for ``hookline run --sandbox``, has the sandbox that feeds its trigger send one event to it,
and returns the job that event made.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from hookline.errors import ConfigurationError
from hookline.recipes.model import Recipe
from hookline.run.inbox import Intake
from hookline.run.metrics import Metrics
from hookline.run.pool import ConnectionPool
from hookline.run.sandbox import base_url, bind_all
from hookline.run.sandboxed import ServedSandbox, webhook_senders, webhook_target
from hookline.run.store import JobRecord, SqlStore
from hookline.run.webhook_app import Receiver, webhook_hooks


class Listener(uvicorn.Server):
    """uvicorn, leaving signals to the service, which stops everything on one signal."""

    def __init__(self, app: Starlette) -> None:
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", server_header=False
        )
        super().__init__(config)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no signal handler (the service's ``Shutdown`` has them)."""
        yield

    async def listen(self, sock: socket.socket) -> asyncio.Task[None]:
        """Start serving on ``sock``; return the serving task once it answers."""
        serving = asyncio.create_task(self.serve(sockets=[sock]))
        while not self.started and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            serving.result()
            raise ConfigurationError(f"the receiver could not listen on {base_url(sock)}")
        return serving


async def receive_from_sandbox(
    recipe: Recipe,
    pool: ConnectionPool,
    store: SqlStore,
    served: Sequence[ServedSandbox],
    *,
    note: Callable[[str], None],
    timeout: float = 15.0,
) -> list[JobRecord]:
    """Have a sandbox send one event of a webhook recipe, receive it, and return its job.

    A receiver for the recipe alone listens on a free loopback port while the sandbox of
    ``served`` that feeds its trigger is pointed at it and makes one event happen; the
    verified event is stored as a served one would be.
    """
    hooks = webhook_hooks([recipe], pool)
    found = webhook_senders(hooks, served)
    if not found:
        raise ConfigurationError(
            f"no sandbox sends the events of {recipe.name!r}; give one with --event FILE"
        )
    hook, sender = found[0]
    subscribe, emit = sender.sandbox.subscribe, sender.sandbox.emit
    if subscribe is None or emit is None:
        raise ConfigurationError(
            f"the {sender.sandbox.title} sandbox cannot make an event happen; give one with "
            "--event FILE"
        )
    jobs: list[JobRecord] = []
    arrived = asyncio.Event()

    def collect(job: JobRecord) -> None:
        jobs.append(job)
        arrived.set()

    receiver = Receiver(hooks, Intake(store), Metrics(), on_job=collect)
    server = Listener(receiver.app())
    sock = bind_all("127.0.0.1", [0])[0]
    url = f"{base_url(sock)}/hooks/{recipe.name}"
    try:
        serving = await server.listen(sock)
        await asyncio.to_thread(subscribe, sender.url, webhook_target(hook, url))
        said = await asyncio.to_thread(emit, sender.url)
        note(f"the {sender.sandbox.title} sandbox {said}, and sends the event to {url}")
        try:
            await asyncio.wait_for(arrived.wait(), timeout)
        except TimeoutError:
            raise ConfigurationError(
                f"the {sender.sandbox.title} sandbox sent no event that {recipe.name!r} takes "
                f"within {timeout:g}s; give one with --event FILE"
            ) from None
        server.should_exit = True
        await serving
    finally:
        sock.close()
    return jobs
