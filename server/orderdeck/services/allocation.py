"""The FIFO allocation rule: how much of an open order's linked stock its location can cover.

Within one (stock item, location) the open, unlocked orders form a queue by (received_at,
number), and running totals only grow along it: the lines the level covers are exactly a prefix
of the queue. The queue is the ``allocation`` table (one row per order and item at its location,
kept by :func:`record` from every allocation delta), and the prefix's last entry, the coverage
frontier, is stored on the ``stock_level`` row with the quantity it covers by
:func:`move_frontiers`. Both run inside ``orderdeck.services.stock.apply_stock_changes``, under
the level rows' locks, so a read needs neither: :func:`allocation_of` joins a page's allocations
with their levels, whatever the size of the order book. A write moves a frontier from where it
was, reading only the queue entries it passes, so its cost does not grow with the queue either.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from orderdeck import db
from orderdeck.models import Allocation, Order, StockLevel
from orderdeck.services.bulk import insert_rows
from orderdeck.services.context import save_fields, transaction

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

Position = tuple[datetime, int]
"""A place in a queue: (received_at, order number)."""

QueueMoves = dict[tuple[uuid.UUID, uuid.UUID], list[tuple[Position, int]]]
"""Per (stock item id, location id): the allocation deltas applied to its queue, with their places."""


@dataclass(frozen=True)
class Frontier:
    """Where a short level's coverage ends: the last covered place (None: nothing is covered) and
    the quantity of the entries up to it."""

    through: Position | None
    covered: int

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
WHERE {{orders}}
GROUP BY a.order_id
"""

_SCAN_FIRST = 64
"""Queue entries read by the first step of a frontier scan (each further step reads 4x more)."""


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
    where, params = db.one_of("a.order_id", db.sql_ids(keys))
    for row in await db.fetch(_STATE_SQL.format(orders=where), params):
        found[db.uuid_of(row["order_id"])] = state_of(int(row["linked"]), int(row["covered"]))
    return found


async def record(changes: Iterable[StockChange]) -> QueueMoves:
    """Apply the allocation deltas of ``changes`` to the orders' allocation rows; return each
    queue's deltas with their places (for :func:`move_frontiers`).

    Must run inside apply_stock_changes, under the lock of every touched level row. A delta that
    names no order, or would take an allocation below zero, is a programming error.
    """
    deltas: dict[AllocationKey, int] = defaultdict(int)
    queued: dict[uuid.UUID, tuple[datetime, int]] = {}
    new_orders: set[uuid.UUID] = set()
    for change in changes:
        if not change.allocated:
            continue
        if change.order_id is None:
            raise ValueError(f"an allocation change ({change.reason.value}) must name its order")
        deltas[(change.order_id, change.item_id, change.location_id)] += change.allocated
        if change.received_at is not None and change.order_number is not None:
            queued[change.order_id] = (change.received_at, change.order_number)
        if change.new_order:
            new_orders.add(change.order_id)
    deltas = {key: delta for key, delta in deltas.items() if delta}
    if not deltas:
        return {}
    existing = await _allocations({key[0] for key in deltas} - new_orders)
    new_keys = [key for key in deltas if key not in existing]
    unknown = {key[0] for key in new_keys} - queued.keys()
    if unknown:
        orders = await Order.filter(id__in=list(unknown)).values_list("id", "received_at", "number")
        queued |= {oid: (received, number) for oid, received, number in orders}

    created: list[dict[str, Any]] = []
    emptied, updated = [], defaultdict(list)
    moves: QueueMoves = defaultdict(list)
    for key, delta in deltas.items():
        entry = existing.get(key)
        quantity = (entry.quantity if entry else 0) + delta
        if quantity < 0:
            raise ValueError(f"allocation of order {key[0]} for item {key[1]} would go below zero")
        place = (entry.received_at, entry.order_number) if entry else queued[key[0]]
        moves[(key[1], key[2])].append((place, delta))
        if entry is None:
            received_at, number = place
            created.append({"order_id": key[0], "item_id": key[1], "location_id": key[2],
                            "received_at": received_at, "order_number": number, "quantity": quantity})  # fmt: skip
        elif quantity == 0:
            emptied.append(entry.id)
        else:
            updated[quantity].append(entry.id)
    if emptied:
        await Allocation.filter(id__in=emptied).delete()
    for quantity, ids in updated.items():
        await Allocation.filter(id__in=ids).update(quantity=quantity)
    await insert_rows(Allocation, created)
    return moves


class _Entry(NamedTuple):
    """An allocation row as record() needs it."""

    id: int
    received_at: datetime
    order_number: int
    quantity: int


async def _allocations(order_ids: set[uuid.UUID]) -> dict[AllocationKey, _Entry]:
    """The allocation rows of these orders, by (order, item, location), as plain values."""
    if not order_ids:
        return {}
    where, params = db.one_of("order_id", db.sql_ids(order_ids))
    rows = await db.fetch(
        f"SELECT id, order_id, item_id, location_id, received_at, order_number, quantity FROM allocation WHERE {where}",
        params,
    )
    to_python = Allocation._meta.fields_map["received_at"].to_python_value
    return {
        (db.uuid_of(row["order_id"]), db.uuid_of(row["item_id"]), db.uuid_of(row["location_id"])):
            _Entry(row["id"], to_python(row["received_at"]), row["order_number"], row["quantity"])
        for row in rows
    }  # fmt: skip


async def move_frontiers(levels: Iterable[tuple[StockLevel, int, int]], moves: QueueMoves) -> None:
    """Move the coverage frontier of each (locked, up-to-date) level row, given with its level
    and allocated before the change, after ``moves`` changed its queue.

    allocated <= level: everything is covered, no frontier is kept and no entry is read.
    Otherwise the frontier moves from where it was: back past the entries the level no longer
    covers, or on past those it now covers. Processing covered orders (as much leaves the level
    as leaves the covered entries) reads nothing; a new order at the end of a short queue reads
    the entry after the frontier.
    """
    moved: list[StockLevel] = []
    for row, level_before, allocated_before in levels:
        queue_moves = moves.get((row.item_id, row.location_id), [])
        if _keep(row, await _moved_frontier(row, level_before, allocated_before, queue_moves)):
            moved.append(row)
    await save_fields(moved, FRONTIER_FIELDS)


async def _moved_frontier(
    row: StockLevel, level_before: int, allocated_before: int, moves: list[tuple[Position, int]]
) -> Frontier:
    """The frontier of ``row`` after ``moves``, found from the one it had before them."""
    if row.allocated <= row.level:
        return Frontier(None, 0)
    if allocated_before <= level_before:  # everything was covered: come back from the queue's end
        return await _back(row, None, row.allocated)
    before = _stored(row)
    covered = before.covered + sum(delta for place, delta in moves if _within(place, before.through))
    if covered > row.level:
        return await _back(row, before.through, covered)
    grew = row.level - covered > level_before - before.covered
    if grew or any(not _within(place, before.through) for place, _ in moves):
        return await _on(row, before.through, covered)
    return Frontier(before.through, covered)


FRONTIER_FIELDS = ["covered_through_received_at", "covered_through_number", "covered_quantity"]


def _keep(row: StockLevel, frontier: Frontier) -> bool:
    """Set ``frontier`` on ``row``; whether that changed it."""
    received_at, number = frontier.through or (None, None)
    if (row.covered_through_received_at, row.covered_through_number, row.covered_quantity) == (
        received_at, number, frontier.covered
    ):
        return False
    row.covered_through_received_at, row.covered_through_number = received_at, number
    row.covered_quantity = frontier.covered
    return True


def _stored(row: StockLevel) -> Frontier:
    if row.covered_through_number is None:
        return Frontier(None, 0)
    return Frontier((row.covered_through_received_at, row.covered_through_number), row.covered_quantity)


def _within(place: Position, through: Position | None) -> bool:
    return through is not None and place <= through


async def _entries(row: StockLevel, bound: Position | None, backwards: bool) -> AsyncIterator[tuple[Position, int]]:
    """The (place, quantity) of the queue entries of ``row``'s key after ``bound`` (going back:
    up to and including it; None: from the queue's start or end), read in steps of growing size."""
    key = db.sql_ids([row.item_id, row.location_id])
    to_python = Allocation._meta.fields_map["received_at"].to_python_value
    limit, direction = _SCAN_FIRST, "DESC" if backwards else "ASC"
    compare = "<=" if backwards else ">"
    while True:
        mark = db.placeholders(4)
        after = "" if bound is None else f"AND (received_at, order_number) {compare} ({mark[2]}, {mark[3]}) "
        rows = await db.fetch(
            f"SELECT received_at, order_number, quantity FROM allocation "
            f"WHERE item_id = {mark[0]} AND location_id = {mark[1]} {after}"
            f"ORDER BY received_at {direction}, order_number {direction} LIMIT {limit}",
            [*key, *(bound or ())],
        )
        for entry in rows:
            yield (to_python(entry["received_at"]), entry["order_number"]), entry["quantity"]
        if len(rows) < limit:
            return
        bound, limit, compare = (rows[-1]["received_at"], rows[-1]["order_number"]), limit * 4, compare[0]


async def _back(row: StockLevel, through: Position | None, covered: int) -> Frontier:
    """Walk back from ``through`` (None: the queue's end), whose entries hold ``covered``, until
    the level covers what is left."""
    async for place, quantity in _entries(row, through, backwards=True):
        if covered <= row.level:
            return Frontier(place, covered)
        covered -= quantity
    return Frontier(None, 0)


async def _on(row: StockLevel, through: Position | None, covered: int) -> Frontier:
    """Walk on from ``through`` (None: the queue's start), whose entries hold ``covered``, while
    the level covers the next entry too."""
    async for place, quantity in _entries(row, through, backwards=False):
        if covered + quantity > row.level:
            break
        covered, through = covered + quantity, place
    return Frontier(through, covered)


async def refresh_frontiers() -> None:
    """Recompute every level's coverage frontier from its queue's start, for tools that change
    levels by SQL and so bypass apply_stock_changes (bulk loads, benchmarks): one transaction,
    levels locked."""
    async with transaction():
        moved = []
        for row in await StockLevel.all().order_by("id").select_for_update():
            if _keep(row, Frontier(None, 0) if row.allocated <= row.level else await _on(row, None, 0)):
                moved.append(row)
        await save_fields(moved, FRONTIER_FIELDS)
