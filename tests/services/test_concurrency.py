"""Concurrency on PostgreSQL: many service calls at once, each in its own transaction on its own
pooled connection. The invariants must hold whatever order the database serialises them in."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import pytest

from tests.services.helpers import (
    assert_stock_consistent,
    assert_tags_carry_their_orders_keys,
    levels_of,
    make_item,
    make_order,
)
from orderdeck.models import (
    Location,
    AuditEntry,
    AuditKind,
    Dispatch,
    Order,
    OrderItem,
    OrderState,
    StockChangeReason,
    StockLedgerEntry,
)
from orderdeck.services import locations, orders, stock
from orderdeck.services.context import transaction
from orderdeck.services.orders import create
from orderdeck.services.orders.common import next_numbers
from orderdeck.services.errors import ErrorCode, ServiceError

TIMEOUT = 120


async def together(calls: list[Awaitable[Any]], *, exceptions: bool = False) -> list[Any]:
    """Run calls concurrently (a deadlock or a starved pool fails the test instead of hanging)."""
    return await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=exceptions), TIMEOUT)


@pytest.fixture
async def fifty_orders(postgres_only, default_location, actor) -> list[Order]:
    """50 one-unit orders of A, placed concurrently, where only 20 A are in stock."""
    await make_item("A", actor, level=20, location_id=default_location.id)
    return await together([make_order(actor, ("A", 1)) for _ in range(50)])


async def test_concurrent_orders_are_all_accepted_when_stock_is_short(default_location, fifty_orders):
    assert await Order.filter(state=OrderState.OPEN).count() == 50
    assert await levels_of("A", default_location.id) == (20, 50)
    numbers = sorted(o.number for o in fifty_orders)
    assert numbers == list(range(numbers[0], numbers[0] + 50))
    assert sorted(await Order.all().values_list("number", flat=True)) == numbers
    assert await StockLedgerEntry.filter(reason=StockChangeReason.ORDER_CREATED).count() == 50
    await assert_stock_consistent()


async def test_concurrent_processing_ships_exactly_what_is_in_stock(default_location, fifty_orders, actor):
    results = await together([orders.process_orders([{"order_id": o.id}], actor) for o in fifty_orders])

    shipped = [o.id for r in results for o in r.orders]
    skipped = [f.code for r in results for f in r.failures]
    assert len(shipped) == 20 and len(set(shipped)) == 20
    assert skipped == [ErrorCode.INSUFFICIENT_STOCK] * 30
    assert await Order.filter(state=OrderState.PROCESSED).count() == 20
    assert await Dispatch.all().count() == 20
    assert await levels_of("A", default_location.id) == (0, 30)
    processed = await StockLedgerEntry.filter(reason=StockChangeReason.ORDER_PROCESSED)
    assert sum(e.level_after - e.level_before for e in processed) == -20
    assert sorted(e.order_id for e in processed) == sorted(shipped)
    await assert_stock_consistent()


async def test_racing_process_move_edit_cancel_and_lock_leave_each_order_in_one_state(postgres_only, default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("A", actor, level=100, location_id=default_location.id)
    await stock.set_stock_levels({"levels": [{"sku": "A", "location_id": north.id, "quantity": 100}]}, actor)
    placed = [await make_order(actor, ("A", 2), tags=["gift"] if n % 2 else []) for n in range(30)]
    ids = [o.id for o in placed]

    calls: list[Awaitable[Any]] = []
    tag_calls: list[Awaitable[Any]] = []
    for oid in ids:
        calls += [
            orders.process_orders([{"order_id": oid}], actor),
            orders.move_orders([oid], north.id, actor),
            orders.cancel_orders([oid], "Race", actor),
            orders.set_locked([oid], True, actor),
            orders.set_locked([oid], False, actor),
            orders.update_order(oid, {"items": [{"sku": "A", "quantity": 3}]}, actor),
            # tags carry a copy of the state and despatch-by date, raced by the writes here
            orders.update_order(oid, {"despatch_by_at": datetime(2026, 7, 1, tzinfo=timezone.utc)}, actor),
        ]
        tag_calls += [asyncio.ensure_future(orders.add_tags([oid], ["race"], actor)),
                      asyncio.ensure_future(orders.remove_tags([oid], ["gift"], actor))]  # fmt: skip
    calls += [  # batches over the same orders, in both directions
        orders.move_orders(ids[::2], north.id, actor),
        orders.move_orders(ids[::3], default_location.id, actor),
        orders.process_orders([{"order_id": oid} for oid in ids[::-1]], actor),
    ]
    random.Random(7).shuffle(calls)
    results = await together(calls, exceptions=True)
    assert all(r.orders for r in await together(tag_calls))  # raced the calls above (started with them)

    # an edit may be refused (the order was locked, processed or cancelled by then); nothing else fails
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, ServiceError) and [x.code for x in e.errors] == [ErrorCode.INVALID_TRANSITION]
               for e in errors), errors  # fmt: skip
    batches = [r for r in results if isinstance(r, orders.BatchResult)]
    processed_by = Counter(o.id for r in batches for o in r.orders if o.state == OrderState.PROCESSED)
    cancelled_by = Counter(o.id for r in batches for o in r.orders if o.state == OrderState.CANCELLED)
    stored = {o.id: o for o in await Order.filter(id__in=ids)}
    shipped_from: Counter = Counter()
    for oid in ids:
        order = stored[oid]
        # every order was cancelled unless it was processed first: nothing stays open
        assert order.state in (OrderState.PROCESSED, OrderState.CANCELLED)
        processed = order.state == OrderState.PROCESSED
        assert (processed_by[oid], cancelled_by[oid]) == ((1, 0) if processed else (0, 1))
        kinds = Counter(await AuditEntry.filter(subject_id=oid).values_list("kind", flat=True))
        assert (kinds[AuditKind.PROCESSED], kinds[AuditKind.CANCELLED]) == ((1, 0) if processed else (0, 1))
        assert await Dispatch.filter(order_id=oid).count() == (1 if processed else 0)
        assert (order.processed_at is not None, order.cancelled_at is not None) == (processed, not processed)
        # its own ledger rows: reserved and released exactly once overall, its final quantity taken
        # from the level once if shipped
        [quantity] = await OrderItem.filter(order_id=oid).values_list("quantity", flat=True)
        rows = await StockLedgerEntry.filter(order_id=oid)
        assert sum(e.allocated_after - e.allocated_before for e in rows) == 0
        assert sum(e.level_after - e.level_before for e in rows) == (-quantity if processed else 0)
        if processed:
            shipped_from[order.location_id] += quantity
    assert await levels_of("A", default_location.id) == (100 - shipped_from[default_location.id], 0)
    assert await levels_of("A", north.id) == (100 - shipped_from[north.id], 0)
    await assert_stock_consistent()
    assert await assert_tags_carry_their_orders_keys() == 30  # each order's "race" tag; "gift" removed


async def test_concurrent_moves_into_a_location_without_stock_rows(postgres_only, default_location, actor):
    north = await locations.create_location("North", actor)
    for sku in ("A", "B", "C"):
        await make_item(sku, actor, level=10, location_id=default_location.id)
    placed = [await make_order(actor, *[(sku, 1) for sku in random.Random(n).sample("ABC", 2)]) for n in range(24)]

    results = await together([orders.move_orders([o.id], north.id, actor) for o in placed]
                             + [orders.move_orders([o.id for o in placed[::-1]], north.id, actor)])  # fmt: skip

    assert sum(len(r.orders) for r in results) == 24
    assert await Order.filter(location_id=north.id).count() == 24
    for sku in ("A", "B", "C"):
        assert (await levels_of(sku, default_location.id))[1] == 0
    assert sum([(await levels_of(sku, north.id))[1] for sku in ("A", "B", "C")]) == 48
    await assert_stock_consistent()


async def test_racing_orders_with_one_reference_create_exactly_one(postgres_only, default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    data = {"reference": "WEB-1", "items": [{"sku": "A", "quantity": 1}]}

    results = await together([orders.create_direct_order(dict(data), actor) for _ in range(10)], exceptions=True)

    created = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if not isinstance(r, Order)]
    assert len(created) == 1
    assert all(isinstance(r, ServiceError) for r in refused), refused
    assert {(e.field, e.code) for r in refused for e in r.errors} == {("reference", ErrorCode.DUPLICATE)}
    assert await Order.all().count() == 1
    assert await levels_of("A", default_location.id) == (5, 1)
    # numbers stay unique and increasing; on PostgreSQL the refused ones' numbers are gaps (a sequence)
    assert (await make_order(actor, ("A", 1))).number > created[0].number
    await assert_stock_consistent()


async def test_a_duplicate_only_the_unique_index_catches_is_still_a_duplicate(default_location, actor, monkeypatch):
    """The window between the reference check and the insert: the index decides, and the caller
    gets the same DUPLICATE error (runs on both backends, by skipping the early check)."""
    await make_item("A", actor, level=5, location_id=default_location.id)
    await make_order(actor, ("A", 1), reference="WEB-1")

    async def no_early_check(*args: object) -> None:
        return None

    monkeypatch.setattr(create, "_refuse_existing_references", no_early_check)
    with pytest.raises(ServiceError) as info:
        await make_order(actor, ("A", 1), reference="WEB-1")

    assert [(e.field, e.code) for e in info.value.errors] == [("reference", ErrorCode.DUPLICATE)]
    assert await Order.all().count() == 1
    assert await levels_of("A", default_location.id) == (5, 1)
    await assert_stock_consistent()


async def test_concurrent_adjustments_lose_no_update(postgres_only, default_location, actor):
    await make_item("A", actor, level=100, location_id=default_location.id)

    def adjust(quantity: int) -> Awaitable[Any]:
        return stock.adjust_stock_levels(
            {"levels": [{"sku": "A", "location_id": default_location.id, "quantity": quantity}]}, actor
        )

    calls = [adjust(3) for _ in range(40)] + [adjust(-2) for _ in range(20)]
    random.Random(3).shuffle(calls)
    await together(calls)

    assert await levels_of("A", default_location.id) == (100 + 40 * 3 - 20 * 2, 0)
    await assert_stock_consistent()


async def test_concurrent_sets_adjustments_and_orders_lose_no_update(postgres_only, default_location, actor):
    await make_item("A", actor, level=10, location_id=default_location.id)
    where = default_location.id
    calls: list[Awaitable[Any]] = [
        stock.set_stock_levels({"levels": [{"sku": "A", "location_id": where, "quantity": 50}]}, actor) for _ in range(5)
    ]
    calls += [stock.adjust_stock_levels({"levels": [{"sku": "A", "location_id": where, "quantity": 1}]}, actor)
              for _ in range(30)]  # fmt: skip
    calls += [make_order(actor, ("A", 1)) for _ in range(20)]
    random.Random(5).shuffle(calls)

    await together(calls)

    ledger = await StockLedgerEntry.filter(item__sku="A").order_by("id")
    last_set = max(e.id for e in ledger if e.reason == StockChangeReason.LEVEL_SET and e.level_after == 50)
    adjusted_after = sum(1 for e in ledger if e.reason == StockChangeReason.LEVEL_ADJUSTED and e.id > last_set)
    assert await levels_of("A", where) == (50 + adjusted_after, 20)
    assert sum(1 for e in ledger if e.reason == StockChangeReason.LEVEL_ADJUSTED) == 30
    await assert_stock_consistent()  # the ledger chains without a gap: no write was lost


async def test_concurrent_make_default_leaves_exactly_one_default(postgres_only, default_location, actor):
    created = [await locations.create_location(f"Warehouse {n}", actor) for n in range(6)]
    await asyncio.wait_for(
        asyncio.gather(*(locations.set_default_location(loc.id, actor) for loc in created * 3)), TIMEOUT
    )
    assert await Location.filter(is_default=True).count() == 1


async def test_two_starts_on_an_empty_database_make_one_default_location(postgres_only):
    await Location.all().delete()
    results = await asyncio.gather(*(locations.ensure_default_location() for _ in range(5)))
    assert len({loc.id for loc in results}) == 1
    assert await Location.all().count() == 1


async def test_deleting_a_location_while_orders_arrive_or_move_there(postgres_only, default_location, actor):
    """Either the delete wins (the order is refused: NOT_FOUND) or the order does (the delete is
    refused: IN_USE); never a foreign-key error, never an order at a deleted location."""
    await make_item("A", actor)
    waiting = await make_order(actor, ("A", 1))
    outcomes = []
    for n in range(12):
        target = await locations.create_location(f"Pop-up {n}", actor)
        place = (orders.create_direct_order({"location_id": target.id, "items": [{"sku": "A", "quantity": 1}]}, actor)
                 if n % 2 else orders.move_orders([waiting.id], target.id, actor))  # fmt: skip
        results = await asyncio.wait_for(
            asyncio.gather(place, locations.delete_location(target.id, actor), return_exceptions=True), TIMEOUT
        )
        for result in results:
            if isinstance(result, BaseException):
                assert isinstance(result, ServiceError), repr(result)
                outcomes.append(result.errors[0].code)
        if await Location.exists(id=target.id):
            await orders.move_orders([waiting.id], default_location.id, actor)
    assert await Order.filter(location_id__not_in=await Location.all().values_list("id", flat=True)).count() == 0
    assert set(outcomes) <= {ErrorCode.NOT_FOUND, ErrorCode.IN_USE}
    await assert_stock_consistent()


async def test_order_numbers_do_not_wait_for_another_creation_to_commit(postgres_only, default_location, actor):
    await make_item("N", actor, level=5, location_id=default_location.id)
    with pytest.raises(ZeroDivisionError):
        async with transaction():  # a creation that has taken its numbers and not committed yet
            first = await next_numbers(10)
            other = await asyncio.wait_for(make_order(actor, ("N", 1)), 10)  # own transaction, own connection
            assert other.number == first + 10
            1 / 0  # then rolls back
    batches = await together([orders.create_orders([{"items": [{"sku": "N", "quantity": 1}]}] * size, actor)
                              for size in (1, 3, 7, 2, 5, 1, 4, 6)])  # fmt: skip
    numbers = [o.number for batch in batches for o in batch]
    assert len(set(numbers)) == len(numbers) == 29
    for batch in batches:  # each batch's numbers are consecutive
        assert [o.number for o in batch] == list(range(batch[0].number, batch[0].number + len(batch)))
    assert min(numbers) == first + 11  # the rolled-back block is a gap, never reused
