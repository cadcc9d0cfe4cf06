"""A small graphql-transport-ws client, for scripts, tests and benchmarks (the dashboard has its own in JavaScript).

    async with LiveClient.connect("ws://127.0.0.1:8000/graphql", token) as client:
        async for payload in client.subscribe("subscription { orderEvents { __typename } }"):
            ...
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

PROTOCOL = "graphql-transport-ws"


class SubscriptionError(Exception):
    """The server answered a subscription with errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("message")) for e in errors))
        self.errors = errors


class LiveClient:
    """One websocket, several subscriptions (each an async iterator of ``data`` payloads)."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self._ids = itertools.count(1)
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.closed: asyncio.Future[tuple[int | None, str]] = asyncio.get_running_loop().create_future()

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, url: str, token: str | None, *, origin: str | None = None, timeout: float = 10.0
    ) -> AsyncIterator[LiveClient]:
        """Open the websocket and send connection_init with ``token``; wait for the ack.
        A refusal raises ``websockets.ConnectionClosed`` (its ``rcvd.code`` says why: 4403 bad token)."""
        extra = {"Origin": origin} if origin else None
        async with websockets.connect(url, subprotocols=[PROTOCOL], additional_headers=extra,
                                      open_timeout=timeout, max_size=2**24) as socket:  # fmt: skip
            payload = {"token": token} if token is not None else {}
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            ack = json.loads(await asyncio.wait_for(socket.recv(), timeout))
            if ack.get("type") != "connection_ack":
                raise ConnectionError(f"expected connection_ack, got {ack}")
            client = cls(socket)
            client._reader = asyncio.create_task(client._read())
            try:
                yield client
            finally:
                client._reader.cancel()
                await asyncio.gather(client._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await self.socket.send(json.dumps({"type": "pong"}))
                elif kind in ("next", "error", "complete") and message.get("id") in self._queues:
                    self._queues[message["id"]].put_nowait(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            rcvd = getattr(self.socket, "close_code", None), getattr(self.socket, "close_reason", "") or ""
            if not self.closed.done():
                self.closed.set_result(rcvd)
            for queue in self._queues.values():
                queue.put_nowait({"type": "closed"})

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> AsyncIterator[dict[str, Any]]:
        """The ``data`` of each result; errors raise SubscriptionError. Leaving the loop completes it."""
        op = str(next(self._ids))
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues[op] = queue
        await self.socket.send(json.dumps({"id": op, "type": "subscribe",
                                           "payload": {"query": query, "variables": variables or {}}}))  # fmt: skip
        try:
            while True:
                message = await queue.get()
                if message["type"] == "next":
                    if message["payload"].get("errors"):
                        raise SubscriptionError(message["payload"]["errors"])
                    yield message["payload"]["data"]
                elif message["type"] == "error":
                    raise SubscriptionError(message["payload"])
                else:  # complete, or the socket closed
                    return
        finally:
            self._queues.pop(op, None)
            if not self.closed.done():
                try:
                    await self.socket.send(json.dumps({"id": op, "type": "complete"}))
                except websockets.ConnectionClosed:
                    pass
