"""DataLoaders for orders (one query per request and loader, whatever the number of keys).

``allocation_by_order`` computes the FIFO stock allocation of a whole page of orders in one SQL
query; the rule is documented on :class:`StockAllocation`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from enum import Enum
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from orderdeck import db
from orderdeck.models import (
    Dispatch,
    Order,
    OrderItem,
    OrderNote,
    OrderProperty,
    OrderReturn,
    OrderReturnItem,
    OrderState,
    OrderTag,
)

M = TypeVar("M", bound=Model)


class StockAllocation(str, Enum):
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


def _by_id(model: type[M]) -> DataLoader[uuid.UUID, M | None]:
    async def load(ids: list[uuid.UUID]) -> list[M | None]:
        found = {row.id: row for row in await model.filter(id__in=set(ids))}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def _grouped(model: type[M], column: str, order_by: str) -> DataLoader[uuid.UUID, list[M]]:
    """Rows of ``model`` whose ``column`` is the key, in ``order_by`` order."""

    async def load(keys: list[uuid.UUID]) -> list[list[M]]:
        found: dict[Any, list[M]] = defaultdict(list)
        for row in await model.filter(**{f"{column}__in": set(keys)}).order_by(order_by):
            found[getattr(row, column)].append(row)
        return [found.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


def order_by_id() -> DataLoader[uuid.UUID, Order | None]:
    return _by_id(Order)


def order_item_by_id() -> DataLoader[uuid.UUID, OrderItem | None]:
    return _by_id(OrderItem)


def items_by_order() -> DataLoader[uuid.UUID, list[OrderItem]]:
    return _grouped(OrderItem, "order_id", "position")


def notes_by_order() -> DataLoader[uuid.UUID, list[OrderNote]]:
    return _grouped(OrderNote, "order_id", "created_at")


def properties_by_order() -> DataLoader[uuid.UUID, list[OrderProperty]]:
    return _grouped(OrderProperty, "order_id", "name")


def returns_by_order() -> DataLoader[uuid.UUID, list[OrderReturn]]:
    return _grouped(OrderReturn, "order_id", "created_at")


def items_by_return() -> DataLoader[uuid.UUID, list[OrderReturnItem]]:
    return _grouped(OrderReturnItem, "order_return_id", "id")


def resends_by_order() -> DataLoader[uuid.UUID, list[Order]]:
    return _grouped(Order, "original_order_id", "number")


def tags_by_order() -> DataLoader[uuid.UUID, list[str]]:
    async def load(ids: list[uuid.UUID]) -> list[list[str]]:
        found: dict[uuid.UUID, list[str]] = defaultdict(list)
        for tag in await OrderTag.filter(order_id__in=set(ids)).order_by("name"):
            found[tag.order_id].append(tag.name)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def dispatch_by_order() -> DataLoader[uuid.UUID, Dispatch | None]:
    async def load(ids: list[uuid.UUID]) -> list[Dispatch | None]:
        found = {d.order_id: d for d in await Dispatch.filter(order_id__in=set(ids))}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


# --- allocation ------------------------------------------------------------------------------

_ALLOCATION_SQL = """
WITH page_keys AS (
    SELECT DISTINCT oi.stock_item_id, o.location_id
    FROM order_item oi JOIN orders o ON o.id = oi.order_id
    WHERE oi.order_id IN ({ids}) AND oi.stock_item_id IS NOT NULL
),
demand AS (
    SELECT oi.order_id, oi.stock_item_id, o.location_id, o.received_at, o.number,
           SUM(oi.quantity) AS quantity
    FROM order_item oi
    JOIN orders o ON o.id = oi.order_id
    JOIN page_keys k ON k.stock_item_id = oi.stock_item_id AND k.location_id = o.location_id
    WHERE o.state = {open} AND NOT o.locked
    GROUP BY oi.order_id, oi.stock_item_id, o.location_id, o.received_at, o.number
),
queue AS (
    SELECT order_id, stock_item_id, location_id,
           SUM(quantity) OVER (PARTITION BY stock_item_id, location_id
                               ORDER BY received_at, number ROWS UNBOUNDED PRECEDING) AS running
    FROM demand
)
SELECT q.order_id,
       COUNT(*) AS linked,
       SUM(CASE WHEN q.running <= COALESCE(sl.level, 0) THEN 1 ELSE 0 END) AS covered
FROM queue q
LEFT JOIN stock_level sl ON sl.item_id = q.stock_item_id AND sl.location_id = q.location_id
WHERE q.order_id IN ({page_ids})
GROUP BY q.order_id
"""


def _sql_ids(ids: Iterable[uuid.UUID]) -> list[Any]:
    """UUID parameters as the dialect stores them (uuid on PostgreSQL, CHAR(36) text on SQLite)."""
    return list(ids) if db.dialect() == "postgres" else [str(i) for i in ids]


def allocation_by_order() -> DataLoader[uuid.UUID, StockAllocation]:
    """The FIFO StockAllocation of each order, for all keys in one query.

    Lines of one item in one order are summed first (one row per order and item), so the running
    total includes all of this order's quantity of the item, then the window accumulates over the
    queue of open, unlocked orders at that location.
    """

    async def load(ids: list[uuid.UUID]) -> list[StockAllocation]:
        keys = list(dict.fromkeys(ids))
        marks = db.placeholders(2 * len(keys) + 1)
        sql = _ALLOCATION_SQL.format(
            ids=", ".join(marks[: len(keys)]),
            open=marks[len(keys)],
            page_ids=", ".join(marks[len(keys) + 1 :]),
        )
        params = [*_sql_ids(keys), OrderState.OPEN.value, *_sql_ids(keys)]
        found: dict[uuid.UUID, StockAllocation] = {}
        for row in await db.fetch(sql, params):
            linked, covered = int(row["linked"]), int(row["covered"])
            found[uuid.UUID(str(row["order_id"]))] = (
                StockAllocation.FULL if covered == linked
                else StockAllocation.INSUFFICIENT if covered == 0
                else StockAllocation.PARTIAL
            )  # fmt: skip
        return [found.get(i, StockAllocation.NOT_ALLOCATED) for i in ids]

    return DataLoader(load_fn=load)
