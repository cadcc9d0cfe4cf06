"""The allocation rule computed the old way, from scratch: a test oracle, never used by the server.

A window over every open, unlocked order of each (item, location): the running total of the
item's quantities in (received_at, number) order against the level. The server instead keeps
allocation rows and a coverage frontier per level (orderdeck.services.allocation); tests compare
the two.
"""

from __future__ import annotations

import uuid

from orderdeck import db
from orderdeck.services.allocation import AllocationState, allocation_of, state_of

_ORACLE_SQL = """
WITH demand AS (
    SELECT oi.order_id, oi.stock_item_id, o.location_id, o.received_at, o.number,
           SUM(oi.quantity) AS quantity
    FROM order_item oi
    JOIN orders o ON o.id = oi.order_id
    WHERE o.state = 'OPEN' AND NOT o.locked AND oi.stock_item_id IS NOT NULL
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
GROUP BY q.order_id
"""


async def oracle_allocation() -> dict[uuid.UUID, AllocationState]:
    """The AllocationState of every order in the database, computed from all open orders."""
    states = {}
    for row in await db.fetch("SELECT id FROM orders", []):
        states[uuid.UUID(str(row["id"]))] = AllocationState.NOT_ALLOCATED
    for row in await db.fetch(_ORACLE_SQL, []):
        states[uuid.UUID(str(row["order_id"]))] = state_of(int(row["linked"]), int(row["covered"]))
    return states


async def assert_allocation_matches_oracle() -> None:
    """The stored allocation rows and frontiers give every order the state the oracle computes,
    each level's allocated is the sum of its allocation rows, and its covered_quantity the sum of
    those up to its frontier."""
    expected = await oracle_allocation()
    actual = await allocation_of(list(expected))
    wrong = {oid: (actual[oid].value, state.value) for oid, state in expected.items() if actual[oid] != state}
    assert not wrong, f"stored != oracle for {len(wrong)} orders: {wrong}"
    mismatched = await db.fetch(
        "SELECT sl.id, sl.allocated, (SELECT COALESCE(SUM(a.quantity), 0) FROM allocation a "
        "WHERE a.item_id = sl.item_id AND a.location_id = sl.location_id) AS queued FROM stock_level sl",
        [],
    )
    assert [r for r in mismatched if r["allocated"] != r["queued"]] == []
    covered = await db.fetch(
        "SELECT sl.id, sl.covered_quantity, (SELECT COALESCE(SUM(a.quantity), 0) FROM allocation a "
        "WHERE a.item_id = sl.item_id AND a.location_id = sl.location_id AND (a.received_at, a.order_number) "
        "<= (sl.covered_through_received_at, sl.covered_through_number)) AS queued FROM stock_level sl",
        [],
    )
    assert [r for r in covered if r["covered_quantity"] != r["queued"]] == [], "covered_quantity != its queue"
