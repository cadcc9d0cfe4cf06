"""Locations: create, rename, make default, delete (and when deleting is refused)."""

from __future__ import annotations

import uuid

from tests.services.helpers import audit_kinds, make_item, make_order, refused
from orderdeck.models import AuditEntry, AuditKind, Location, OrderItem, StockLevel
from orderdeck.services import locations, orders, stock
from orderdeck.services.orders import returns
from orderdeck.services.errors import ErrorCode


async def test_the_default_location_exists_once(default_location, actor):
    again = await locations.ensure_default_location()

    assert again.id == default_location.id
    assert await Location.filter(is_default=True).count() == 1
    assert await audit_kinds(default_location.id, actor="orderdeck") == [AuditKind.LOCATION_CREATED]


async def test_create_and_rename_with_unique_names(default_location, actor):
    north = await locations.create_location("  North  ", actor)

    assert (north.name, north.is_default) == ("North", False)
    async with refused("name", ErrorCode.DUPLICATE):
        await locations.create_location("North", actor)
    async with refused("name", ErrorCode.INVALID):
        await locations.create_location("x" * 101, actor)

    await locations.rename_location(north.id, "North Hub", actor)

    assert (await Location.get(id=north.id)).name == "North Hub"
    async with refused("name", ErrorCode.DUPLICATE):
        await locations.rename_location(north.id, default_location.name, actor)
    async with refused("id", ErrorCode.NOT_FOUND):
        await locations.rename_location(uuid.uuid4(), "Nowhere", actor)
    assert await audit_kinds(north.id) == [AuditKind.LOCATION_CREATED, AuditKind.LOCATION_RENAMED]
    entry = await AuditEntry.get(kind=AuditKind.LOCATION_RENAMED)
    assert (entry.before, entry.after) == ({"name": "North"}, {"name": "North Hub"})


async def test_make_default_moves_the_flag_and_new_orders_follow_it(default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("A", actor)

    await locations.set_default_location(north.id, actor)

    assert await Location.filter(is_default=True).values_list("id", flat=True) == [north.id]
    assert (await make_order(actor, ("A", 1))).location_id == north.id
    entry = await AuditEntry.get(kind=AuditKind.LOCATION_DEFAULT_SET)
    assert (entry.before, entry.after, entry.actor) == ({"default": "Default"}, {"default": "North"}, "tester")


async def test_delete_an_unused_location(default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("A", actor)
    await stock.set_minimum_level("A", north.id, 2, actor)  # an empty level row does not keep it

    await locations.delete_location(north.id, actor)

    assert not await Location.filter(id=north.id).exists()
    assert not await StockLevel.filter(location_id=north.id).exists()
    assert await audit_kinds(north.id) == [AuditKind.LOCATION_CREATED, AuditKind.LOCATION_DELETED]


async def test_delete_is_refused_for_the_default_location(default_location, actor):
    async with refused("id", ErrorCode.IN_USE):
        await locations.delete_location(default_location.id, actor)


async def test_delete_is_refused_while_the_location_holds_open_orders(default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("A", actor)
    order = await make_order(actor, ("A", 1), location_id=north.id)
    await orders.set_locked([order.id], True, actor)  # a locked order holds no stock but is still open

    async with refused("id", ErrorCode.IN_USE) as info:
        await locations.delete_location(north.id, actor)
    assert "open orders" in str(info.value)


async def test_delete_is_refused_while_the_location_holds_stock(default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("A", actor, level=1, location_id=north.id)

    async with refused("id", ErrorCode.IN_USE) as info:
        await locations.delete_location(north.id, actor)
    assert "holds stock" in str(info.value)


async def test_delete_is_refused_for_a_location_in_order_history(default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("A", actor)
    order = await make_order(actor, ("A", 1), location_id=north.id)
    await orders.cancel_orders([order.id], "Test", actor)

    async with refused("id", ErrorCode.IN_USE):
        await locations.delete_location(north.id, actor)


async def test_delete_is_refused_for_a_location_that_took_back_a_return(default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("A", actor, level=1, location_id=default_location.id)
    order = await make_order(actor, ("A", 1))
    await orders.process_orders([{"order_id": order.id}], actor)
    line = await OrderItem.get(order_id=order.id)
    await returns.create_return({"order_id": order.id, "items": [{"item_id": line.id, "quantity": 1}],
                                "reason": "Unwanted", "location_id": north.id}, actor)  # fmt: skip
    await stock.set_stock_levels({"levels": [{"sku": "A", "location_id": north.id, "quantity": 0}]}, actor)

    async with refused("id", ErrorCode.IN_USE):
        await locations.delete_location(north.id, actor)
