"""The event bus behind subscriptions: how committed events reach every API process's subscribers.

Events live in the ``event`` table: ``services.events`` writes them in the transaction of the change,
numbered without gaps in commit order. The bus only carries the news "events up to id N are
committed", from whichever process committed them (API or worker):

- ``memory``: within one process (the embedded default: the API and its in-process worker);
- ``postgres``: ``NOTIFY`` in the writing transaction (PostgreSQL delivers it only if the transaction
  commits) to a ``LISTEN`` connection of each API process;
- ``redis``: ``PUBLISH`` once the transaction has committed, to each API process's subscription.

Each API process runs one :class:`Hub`. Woken by the bus (and every ``event_poll_seconds`` in case a
wake-up was lost), it reads the new events from the table once and offers them to its
subscriptions. A subscription buffers at most ``subscriber_buffer`` events: when a slow subscriber
falls that far behind, its buffer is dropped and replaced by one :class:`Missed` notice with the ids
it lost, so it never delays the others nor grows without bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from orderdeck import db
from orderdeck.config import Settings
from orderdeck.models import Event, EventTopic

log = logging.getLogger(__name__)

T = TypeVar("T")

PG_CHANNEL = "orderdeck_events"
"""The PostgreSQL NOTIFY channel (per database, as LISTEN/NOTIFY are)."""

REPLAY_PAGE = 200
"""Events read per query while a resuming subscriber catches up."""

READ_PAGE = 500
"""Events the hub reads per query."""

RECONNECT_FIRST, RECONNECT_LONGEST = 0.5, 10.0
"""Seconds before a bus listener first retries a failed connection, and at most (doubling)."""


@dataclass(frozen=True, slots=True)
class Published:
    """A committed event as the hub read it; one object shared by every subscription."""

    id: int
    topic: EventTopic
    kind: str
    data: dict[str, Any]
    at: datetime
    views: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """The event as each subscriber's payload type, made once for all of them (see ``view``)."""

    def view(self, make: Callable[[Published], T]) -> T:
        """``make(self)``, made once per event however many subscribers ask."""
        try:
            return self.views[make]
        except KeyError:
            made = self.views[make] = make(self)
            return made


class MissedReason(str, Enum):
    """Why a subscription did not get some events."""

    SLOW_SUBSCRIBER = "SLOW_SUBSCRIBER"
    EXPIRED = "EXPIRED"


@dataclass(frozen=True, slots=True)
class Missed:
    """Events ``from_id``..``to_id`` (those this subscription wanted among them) were not delivered."""

    from_id: int
    to_id: int
    reason: MissedReason


class ResumeError(ValueError):
    """A resume point (``after``) that names no event yet."""


Wake = Callable[[int], None]


# --- buses -----------------------------------------------------------------------------------


class Bus:
    """The in-memory bus: wakes the hubs of this process (every bus does that too)."""

    name = "memory"

    def __init__(self) -> None:
        self._hubs: weakref.WeakSet[Hub] = weakref.WeakSet()

    async def announce(self, last_id: int) -> None:
        """Inside the writing transaction, just before it commits."""

    def committed(self, last_id: int) -> None:
        """Once the writing transaction has committed."""
        for hub in list(self._hubs):
            hub.wake(last_id)

    async def drain(self) -> None:
        """Finish sending the announcements under way (before a process exits)."""

    def attach(self, hub: Hub) -> None:
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


# --- subscriptions ---------------------------------------------------------------------------

Matcher = Callable[[Published], bool]


class Subscription:
    """One subscriber's view of a topic: a filter, a bounded buffer, and where it has got to."""

    def __init__(self, hub: Hub, topic: EventTopic, matches: Matcher, limit: int, after: int | None) -> None:
        self.hub, self.topic, self.matches, self.limit, self.after = hub, topic, matches, limit, after
        self.cursor = hub.last_id
        """The newest event id this subscription has been offered (or has replayed)."""
        self.live = after is None
        """Whether the hub's new events are buffered (not while replaying)."""
        self.buffer: deque[Published | Missed] = deque()
        self._ready = asyncio.Event()

    def offer(self, event: Published) -> None:
        """Called by the hub for each new event of the topic, in id order. Never blocks: when the
        buffer is full, it is replaced by a notice of everything dropped."""
        if not self.live or event.id <= self.cursor:
            return
        self.cursor = event.id
        if not self.matches(event):
            return
        if len(self.buffer) >= self.limit:
            first = self.buffer[0]
            start = first.from_id if isinstance(first, Missed) else first.id
            self.buffer.clear()
            self.buffer.append(Missed(start, event.id, MissedReason.SLOW_SUBSCRIBER))
        else:
            self.buffer.append(event)
        self._ready.set()

    async def stream(self) -> AsyncIterator[Published | Missed]:
        """The subscription's events: those after ``after`` still kept, then live ones (no
        ``after``: live ones from the moment it subscribed)."""
        if self.after is not None:
            async for item in self._replay(self.after):
                yield item
            self.live = True
        while True:
            while self.buffer:
                yield self.buffer.popleft()
            self._ready.clear()
            await self._ready.wait()

    async def _replay(self, after: int) -> AsyncIterator[Published | Missed]:
        """Kept events after ``after``, read page by page, until caught up with the hub."""
        from orderdeck.services.events import last_id

        newest = await last_id()
        if after < 0 or after > newest:
            raise ResumeError(f"after: there is no event {after} (the newest is {newest})")
        oldest = await Event.all().order_by("id").limit(1).values_list("id", flat=True)
        first_kept = oldest[0] if oldest else newest + 1
        cursor = after
        if after + 1 < first_kept:
            yield Missed(after + 1, first_kept - 1, MissedReason.EXPIRED)
            cursor = first_kept - 1
        while True:
            target = self.hub.last_id
            if cursor >= target:
                self.cursor = max(cursor, self.cursor)  # no await from here to going live
                return
            rows = await Event.filter(topic=self.topic, id__gt=cursor, id__lte=target).limit(REPLAY_PAGE)
            for row in rows:
                event = _published(row)
                if self.matches(event):
                    yield event
            cursor = rows[-1].id if len(rows) == REPLAY_PAGE else target


def _published(row: Event) -> Published:
    return Published(row.id, EventTopic(row.topic), row.kind, row.data, row.created_at)


class Hub:
    """One per API process: reads committed events once and offers them to its subscriptions."""

    def __init__(self, bus: Bus, *, buffer: int = 1000, poll_seconds: float = 2.0) -> None:
        self.bus, self.buffer, self.poll_seconds = bus, buffer, poll_seconds
        self.last_id = 0
        """The newest event read (every subscription has been offered all up to it)."""
        self._subscriptions: dict[EventTopic, set[Subscription]] = {topic: set() for topic in EventTopic}
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0

    @property
    def subscribers(self) -> int:
        """Subscriptions open now."""
        return sum(len(subs) for subs in self._subscriptions.values())

    async def start(self) -> None:
        """Start from the newest committed event, and follow the bus."""
        from orderdeck.services.events import last_id

        self._loop, self._thread = asyncio.get_running_loop(), threading.get_ident()
        self.last_id = await last_id()
        self.bus.attach(self)
        self._tasks = [asyncio.create_task(self._follow()), asyncio.create_task(self.bus.listen(self.wake))]

    async def stop(self) -> None:
        """Stop following (open subscriptions end with the server's connections)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def wake(self, event_id: int) -> None:
        """Events up to ``event_id`` are committed (-1: maybe some; look). Safe from any thread."""
        if 0 <= event_id <= self.last_id or self._loop is None:
            return
        if threading.get_ident() == self._thread:
            self._wakeup.set()
        else:
            self._loop.call_soon_threadsafe(self._wakeup.set)

    @asynccontextmanager
    async def subscribe(self, topic: EventTopic, matches: Matcher, after: int | None = None) -> AsyncIterator[Subscription]:
        """A subscription to ``topic`` for the duration of the block, resuming after ``after``."""
        subscription = Subscription(self, topic, matches, self.buffer, after)
        self._subscriptions[topic].add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions[topic].discard(subscription)

    async def _follow(self) -> None:
        while True:
            try:  # (asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation)
                async with asyncio.timeout(self.poll_seconds):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
            self._wakeup.clear()
            try:
                await self.catch_up()
            except Exception:
                log.exception("event hub: reading new events failed; trying again shortly")
                await asyncio.sleep(min(self.poll_seconds, 1.0))

    async def catch_up(self) -> None:
        """Read the events committed since the last read and offer them to the subscriptions."""
        if not self.subscribers:  # nobody to tell: just keep up with the newest id
            from orderdeck.services.events import last_id

            newest = await last_id()
            if not self.subscribers:  # (one that came meanwhile is offered the events it may not have)
                self.last_id = max(self.last_id, newest)
                return
        page = max(1, min(READ_PAGE, self.buffer // 2))  # one page never fills a reading subscriber's buffer
        while True:
            rows = await Event.filter(id__gt=self.last_id).limit(page)
            for row in rows:
                event = _published(row)
                self.last_id = event.id
                for subscription in list(self._subscriptions[event.topic]):
                    subscription.offer(event)
            if len(rows) < page:
                return


_hub: Hub | None = None


def running_hub() -> Hub | None:
    """This process's hub, if it serves subscriptions."""
    return _hub


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Hub]:
    """Run this process's hub on the configured bus while the block runs (the API's lifespan)."""
    global _hub
    bus = bus_from_settings(settings)
    use_bus(bus)
    hub = Hub(bus, buffer=settings.subscriber_buffer, poll_seconds=settings.event_poll_seconds)
    await hub.start()
    _hub = hub
    try:
        yield hub
    finally:
        _hub = None
        await hub.stop()
