"""Returns and resends of processed orders: new records linked to the order, which stays processed."""

from __future__ import annotations

import uuid

from orderdeck.models import (
    ADDRESS_FIELDS,
    AuditKind,
    Order,
    OrderItem,
    OrderNote,
    OrderReturn,
    OrderReturnItem,
    OrderState,
    OrderStatus,
    StockChangeReason,
)
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError, validated
from orderdeck.services.orders.inputs import LineQuantity, ResendInput, ReturnInput
from orderdeck.services.orders.common import (
    allocation_changes,
    lines_by_order,
    lock_order,
    next_numbers,
    now,
    resolve_location,
)
from orderdeck.services.stock import StockChange, apply_stock_changes


async def _returnable_lines(order: Order, wanted: list[LineQuantity]) -> dict[uuid.UUID, OrderItem]:
    """Check a processed order's lines and quantities (not more than shipped less returned)."""
    if order.state != OrderState.PROCESSED:
        raise ServiceError.one(f"Order {order.number} is not processed", "orderId", ErrorCode.INVALID_TRANSITION)
    lines = {l.id: l for l in (await lines_by_order([order.id]))[order.id]}
    returned: dict[uuid.UUID, int] = {}
    for row in await OrderReturnItem.filter(order_item_id__in=list(lines)):
        returned[row.order_item_id] = returned.get(row.order_item_id, 0) + row.quantity
    errors, asked = [], {}
    for n, want in enumerate(wanted):
        line = lines.get(want.item_id)
        if line is None:
            errors.append(FieldError(f"Line {want.item_id} is not a line of order {order.number}",
                                     f"items.{n}.itemId", ErrorCode.NOT_FOUND))  # fmt: skip
            continue
        asked[want.item_id] = asked.get(want.item_id, 0) + want.quantity
        if asked[want.item_id] > line.quantity - returned.get(line.id, 0):
            errors.append(FieldError(
                f"Only {line.quantity - returned.get(line.id, 0)} of {line.sku} can still be returned",
                f"items.{n}.quantity",
            ))  # fmt: skip
    if errors:
        raise ServiceError(errors)
    return lines


async def create_return(data: ReturnInput | dict, actor: Actor) -> OrderReturn:
    """Record items returned from a processed order; restock them at a location if asked."""
    ret = validated(ReturnInput, data)
    async with transaction():
        order = await lock_order(ret.order_id)
        lines = await _returnable_lines(order, ret.items)
        location = await resolve_location(ret.location_id or order.location_id, "locationId") if ret.restock else None
        row = await OrderReturn.create(order_id=order.id, reason=ret.reason, restock=ret.restock,
                                       location_id=location.id if location else None, created_by=actor.name)  # fmt: skip
        await OrderReturnItem.bulk_create([
            OrderReturnItem(order_return_id=row.id, order_item_id=i.item_id, quantity=i.quantity) for i in ret.items
        ])  # fmt: skip
        if location is not None:
            await apply_stock_changes([
                StockChange(lines[i.item_id].stock_item_id, location.id, StockChangeReason.RETURN_RESTOCKED,
                            level=i.quantity, order_id=order.id, order_number=order.number, note=ret.reason)
                for i in ret.items if lines[i.item_id].stock_item_id
            ], actor)  # fmt: skip
        audit = AuditLog(actor)
        audit.order(AuditKind.RETURN_CREATED, order, ret.reason,
                    after={"items": [{"sku": lines[i.item_id].sku, "quantity": i.quantity} for i in ret.items],
                           "restockedAt": location.name if location else None})  # fmt: skip
        await audit.write()
    return row


async def create_resend(data: ResendInput | dict, actor: Actor) -> Order:
    """Ship items of a processed order again: a new open order with status RESEND, linked to the
    original, reserving stock at its despatch location."""
    resend = validated(ResendInput, data)
    async with transaction():
        original = await lock_order(resend.order_id)
        if original.state != OrderState.PROCESSED:
            raise ServiceError.one(f"Order {original.number} is not processed", "orderId",
                                   ErrorCode.INVALID_TRANSITION)  # fmt: skip
        lines = {l.id: l for l in (await lines_by_order([original.id]))[original.id]}
        bad = [FieldError(f"Line {w.item_id} is not a line of order {original.number}", f"items.{n}.itemId",
                          ErrorCode.NOT_FOUND) for n, w in enumerate(resend.items) if w.item_id not in lines]  # fmt: skip
        bad += [FieldError(f"Order {original.number} shipped only {lines[w.item_id].quantity} of {lines[w.item_id].sku}",
                           f"items.{n}.quantity") for n, w in enumerate(resend.items)
                if w.item_id in lines and w.quantity > lines[w.item_id].quantity]  # fmt: skip
        if bad:
            raise ServiceError(bad)
        location = await resolve_location(resend.location_id or original.location_id, "locationId")
        order = Order(id=uuid.uuid4(), number=await next_numbers(1), source=original.source,
                      subsource=original.subsource, reference=None,
                      secondary_reference=original.reference or str(original.number),
                      external_reference=original.external_reference, status=OrderStatus.RESEND,
                      location_id=location.id, original_order_id=original.id, received_at=now(),
                      paid_at=now(), currency=original.currency)  # fmt: skip
        for name in ["buyer_name", "email", "shipping_service", "shipping_vendor", *(
                f"{p}_{f}" for p in ("shipping", "billing") for f in ADDRESS_FIELDS)]:  # fmt: skip
            setattr(order, name, getattr(original, name))
        new_lines = [
            OrderItem(order_id=order.id, position=n, stock_item_id=lines[w.item_id].stock_item_id,
                      sku=lines[w.item_id].sku, channel_sku=lines[w.item_id].channel_sku,
                      item_number=lines[w.item_id].item_number, title=lines[w.item_id].title,
                      quantity=w.quantity)  # fmt: skip
            for n, w in enumerate(resend.items)
        ]
        order.postage = resend.cost
        order.total = resend.cost
        await order.save()
        await OrderItem.bulk_create(new_lines)
        await OrderNote.create(order_id=order.id, text=f"Resend of order {original.number}: {resend.reason}",
                               internal=True, author=actor.name)  # fmt: skip
        await apply_stock_changes(allocation_changes(order, new_lines, +1, StockChangeReason.ORDER_CREATED), actor)
        audit = AuditLog(actor)
        audit.order(AuditKind.RESEND_CREATED, original, f"Resent as order {order.number}: {resend.reason}")
        audit.order(AuditKind.ORDER_CREATED, order, f"Resend of order {original.number}")
        await audit.write()
    return await Order.get(id=order.id)
