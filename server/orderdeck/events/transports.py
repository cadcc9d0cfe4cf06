"""The buses: how the news "events up to id N are committed" travels from the process that
committed them to every API process's hub (in memory, PostgreSQL LISTEN/NOTIFY, Redis pub/sub)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from orderdeck import db
from orderdeck.config import Settings

log = logging.getLogger(__name__)

PG_CHANNEL = "orderdeck_events"
"""The PostgreSQL NOTIFY channel (per database, as LISTEN/NOTIFY are)."""

RECONNECT_FIRST, RECONNECT_LONGEST = 0.5, 10.0
"""Seconds before a bus listener first retries a failed connection, and at most (doubling)."""

Wake = Callable[[int], None]


class Woken(Protocol):
    """What a bus wakes on this process's commits (a Hub)."""

    def wake(self, event_id: int) -> None: ...


class Bus:
    """The in-memory bus: wakes the hubs of this process (every bus does that too)."""

    name = "memory"

    def __init__(self) -> None:
        self._hubs: weakref.WeakSet[Woken] = weakref.WeakSet()

    async def announce(self, last_id: int) -> None:
        """Inside the writing transaction, just before it commits."""

    def committed(self, last_id: int) -> None:
        """Once the writing transaction has committed."""
        for hub in list(self._hubs):
            hub.wake(last_id)

    async def drain(self) -> None:
        """Finish sending the announcements under way (before a process exits)."""

    def attach(self, hub: Woken) -> None:
        """Wake ``hub`` on this process's commits."""
        self._hubs.add(hub)

    async def listen(self, wake: Wake) -> None:
        """Deliver other processes' announcements to ``wake`` until cancelled, reconnecting with
        backoff when the connection fails or is lost (and catching up each time it is back)."""
        delay = RECONNECT_FIRST

        def connected() -> None:
            nonlocal delay
            delay = RECONNECT_FIRST
            wake(-1)  # (re)connected: catch up on anything announced meanwhile

        while True:
            try:
                await self._listen_once(wake, connected)
                log.warning("event bus: the %s connection was lost; reconnecting", self.name)
            except Exception as exc:  # noqa: BLE001 - the listener outlives any failure (the poll covers the gap)
                log.warning("event bus: cannot listen on %s (%s); retrying in %.1f s", self.name, exc, delay,
                            exc_info=not isinstance(exc, self._errors))  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_LONGEST)

    async def _listen_once(self, wake: Wake, connected: Callable[[], None]) -> None:
        """Listen on one connection until it is lost (in memory: there are no other processes)."""
        await asyncio.Event().wait()

    @property
    def _errors(self) -> tuple[type[BaseException], ...]:
        """Errors of a connection failing (logged without a traceback; any error is retried)."""
        return (OSError,)


class PostgresBus(Bus):
    """LISTEN/NOTIFY: the announcement is part of the transaction, so it exists iff it commits."""

    name = "postgres"

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.dsn = db.asyncpg_dsn(database_url)

    async def announce(self, last_id: int) -> None:
        if db.dialect() != "postgres":
            return
        await db.connection().execute_query(
            f"SELECT pg_notify({db.placeholders(1)[0]}, {db.placeholders(1, 2)[0]})", [PG_CHANNEL, str(last_id)]
        )

    async def _listen_once(self, wake: Wake, connected: Callable[[], None]) -> None:
        import asyncpg

        lost = asyncio.Event()
        conn = await asyncpg.connect(self.dsn)
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(PG_CHANNEL, lambda _c, _pid, _ch, payload: wake(_announced(payload)))
            connected()
            await lost.wait()
        finally:
            if not conn.is_closed():
                await conn.close()

    @property
    def _errors(self) -> tuple[type[BaseException], ...]:
        import asyncpg

        return (OSError, asyncpg.PostgresError)


class RedisBus(Bus):
    """Redis pub/sub: announced once the writing transaction has committed."""

    name = "redis"

    def __init__(self, url: str, channel: str) -> None:
        super().__init__()
        self.url, self.channel = url, channel
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._sending: set[asyncio.Task[None]] = set()

    def committed(self, last_id: int) -> None:
        super().committed(last_id)
        try:
            task = asyncio.get_running_loop().create_task(self._publish(last_id))
        except RuntimeError:  # no event loop here: the hubs' poll finds the events
            return
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def drain(self) -> None:
        await asyncio.gather(*self._sending, return_exceptions=True)

    async def _publish(self, last_id: int) -> None:
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = redis.Redis.from_url(self.url, socket_timeout=5)
        try:
            await client.publish(self.channel, str(last_id))
        except Exception as exc:  # noqa: BLE001 - the hubs' poll finds the events anyway
            log.warning("event bus: could not publish to Redis (%s); subscribers get it at the next poll", exc)

    async def _listen_once(self, wake: Wake, connected: Callable[[], None]) -> None:
        import redis.asyncio as redis

        client = redis.Redis.from_url(self.url)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(self.channel)
                connected()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        wake(_announced(message["data"]))
        finally:
            await client.aclose()

    @property
    def _errors(self) -> tuple[type[BaseException], ...]:
        import redis.asyncio as redis

        return (OSError, redis.RedisError)


def _announced(payload: str | bytes) -> int:
    """The event id an announcement carries (-1, "look anyway", for one that is not a number)."""
    try:
        return int(payload)
    except ValueError:
        log.warning("event bus: ignoring an announcement that is not an event id: %r", payload[:100])
        return -1


def bus_from_settings(settings: Settings) -> Bus:
    """The bus the settings choose (``auto``: PostgreSQL's on PostgreSQL, else in-memory)."""
    choice = settings.event_bus
    if choice == "auto":
        choice = "memory" if settings.is_sqlite else "postgres"
    if choice == "memory":
        return Bus()
    if choice == "postgres":
        if settings.is_sqlite:
            raise ValueError("ORDERDECK_EVENT_BUS=postgres needs a PostgreSQL ORDERDECK_DATABASE_URL")
        return PostgresBus(settings.database_url)
    # One channel per database, however its URL is spelt (scheme, pool options).
    database = hashlib.sha1(db.asyncpg_dsn(settings.database_url).encode()).hexdigest()[:12]
    return RedisBus(choice, f"{settings.broker_namespace}:events:{database}")


_bus: Bus | None = None


def current_bus() -> Bus:
    """This process's bus: the one the settings choose, unless ``use_bus`` gave another."""
    global _bus
    if _bus is None:
        from orderdeck.config import get_settings

        _bus = bus_from_settings(get_settings())
    return _bus


def use_bus(bus: Bus | None) -> None:
    """Make ``bus`` this process's bus (None: the settings' one, chosen on next use)."""
    global _bus
    _bus = bus
