"""Invariant 7 under concurrency on PostgreSQL: many transactions at once, in this process and in two
others, some rolled back. Event ids stay gapless and follow the commit order, rolled-back work
announces nothing, and a subscriber sees every committed event once, in order."""

from __future__ import annotations

import asyncio
import uuid

from orderdeck.models import Counter, Event, EventTopic, Location, Order, StockLevel
from orderdeck.services import orders, stock
from orderdeck.services.context import Actor, transaction
from tests.live.conftest import MUGS_IN_STOCK
from tests.live.support import ORDER_EVENTS, STOCK_LEVELS, Collector, commit_elsewhere, live_server, subscribed

ACTOR = Actor("tester")
IN_PROCESS, ROLLED_BACK, ADJUSTMENTS, PER_WORKER, WORKERS = 40, 15, 20, 10, 2


class RolledBack(Exception):
    """Raised to roll a whole order creation back."""


async def place(location: Location) -> uuid.UUID:
    order = await orders.create_direct_order({"location_id": location.id, "items": [{"sku": "MUG", "quantity": 1}]}, ACTOR)
    return order.id


async def place_and_roll_back(location: Location) -> uuid.UUID:
    """An order created, its events recorded, then the whole transaction rolled back."""
    try:
        async with transaction():
            order_id = await place(location)
            raise RolledBack
    except RolledBack:
        return order_id


async def receive_one_more(location: Location) -> None:
    await stock.adjust_stock_levels({"levels": [{"sku": "MUG", "location_id": location.id, "quantity": 1}]}, ACTOR)


async def test_concurrent_commits_and_rollbacks_keep_ids_gapless_and_in_commit_order(
    database_url: str, admin_token: str, mugs: Location
) -> None:
    first = int((await Counter.get(name="event")).value) + 1
    async with live_server(database_url, admin_token, event_bus="postgres") as live:
        async with live.connect() as client:
            order_feed = Collector(client, ORDER_EVENTS)
            stock_feed = Collector(client, STOCK_LEVELS)
            await subscribed(live.hub, 2)
            work = [
                *(place(mugs) for _ in range(IN_PROCESS)),
                *(place_and_roll_back(mugs) for _ in range(ROLLED_BACK)),
                *(receive_one_more(mugs) for _ in range(ADJUSTMENTS)),
                *(asyncio.to_thread(commit_elsewhere, database_url, mugs, PER_WORKER, "postgres") for _ in range(WORKERS)),
            ]
            results = await asyncio.wait_for(asyncio.gather(*work), 120)
            placed = IN_PROCESS + WORKERS * PER_WORKER
            stock_events = placed + ADJUSTMENTS
            got_orders = await order_feed.wait_for(placed, timeout=30)
            got_levels = await stock_feed.wait_for(stock_events, timeout=30)
            await asyncio.sleep(0.5)  # nothing more comes
            await order_feed.stop()
            await stock_feed.stop()
    assert len(order_feed.items) == placed and len(stock_feed.items) == stock_events

    # The table: ids first..last without a gap, the counter at the last, nothing for rolled-back work.
    kept = await Event.filter(id__gte=first).order_by("id").values("id", "topic", "data")
    assert [e["id"] for e in kept] == list(range(first, first + placed + stock_events))
    assert (await Counter.get(name="event")).value == kept[-1]["id"]
    rolled_back = {str(order_id) for order_id in results[IN_PROCESS:IN_PROCESS + ROLLED_BACK]}
    announced = {e["data"]["orderId"] for e in kept if e["topic"] == EventTopic.ORDER}
    assert not announced & rolled_back
    assert announced == {str(o) for o in await Order.all().values_list("id", flat=True)}

    # The subscriber: each committed event once, in id order, as the table has it.
    for feed, topic in ((got_orders, EventTopic.ORDER), (got_levels, EventTopic.STOCK)):
        assert [e["eventId"] for e in feed] == [e["id"] for e in kept if e["topic"] == topic]

    # Commit order: the MUG row is changed by one transaction at a time (row lock), so in commit
    # order its allocation and level only grow. Ids given out of commit order would show a dip.
    allocated = [e["allocated"] for e in got_levels]
    levels = [e["level"] for e in got_levels]
    assert allocated == sorted(allocated) and levels == sorted(levels)
    row = await StockLevel.get(location_id=mugs.id)
    assert (levels[-1], allocated[-1]) == (row.level, row.allocated) == (MUGS_IN_STOCK + ADJUSTMENTS, placed)
