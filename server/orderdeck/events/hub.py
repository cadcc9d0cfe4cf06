"""Each API process's hub: it reads committed events once (woken by the bus, and every
``event_poll_seconds`` in case a wake-up was lost) and offers them to its subscriptions, each a
bounded buffer that is replaced by one ``Missed`` notice when its subscriber falls too far behind."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum

from orderdeck.config import Settings
from orderdeck.events.store import Published, last_id, published
from orderdeck.events.transports import Bus, bus_from_settings, use_bus
from orderdeck.models import Event, EventTopic

log = logging.getLogger(__name__)

REPLAY_PAGE = 200
"""Events read per query while a resuming subscriber catches up."""

READ_PAGE = 500
"""Events the hub reads per query."""


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
                event = published(row)
                if self.matches(event):
                    yield event
            cursor = rows[-1].id if len(rows) == REPLAY_PAGE else target




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
            newest = await last_id()
            if not self.subscribers:  # (one that came meanwhile is offered the events it may not have)
                self.last_id = max(self.last_id, newest)
                return
        page = max(1, min(READ_PAGE, self.buffer // 2))  # one page never fills a reading subscriber's buffer
        while True:
            rows = await Event.filter(id__gt=self.last_id).limit(page)
            for row in rows:
                event = published(row)
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
