"""A live orderdeck API for subscription tests: the real app served by uvicorn over loopback on the
test's own event loop (so it shares the test's database connections), with this process's hub."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import uvicorn

from orderdeck import events
from orderdeck.app import create_app
from orderdeck.config import Settings
from orderdeck.models import Location
from orderdeck.wsclient import LiveClient

T = TypeVar("T")


@dataclass
class LiveServer:
    """The API being served: its URLs, hub and an admin token."""

    url: str
    hub: events.Hub
    token: str

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/graphql"

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a query or mutation over HTTP; its data (errors fail the test)."""
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}},
                                         headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def connect(self, token: str | None = "", **kwargs: Any):
        """A LiveClient on this server (the admin token unless another is given)."""
        return LiveClient.connect(self.ws, self.token if token == "" else token, **kwargs)


@asynccontextmanager
async def live_server(
    database_url: str, token: str, *, send_buffer: int | None = None, **settings: Any
) -> AsyncIterator[LiveServer]:
    """Serve the app (no lifespan: the test owns the database and the jobs) with a hub on the
    bus the settings choose. ``send_buffer``: the kernel's send buffer of each connection, in bytes
    (small, a client that stops reading holds up the server's sends sooner)."""
    config = Settings(database_url=database_url, **settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:  # accepted connections inherit it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    async with events.serving(config) as hub:
        server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", lifespan="off",
                                               ws_per_message_deflate=False, timeout_graceful_shutdown=2))  # fmt: skip
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            assert not task.done(), "uvicorn did not start"
            await asyncio.sleep(0.01)
        try:
            yield LiveServer(f"http://127.0.0.1:{port}", hub, token)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 15)
            sock.close()
    events.use_bus(None)


async def eventually(check: Callable[[], Awaitable[T] | T], timeout: float = 10.0) -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def caught_up(hub: events.Hub) -> None:
    """Wait until the hub has read every event committed so far: a subscription made after this
    starts after them (one made before may still be handed the set-up's last events)."""
    from orderdeck.events.store import last_id

    newest = await last_id()
    await eventually(lambda: hub.last_id >= newest)


async def subscribed(hub: events.Hub, count: int) -> None:
    """Wait until the hub serves ``count`` subscriptions: from then on each gets every new event
    (a fixed pause before publishing races a busy machine, and is slower)."""
    await eventually(lambda: hub.subscribers == count)


class Collector:
    """Runs a subscription in the background and keeps what it delivers."""

    def __init__(self, client: LiveClient, query: str, variables: dict[str, Any] | None = None) -> None:
        self.items: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self._task = asyncio.create_task(self._run(client, query, variables))

    async def _run(self, client: LiveClient, query: str, variables: dict[str, Any] | None) -> None:
        try:
            async for data in client.subscribe(query, variables):
                self.items.append(next(iter(data.values())))
        except Exception as exc:  # noqa: BLE001 - kept for the test to look at
            self.error = exc

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The first ``count`` items, once delivered."""
        await eventually(lambda: len(self.items) >= count or self.error, timeout)
        if self.error is not None:
            raise self.error
        return self.items[:count]

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


ORDER_EVENTS = """subscription($filter: OrderEventFilter, $after: EventId) {
  orderEvents(filter: $filter, after: $after) {
    __typename
    ... on OrderEvent { eventId at kind changes orderId number reference source state status locationId
                        previousLocationId channelId actor }
    ... on EventsMissed { fromId toId reason }
  }
}"""

STOCK_LEVELS = """subscription($filter: StockLevelFilter, $after: EventId) {
  stockLevels(filter: $filter, after: $after) {
    __typename
    ... on StockLevelEvent { eventId itemId sku locationId level allocated available minimumLevel belowMinimum }
    ... on EventsMissed { fromId toId reason }
  }
}"""

SYNC_PROGRESS = """subscription($filter: SyncProgressFilter, $after: EventId) {
  syncProgress(filter: $filter, after: $after) {
    __typename
    ... on SyncProgressEvent { eventId phase runId connectionId channelId kind outcome pages orders pushed dispatched exported imported failed error }
    ... on EventsMissed { fromId toId reason }
  }
}"""


WORKER = """  # a process placing one-MUG orders, as an `orderdeck worker` commits its work
import asyncio, sys, uuid
from orderdeck import db, events
from orderdeck.services import orders
from orderdeck.services.context import Actor

async def main(url, location, count):
    await db.init_db(url)
    try:
        for _ in range(count):
            await orders.create_direct_order({"location_id": uuid.UUID(location),
                                              "items": [{"sku": "MUG", "quantity": 1}]}, Actor("worker"))
    finally:
        await events.current_bus().drain()  # as a worker does when it shuts down
        await db.close_db()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def commit_elsewhere(database_url: str, location: Location, count: int, bus: str) -> None:
    """Create ``count`` orders in a separate process, with ``bus`` as its event bus."""
    env = {**os.environ, "ORDERDECK_EVENT_BUS": bus, "ORDERDECK_DATABASE_URL": database_url}
    subprocess.run([sys.executable, "-c", WORKER, database_url, str(location.id), str(count)], env=env,
                   check=True, timeout=60)  # fmt: skip
