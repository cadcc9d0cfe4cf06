"""Creating orders: direct orders one at a time, and batches (channel downloads, imports) written in bulk."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tortoise.exceptions import IntegrityError

from orderdeck import db
from orderdeck.models import (
    AuditKind,
    Order,
    OrderItem,
    OrderNote,
    OrderProperty,
    OrderTag,
    Source,
    SyncKind,
)
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.bulk import as_stored, insert_rows
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError, validated
from orderdeck.services.orders.inputs import OrderInput
from orderdeck.services.locations import hold_locations
from orderdeck.services.orders.intake import build_rows
from orderdeck.services.orders.common import (
    field_path,
    next_numbers,
    resolve_location,
    stock_items_by_sku,
)
from orderdeck.services.stock import apply_stock_changes


BULK_LIMIT = 1000
"""The most orders one call of create_orders accepts (GraphQL caps batches lower)."""


# --- create ----------------------------------------------------------------------------------


async def create_direct_order(data: OrderInput | dict, actor: Actor) -> Order:
    """Create one manual (DIRECT) order, reserving its stock at its location."""
    return (await create_orders([data], actor))[0]


async def create_orders(
    batch: list[OrderInput | dict],
    actor: Actor,
    *,
    source: str = Source.DIRECT,
    allow_unlinked: bool = False,
    channel_id: uuid.UUID | None = None,
    fulfilled_by_channel: bool = False,
) -> list[Order]:
    """Create orders in bulk (one transaction, a constant number of statements per call).

    Lines link to stock items by SKU; for a channel's orders (``channel_id``), first through the
    channel's listings of that SKU. Unknown SKUs are an error unless ``allow_unlinked`` (channel
    downloads and imports), in which case the line stays unlinked and holds no stock. A reference
    already used by an order of the same source and subsource is an error. Orders the channel
    fulfils itself (``fulfilled_by_channel``, Amazon FBA) are held: locked and parked, BY_CHANNEL,
    allocating no stock.
    """
    if not 1 <= len(batch) <= BULK_LIMIT:
        raise ServiceError.one(f"Give between 1 and {BULK_LIMIT} orders", "orders", ErrorCode.TOO_MANY)
    prefix = (lambda n: f"orders.{n}") if len(batch) > 1 else (lambda n: "")
    inputs: list[OrderInput] = []
    errors: list[FieldError] = []
    for n, data in enumerate(batch):
        try:
            inputs.append(validated(OrderInput, data, prefix(n)))
        except ServiceError as exc:
            errors += exc.errors
    if errors:
        raise ServiceError(errors)

    async with transaction():  # one connection for the whole call, reads included
        skus = {line.sku for o in inputs for line in o.items}
        items = await stock_items_by_sku(skus, channel_id)
        seen: set[tuple[str, str]] = set()
        for n, o in enumerate(inputs):
            p = prefix(n) + "." if prefix(n) else ""
            if not allow_unlinked:
                for i, line in enumerate(o.items):
                    if line.sku not in items:
                        errors.append(FieldError(f"SKU {line.sku} does not exist", f"{p}items.{i}.sku", ErrorCode.NOT_FOUND))
            if o.reference:
                if (o.subsource, o.reference) in seen:
                    errors.append(FieldError(f"Reference {o.reference} is given twice", f"{p}reference", ErrorCode.DUPLICATE))
                seen.add((o.subsource, o.reference))
        if errors:
            raise ServiceError(errors)
        locations = await hold_locations({o.location_id for o in inputs if o.location_id})
        missing = [FieldError(f"Location {o.location_id} does not exist", field_path(prefix(n), "locationId"),
                              ErrorCode.NOT_FOUND)
                   for n, o in enumerate(inputs) if o.location_id and o.location_id not in locations]  # fmt: skip
        if missing:
            raise ServiceError(missing)
        default = await resolve_location(None, "locationId") if any(o.location_id is None for o in inputs) else None
        await _refuse_existing_references(source, inputs, prefix)
        first = await next_numbers(len(inputs))
        rows = build_rows(inputs, source, first, items, locations, default, actor, channel_id, fulfilled_by_channel)
        await apply_stock_changes(rows.changes, actor)
        try:
            await insert_rows(Order, rows.orders)
        except IntegrityError:
            raise ServiceError.one("An order with this reference already exists", "reference", ErrorCode.DUPLICATE) from None
        await insert_rows(OrderItem, rows.lines)
        for model, extra in ((OrderTag, rows.tags), (OrderNote, rows.notes), (OrderProperty, rows.properties)):
            await insert_rows(model, extra)
        orders = as_stored(Order, rows.orders)
        audit = AuditLog(actor)
        for order in orders:
            audit.order(AuditKind.ORDER_CREATED, order, f"Order created ({order.source})")
        await audit.write()
        # Orders landing at a fulfilment centre's location are exported to it.
        places = [*locations.values(), *([default] if default else [])]
        outbox.wake(SyncKind.EXPORT, {p.fulfilment_connection_id for p in places if p.fulfilment_connection_id})
    return orders


async def _refuse_existing_references(source: str, inputs: list[OrderInput], prefix: Callable[[int], str]) -> None:
    refs = {o.reference for o in inputs if o.reference}
    if not refs:
        return
    where, params = db.one_of("reference", list(refs), start=2)
    rows = await db.fetch(f"SELECT subsource, reference FROM orders WHERE source = {db.placeholders(1)[0]} AND {where}",
                          [str(source), *params])  # fmt: skip
    existing = {(row["subsource"], row["reference"]) for row in rows}
    errors = []
    for n, o in enumerate(inputs):
        if (o.subsource, o.reference) in existing:
            p = prefix(n) + "." if prefix(n) else ""
            errors.append(FieldError(f"An order with reference {o.reference} already exists",
                                     f"{p}reference", ErrorCode.DUPLICATE))  # fmt: skip
    if errors:
        raise ServiceError(errors)
