"""The steps every order operation shares: order numbers, row locks, lines, allocation changes,
snapshots for the audit trail, batch results and refusals, and writing orders with their tags' copies."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from orderdeck import db
from orderdeck.models import (
    ADDRESS_FIELDS,
    LOCKED_IN,
    TAGGED_ORDER_KEYS,
    Counter,
    FulfilmentState,
    Location,
    Order,
    OrderItem,
    OrderState,
    OrderTag,
    StockChangeReason,
    StockItem,
)
from orderdeck.services.context import by_values, save_fields
from orderdeck.services.errors import ErrorCode, camel_case, not_found
from orderdeck.services.orders.inputs import ItemInput
from orderdeck.services.locations import ensure_default_location, hold_locations
from orderdeck.services.orders.intake import ItemRef, line_row, order_fields, order_totals
from orderdeck.services.stock import StockChange


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(timezone.utc)


async def save_orders(orders: list[Order], fields: list[str]) -> None:
    """Write ``fields`` of changed orders, and copy those a tag carries onto their tags."""
    await save_fields(orders, fields)
    await copy_keys_to_tags(orders, fields)


async def copy_keys_to_tags(orders: list[Order], fields: Iterable[str]) -> None:
    """Copy onto the orders' tags those of ``fields`` (changed and written) that a tag carries
    (models.TAGGED_ORDER_KEYS): one UPDATE per distinct set of values."""
    copied = [name for name in fields if name in TAGGED_ORDER_KEYS]
    if not copied:
        return
    for values, ids in by_values(orders, copied).items():
        await OrderTag.filter(order_id__in=ids).update(**{TAGGED_ORDER_KEYS[n]: v for n, v in zip(copied, values)})


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFailure:
    """Why one order of a batch was not changed."""

    order_id: uuid.UUID
    message: str
    code: ErrorCode
    number: int | None = None


@dataclass
class BatchResult:
    """The orders a batch operation changed, and those it skipped with the reason."""

    orders: list[Order] = field(default_factory=list)
    failures: list[OrderFailure] = field(default_factory=list)


class Refusal(Exception):
    """Raised inside a batch step: this order is skipped with this reason."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.INVALID_TRANSITION) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- shared steps --------------------------------------------------------------------------


ORDER_NUMBERS = "order_number_seq"
"""The PostgreSQL sequence order numbers come from (created by migration 0006)."""

# A block of numbers from the sequence, in one statement: the advisory lock keeps another block
# from interleaving between nextval and setval, and is released before the statement ends (it is
# not held to the commit, so creations do not queue on each other).
_TAKE_NUMBERS = f"""
WITH held AS (SELECT pg_advisory_lock($1)),
     taken AS (SELECT setval('{ORDER_NUMBERS}', nextval('{ORDER_NUMBERS}') + $2 - 1) AS last FROM held),
     freed AS (SELECT pg_advisory_unlock($1) FROM taken)
SELECT last FROM taken, freed
"""
NUMBER_LOCK = 0x6F72646E756D  # "ordnum"


async def next_numbers(count: int) -> int:
    """Reserve ``count`` consecutive order numbers; return the first.

    PostgreSQL: from a sequence, so concurrent creations do not wait for each other's commit; a
    rolled-back creation leaves a gap. SQLite writes one transaction at a time: a counter row.
    """
    if db.dialect() == "postgres":
        rows = await db.fetch(_TAKE_NUMBERS, [NUMBER_LOCK, count])
        return int(rows[0]["last"]) - count + 1
    await Counter.bulk_create([Counter(name="order_number", value=0)], ignore_conflicts=True)
    mark = db.placeholders(2)
    rows = await db.fetch(
        f"UPDATE counter SET value = value + {mark[0]} WHERE name = {mark[1]} RETURNING value",
        [count, "order_number"],
    )
    return int(rows[0]["value"]) - count + 1


async def lock_orders(order_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Order]:
    """Lock orders in id order and return them by id (missing ids are absent)."""
    rows = await Order.filter(id__in=list(order_ids)).order_by("id").select_for_update()
    return {o.id: o for o in rows}


async def lock_order(order_id: uuid.UUID, field_name: str = "orderId") -> Order:
    """Lock one order; not found (as ``field_name``) when it does not exist."""
    orders = await lock_orders([order_id])
    if order_id not in orders:
        raise not_found("Order", order_id, field_name)
    return orders[order_id]


async def lines_by_order(order_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[OrderItem]]:
    """Each order's lines, in position order."""
    lines: dict[uuid.UUID, list[OrderItem]] = {oid: [] for oid in order_ids}
    for line in await OrderItem.filter(order_id__in=list(lines)).order_by("position"):
        lines[line.order_id].append(line)
    return lines


def allocation_changes(
    order: Order,
    lines: Iterable[OrderItem],
    sign: int,
    reason: StockChangeReason,
    location_id: uuid.UUID | None = None,
) -> list[StockChange]:
    """Allocation deltas (+ to reserve, - to release) for an order's linked lines."""
    loc = location_id or order.location_id
    return [
        StockChange(line.stock_item_id, loc, reason, allocated=sign * line.quantity,
                    order_id=order.id, order_number=order.number, received_at=order.received_at)  # fmt: skip
        for line in lines
        if line.stock_item_id is not None
    ]


async def resolve_location(location_id: uuid.UUID | None, field_name: str) -> Location:
    """The location (the default one when None), held against deletion for this transaction."""
    if location_id is None:
        default = await Location.filter(is_default=True).first() or await ensure_default_location()
        location_id = default.id
    location = (await hold_locations({location_id})).get(location_id)
    if location is None:
        raise not_found("Location", location_id, field_name)
    return location


def field_path(prefix: str, field: str) -> str:
    """A field's path inside the n-th input of a batch (prefix "orders.3") or a single input ("")."""
    return f"{prefix}.{field}" if prefix else field


def refuse_unless_open(order: Order, verb: str) -> None:
    """Refuse unless the order is open, and not held by a fulfilment centre (the lock-in)."""
    if order.state != OrderState.OPEN:
        raise Refusal(f"Order {order.number} is {order.state.value.lower()} and cannot be {verb}")
    refuse_locked_in(order, verb)


def refuse_locked_in(order: Order, verb: str) -> None:
    """Refuse while a fulfilment centre holds the order: exported to it (or reported in error by
    it), until it reports the order cancelled, or on its way there (claimed by an export run,
    whose upload may have reached the centre already) (FULFILMENT_LOCKED)."""
    if order.export_claimed_at is not None and order.fulfilment_state is None:
        raise Refusal(f"Order {order.number} is being exported to its fulfilment centre and cannot be {verb} "
                      "now", ErrorCode.FULFILMENT_LOCKED)  # fmt: skip
    if order.fulfilment_state == FulfilmentState.BY_CHANNEL:
        raise Refusal(f"Order {order.number} is fulfilled by its channel (e.g. Amazon FBA) and cannot be {verb}: the "
                      "channel ships or cancels it", ErrorCode.FULFILMENT_LOCKED)  # fmt: skip
    if order.fulfilment_state in LOCKED_IN:
        at = f" on {order.exported_at:%Y-%m-%d %H:%M}" if order.exported_at else ""
        raise Refusal(f"Order {order.number} was exported to its fulfilment centre{at} and cannot be {verb} until "
                      "the centre reports it cancelled", ErrorCode.FULFILMENT_LOCKED)  # fmt: skip


def order_snapshot(order: Order) -> dict[str, Any]:
    """The order's main fields as JSON-safe values (for audit before/after and deleted orders)."""
    keys = ["number", "source", "subsource", "reference", "secondary_reference", "external_reference",
            "status", "state", "parked", "locked", "on_hold", "buyer_name", "email", "shipping_service",
            "shipping_vendor", "tracking_number", "subtotal", "postage", "discount", "tax", "total",
            "currency", "payment_method", "received_at", "despatch_by_at", "paid_at"]  # fmt: skip
    keys += [f"{p}_{f}" for p in ("shipping", "billing") for f in ADDRESS_FIELDS]
    out: dict[str, Any] = {"locationId": str(order.location_id)}
    for key in keys:
        value = getattr(order, key)
        if isinstance(value, (Decimal, uuid.UUID)):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        elif hasattr(value, "value"):
            value = value.value
        out[camel_case(key)] = value
    return out


def line_snapshot(line: OrderItem) -> dict[str, Any]:
    return {"sku": line.sku, "quantity": line.quantity, "unitPrice": str(line.unit_price),
            "linked": line.stock_item_id is not None}  # fmt: skip


def set_totals(order: Order, lines: list[OrderItem], weights: dict[uuid.UUID, Decimal]) -> None:
    """Set an order's totals and weight from its lines; refuse amounts the columns cannot hold."""
    for name, value in order_totals([vars(l) for l in lines], order.postage, weights).items():
        setattr(order, name, value)


def make_line(
    order_id: uuid.UUID, position: int, data: ItemInput, stock_item_id: uuid.UUID | None, item_title: str = ""
) -> OrderItem:
    """An order line; its title defaults to the linked stock item's."""
    return OrderItem(**line_row(order_id, position, data, stock_item_id, item_title))


async def stock_items_by_sku(skus: set[str], channel_id: uuid.UUID | None = None) -> dict[str, ItemRef]:
    """The stock items lines with these SKUs link to, by SKU: those with the SKU, then (for a
    channel's orders) those the channel's listings of the SKU name."""
    if not skus:
        return {}
    where, params = db.one_of("sku", list(skus))
    rows = await db.fetch(f"SELECT id, sku, title, weight FROM stock_item WHERE {where}", params)
    if channel_id is not None:
        where, more = db.one_of("l.channel_sku", list(skus), start=2)
        rows += await db.fetch(
            "SELECT si.id, l.channel_sku AS sku, si.title, si.weight FROM listing l "
            f"JOIN stock_item si ON si.id = l.stock_item_id WHERE l.channel_id = {db.placeholders(1)[0]} AND {where}",
            [*db.sql_ids([channel_id]), *more],
        )
    weight = StockItem._meta.fields_map["weight"].to_python_value
    return {
        row["sku"]: ItemRef(db.uuid_of(row["id"]), row["sku"], row["title"], weight(row["weight"]))
        for row in rows
    }  # fmt: skip


def apply_fields(order: Order, data: dict[str, Any]) -> None:
    """Copy validated order fields (addresses flattened) onto an order."""
    for key, value in order_fields(data).items():
        setattr(order, key, value)
