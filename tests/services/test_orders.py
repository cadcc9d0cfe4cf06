"""Order operations: create, totals, status and flags, edit, tags, notes, properties, cancel, delete."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.services.helpers import (
    assert_stock_consistent,
    assert_unchanged_by,
    audit_kinds,
    db_state,
    ledger_reasons,
    levels_of,
    make_item,
    make_order,
    reload,
)
from orderdeck.models import (
    AuditEntry,
    AuditKind,
    DeletedOrder,
    Order,
    OrderItem,
    OrderNote,
    OrderProperty,
    OrderState,
    OrderStatus,
    OrderTag,
    StockLedgerEntry,
)
from orderdeck.services import locations, orders, stock
from orderdeck.services.orders import notes as order_notes
from orderdeck.services.errors import ErrorCode, ServiceError


# --- create --------------------------------------------------------------------------------


async def test_direct_order_links_lines_by_sku_and_reserves_stock(default_location, actor):
    mug = await make_item("MUG", actor, level=10, location_id=default_location.id)

    order = await make_order(actor, ("MUG", 3))

    stored = await reload(order)
    assert (stored.source, stored.status, stored.state) == ("DIRECT", OrderStatus.PAID, OrderState.OPEN)
    assert not stored.parked and stored.paid_at is not None
    assert stored.location_id == default_location.id
    [line] = await OrderItem.filter(order_id=order.id)
    assert (line.stock_item_id, line.sku, line.quantity, line.title) == (mug.id, "MUG", 3, "Item MUG")
    assert await levels_of("MUG", default_location.id) == (10, 3)
    assert await ledger_reasons("MUG") == [("LEVEL_SET", 10, 0), ("ORDER_CREATED", 0, 3)]
    entry = await StockLedgerEntry.get(reason="ORDER_CREATED")
    assert (entry.order_id, entry.order_number, entry.actor) == (order.id, order.number, "tester")
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED]
    await assert_stock_consistent()


async def test_created_orders_are_returned_as_stored(default_location, actor):
    await make_item("MUG", actor)
    await make_item("CUP", actor)

    first, second = await orders.create_orders([
        {"reference": "R-1", "items": [{"sku": "MUG", "quantity": 1}]},
        {"reference": "R-2", "items": [{"sku": "CUP", "quantity": 2}]},
    ], actor)  # fmt: skip

    assert (first.reference, second.reference) == ("R-1", "R-2")
    assert [(l.sku, l.quantity) for l in await second.items.all()] == [("CUP", 2)]
    assert first.created_at is not None
    first.buyer_name = "Ann"
    await first.save()  # an update, not a second insert
    assert (await reload(first)).buyer_name == "Ann"


async def test_order_reserves_only_at_its_own_location(default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("MUG", actor, level=10, location_id=default_location.id)

    await make_order(actor, ("MUG", 4), location_id=north.id)

    assert await levels_of("MUG", default_location.id) == (10, 0)
    assert await levels_of("MUG", north.id) == (0, 4)  # accepted though short, shown as insufficient
    await assert_stock_consistent()


async def test_lines_of_the_same_sku_allocate_their_sum_in_one_ledger_row(default_location, actor):
    await make_item("MUG", actor, level=10, location_id=default_location.id)

    await make_order(actor, ("MUG", 2), ("MUG", 3))

    assert await levels_of("MUG", default_location.id) == (10, 5)
    assert await ledger_reasons("MUG") == [("LEVEL_SET", 10, 0), ("ORDER_CREATED", 0, 5)]
    await assert_stock_consistent()


async def test_totals_exclude_tax_and_round_tax_half_up_per_line(default_location, actor):
    await make_item("MUG", actor, weight="0.250")
    await make_item("PIN", actor, weight="0.010")

    order = await orders.create_direct_order({
        "postage": "4.50",
        "items": [
            # net 3 x 1.99 - 0.10 = 5.87; tax 5.87 x 17.5% = 1.02725 -> 1.03
            {"sku": "MUG", "quantity": 3, "unit_price": "1.99", "discount": "0.10", "tax_rate": "17.5"},
            # net 0.10; tax 0.005 -> 0.01 half-up (half-even would give 0.00)
            {"sku": "PIN", "quantity": 1, "unit_price": "0.10", "tax_rate": "5"},
        ],
    }, actor)  # fmt: skip

    stored = await reload(order)
    assert stored.subtotal == Decimal("5.97")
    assert stored.discount == Decimal("0.10")
    assert stored.tax == Decimal("1.04")
    assert stored.postage == Decimal("4.50")
    assert stored.total == Decimal("11.51")
    assert stored.total_weight == Decimal("0.760")
    lines = await OrderItem.filter(order_id=order.id).order_by("position")
    assert [(l.tax, l.line_total) for l in lines] == [
        (Decimal("1.03"), Decimal("6.90")),
        (Decimal("0.01"), Decimal("0.11")),
    ]


async def test_tags_notes_and_properties_given_at_creation_are_stored(default_location, actor):
    await make_item("MUG", actor)

    order = await make_order(
        actor, ("MUG", 1),
        tags=["gift", "gift", "priority"],
        notes=[{"text": "Leave with neighbour", "internal": False}],
        properties=[{"name": "GiftWrap", "value": "yes"}],
    )  # fmt: skip

    assert sorted(await OrderTag.filter(order_id=order.id).values_list("name", flat=True)) == ["gift", "priority"]
    note = await OrderNote.get(order_id=order.id)
    assert (note.text, note.internal, note.author) == ("Leave with neighbour", False, "tester")
    prop = await OrderProperty.get(order_id=order.id)
    assert (prop.name, prop.value, prop.type) == ("GiftWrap", "yes", "Info")


async def test_same_reference_is_allowed_under_another_subsource(default_location, actor):
    await make_item("MUG", actor)
    await make_order(actor, ("MUG", 1), reference="R-1", subsource="SHOP1")

    other = await make_order(actor, ("MUG", 1), reference="R-1", subsource="SHOP2")

    assert other.reference == "R-1"
    assert await Order.filter(reference="R-1").count() == 2


async def test_order_numbers_are_consecutive(default_location, actor):
    await make_item("MUG", actor)

    created = await orders.create_orders(
        [{"items": [{"sku": "MUG", "quantity": 1}]} for _ in range(3)], actor
    )
    one_more = await make_order(actor, ("MUG", 1))

    numbers = [o.number for o in created] + [one_more.number]
    assert numbers == list(range(numbers[0], numbers[0] + 4))


# --- status, park, hold, lock --------------------------------------------------------------


async def test_unpaid_order_is_parked_but_holds_stock_until_paid(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)

    order = await make_order(actor, ("MUG", 2), status="UNPAID")

    stored = await reload(order)
    assert stored.parked and stored.status == OrderStatus.UNPAID and stored.paid_at is None
    assert await levels_of("MUG", default_location.id) == (5, 2)
    skipped = await orders.process_orders([{"order_id": order.id}], actor)
    assert [f.code for f in skipped.failures] == [ErrorCode.ORDER_PARKED]

    result = await orders.set_status([order.id], OrderStatus.PAID, actor)

    assert not result.failures
    stored = await reload(order)
    assert not stored.parked and stored.status == OrderStatus.PAID and stored.paid_at is not None
    assert await levels_of("MUG", default_location.id) == (5, 2)
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.STATUS_CHANGED]
    entry = await AuditEntry.get(kind=AuditKind.STATUS_CHANGED)
    assert (entry.before, entry.after) == ({"status": "UNPAID"}, {"status": "PAID"})
    assert not (await orders.process_orders([{"order_id": order.id}], actor)).failures
    await assert_stock_consistent()


async def test_setting_unpaid_parks_and_the_same_status_is_refused(default_location, actor):
    await make_item("MUG", actor)
    order = await make_order(actor, ("MUG", 1))

    await orders.set_status([order.id], OrderStatus.UNPAID, actor)
    again = await orders.set_status([order.id], OrderStatus.UNPAID, actor)

    assert (await reload(order)).parked
    assert [(f.order_id, f.code) for f in again.failures] == [(order.id, ErrorCode.INVALID_TRANSITION)]
    with pytest.raises(ServiceError) as info:
        await orders.set_status([order.id], OrderStatus.RESEND, actor)
    assert [e.field for e in info.value.errors] == ["status"]


async def test_parked_order_keeps_its_allocation(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("MUG", 2))

    await orders.set_parked([order.id], True, actor)

    assert (await reload(order)).parked
    assert await levels_of("MUG", default_location.id) == (5, 2)
    assert [r for r, *_ in await ledger_reasons("MUG")] == ["LEVEL_SET", "ORDER_CREATED"]
    await orders.set_parked([order.id], False, actor)
    assert not (await reload(order)).parked
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.PARKED, AuditKind.UNPARKED]
    await assert_stock_consistent()


async def test_order_on_hold_keeps_stock_and_is_not_processed(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("MUG", 2))

    await orders.set_on_hold([order.id], True, actor)
    skipped = await orders.process_orders([{"order_id": order.id}], actor)

    assert [f.code for f in skipped.failures] == [ErrorCode.ORDER_ON_HOLD]
    assert await levels_of("MUG", default_location.id) == (5, 2)
    await orders.set_on_hold([order.id], False, actor)
    assert not (await orders.process_orders([{"order_id": order.id}], actor)).failures
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.HELD, AuditKind.UNHELD,
                                           AuditKind.PROCESSED]  # fmt: skip
    await assert_stock_consistent()


async def test_lock_releases_the_allocation_and_unlock_reserves_it_again(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("MUG", 2))

    await orders.set_locked([order.id], True, actor)

    assert (await reload(order)).locked
    assert await levels_of("MUG", default_location.id) == (5, 0)
    await assert_stock_consistent()
    skipped = await orders.process_orders([{"order_id": order.id}], actor)
    assert [f.code for f in skipped.failures] == [ErrorCode.ORDER_LOCKED]
    with pytest.raises(ServiceError) as info:
        await orders.update_order(order.id, {"buyer_name": "Ann"}, actor)
    assert [(e.field, e.code) for e in info.value.errors] == [("id", ErrorCode.INVALID_TRANSITION)]
    again = await orders.set_locked([order.id], True, actor)
    assert [f.code for f in again.failures] == [ErrorCode.INVALID_TRANSITION]

    await orders.set_locked([order.id], False, actor)

    assert await levels_of("MUG", default_location.id) == (5, 2)
    assert await ledger_reasons("MUG") == [
        ("LEVEL_SET", 5, 0), ("ORDER_CREATED", 0, 2), ("ORDER_LOCKED", 0, -2), ("ORDER_UNLOCKED", 0, 2),
    ]  # fmt: skip
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.LOCKED, AuditKind.UNLOCKED]
    await assert_stock_consistent()


async def test_unlinked_lines_hold_no_stock_through_lock_and_unlock(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    [order] = await orders.create_orders(
        [{"reference": "E-1", "items": [{"sku": "MUG", "quantity": 1}, {"sku": "NOPE", "quantity": 7}]}],
        actor, source="EBAY", allow_unlinked=True,
    )  # fmt: skip

    await orders.set_locked([order.id], True, actor)
    await orders.set_locked([order.id], False, actor)

    lines = await OrderItem.filter(order_id=order.id).order_by("position")
    assert [l.stock_item_id is None for l in lines] == [False, True]
    assert await levels_of("MUG", default_location.id) == (5, 1)
    await assert_stock_consistent()


# --- edit ----------------------------------------------------------------------------------


async def test_edit_customer_and_shipping_details(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("MUG", 1), buyer_name="Ann", shipping_address={"town": "Leeds"})
    ledger_before = await ledger_reasons("MUG")

    await orders.update_order(order.id, {
        "buyer_name": "Ann Smith", "email": "ann@example.com", "shipping_service": "Royal Mail 24",
        "shipping_address": {"full_name": "Ann Smith", "town": "York", "postcode": "YO1 7HH"},
    }, actor)  # fmt: skip

    stored = await reload(order)
    assert (stored.buyer_name, stored.email, stored.shipping_service) == ("Ann Smith", "ann@example.com", "Royal Mail 24")
    assert (stored.shipping_full_name, stored.shipping_town, stored.shipping_postcode) == ("Ann Smith", "York", "YO1 7HH")
    assert stored.billing_town == "Leeds"  # billing defaulted to the shipping address at creation, left alone
    assert await ledger_reasons("MUG") == ledger_before
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.ORDER_UPDATED]
    entry = await AuditEntry.get(kind=AuditKind.ORDER_UPDATED)
    assert entry.before["buyerName"] == "Ann" and entry.after["buyerName"] == "Ann Smith"
    assert entry.before["shippingTown"] == "Leeds" and entry.after["shippingTown"] == "York"


async def test_edit_items_allocation_follows_the_change(default_location, actor):
    for sku in ("A", "B", "C"):
        await make_item(sku, actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 2), ("B", 1))
    line_a = await OrderItem.get(order_id=order.id, sku="A")

    await orders.update_order(order.id, {"items": [
        {"id": line_a.id, "sku": "A", "quantity": 5, "unit_price": "2.00"},  # changed
        {"sku": "C", "quantity": 4, "unit_price": "1.00"},  # added; B removed
    ]}, actor)  # fmt: skip

    assert await levels_of("A", default_location.id) == (10, 5)
    assert await levels_of("B", default_location.id) == (10, 0)
    assert await levels_of("C", default_location.id) == (10, 4)
    assert (await ledger_reasons("A"))[-1] == ("ORDER_EDITED", 0, 3)
    assert (await ledger_reasons("B"))[-1] == ("ORDER_EDITED", 0, -1)
    assert (await ledger_reasons("C"))[-1] == ("ORDER_EDITED", 0, 4)
    lines = await OrderItem.filter(order_id=order.id).order_by("position")
    assert [(l.sku, l.quantity) for l in lines] == [("A", 5), ("C", 4)]
    assert lines[0].id == line_a.id
    assert (await reload(order)).total == Decimal("14.00")
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.ITEMS_CHANGED, AuditKind.ORDER_UPDATED]
    await assert_stock_consistent()


async def test_edit_that_keeps_a_line_writes_no_ledger_row_for_it(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 2))
    line = await OrderItem.get(order_id=order.id)

    await orders.update_order(order.id, {"items": [{"id": line.id, "sku": "A", "quantity": 2, "unit_price": "3.00"}]}, actor)

    assert [r for r, *_ in await ledger_reasons("A")] == ["LEVEL_SET", "ORDER_CREATED"]
    assert (await reload(order)).subtotal == Decimal("6.00")
    await assert_stock_consistent()


async def test_edit_items_of_a_parked_order_moves_its_allocation(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 2), status="UNPAID")

    await orders.update_order(order.id, {"items": [{"sku": "A", "quantity": 6}]}, actor)

    assert await levels_of("A", default_location.id) == (10, 6)
    await assert_stock_consistent()


async def test_edit_postage_recomputes_the_total(default_location, actor):
    await make_item("A", actor)
    order = await make_order(actor, ("A", 2), postage="1.00")

    await orders.update_order(order.id, {"postage": "3.25"}, actor)

    stored = await reload(order)
    assert (stored.subtotal, stored.postage, stored.total) == (Decimal("2.00"), Decimal("3.25"), Decimal("5.25"))


# --- tags, notes, properties -----------------------------------------------------------------


async def test_tags_are_added_once_and_removed(default_location, actor):
    await make_item("A", actor)
    order = await make_order(actor, ("A", 1))

    await orders.add_tags([order.id], ["gift", "priority"], actor)
    await orders.add_tags([order.id], ["gift"], actor)
    await orders.remove_tags([order.id], ["gift"], actor)

    assert await OrderTag.filter(order_id=order.id).values_list("name", flat=True) == ["priority"]
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.TAG_ADDED, AuditKind.TAG_ADDED,
                                           AuditKind.TAG_REMOVED]  # fmt: skip
    with pytest.raises(ServiceError) as info:
        await orders.add_tags([order.id], [" "], actor)
    assert [e.field for e in info.value.errors] == ["tags.0"]


async def test_notes_are_added_with_their_author_and_deleted(default_location, actor):
    await make_item("A", actor)
    order = await make_order(actor, ("A", 1))

    note = await order_notes.add_note(order.id, {"text": "  Customer called  "}, actor)

    stored = await OrderNote.get(id=note.id)
    assert (stored.text, stored.internal, stored.author) == ("Customer called", True, "tester")
    await order_notes.delete_note(note.id, actor)
    assert not await OrderNote.filter(order_id=order.id).exists()
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.NOTE_ADDED, AuditKind.NOTE_DELETED]


async def test_extended_properties_are_set_replaced_and_removed(default_location, actor):
    await make_item("A", actor)
    order = await make_order(actor, ("A", 1))

    await order_notes.set_property(order.id, {"name": "Gift", "value": "no"}, actor)
    await order_notes.set_property(order.id, {"name": "Gift", "value": "yes", "type": "Attribute"}, actor)

    [prop] = await OrderProperty.filter(order_id=order.id)
    assert (prop.name, prop.value, prop.type) == ("Gift", "yes", "Attribute")
    replaced = (await AuditEntry.filter(kind=AuditKind.PROPERTY_SET).order_by("id"))[-1]
    assert replaced.before == {"value": "no", "type": "Info"}
    await order_notes.remove_property(order.id, "Gift", actor)
    assert not await OrderProperty.filter(order_id=order.id).exists()
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.PROPERTY_SET,
                                           AuditKind.PROPERTY_SET, AuditKind.PROPERTY_REMOVED]  # fmt: skip
    with pytest.raises(ServiceError) as info:
        await order_notes.remove_property(order.id, "Gift", actor)
    assert [(e.field, e.code) for e in info.value.errors] == [("name", ErrorCode.NOT_FOUND)]


# --- cancel and delete -------------------------------------------------------------------------


async def test_cancel_releases_the_allocation(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 3))

    result = await orders.cancel_orders([order.id], "Customer changed their mind", actor)

    assert [o.id for o in result.orders] == [order.id] and not result.failures
    stored = await reload(order)
    assert stored.state == OrderState.CANCELLED and stored.cancelled_at is not None
    assert await levels_of("A", default_location.id) == (10, 0)
    assert (await ledger_reasons("A"))[-1] == ("ORDER_CANCELLED", 0, -3)
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.CANCELLED]
    assert (await AuditEntry.get(kind=AuditKind.CANCELLED)).note == "Customer changed their mind"
    await assert_stock_consistent()


async def test_cancel_of_a_locked_order_releases_nothing_twice(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 3))
    other = await make_order(actor, ("A", 2))
    await orders.set_locked([order.id], True, actor)

    await orders.cancel_orders([order.id], "Fraud", actor)

    assert await levels_of("A", default_location.id) == (10, 2)
    assert [r for r, *_ in await ledger_reasons("A")][-1] == "ORDER_LOCKED"
    assert (await reload(other)).state == OrderState.OPEN
    await assert_stock_consistent()


async def test_a_cancelled_order_cannot_be_cancelled_or_changed_again(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 3))
    await orders.cancel_orders([order.id], "Duplicate", actor)
    before = await db_state()

    for result in [
        await orders.cancel_orders([order.id], "Again", actor),
        await orders.set_locked([order.id], True, actor),
        await orders.set_parked([order.id], True, actor),
        await orders.set_status([order.id], OrderStatus.UNPAID, actor),
        await orders.process_orders([{"order_id": order.id}], actor),
    ]:
        assert [(f.order_id, f.code) for f in result.failures] == [(order.id, ErrorCode.INVALID_TRANSITION)]
        assert not result.orders
    await assert_unchanged_by(before)


async def test_delete_keeps_a_deleted_order_record_and_releases_the_allocation(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 3), reference="WEB-77", buyer_name="Ann")

    result = await orders.delete_orders([order.id], "Test order", actor)

    assert [o.id for o in result.orders] == [order.id]
    assert not await Order.filter(id=order.id).exists()
    assert not await OrderItem.filter(order_id=order.id).exists()
    deleted = await DeletedOrder.get(reference="WEB-77")
    assert (deleted.id, deleted.number, deleted.reason, deleted.deleted_by) == (order.id, order.number, "Test order", "tester")
    assert deleted.snapshot["buyerName"] == "Ann"
    assert deleted.snapshot["items"] == [{"sku": "A", "quantity": 3, "unitPrice": "1.00", "linked": True}]
    assert await levels_of("A", default_location.id) == (10, 0)
    assert (await ledger_reasons("A"))[-1] == ("ORDER_DELETED", 0, -3)
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.DELETED]
    await assert_stock_consistent()


async def test_processed_order_cannot_be_deleted(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 3))
    await orders.process_orders([{"order_id": order.id}], actor)
    before = await db_state()

    result = await orders.delete_orders([order.id], "Oops", actor)

    assert [f.code for f in result.failures] == [ErrorCode.INVALID_TRANSITION]
    await assert_unchanged_by(before)


async def test_an_edit_keeps_a_lines_link_when_its_item_was_renamed(default_location, actor):
    item = await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 2))
    line = (await order.items.all())[0]
    await stock.update_stock_item(item.id, {"sku": "A2"}, actor)

    await orders.update_order(order.id, {"items": [{"id": line.id, "sku": "A", "quantity": 3}]}, actor)

    edited = (await order.items.all())[0]
    assert edited.stock_item_id == item.id
    assert await levels_of("A2", default_location.id) == (5, 3)
    await assert_stock_consistent()
