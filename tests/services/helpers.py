"""Shared helpers for the service tests: arranging stock and orders, and checking the database.

The checks here compute what must hold from the raw tables, independently of the services, so a
service that miscounts cannot also mis-check itself.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from orderdeck import db
from orderdeck.models import (
    TAGGED_ORDER_KEYS,
    AuditEntry,
    AuditKind,
    Order,
    OrderTag,
    StockItem,
    StockLedgerEntry,
    StockLevel,
)
from orderdeck.services import orders, stock
from orderdeck.services.context import Actor
from orderdeck.services.errors import ErrorCode, ServiceError

TABLES = [
    "orders", "order_item", "order_tag", "order_note", "order_property", "order_return",
    "order_return_item", "dispatch", "deleted_order", "stock_item", "stock_level", "stock_ledger",
    "audit_entry", "location", "api_token", "counter", "allocation",
]  # fmt: skip


# --- arrange ------------------------------------------------------------------------------


async def make_item(
    sku: str,
    actor: Actor,
    level: int = 0,
    location_id: uuid.UUID | None = None,
    **fields: Any,
) -> StockItem:
    """A stock item, with ``level`` units at ``location_id`` when both are given."""
    item = await stock.create_stock_item({"sku": sku, "title": fields.pop("title", f"Item {sku}"), **fields}, actor)
    if level:
        assert location_id is not None, "give the location to put the stock at"
        await stock.set_stock_levels({"levels": [{"sku": sku, "location_id": location_id, "quantity": level}]}, actor)
    return item


async def make_order(actor: Actor, *lines: tuple[str, int], **fields: Any) -> Order:
    """A direct order with (sku, quantity) lines at 1.00 a unit."""
    items = [{"sku": sku, "quantity": qty, "unit_price": "1.00"} for sku, qty in lines]
    return await orders.create_direct_order({"items": items, **fields}, actor)


async def levels_of(sku: str, location_id: uuid.UUID) -> tuple[int, int]:
    """(level, allocated) of an item at a location; (0, 0) when there is no row."""
    row = await StockLevel.get_or_none(item__sku=sku, location_id=location_id)
    return (row.level, row.allocated) if row else (0, 0)


async def reload(order: Order) -> Order:
    """The order as stored now."""
    return await Order.get(id=order.id)


# --- audit and ledger ----------------------------------------------------------------------


async def audit_kinds(subject_id: uuid.UUID, actor: str | None = "tester") -> list[AuditKind]:
    """The kinds of audit entries about a subject, oldest first; each must be by ``actor``."""
    entries = await AuditEntry.filter(subject_id=subject_id).order_by("id")
    if actor is not None:
        assert {e.actor for e in entries} <= {actor}, [(e.kind, e.actor) for e in entries]
    return [e.kind for e in entries]


async def ledger_reasons(sku: str, location_id: uuid.UUID | None = None) -> list[tuple[str, int, int]]:
    """(reason, level delta, allocated delta) of an item's ledger rows, oldest first."""
    query = StockLedgerEntry.filter(item__sku=sku).order_by("id")
    if location_id is not None:
        query = query.filter(location_id=location_id)
    return [
        (e.reason.value, e.level_after - e.level_before, e.allocated_after - e.allocated_before)
        for e in await query
    ]


# --- invariants --------------------------------------------------------------------------


def _key(*values: Any) -> tuple[str, ...]:
    """UUIDs come back as UUID on PostgreSQL and as text on SQLite: compare them as text."""
    return tuple(str(v) for v in values)


async def assert_tags_carry_their_orders_keys() -> int:
    """Every tag's copy of its order's state and sort keys (models.TAGGED_ORDER_KEYS) equals the
    order's own columns; return how many tags were checked."""
    keys = list(TAGGED_ORDER_KEYS)
    tags = await OrderTag.all().values("id", *TAGGED_ORDER_KEYS.values(), *(f"order__{k}" for k in keys))
    wrong = [t for t in tags if any(t[TAGGED_ORDER_KEYS[k]] != t[f"order__{k}"] for k in keys)]
    assert not wrong, wrong
    return len(tags)


async def assert_stock_consistent() -> None:
    """Check invariant 2 from the raw tables, for every stock level row:

    - level >= 0 and allocated >= 0;
    - allocated == the sum of quantities of linked lines of OPEN, unlocked orders at that location
      (and no such lines exist for an (item, location) without a row);
    - its ledger rows chain: the first starts from (0, 0), each starts where the previous ended,
      the latest ends at the row's values, and the deltas sum to the row's values.
    """
    held = {
        _key(r["stock_item_id"], r["location_id"]): int(r["quantity"])
        for r in await db.fetch(
            "SELECT oi.stock_item_id, o.location_id, SUM(oi.quantity) AS quantity "
            "FROM order_item oi JOIN orders o ON o.id = oi.order_id "
            "WHERE o.state = 'OPEN' AND NOT o.locked AND oi.stock_item_id IS NOT NULL "
            "GROUP BY oi.stock_item_id, o.location_id",
            [],
        )
    }
    rows = await db.fetch("SELECT id, item_id, location_id, level, allocated FROM stock_level ORDER BY id", [])
    ledger: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for entry in await db.fetch(
        "SELECT id, item_id, location_id, reason, level_before, level_after, allocated_before, allocated_after "
        "FROM stock_ledger ORDER BY id",
        [],
    ):
        ledger[_key(entry["item_id"], entry["location_id"])].append(entry)

    problems = []
    keys = set()
    for row in rows:
        key = _key(row["item_id"], row["location_id"])
        keys.add(key)
        level, allocated = row["level"], row["allocated"]
        if level < 0 or allocated < 0:
            problems.append(f"{key}: negative level {level} or allocated {allocated}")
        if allocated != held.get(key, 0):
            problems.append(f"{key}: allocated {allocated}, open unlocked orders hold {held.get(key, 0)}")
        previous = (0, 0)
        for entry in ledger.get(key, []):
            if (entry["level_before"], entry["allocated_before"]) != previous:
                problems.append(f"{key}: ledger row {entry['id']} ({entry['reason']}) starts at "
                                f"{(entry['level_before'], entry['allocated_before'])}, previous ended at {previous}")  # fmt: skip
            previous = (entry["level_after"], entry["allocated_after"])
        if previous != (level, allocated):
            problems.append(f"{key}: ledger ends at {previous}, row is {(level, allocated)}")
        deltas = (
            sum(e["level_after"] - e["level_before"] for e in ledger.get(key, [])),
            sum(e["allocated_after"] - e["allocated_before"] for e in ledger.get(key, [])),
        )
        if deltas != (level, allocated):
            problems.append(f"{key}: ledger deltas sum to {deltas}, row is {(level, allocated)}")
    for key, quantity in held.items():
        if key not in keys and quantity:
            problems.append(f"{key}: open orders hold {quantity} but there is no stock level row")
    assert not problems, "\n".join(problems)


async def db_state() -> dict[str, Any]:
    """Everything a refused operation must leave as it was: row counts of every table, every stock
    level, every order's main fields, and the order-number counter."""
    state: dict[str, Any] = {}
    for table in TABLES:
        state[table] = (await db.fetch(f"SELECT COUNT(*) AS n FROM {table}", []))[0]["n"]
    state["levels"] = sorted(
        (str(r.item_id), str(r.location_id), r.level, r.allocated, r.minimum_level) for r in await StockLevel.all()
    )
    state["orders_rows"] = sorted(
        (str(o.id), o.number, o.state.value, o.status.value, str(o.location_id), o.locked, o.parked, o.on_hold,
         o.buyer_name, str(o.total), o.updated_at.isoformat())
        for o in await Order.all()
    )  # fmt: skip
    state["items_rows"] = sorted(
        (str(i.id), i.sku, i.title, str(i.unit_price)) for i in await StockItem.all()
    )
    state["counter"] = [dict(r) for r in await db.fetch("SELECT name, value FROM counter", [])]
    return state


@asynccontextmanager
async def refused(field: str | None, code: ErrorCode) -> AsyncIterator[pytest.ExceptionInfo[ServiceError]]:
    """Expect the body to raise a ServiceError naming ``field`` with ``code``, and to change nothing."""
    before = await db_state()
    with pytest.raises(ServiceError) as info:
        yield info
    assert (field, code) in [(e.field, e.code) for e in info.value.errors], info.value.errors
    assert await db_state() == before
    await assert_stock_consistent()


async def assert_unchanged_by(before: dict[str, Any]) -> None:
    """The database is as ``before`` (taken with db_state) and stock is consistent."""
    assert await db_state() == before
    await assert_stock_consistent()
