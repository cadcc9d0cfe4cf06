"""Order intake: the rows of new orders, built as plain dicts for services.bulk.

create_orders (services/orders/create.py) validates, locks and numbers a batch, then builds every row it
writes here (orders, lines, tags, notes, properties and the allocations they need) without a model
object per row: building Tortoise models cost more than writing the rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, NamedTuple

from orderdeck.models import TAGGED_ORDER_KEYS, FulfilmentState, Location, OrderState, OrderStatus, StockChangeReason
from orderdeck.services.context import Actor
from orderdeck.services.errors import ServiceError
from orderdeck.services.fields import MAX_MONEY, MAX_WEIGHT
from orderdeck.services.orders.inputs import ItemInput, OrderInput, line_amounts
from orderdeck.services.stock import StockChange

ZERO = Decimal(0)


class ItemRef(NamedTuple):
    """What a new line takes from the stock item it links to (read as plain values, not models)."""

    id: uuid.UUID
    sku: str
    title: str
    weight: Decimal


@dataclass
class IntakeRows:
    """Everything a batch of new orders writes, table by table (rows keyed by field name)."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    changes: list[StockChange] = field(default_factory=list)
    """The allocations the new orders' linked lines take at their locations."""


def tag_row(order: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The row of tag ``name`` on ``order`` (a new order's row, or a stored order's fields): it
    carries a copy of the order's state and sort keys (models.TAGGED_ORDER_KEYS)."""
    row = {"order_id": order["id"], "name": name}
    row |= {tag_column: order.get(column) for column, tag_column in TAGGED_ORDER_KEYS.items()}
    row["order_state"] = row["order_state"] or OrderState.OPEN  # a new order's row leaves it to the default
    return row


def line_row(
    order_id: uuid.UUID, position: int, data: ItemInput, stock_item_id: uuid.UUID | None, item_title: str = ""
) -> dict[str, Any]:
    """An order line's row; its title defaults to the linked stock item's."""
    _, tax, total = line_amounts(data.quantity, data.unit_price, data.discount, data.tax_rate)
    # An edited line (ItemEdit) may keep its id; a new line has none (pydantic's failing getattr is slow).
    line_id = data.id if "id" in type(data).model_fields else None
    return {
        "id": line_id or uuid.uuid4(), "order_id": order_id, "position": position,
        "stock_item_id": stock_item_id, "sku": data.sku, "channel_sku": data.channel_sku,
        "item_number": data.item_number, "title": data.title or item_title,
        "quantity": data.quantity, "unit_price": data.unit_price, "discount": data.discount,
        "tax_rate": data.tax_rate, "tax": tax, "line_total": total,
    }  # fmt: skip


def order_totals(lines: Iterable[Mapping[str, Any]], postage: Decimal, weights: Mapping[uuid.UUID, Decimal]) -> dict[str, Decimal]:
    """An order's totals and weight from its lines (rows or models' ``vars``); refuses amounts
    the columns cannot hold."""
    subtotal = discount = tax = weight = ZERO
    for line in lines:
        subtotal += line["line_total"] - line["tax"]
        discount += line["discount"]
        tax += line["tax"]
        if line["stock_item_id"]:
            weight += weights.get(line["stock_item_id"], ZERO) * line["quantity"]
    total = subtotal + tax + postage
    if total > MAX_MONEY:
        raise ServiceError.one(f"The order's total cannot exceed {MAX_MONEY}", "items")
    if weight > MAX_WEIGHT:
        raise ServiceError.one(f"The order's weight cannot exceed {MAX_WEIGHT}", "items")
    return {"subtotal": subtotal, "discount": discount, "tax": tax, "total": total, "total_weight": weight}


def order_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Validated order fields as columns (addresses flattened to ``<shipping|billing>_<part>``)."""
    out = {}
    for key, value in data.items():
        if key in ("shipping_address", "billing_address"):
            prefix = key.removesuffix("_address")
            for name, part in (value or {}).items():
                out[f"{prefix}_{name}"] = part
        else:
            out[key] = value
    return out


def build_rows(
    inputs: list[OrderInput],
    source: str,
    first_number: int,
    items: dict[str, ItemRef],
    locations: dict[uuid.UUID, Location],
    default: Location | None,
    actor: Actor,
    channel_id: uuid.UUID | None = None,
    fulfilled_by_channel: bool = False,
) -> IntakeRows:
    """The rows of new orders numbered from ``first_number``, and the allocations they need.
    Notes given with an order are written by the actor creating it. Orders the channel fulfils
    itself (``fulfilled_by_channel``) are held: locked, parked, BY_CHANNEL, allocating nothing."""
    received = datetime.now(timezone.utc)
    rows = IntakeRows()
    weights = {i.id: i.weight for i in items.values()}
    for n, o in enumerate(inputs):
        location = locations[o.location_id] if o.location_id else default
        assert location is not None
        data = o.model_dump(exclude={"items", "tags", "notes", "properties", "location_id"})
        if data["billing_address"] is None:
            data["billing_address"] = data["shipping_address"]
        order = {"id": uuid.uuid4(), "source": source, "location_id": location.id, "number": first_number + n,
                 "channel_id": channel_id} | order_fields(data)  # fmt: skip
        order["received_at"] = o.received_at or received
        order["parked"] = o.status == OrderStatus.UNPAID or fulfilled_by_channel
        if fulfilled_by_channel:
            order["locked"], order["fulfilment_state"] = True, FulfilmentState.BY_CHANNEL
        if o.status == OrderStatus.PAID and order.get("paid_at") is None:
            order["paid_at"] = order["received_at"]
        lines = []
        for position, line in enumerate(o.items):
            item = items.get(line.sku)
            lines.append(line_row(order["id"], position, line, item.id if item else None, item.title if item else ""))
        order |= order_totals(lines, order.get("postage", ZERO), weights)
        rows.orders.append(order)
        rows.lines += lines
        rows.changes += [
            StockChange(line["stock_item_id"], location.id, StockChangeReason.ORDER_CREATED,
                        allocated=line["quantity"], order_id=order["id"], order_number=order["number"],
                        received_at=order["received_at"], new_order=True)  # fmt: skip
            for line in lines
            if line["stock_item_id"] is not None and not fulfilled_by_channel
        ]
        rows.tags += [tag_row(order, t) for t in dict.fromkeys(o.tags)]
        rows.notes += [{"order_id": order["id"], "author": actor.name, **note.model_dump()} for note in o.notes]
        rows.properties += [{"order_id": order["id"], **p.model_dump()} for p in o.properties]
    return rows
