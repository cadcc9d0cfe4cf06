"""Listings: linking channel SKUs (and the order lines waiting for them), and the stock outbox."""

from __future__ import annotations

import asyncio

from tests.services.helpers import assert_stock_consistent, levels_of, make_item, make_order, refused
from tests.services.test_channels import make_channel
from orderdeck.models import Listing, Order, OrderItem, StockChangeReason, StockLedgerEntry
from orderdeck.services import listings, locations, orders, stock
from orderdeck.services.errors import ErrorCode


async def due() -> set[str]:
    return set(await Listing.filter(push_due=True).values_list("channel_sku", flat=True))


async def test_linking_lists_an_item_and_marks_it_due(default_location, actor):
    channel = await make_channel(actor, stock_location_ids=[default_location.id])
    await make_item("MUG", actor)
    listing = await listings.link_listing({"channel_id": channel.id, "channel_sku": "WC-MUG", "sku": "MUG",
                                           "max_listed_quantity": 5}, actor)  # fmt: skip
    assert listing.push_due and listing.max_listed_quantity == 5
    async with refused("channelSku", ErrorCode.DUPLICATE):
        await listings.link_listing({"channel_id": channel.id, "channel_sku": "WC-MUG", "sku": "MUG"}, actor)
    async with refused("sku", ErrorCode.NOT_FOUND):
        await listings.link_listing({"channel_id": channel.id, "channel_sku": "WC-X", "sku": "NOPE"}, actor)


async def test_available_changes_mark_listings_due_where_the_channel_offers_that_location(default_location, actor):
    north = await locations.create_location("North", actor)
    channel = await make_channel(actor, stock_location_ids=[default_location.id])
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await listings.link_listing({"channel_id": channel.id, "channel_sku": "WC-MUG", "sku": "MUG"}, actor)

    async def after(change) -> set[str]:
        await Listing.all().update(push_due=False, due_since=None)
        await change()
        return await due()

    level_at = lambda loc, n: stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": loc, "quantity": n}]}, actor)  # noqa: E731
    assert await after(lambda: level_at(north.id, 7)) == set()  # not a location the channel offers
    assert await after(lambda: level_at(default_location.id, 8)) == {"WC-MUG"}
    order = await make_order(actor, ("MUG", 2))
    assert await due() == {"WC-MUG"}  # the new order reserved stock in the same transaction
    assert await after(lambda: orders.process_orders([{"order_id": order.id}], actor)) == set()  # available unchanged
    assert await after(lambda: make_order(actor, ("MUG", 1), location_id=north.id)) == set()


async def test_linking_a_channel_sku_links_the_order_lines_waiting_for_it(default_location, actor):
    channel = await make_channel(actor)
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    waiting = await orders.create_orders(
        [{"items": [{"sku": "WC-RED-MUG", "channel_sku": "WC-RED-MUG", "quantity": 3}], "reference": f"W{n}"}
         for n in range(3)], actor, source="WOOCOMMERCE", allow_unlinked=True,
    )  # fmt: skip
    await Order.filter(id__in=[o.id for o in waiting]).update(channel_id=channel.id)
    await orders.set_locked([waiting[1].id], True, actor)
    await orders.cancel_orders([waiting[2].id], "Changed mind", actor)
    assert await levels_of("MUG", default_location.id) == (10, 0)

    await listings.link_listing({"channel_id": channel.id, "channel_sku": "WC-RED-MUG", "sku": "MUG"}, actor)

    linked = {line.order_id for line in await OrderItem.filter(stock_item__sku="MUG")}
    assert linked == {waiting[0].id, waiting[1].id}  # the cancelled order's line stays as it was
    assert await levels_of("MUG", default_location.id) == (10, 3)  # the locked order holds nothing
    assert await StockLedgerEntry.filter(reason=StockChangeReason.ITEM_LINKED).count() == 1
    await assert_stock_consistent()
    assert (await orders.process_orders([{"order_id": waiting[0].id}], actor)).failures == []


async def test_linking_while_waiting_orders_are_deleted_or_cancelled(postgres_only, default_location, actor):
    channel = await make_channel(actor)
    await make_item("MUG", actor, level=50, location_id=default_location.id)
    waiting = await orders.create_orders(
        [{"items": [{"sku": "WC-MUG", "channel_sku": "WC-MUG", "quantity": 1}], "reference": f"W{n}"} for n in range(20)],
        actor, source="WOOCOMMERCE", allow_unlinked=True,
    )  # fmt: skip
    await Order.filter(id__in=[o.id for o in waiting]).update(channel_id=channel.id)
    await asyncio.wait_for(asyncio.gather(
        listings.link_listing({"channel_id": channel.id, "channel_sku": "WC-MUG", "sku": "MUG"}, actor),
        *(orders.delete_orders([o.id], "Duplicate", actor) for o in waiting[:5]),
        *(orders.cancel_orders([o.id], "Changed mind", actor) for o in waiting[5:10]),
    ), 60)  # fmt: skip
    assert await levels_of("MUG", default_location.id) == (50, 10)
    await assert_stock_consistent()
