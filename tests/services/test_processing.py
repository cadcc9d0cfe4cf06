"""Moving orders between locations and processing (shipping) them."""

from __future__ import annotations

import uuid

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
from orderdeck.models import AuditEntry, AuditKind, Dispatch, DispatchState, Order, OrderState, OrderStatus
from orderdeck.services import locations, orders
from orderdeck.services.orders import notes as order_notes
from orderdeck.services.errors import ErrorCode, ServiceError


@pytest.fixture
async def north(default_location, actor):
    """A second location."""
    return await locations.create_location("North", actor)


# --- move ----------------------------------------------------------------------------------


async def test_move_moves_the_allocation_with_the_order(default_location, north, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 3))

    result = await orders.move_orders([order.id], north.id, actor)

    assert [o.id for o in result.orders] == [order.id] and not result.failures
    assert (await reload(order)).location_id == north.id
    assert await levels_of("A", default_location.id) == (10, 0)
    assert await levels_of("A", north.id) == (0, 3)
    assert await ledger_reasons("A", default_location.id) == [("LEVEL_SET", 10, 0), ("ORDER_CREATED", 0, 3),
                                                             ("ORDER_MOVED", 0, -3)]  # fmt: skip
    assert await ledger_reasons("A", north.id) == [("ORDER_MOVED", 0, 3)]
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.MOVED]
    entry = await AuditEntry.get(kind=AuditKind.MOVED)
    assert (entry.before, entry.after) == ({"locationId": str(default_location.id)}, {"locationId": str(north.id)})
    await assert_stock_consistent()


async def test_move_batch_reports_each_order_it_could_not_move(default_location, north, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    movable = await make_order(actor, ("A", 1))
    cancelled = await make_order(actor, ("A", 1))
    processed = await make_order(actor, ("A", 1))
    already_there = await make_order(actor, ("A", 1), location_id=north.id)
    await orders.cancel_orders([cancelled.id], "Duplicate", actor)
    await orders.process_orders([{"order_id": processed.id}], actor)
    missing = uuid.uuid4()

    result = await orders.move_orders([movable.id, cancelled.id, processed.id, already_there.id, missing], north.id, actor)

    assert [o.id for o in result.orders] == [movable.id]
    assert [(f.order_id, f.code) for f in result.failures] == [
        (cancelled.id, ErrorCode.INVALID_TRANSITION),
        (processed.id, ErrorCode.INVALID_TRANSITION),
        (already_there.id, ErrorCode.INVALID_TRANSITION),
        (missing, ErrorCode.NOT_FOUND),
    ]
    assert [(await reload(o)).location_id for o in (cancelled, processed)] == [default_location.id] * 2
    assert await levels_of("A", default_location.id) == (9, 0)
    assert await levels_of("A", north.id) == (0, 2)
    assert await audit_kinds(cancelled.id) == [AuditKind.ORDER_CREATED, AuditKind.CANCELLED]
    await assert_stock_consistent()


async def test_a_locked_order_moves_without_allocation_and_reserves_where_it_is_unlocked(default_location, north, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 4))
    await orders.set_locked([order.id], True, actor)

    await orders.move_orders([order.id], north.id, actor)

    assert await levels_of("A", default_location.id) == (10, 0)
    assert await levels_of("A", north.id) == (0, 0)
    await orders.set_locked([order.id], False, actor)
    assert await levels_of("A", north.id) == (0, 4)
    assert await levels_of("A", default_location.id) == (10, 0)
    await assert_stock_consistent()


async def test_move_to_an_unknown_location_is_refused(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 4))
    before = await db_state()

    with pytest.raises(ServiceError) as info:
        await orders.move_orders([order.id], uuid.uuid4(), actor)

    assert [(e.field, e.code) for e in info.value.errors] == [("locationId", ErrorCode.NOT_FOUND)]
    await assert_unchanged_by(before)


# --- process ---------------------------------------------------------------------------------


async def test_process_deducts_the_level_releases_the_allocation_and_records_the_dispatch(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 3), shipping_vendor="Royal Mail")

    result = await orders.process_orders([{"order_id": order.id, "tracking_number": "RM123GB"}], actor)

    assert [o.id for o in result.orders] == [order.id] and not result.failures
    stored = await reload(order)
    assert stored.state == OrderState.PROCESSED and stored.processed_at is not None
    assert stored.tracking_number == "RM123GB"
    assert await levels_of("A", default_location.id) == (7, 0)
    assert (await ledger_reasons("A"))[-1] == ("ORDER_PROCESSED", -3, -3)
    dispatch = await Dispatch.get(order_id=order.id)
    assert (dispatch.state, dispatch.carrier, dispatch.tracking_number) == (DispatchState.NOT_REQUIRED, "Royal Mail", "RM123GB")
    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.PROCESSED]
    await assert_stock_consistent()


async def test_an_order_of_no_configured_channel_owes_no_dispatch(default_location, actor):
    """An order imported with a channel's source but no channel of orderdeck's: nobody to tell
    (channel orders owe one: tests/services/test_dispatch.py)."""
    await make_item("A", actor, level=10, location_id=default_location.id)
    [order] = await orders.create_orders([{"reference": "EB-1", "items": [{"sku": "A", "quantity": 1}]}], actor,
                                         source="EBAY")  # fmt: skip

    await orders.process_orders([{"order_id": order.id}], actor)

    assert (await Dispatch.get(order_id=order.id)).state == DispatchState.NOT_REQUIRED


async def test_process_skips_each_order_that_cannot_ship_with_its_reason(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    await make_item("SCARCE", actor, level=1, location_id=default_location.id)
    good = await make_order(actor, ("A", 1))
    parked = await make_order(actor, ("A", 1))
    locked = await make_order(actor, ("A", 1))
    held = await make_order(actor, ("A", 1))
    unpaid = await make_order(actor, ("A", 1), status="UNPAID")
    short = await make_order(actor, ("A", 1), ("SCARCE", 2))
    done = await make_order(actor, ("A", 1))
    [unlinked] = await orders.create_orders([{"reference": "EB-1", "items": [{"sku": "GONE", "quantity": 1}]}],
                                            actor, source="EBAY", allow_unlinked=True)  # fmt: skip
    await orders.set_parked([parked.id], True, actor)
    await orders.set_locked([locked.id], True, actor)
    await orders.set_on_hold([held.id], True, actor)
    await orders.set_parked([unpaid.id], False, actor)  # unparked, but still unpaid
    await orders.process_orders([{"order_id": done.id}], actor)

    batch = [good, parked, locked, held, unpaid, unlinked, short, done]
    result = await orders.process_orders([{"order_id": o.id} for o in batch], actor)

    assert [o.id for o in result.orders] == [good.id]
    assert [(f.order_id, f.code, f.number) for f in result.failures] == [
        (parked.id, ErrorCode.ORDER_PARKED, parked.number),
        (locked.id, ErrorCode.ORDER_LOCKED, locked.number),
        (held.id, ErrorCode.ORDER_ON_HOLD, held.number),
        (unpaid.id, ErrorCode.ORDER_UNPAID, unpaid.number),
        (unlinked.id, ErrorCode.UNLINKED_ITEMS, unlinked.number),
        (short.id, ErrorCode.INSUFFICIENT_STOCK, short.number),
        (done.id, ErrorCode.INVALID_TRANSITION, done.number),
    ]
    for skipped in (parked, locked, held, unpaid, unlinked, short):
        assert (await reload(skipped)).state == OrderState.OPEN
        assert not await Dispatch.filter(order_id=skipped.id).exists()
    # 10 - done - good; open unlocked orders still hold parked, held, unpaid and short
    assert await levels_of("A", default_location.id) == (8, 4)
    assert await levels_of("SCARCE", default_location.id) == (1, 2)
    assert await Dispatch.filter().count() == 2
    await assert_stock_consistent()


async def test_process_never_ships_more_than_the_location_holds_within_one_batch(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    first = await make_order(actor, ("A", 3))
    second = await make_order(actor, ("A", 3))
    third = await make_order(actor, ("A", 2))

    result = await orders.process_orders([{"order_id": o.id} for o in (first, second, third)], actor)

    assert [o.id for o in result.orders] == [first.id, third.id]
    assert [(f.order_id, f.code) for f in result.failures] == [(second.id, ErrorCode.INSUFFICIENT_STOCK)]
    assert await levels_of("A", default_location.id) == (0, 3)
    await assert_stock_consistent()


async def test_process_draws_only_on_the_orders_own_location(default_location, north, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 1), location_id=north.id)

    result = await orders.process_orders([{"order_id": order.id}], actor)

    assert [f.code for f in result.failures] == [ErrorCode.INSUFFICIENT_STOCK]
    await orders.move_orders([order.id], default_location.id, actor)
    assert not (await orders.process_orders([{"order_id": order.id}], actor)).failures
    assert await levels_of("A", default_location.id) == (9, 0)
    assert await levels_of("A", north.id) == (0, 0)
    await assert_stock_consistent()


async def test_a_processed_order_cannot_be_edited_moved_cancelled_or_processed_again(default_location, north, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 2))
    await orders.process_orders([{"order_id": order.id}], actor)
    before = await db_state()

    with pytest.raises(ServiceError) as info:
        await orders.update_order(order.id, {"buyer_name": "Bob"}, actor)
    assert [(e.field, e.code) for e in info.value.errors] == [("id", ErrorCode.INVALID_TRANSITION)]
    for result in [
        await orders.move_orders([order.id], north.id, actor),
        await orders.cancel_orders([order.id], "Too late", actor),
        await orders.process_orders([{"order_id": order.id}], actor),
        await orders.set_locked([order.id], True, actor),
        await orders.set_status([order.id], OrderStatus.UNPAID, actor),
    ]:
        assert [(f.order_id, f.code) for f in result.failures] == [(order.id, ErrorCode.INVALID_TRANSITION)]
    await assert_unchanged_by(before)
    assert await Dispatch.filter(order_id=order.id).count() == 1


async def test_tags_and_notes_may_still_be_added_to_a_processed_order(default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    order = await make_order(actor, ("A", 2))
    await orders.process_orders([{"order_id": order.id}], actor)

    await orders.add_tags([order.id], ["returned-late"], actor)
    await order_notes.add_note(order.id, {"text": "Customer emailed"}, actor)

    assert await audit_kinds(order.id) == [AuditKind.ORDER_CREATED, AuditKind.PROCESSED, AuditKind.TAG_ADDED,
                                           AuditKind.NOTE_ADDED]  # fmt: skip


async def test_processing_writes_orders_in_one_statement_not_case_per_row(default_location, actor, count_queries):
    await make_item("BULK", actor, level=10, location_id=default_location.id)
    batch = [await make_order(actor, ("BULK", 1)) for _ in range(4)]
    with count_queries() as sent:
        result = await orders.process_orders(
            [{"order_id": o.id, "tracking_number": f"T{n}"} for n, o in enumerate(batch)], actor
        )
    assert len(result.orders) == 4
    updates = [s for s in sent.statements if s.lstrip().upper().startswith('UPDATE "ORDERS"') or
               s.lstrip().upper().startswith("UPDATE ORDERS")]  # fmt: skip
    # Each order has its own tracking number: still one statement (PostgreSQL: UPDATE ... FROM
    # unnest(...); SQLite: one executemany), neither one per order nor Tortoise's CASE form.
    assert len(updates) == 1, updates
    assert "CASE" not in updates[0].upper(), updates
    stored = {o.id: o for o in await Order.filter(id__in=[o.id for o in batch])}
    assert [stored[o.id].tracking_number for o in batch] == ["T0", "T1", "T2", "T3"]
    assert all(stored[o.id].state == OrderState.PROCESSED for o in batch)
