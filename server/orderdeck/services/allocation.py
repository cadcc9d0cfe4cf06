"""The FIFO allocation rule: how much of an open order's linked stock its location can cover.

Within one (stock item, location) the open, unlocked orders form a queue by (received_at,
number), and running totals only grow along it: the lines the level covers are exactly a prefix
of the queue. The queue is the ``allocation`` table (one row per order and item at its location,
kept by :func:`record` from every allocation delta), and the prefix's last entry, the coverage
frontier, is stored on the ``stock_level`` row by :func:`move_frontiers`. Both run inside
``orderdeck.services.stock.apply_stock_changes``, under the level rows' locks, so a read needs
neither: :func:`allocation_of` joins a page's allocations with their levels, whatever the size of
the order book.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from orderdeck import db
from orderdeck.models import Allocation, Order, StockLevel
from orderdeck.services.context import transaction

if TYPE_CHECKING:
    from orderdeck.services.stock import StockChange


class AllocationState(str, Enum):
    """How much of an open order's linked stock its location can cover, first come first served.

    Within one (stock item, location), the open, unlocked orders are served in (received_at,
    number) order: a line is covered when the running total of that item's quantities, over the
    orders served up to and including this one, is at most the location's physical level.
    FULL: every linked line is covered; PARTIAL: some are; INSUFFICIENT: none is; NOT_ALLOCATED:
    the order has no linked lines, or it is locked, processed or cancelled (it holds no stock).
    """

    NOT_ALLOCATED = "NOT_ALLOCATED"
    INSUFFICIENT = "INSUFFICIENT"
    PARTIAL = "PARTIAL"
    FULL = "FULL"


AllocationKey = tuple[uuid.UUID, uuid.UUID, uuid.UUID]
"""(order id, stock item id, location id)."""

# The one definition of "covered": everything is when the level holds all that is allocated,
# otherwise the entries up to and including the frontier.
COVERED_SQL = (
    "(sl.allocated <= sl.level OR (sl.covered_through_number IS NOT NULL AND "
    "(a.received_at, a.order_number) <= (sl.covered_through_received_at, sl.covered_through_number)))"
)

_STATE_SQL = f"""
SELECT a.order_id, COUNT(*) AS linked, SUM(CASE WHEN {COVERED_SQL} THEN 1 ELSE 0 END) AS covered
FROM allocation a
JOIN stock_level sl ON sl.item_id = a.item_id AND sl.location_id = a.location_id
WHERE a.order_id IN ({{ids}})
GROUP BY a.order_id
"""

_SCAN_FIRST = 64
"""Queue entries read by the first step of a frontier scan (each further step reads 4x more)."""


def sql_ids(ids: Iterable[uuid.UUID]) -> list[Any]:
    """UUID parameters as the dialect stores them (uuid on PostgreSQL, CHAR(36) text on SQLite)."""
    return list(ids) if db.dialect() == "postgres" else [str(i) for i in ids]


def state_of(linked: int, covered: int) -> AllocationState:
    """The state of an order with ``linked`` allocations of which ``covered`` are covered."""
    if linked == 0:
        return AllocationState.NOT_ALLOCATED
    if covered == linked:
        return AllocationState.FULL
    return AllocationState.INSUFFICIENT if covered == 0 else AllocationState.PARTIAL


async def allocation_of(order_ids: list[uuid.UUID]) -> dict[uuid.UUID, AllocationState]:
    """The AllocationState of each order (orders that do not exist are NOT_ALLOCATED).

    Reads the orders' own allocations and their levels' frontiers: O(orders asked for).
    """
    keys = list(dict.fromkeys(order_ids))
    found = dict.fromkeys(keys, AllocationState.NOT_ALLOCATED)
    if not keys:
        return found
    sql = _STATE_SQL.format(ids=", ".join(db.placeholders(len(keys))))
    for row in await db.fetch(sql, sql_ids(keys)):
        found[uuid.UUID(str(row["order_id"]))] = state_of(int(row["linked"]), int(row["covered"]))
    return found


async def record(changes: Iterable[StockChange]) -> None:
    """Apply the allocation deltas of ``changes`` to the orders' allocation rows.

    Must run inside apply_stock_changes, under the lock of every touched level row. A delta that
    names no order, or would take an allocation below zero, is a programming error.
    """
    deltas: dict[AllocationKey, int] = defaultdict(int)
    queued: dict[uuid.UUID, tuple[datetime, int]] = {}
    for change in changes:
        if not change.allocated:
            continue
        if change.order_id is None:
            raise ValueError(f"an allocation change ({change.reason.value}) must name its order")
        deltas[(change.order_id, change.item_id, change.location_id)] += change.allocated
        if change.received_at is not None and change.order_number is not None:
            queued[change.order_id] = (change.received_at, change.order_number)
    deltas = {key: delta for key, delta in deltas.items() if delta}
    if not deltas:
        return
    order_ids = {key[0] for key in deltas}
    rows = await Allocation.filter(order_id__in=list(order_ids))
    existing = {(a.order_id, a.item_id, a.location_id): a for a in rows}
    new_keys = [key for key in deltas if key not in existing]
    unknown = {key[0] for key in new_keys} - queued.keys()
    if unknown:
        orders = await Order.filter(id__in=list(unknown)).values_list("id", "received_at", "number")
        queued |= {oid: (received, number) for oid, received, number in orders}

    created, emptied, updated = [], [], defaultdict(list)
    for key, delta in deltas.items():
        quantity = (existing[key].quantity if key in existing else 0) + delta
        if quantity < 0:
            raise ValueError(f"allocation of order {key[0]} for item {key[1]} would go below zero")
        if key not in existing:
            received_at, number = queued[key[0]]
            created.append(Allocation(order_id=key[0], item_id=key[1], location_id=key[2],
                                      received_at=received_at, order_number=number, quantity=quantity))  # fmt: skip
        elif quantity == 0:
            emptied.append(existing[key].id)
        else:
            updated[quantity].append(existing[key].id)
    if emptied:
        await Allocation.filter(id__in=emptied).delete()
    for quantity, ids in updated.items():
        await Allocation.filter(id__in=ids).update(quantity=quantity)
    if created:
        await Allocation.bulk_create(created)


async def move_frontiers(levels: Iterable[StockLevel]) -> None:
    """Recompute the coverage frontier of each (locked, up-to-date) level row.

    allocated <= level: everything is covered, no frontier is needed and no row is read.
    Otherwise the key's queue is read in order until the first entry the level no longer covers,
    so the scan reads about as many entries as are covered.
    """
    cleared: list[int] = []
    for row in levels:
        frontier = None if row.allocated <= row.level else await _frontier(row)
        current = (row.covered_through_received_at, row.covered_through_number)
        if frontier is None and current == (None, None):
            continue
        if frontier is None:
            cleared.append(row.id)
            row.covered_through_received_at = row.covered_through_number = None
            continue
        row.covered_through_received_at, row.covered_through_number = frontier
        mark = db.placeholders(3)
        await db.fetch(
            f"UPDATE stock_level SET covered_through_received_at = {mark[0]}, covered_through_number = {mark[1]} "
            f"WHERE id = {mark[2]}",
            [*frontier, row.id],
        )
    if cleared:
        marks = ", ".join(db.placeholders(len(cleared)))
        await db.fetch(
            "UPDATE stock_level SET covered_through_received_at = NULL, covered_through_number = NULL "
            f"WHERE id IN ({marks})",
            cleared,
        )


async def refresh_frontiers() -> None:
    """Recompute every level's coverage frontier, for tools that change levels by SQL and so
    bypass apply_stock_changes (bulk loads, benchmarks): one transaction, levels locked."""
    async with transaction():
        await move_frontiers(await StockLevel.all().order_by("id").select_for_update())


async def _frontier(level: StockLevel) -> tuple[Any, int] | None:
    """(received_at, order number) of the last queue entry ``level`` covers, or None.

    received_at is returned as the database gave it, so writing it back compares equal.
    """
    remaining, last, limit = level.level, None, _SCAN_FIRST
    key = sql_ids([level.item_id, level.location_id])
    while True:
        mark = db.placeholders(5)
        after = "" if last is None else f"AND (received_at, order_number) > ({mark[2]}, {mark[3]}) "
        params = [*key, *(last or ())]
        rows = await db.fetch(
            f"SELECT received_at, order_number, quantity FROM allocation "
            f"WHERE item_id = {mark[0]} AND location_id = {mark[1]} {after}"
            f"ORDER BY received_at, order_number LIMIT {limit}",
            params,
        )
        for row in rows:
            remaining -= row["quantity"]
            if remaining < 0:
                return last
            last = (row["received_at"], row["order_number"])
        if len(rows) < limit:
            return last
        limit *= 4
