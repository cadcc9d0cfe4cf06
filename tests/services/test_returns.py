"""Returns and resends: new records linked to a processed order, which itself never changes state."""

from __future__ import annotations

import uuid

import pytest

from tests.services.helpers import (
    assert_stock_consistent,
    audit_kinds,
    ledger_reasons,
    levels_of,
    make_item,
    make_order,
    refused,
    reload,
)
from orderdeck.models import (
    AuditEntry,
    AuditKind,
    Order,
    OrderItem,
    OrderNote,
    OrderReturn,
    OrderReturnItem,
    OrderState,
    OrderStatus,
    StockLedgerEntry,
)
from orderdeck.services import locations, orders
from orderdeck.services.orders import returns
from orderdeck.services.errors import ErrorCode


@pytest.fixture
async def shipped(default_location, actor) -> Order:
    """A processed order of 3 A and 2 B from the default location (which had 10 of each)."""
    await make_item("A", actor, level=10, location_id=default_location.id)
    await make_item("B", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 3), ("B", 2), buyer_name="Ann", reference="WEB-1",
                             shipping_address={"town": "York"})  # fmt: skip
    assert not (await orders.process_orders([{"order_id": order.id}], actor)).failures
    return order


async def _line(order: Order, sku: str) -> OrderItem:
    return await OrderItem.get(order_id=order.id, sku=sku)


# --- returns ---------------------------------------------------------------------------------


async def test_return_with_restock_raises_the_level_at_the_chosen_location(default_location, shipped, actor):
    north = await locations.create_location("North", actor)
    line_a = await _line(shipped, "A")

    ret = await returns.create_return({"order_id": shipped.id, "items": [{"item_id": line_a.id, "quantity": 2}],
                                      "reason": "Damaged box", "location_id": north.id}, actor)  # fmt: skip

    stored = await OrderReturn.get(id=ret.id)
    assert (stored.order_id, stored.restock, stored.location_id, stored.created_by) == (shipped.id, True, north.id, "tester")
    assert await OrderReturnItem.filter(order_return_id=ret.id).values_list("order_item_id", "quantity") == [(line_a.id, 2)]
    assert await levels_of("A", north.id) == (2, 0)
    assert await levels_of("A", default_location.id) == (7, 0)
    assert await ledger_reasons("A", north.id) == [("RETURN_RESTOCKED", 2, 0)]
    entry = await StockLedgerEntry.get(reason="RETURN_RESTOCKED")
    assert (entry.order_id, entry.note) == (shipped.id, "Damaged box")
    assert (await reload(shipped)).state == OrderState.PROCESSED
    assert await audit_kinds(shipped.id) == [AuditKind.ORDER_CREATED, AuditKind.PROCESSED, AuditKind.RETURN_CREATED]
    assert (await AuditEntry.get(kind=AuditKind.RETURN_CREATED)).after == {
        "items": [{"sku": "A", "quantity": 2}], "restockedAt": "North",
    }  # fmt: skip
    await assert_stock_consistent()


async def test_restock_defaults_to_the_orders_location(default_location, shipped, actor):
    line_b = await _line(shipped, "B")

    await returns.create_return({"order_id": shipped.id, "items": [{"item_id": line_b.id, "quantity": 1}],
                                "reason": "Unwanted"}, actor)  # fmt: skip

    assert await levels_of("B", default_location.id) == (9, 0)
    await assert_stock_consistent()


async def test_return_without_restock_leaves_levels_alone(default_location, shipped, actor):
    line_a = await _line(shipped, "A")
    ledger_before = await StockLedgerEntry.all().count()

    ret = await returns.create_return({"order_id": shipped.id, "items": [{"item_id": line_a.id, "quantity": 3}],
                                      "reason": "Broken", "restock": False}, actor)  # fmt: skip

    assert (ret.restock, ret.location_id) == (False, None)
    assert await levels_of("A", default_location.id) == (7, 0)
    assert await StockLedgerEntry.all().count() == ledger_before
    await assert_stock_consistent()


async def test_returns_are_limited_to_what_was_shipped_less_what_came_back(default_location, shipped, actor):
    line_a = await _line(shipped, "A")
    await returns.create_return({"order_id": shipped.id, "items": [{"item_id": line_a.id, "quantity": 2}],
                                "reason": "First parcel"}, actor)  # fmt: skip

    async with refused("items.0.quantity", ErrorCode.INVALID) as info:
        await returns.create_return({"order_id": shipped.id, "items": [{"item_id": line_a.id, "quantity": 2}],
                                    "reason": "Second parcel"}, actor)  # fmt: skip
    assert "Only 1 of A" in str(info.value)

    # the same line twice in one return counts together
    async with refused("items.1.quantity", ErrorCode.INVALID):
        await returns.create_return({"order_id": shipped.id, "reason": "Split",
                                    "items": [{"item_id": line_a.id, "quantity": 1},
                                              {"item_id": line_a.id, "quantity": 1}]}, actor)  # fmt: skip

    await returns.create_return({"order_id": shipped.id, "items": [{"item_id": line_a.id, "quantity": 1}],
                                "reason": "Last one"}, actor)  # fmt: skip
    assert await levels_of("A", default_location.id) == (10, 0)
    await assert_stock_consistent()


async def test_return_of_an_open_order_or_a_foreign_line_is_refused(default_location, shipped, actor):
    open_order = await make_order(actor, ("A", 1))
    open_line = await _line(open_order, "A")

    async with refused("orderId", ErrorCode.INVALID_TRANSITION):
        await returns.create_return({"order_id": open_order.id, "items": [{"item_id": open_line.id, "quantity": 1}],
                                    "reason": "Never shipped"}, actor)  # fmt: skip
    async with refused("items.0.itemId", ErrorCode.NOT_FOUND):
        await returns.create_return({"order_id": shipped.id, "items": [{"item_id": open_line.id, "quantity": 1}],
                                    "reason": "Wrong line"}, actor)  # fmt: skip
    async with refused("orderId", ErrorCode.NOT_FOUND):
        await returns.create_return({"order_id": uuid.uuid4(), "items": [{"item_id": open_line.id, "quantity": 1}],
                                    "reason": "No order"}, actor)  # fmt: skip
    async with refused("locationId", ErrorCode.NOT_FOUND):
        await returns.create_return({"order_id": shipped.id, "items": [{"item_id": (await _line(shipped, "A")).id,
                                    "quantity": 1}], "reason": "Nowhere", "location_id": uuid.uuid4()}, actor)  # fmt: skip
    async with refused("reason", ErrorCode.INVALID):
        await returns.create_return({"order_id": shipped.id, "items": [{"item_id": (await _line(shipped, "A")).id,
                                    "quantity": 1}], "reason": "  "}, actor)  # fmt: skip


# --- resends ---------------------------------------------------------------------------------


async def test_resend_is_a_new_open_order_linked_to_the_original_and_reserving_stock(default_location, shipped, actor):
    line_b = await _line(shipped, "B")

    resend = await returns.create_resend({"order_id": shipped.id, "items": [{"item_id": line_b.id, "quantity": 1}],
                                         "reason": "Lost in post", "cost": "2.50"}, actor)  # fmt: skip

    stored = await reload(resend)
    assert (stored.state, stored.status, stored.original_order_id) == (OrderState.OPEN, OrderStatus.RESEND, shipped.id)
    assert stored.number > shipped.number and stored.reference is None
    assert (stored.secondary_reference, stored.buyer_name, stored.shipping_town) == ("WEB-1", "Ann", "York")
    assert not stored.parked and not stored.locked
    [line] = await OrderItem.filter(order_id=resend.id)
    assert (line.sku, line.quantity, line.stock_item_id) == ("B", 1, line_b.stock_item_id)
    assert await levels_of("B", default_location.id) == (8, 1)
    assert (await ledger_reasons("B"))[-1] == ("ORDER_CREATED", 0, 1)
    assert "Lost in post" in (await OrderNote.get(order_id=resend.id)).text
    assert (await reload(shipped)).state == OrderState.PROCESSED
    assert await audit_kinds(shipped.id) == [AuditKind.ORDER_CREATED, AuditKind.PROCESSED, AuditKind.RESEND_CREATED]
    assert await audit_kinds(resend.id) == [AuditKind.ORDER_CREATED]
    # the resend ships like any other order
    assert not (await orders.process_orders([{"order_id": resend.id}], actor)).failures
    assert await levels_of("B", default_location.id) == (7, 0)
    await assert_stock_consistent()


async def test_resend_from_another_location_reserves_there(default_location, shipped, actor):
    north = await locations.create_location("North", actor)
    line_a = await _line(shipped, "A")

    resend = await returns.create_resend({"order_id": shipped.id, "items": [{"item_id": line_a.id, "quantity": 3}],
                                         "reason": "Wrong colour", "location_id": north.id}, actor)  # fmt: skip

    assert resend.location_id == north.id
    assert await levels_of("A", north.id) == (0, 3)
    assert await levels_of("A", default_location.id) == (7, 0)
    await assert_stock_consistent()


async def test_resend_of_an_open_order_is_refused(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 1))
    line = await _line(order, "A")

    async with refused("orderId", ErrorCode.INVALID_TRANSITION):
        await returns.create_resend({"order_id": order.id, "items": [{"item_id": line.id, "quantity": 1}],
                                    "reason": "Not shipped yet"}, actor)  # fmt: skip
    assert await Order.all().count() == 1


async def test_resend_of_more_than_was_shipped_is_refused(default_location, shipped, actor):
    line_a = await _line(shipped, "A")
    async with refused("items.0.quantity", ErrorCode.INVALID):
        await returns.create_resend({"order_id": shipped.id, "items": [{"item_id": line_a.id, "quantity": 4}],
                                    "reason": "Lost in post"}, actor)  # fmt: skip
