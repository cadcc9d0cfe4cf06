"""Subscriptions over graphql-transport-ws against the real app on loopback, on SQLite (in-memory bus)
and PostgreSQL (LISTEN/NOTIFY): typed payloads, filters, gapless ids, resume, and invariant 7 (events
only for committed work)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from orderdeck.graphql.common import encode_id
from orderdeck.models import Event, Location
from orderdeck.services import orders, stock
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ServiceError
from orderdeck.services.locations import create_location
from tests.live.support import ORDER_EVENTS, STOCK_LEVELS, Collector, LiveServer, caught_up, live_server, subscribed

ACTOR = Actor("tester")


@pytest.fixture
async def live(database: str, database_url: str, admin_token: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, admin_token) as server:
        yield server


@pytest.fixture
async def warehouse(database: str) -> tuple[Location, Location]:
    """The default location and a second one, with two stocked items."""
    default = await Location.get(is_default=True)
    other = await create_location("Annex", ACTOR)
    for sku in ("MUG", "CAP"):
        await stock.create_stock_item({"sku": sku, "title": sku.title()}, ACTOR)
    await stock.set_stock_levels({"levels": [{"sku": s, "location_id": loc.id, "quantity": 50}
                                             for s in ("MUG", "CAP") for loc in (default, other)]}, ACTOR)  # fmt: skip
    return default, other


def gid(kind: str, value: uuid.UUID) -> str:
    return encode_id(kind, value)


async def new_order(location: Location, sku: str = "MUG", quantity: int = 2) -> uuid.UUID:
    order = await orders.create_direct_order({"location_id": location.id, "items": [{"sku": sku, "quantity": quantity}]}, ACTOR)
    return order.id


async def test_order_events_follow_an_orders_life(live: LiveServer, warehouse) -> None:
    default, other = warehouse
    async with live.connect() as client:
        feed = Collector(client, ORDER_EVENTS)
        await subscribed(live.hub, 1)
        order_id = await new_order(default)
        await orders.add_tags([order_id], ["gift"], ACTOR)
        await orders.move_orders([order_id], other.id, ACTOR)
        await orders.process_orders([{"order_id": order_id, "tracking_number": "TRK1"}], ACTOR)
        doomed = await new_order(other, "CAP", 1)
        await orders.delete_orders([doomed], "test", ACTOR)
        got = await feed.wait_for(6)
        await feed.stop()
    assert [e["kind"] for e in got] == ["CREATED", "UPDATED", "MOVED", "PROCESSED", "CREATED", "DELETED"]
    created, tagged, moved, processed = got[:4]
    assert created["__typename"] == "OrderEvent"
    assert created["orderId"] == gid("Order", order_id) and created["state"] == "OPEN" and created["status"] == "PAID"
    assert created["locationId"] == gid("Location", default.id) and created["source"] == "DIRECT"
    assert created["changes"] == ["ORDER_CREATED"] and created["actor"] == "tester" and created["channelId"] is None
    assert tagged["changes"] == ["TAG_ADDED"]
    assert moved["previousLocationId"] == gid("Location", default.id) and moved["locationId"] == gid("Location", other.id)
    assert processed["state"] == "PROCESSED"
    ids = [e["eventId"] for e in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_filters_by_location_and_kind(live: LiveServer, warehouse) -> None:
    default, other = warehouse
    async with live.connect() as client:
        annex = Collector(client, ORDER_EVENTS, {"filter": {"locationIds": [gid("Location", other.id)]}})
        created = Collector(client, ORDER_EVENTS, {"filter": {"kinds": ["CREATED"]}})
        await subscribed(live.hub, 2)
        first = await new_order(default)
        second = await new_order(other)
        await orders.move_orders([first], other.id, ACTOR)  # a move matches its old and new location
        await orders.cancel_orders([second], "changed mind", ACTOR)
        annexed = await annex.wait_for(3)
        made = await created.wait_for(2)
        await asyncio.sleep(0.3)  # nothing more arrives
        assert len(annex.items) == 3 and len(created.items) == 2
        await annex.stop()
        await created.stop()
    assert [(e["kind"], e["orderId"]) for e in annexed] == [
        ("CREATED", gid("Order", second)), ("MOVED", gid("Order", first)), ("CANCELLED", gid("Order", second))]
    assert [e["orderId"] for e in made] == [gid("Order", first), gid("Order", second)]


async def test_stock_levels_carry_level_allocated_available(live: LiveServer, warehouse) -> None:
    default, other = warehouse
    mug = await stock.StockItem.get(sku="MUG")
    await caught_up(live.hub)  # the warehouse's own stock events are not this feed's
    async with live.connect() as client:
        feed = Collector(client, STOCK_LEVELS, {"filter": {"itemIds": [gid("StockItem", mug.id)],
                                                           "locationIds": [gid("Location", default.id)]}})  # fmt: skip
        await subscribed(live.hub, 1)
        await new_order(default, "CAP", 1)  # another item: filtered out
        order_id = await new_order(default, "MUG", 3)
        await stock.set_minimum_level("MUG", default.id, 48, ACTOR)
        await orders.process_orders([{"order_id": order_id}], ACTOR)
        got = await feed.wait_for(3)
        await asyncio.sleep(0.3)
        assert len(feed.items) == 3
        await feed.stop()
    reserved, minimum, shipped = got
    assert reserved == {**reserved, "__typename": "StockLevelEvent", "sku": "MUG", "level": 50, "allocated": 3,
                        "available": 47, "minimumLevel": 0, "belowMinimum": False}  # fmt: skip
    assert reserved["itemId"] == gid("StockItem", mug.id) and reserved["locationId"] == gid("Location", default.id)
    assert (minimum["available"], minimum["minimumLevel"], minimum["belowMinimum"]) == (47, 48, True)
    assert (shipped["level"], shipped["allocated"], shipped["available"]) == (47, 0, 47)


async def test_rolled_back_work_publishes_nothing(live: LiveServer, warehouse) -> None:
    """Invariant 7: a transaction that fails announces none of the events it recorded."""
    default, _ = warehouse
    before = (await live.gql("{ lastEventId }"))["lastEventId"]
    async with live.connect() as client:
        feed = Collector(client, ORDER_EVENTS)
        await subscribed(live.hub, 1)
        with pytest.raises(RuntimeError):
            async with transaction():
                await new_order(default)  # commits only with the outer transaction
                raise RuntimeError("boom")
        with contextlib.suppress(ServiceError):  # refused (no such order): nothing changes
            assert (await orders.process_orders([{"order_id": uuid.uuid4()}], ACTOR)).failures
        await asyncio.sleep(0.5)
        assert feed.items == []
        kept = await new_order(default)
        (event,) = await feed.wait_for(1)
        await feed.stop()
    assert event["orderId"] == gid("Order", kept)
    assert event["eventId"] == before + 1  # no id was used up by the rolled-back work
    assert await Event.filter(id__gt=before).count() == 2  # the order event and its stock event


async def test_resume_after_the_last_seen_id(live: LiveServer, warehouse) -> None:
    default, _ = warehouse
    async with live.connect() as client:
        feed = Collector(client, ORDER_EVENTS)
        await subscribed(live.hub, 1)
        await new_order(default)
        (seen,) = await feed.wait_for(1)
        await feed.stop()
    missed = [await new_order(default) for _ in range(3)]  # while disconnected
    async with live.connect() as client:
        feed = Collector(client, ORDER_EVENTS, {"after": seen["eventId"]})
        replayed = await feed.wait_for(3)
        live_one = await new_order(default)
        got = await feed.wait_for(4)
        await feed.stop()
    assert [e["orderId"] for e in replayed] == [gid("Order", o) for o in missed]
    assert got[3]["orderId"] == gid("Order", live_one)
    ids = [e["eventId"] for e in got]
    assert ids == sorted(ids) and len(set(ids)) == 4


async def test_resume_beyond_the_retention_window_says_what_was_lost(live: LiveServer, warehouse) -> None:
    default, _ = warehouse
    for _ in range(3):
        await new_order(default)
    newest = (await live.gql("{ lastEventId }"))["lastEventId"]
    first_kept = newest - 1
    await Event.filter(id__lt=first_kept).delete()  # as the retention sweep does
    async with live.connect() as client:
        feed = Collector(client, ORDER_EVENTS, {"after": 1})
        missed, *rest = await feed.wait_for(1)
        await feed.stop()
        assert missed == {"__typename": "EventsMissed", "fromId": 2, "toId": first_kept - 1, "reason": "EXPIRED"}
        future = Collector(client, ORDER_EVENTS, {"after": newest + 5})
        with pytest.raises(Exception, match=f"there is no event {newest + 5}"):
            await future.wait_for(1)


async def test_bad_arguments_are_refused_clearly(live: LiveServer, warehouse) -> None:
    async with live.connect() as client:
        bad_id = Collector(client, ORDER_EVENTS, {"filter": {"locationIds": ["nope"]}})
        with pytest.raises(Exception, match="filter.locationIds.0"):
            await bad_id.wait_for(1)
        empty = Collector(client, ORDER_EVENTS, {"filter": {"channelIds": []}})
        with pytest.raises(Exception, match="filter.channelIds: Give at least one id"):
            await empty.wait_for(1)
        too_many = Collector(client, STOCK_LEVELS, {"filter": {"itemIds": ["x"] * 101}})
        with pytest.raises(Exception, match="filter.itemIds: Give at most 100 ids"):
            await too_many.wait_for(1)
        negative = Collector(client, ORDER_EVENTS, {"after": -1})
        with pytest.raises(Exception, match="EventId must be a whole number"):
            await negative.wait_for(1)
        # the connection is still good
        ok = Collector(client, ORDER_EVENTS)
        await subscribed(live.hub, 1)
        await new_order(warehouse[0])
        await ok.wait_for(1)
        await ok.stop()
