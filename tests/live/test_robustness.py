"""A slow or stuck subscriber delays nobody and holds a bounded buffer; subscribers coming and going
over 10,000 events leave no memory behind."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import tracemalloc
from urllib.parse import urlsplit

import pytest
import websockets

from orderdeck import events
from orderdeck.config import Settings
from orderdeck.models import EventTopic, Location
from orderdeck.services import stock
from orderdeck.services.context import Actor
from orderdeck.wsclient import PROTOCOL
from tests.live.support import ORDER_EVENTS, STOCK_LEVELS, Collector, eventually, live_server

ACTOR = Actor("tester")
SKUS = [f"SKU-{n:03}" for n in range(100)]


@pytest.fixture
async def items(default_location: Location) -> Location:
    """100 stock items at the default location: one adjustment of all is 100 stock events."""
    for sku in SKUS:
        await stock.create_stock_item({"sku": sku, "title": sku}, ACTOR)
    return default_location


async def bump(location: Location, times: int = 1) -> None:
    """Adjust every item's level by one, ``times`` times: 100 events per transaction."""
    for _ in range(times):
        await stock.adjust_stock_levels({"levels": [{"sku": s, "location_id": location.id, "quantity": 1} for s in SKUS]}, ACTOR)


async def test_a_stuck_subscriber_is_told_what_it_missed_and_delays_nobody(database_url: str, items: Location) -> None:
    async with events.serving(Settings(database_url=database_url, subscriber_buffer=400)) as hub:
        async with hub.subscribe(EventTopic.STOCK, lambda e: True) as stuck, hub.subscribe(EventTopic.STOCK, lambda e: True) as fast:
            stream = fast.stream()
            first = hub.last_id + 1
            received: list[int] = []

            async def read_fast() -> None:
                while len(received) < 1500:
                    received.append((await anext(stream)).id)

            reader = asyncio.create_task(read_fast())
            await bump(items, 15)  # 1,500 events; the stuck one reads none
            await asyncio.wait_for(reader, 20)
            assert received == list(range(first, first + 1500))  # the fast one got every event, in order
            assert len(stuck.buffer) <= 401  # bounded: its buffer, led by one notice of what it lost
            late = stuck.stream()
            notice = await anext(late)
            assert isinstance(notice, events.Missed) and notice.reason is events.MissedReason.SLOW_SUBSCRIBER
            assert notice.from_id == first
            kept = [(await anext(late)).id for _ in range(len(stuck.buffer))]
            assert kept == list(range(notice.to_id + 1, first + 1500))  # then the newest, in order
            await bump(items)  # and it carries on from there
            assert (await asyncio.wait_for(anext(late), 5)).id == first + 1500
            await late.aclose()
            await stream.aclose()
        assert hub.subscribers == 0


async def test_no_memory_growth_over_10000_events_with_subscribers_coming_and_going(
    database_url: str, admin_token: str, items: Location
) -> None:
    async with live_server(database_url, admin_token, event_poll_seconds=0.1) as live:

        async def cycle(batches: int) -> int:
            """Subscribers connect, follow ``batches`` x 100 events (some filtered, one leaving
            mid-stream without a word), and go; the events they got."""
            delivered = 0
            base = live.hub.subscribers
            async with live.connect() as a, live.connect() as b:
                everything = Collector(a, STOCK_LEVELS)
                orders_only = Collector(a, ORDER_EVENTS)  # receives nothing: stock events only here
                quitter = Collector(b, STOCK_LEVELS)
                await eventually(lambda: live.hub.subscribers == base + 3)
                await bump(items, batches)
                await everything.wait_for(100 * batches, timeout=60)
                await quitter.wait_for(50)
                delivered += len(everything.items) + len(quitter.items)
                await everything.stop()  # sends complete
                await orders_only.stop()
                # b closes its socket with its subscription still running
            await eventually(lambda: live.hub.subscribers == base)
            return delivered

        async with live.connect() as steady_client:  # one subscriber stays throughout
            steady = Collector(steady_client, STOCK_LEVELS)
            await eventually(lambda: live.hub.subscribers == 1)
            await cycle(2)  # warm-up: caches, first connections
            await steady.wait_for(200)
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.take_snapshot()
                delivered = 0
                for _ in range(10):  # 10 x 1,000 = 10,000 events, 30 subscriptions come and go
                    delivered += await cycle(10)
                await steady.wait_for(10_200, timeout=60)
                steady.items.clear()
                gc.collect()
                after = tracemalloc.take_snapshot()
            finally:
                tracemalloc.stop()
            await steady.stop()
    growth = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    print(f"\n10,000 events, {delivered} deliveries to 30 passing subscriptions + 10,000 to one staying: "
          f"traced memory growth {growth / 1024:.1f} KiB")
    for stat in after.compare_to(before, "lineno")[:5]:
        print(f"  {stat}")
    assert delivered >= 10_000
    assert live.hub.subscribers == 0
    gc.collect()
    assert not [o for o in gc.get_objects() if isinstance(o, events.Subscription)]
    assert growth < 512 * 1024, f"memory grew by {growth} bytes over 10,000 events"


async def test_a_client_that_stops_reading_its_socket_delays_nobody_and_is_told_what_it_missed(
    database_url: str, admin_token: str, items: Location
) -> None:
    """The same at the socket: a client that stops reading (its TCP window closes, the server's
    sends wait) holds at most its buffer on the server, while another client gets every event."""
    async with live_server(database_url, admin_token, subscriber_buffer=100, send_buffer=8192) as live:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, soon full
        address = urlsplit(live.url)
        raw.connect((address.hostname, address.port))
        async with websockets.connect(live.ws, sock=raw, subprotocols=[PROTOCOL], max_queue=1, compression=None) as stuck:
            await stuck.send(json.dumps({"type": "connection_init", "payload": {"token": live.token}}))
            assert json.loads(await stuck.recv())["type"] == "connection_ack"
            await stuck.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": STOCK_LEVELS}}))
            async with live.connect() as fast_client:
                fast = Collector(fast_client, STOCK_LEVELS)
                await eventually(lambda: live.hub.subscribers == 2)
                first = live.hub.last_id + 1
                await bump(items, 30)  # 3,000 events; the stuck client reads none of them
                got = await fast.wait_for(3000, timeout=60)
                await fast.stop()
            assert [e["eventId"] for e in got] == list(range(first, first + 3000))
            [held] = live.hub._subscriptions[EventTopic.STOCK]
            assert len(held.buffer) <= 101 and isinstance(held.buffer[0], events.Missed), "bounded, led by the notice"

            # Reading again, it gets what the socket held, one EventsMissed, then the newest in order.
            received: list[dict] = []
            while not received or received[-1].get("eventId") != first + 2999:
                message = json.loads(await asyncio.wait_for(stuck.recv(), 10))
                received.append(message["payload"]["data"]["stockLevels"])
        ids = [m["eventId"] for m in received if m["__typename"] == "StockLevelEvent"]
        [notice] = [m for m in received if m["__typename"] == "EventsMissed"]
        assert notice["reason"] == "SLOW_SUBSCRIBER"
        before = [i for i in ids if i < notice["fromId"]]
        after = [i for i in ids if i > notice["toId"]]
        assert ids == before + after and before == list(range(first, first + len(before)))
        assert notice["fromId"] == first + len(before) and after == list(range(notice["toId"] + 1, first + 3000))


async def test_a_subscriber_arriving_while_the_idle_hub_looks_up_the_newest_id_misses_nothing(
    items: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle hub only notes the newest id; one who subscribes meanwhile is offered what follows."""
    from orderdeck.events import hub as hub_module

    hub = events.Hub(events.Bus())  # not started: this test alone runs its catch-up
    hub.last_id = await events.last_id()
    newest = events.last_id
    async with contextlib.AsyncExitStack() as stack:
        arrived: list[events.Subscription] = []

        async def newest_while_one_subscribes() -> int:
            arrived.append(await stack.enter_async_context(hub.subscribe(EventTopic.STOCK, lambda e: True)))
            await bump(items)  # 100 events, committed after it subscribed
            return await newest()

        monkeypatch.setattr(hub_module, "last_id", newest_while_one_subscribes)
        await hub.catch_up()
        assert len(arrived[0].buffer) == 100
