"""Stock items, levels (absolute and delta), minimum levels, and the consistency check itself."""

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
)
from orderdeck import db
from orderdeck.models import AuditEntry, AuditKind, StockItem, StockLedgerEntry, StockLevel
from orderdeck.services import locations, orders, stock
from orderdeck.services.errors import ErrorCode


def levels(location_id: uuid.UUID, reason: str = "", **by_sku: int) -> dict:
    """A level-change input: quantities by SKU at one location."""
    return {"levels": [{"sku": s, "location_id": location_id, "quantity": q} for s, q in by_sku.items()],
            "reason": reason}  # fmt: skip


# --- stock items -----------------------------------------------------------------------------


async def test_create_stock_item(database, actor):
    item = await stock.create_stock_item({"sku": " MUG-1 ", "title": "Mug", "barcode": "5012345678900",
                                          "weight": "0.350", "unit_price": "4.99"}, actor)  # fmt: skip

    stored = await StockItem.get(id=item.id)
    assert (stored.sku, stored.title, str(stored.weight), str(stored.unit_price)) == ("MUG-1", "Mug", "0.350", "4.99")
    assert await audit_kinds(item.id) == [AuditKind.STOCK_ITEM_CREATED]
    assert (await AuditEntry.get(subject_id=item.id)).after["sku"] == "MUG-1"


async def test_a_duplicate_sku_is_refused(database, actor):
    await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, actor)

    async with refused("sku", ErrorCode.DUPLICATE):
        await stock.create_stock_item({"sku": "MUG", "title": "Another mug"}, actor)


async def test_update_stock_item_and_refuse_taking_another_items_sku(database, actor):
    mug = await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, actor)
    await stock.create_stock_item({"sku": "CUP", "title": "Cup"}, actor)

    await stock.update_stock_item(mug.id, {"title": "Big mug", "sku": "MUG-L", "unit_price": "6.00"}, actor)

    stored = await StockItem.get(id=mug.id)
    assert (stored.sku, stored.title, str(stored.unit_price)) == ("MUG-L", "Big mug", "6.00")
    entry = await AuditEntry.get(kind=AuditKind.STOCK_ITEM_UPDATED)
    assert (entry.before["sku"], entry.after["sku"], entry.actor) == ("MUG", "MUG-L", "tester")
    async with refused("sku", ErrorCode.DUPLICATE):
        await stock.update_stock_item(mug.id, {"sku": "CUP"}, actor)
    async with refused("title", ErrorCode.INVALID):
        await stock.update_stock_item(mug.id, {"title": None}, actor)
    async with refused("id", ErrorCode.NOT_FOUND):
        await stock.update_stock_item(uuid.uuid4(), {"title": "Ghost"}, actor)


# --- levels ----------------------------------------------------------------------------------


async def test_set_levels_is_absolute_and_ledgered_with_its_reason(default_location, actor):
    mug = await make_item("MUG", actor)

    await stock.set_stock_levels(levels(default_location.id, "Stock count", MUG=12), actor)
    await stock.set_stock_levels(levels(default_location.id, "Recount", MUG=9), actor)

    assert await levels_of("MUG", default_location.id) == (9, 0)
    assert await ledger_reasons("MUG") == [("LEVEL_SET", 12, 0), ("LEVEL_SET", -3, 0)]
    assert [e.note for e in await StockLedgerEntry.all().order_by("id")] == ["Stock count", "Recount"]
    assert await audit_kinds(mug.id) == [AuditKind.STOCK_ITEM_CREATED, AuditKind.STOCK_LEVEL_SET, AuditKind.STOCK_LEVEL_SET]
    last = (await AuditEntry.filter(kind=AuditKind.STOCK_LEVEL_SET).order_by("id"))[-1]
    assert (last.before["level"], last.after["level"], last.note) == (12, 9, "MUG: Recount")
    await assert_stock_consistent()


async def test_adjust_adds_and_removes_and_never_goes_below_zero(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)

    await stock.adjust_stock_levels(levels(default_location.id, "Delivery", MUG=4), actor)
    await stock.adjust_stock_levels(levels(default_location.id, "Breakage", MUG=-9), actor)

    assert await levels_of("MUG", default_location.id) == (0, 0)
    assert await ledger_reasons("MUG") == [("LEVEL_SET", 5, 0), ("LEVEL_ADJUSTED", 4, 0), ("LEVEL_ADJUSTED", -9, 0)]
    async with refused("levels.0.quantity", ErrorCode.INVALID):
        await stock.adjust_stock_levels(levels(default_location.id, "Too much", MUG=-1), actor)
    async with refused("levels.0.quantity", ErrorCode.INVALID):
        await stock.set_stock_levels(levels(default_location.id, "Negative", MUG=-1), actor)


async def test_a_level_may_fall_below_what_orders_hold(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    await make_order(actor, ("MUG", 4))

    await stock.set_stock_levels(levels(default_location.id, "Recount", MUG=1), actor)

    row = await StockLevel.get(item__sku="MUG", location_id=default_location.id)
    assert (row.level, row.allocated, row.available) == (1, 4, -3)
    await assert_stock_consistent()


async def test_a_batch_with_one_bad_row_writes_nothing(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    await make_item("CUP", actor, level=1, location_id=default_location.id)

    async with refused("levels.1.quantity", ErrorCode.INVALID):
        await stock.adjust_stock_levels(levels(default_location.id, "Mixed", MUG=3, CUP=-2), actor)
    async with refused("levels.1.sku", ErrorCode.NOT_FOUND):
        await stock.set_stock_levels(levels(default_location.id, "Typo", MUG=3, MUGG=2), actor)
    async with refused("levels.0.locationId", ErrorCode.NOT_FOUND):
        await stock.set_stock_levels(levels(uuid.uuid4(), "Nowhere", MUG=3), actor)
    async with refused("levels", ErrorCode.INVALID):
        await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": 1},
                                                 {"sku": "MUG", "location_id": default_location.id, "quantity": 2}]},
                                     actor)  # fmt: skip


async def test_levels_are_kept_per_location(default_location, actor):
    north = await locations.create_location("North", actor)
    await make_item("MUG", actor)

    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": 3},
                                             {"sku": "MUG", "location_id": north.id, "quantity": 8}]}, actor)  # fmt: skip

    assert await levels_of("MUG", default_location.id) == (3, 0)
    assert await levels_of("MUG", north.id) == (8, 0)
    await assert_stock_consistent()


async def test_minimum_level(default_location, actor):
    mug = await make_item("MUG", actor, level=5, location_id=default_location.id)

    await stock.set_minimum_level("MUG", default_location.id, 3, actor)

    row = await StockLevel.get(item_id=mug.id, location_id=default_location.id)
    assert (row.level, row.minimum_level) == (5, 3)
    entry = await AuditEntry.get(kind=AuditKind.MINIMUM_LEVEL_SET)
    assert (entry.before["minimumLevel"], entry.after["minimumLevel"], entry.actor) == (0, 3, "tester")
    async with refused("minimumLevel", ErrorCode.INVALID):
        await stock.set_minimum_level("MUG", default_location.id, -1, actor)
    async with refused("sku", ErrorCode.NOT_FOUND):
        await stock.set_minimum_level("NOPE", default_location.id, 1, actor)
    async with refused("sku", ErrorCode.INVALID):
        await stock.set_minimum_level(" ", default_location.id, 1, actor)
    async with refused("locationId", ErrorCode.NOT_FOUND):
        await stock.set_minimum_level("MUG", uuid.uuid4(), 1, actor)


# --- the consistency check can fail ------------------------------------------------------------


async def test_consistency_check_catches_an_allocation_that_drifted(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    await make_order(actor, ("MUG", 2))
    await assert_stock_consistent()

    await StockLevel.filter(item__sku="MUG").update(allocated=3)

    with pytest.raises(AssertionError, match="open unlocked orders hold 2"):
        await assert_stock_consistent()


async def test_consistency_check_catches_a_change_without_a_ledger_row(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)

    await StockLevel.filter(item__sku="MUG").update(level=6)

    with pytest.raises(AssertionError, match="ledger ends at"):
        await assert_stock_consistent()


async def test_consistency_check_catches_a_broken_ledger_chain(default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    await stock.adjust_stock_levels(levels(default_location.id, "", MUG=1), actor)

    first = await StockLedgerEntry.filter().order_by("id").first()
    mark = db.placeholders(1)[0]
    await db.fetch(f"UPDATE stock_ledger SET level_after = level_after + 1 WHERE id = {mark} RETURNING id", [first.id])

    with pytest.raises(AssertionError, match="starts at"):
        await assert_stock_consistent()


async def test_consistency_check_counts_locked_orders_as_holding_nothing(default_location, actor):
    from orderdeck.services import orders

    await make_item("MUG", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("MUG", 2))
    await orders.set_locked([order.id], True, actor)
    await assert_stock_consistent()

    await db.fetch("UPDATE orders SET locked = " + ("false" if db.dialect() == "postgres" else "0") + " RETURNING id", [])

    with pytest.raises(AssertionError, match="allocated 0, open unlocked orders hold 2"):
        await assert_stock_consistent()


async def test_an_order_of_500_distinct_lines_reserves_and_releases(default_location, actor):
    """Stock rows are locked with one flat condition per location, however many items (a condition per
    (item, location) pair nested past Python's recursion limit at about 480 pairs)."""
    await StockItem.bulk_create([StockItem(sku=f"BULK-{n:03}", title=f"Bulk {n}") for n in range(500)])
    order = await orders.create_direct_order({"items": [{"sku": f"BULK-{n:03}", "quantity": 2} for n in range(500)]}, actor)
    assert await StockLevel.filter(allocated=2).count() == 500
    result = await orders.cancel_orders([order.id], "Too big", actor)
    assert not result.failures
    assert await StockLevel.filter(allocated=0).count() == 500
    await assert_stock_consistent()
