"""The FIFO allocation rule: how much of an open order's linked stock its location can cover.

A read, in one SQL query whatever the number of orders; it changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import Enum
from typing import Any

from orderdeck import db
from orderdeck.models import OrderState


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


async def allocation_of(order_ids: list[uuid.UUID]) -> dict[uuid.UUID, AllocationState]:
    """The AllocationState of each order (orders that do not exist are NOT_ALLOCATED).

    Lines of one item in one order are summed first (one row per order and item), so the running
    total includes all of this order's quantity of the item; then the window accumulates over the
    queue of open, unlocked orders at that location.
    """
    keys = list(dict.fromkeys(order_ids))
    found = dict.fromkeys(keys, AllocationState.NOT_ALLOCATED)
    if not keys:
        return found
    marks = db.placeholders(2 * len(keys) + 1)
    sql = _ALLOCATION_SQL.format(
        ids=", ".join(marks[: len(keys)]),
        open=marks[len(keys)],
        page_ids=", ".join(marks[len(keys) + 1 :]),
    )
    params = [*_sql_ids(keys), OrderState.OPEN.value, *_sql_ids(keys)]
    for row in await db.fetch(sql, params):
        linked, covered = int(row["linked"]), int(row["covered"])
        found[uuid.UUID(str(row["order_id"]))] = (
            AllocationState.FULL if covered == linked
            else AllocationState.INSUFFICIENT if covered == 0
            else AllocationState.PARTIAL
        )  # fmt: skip
    return found
