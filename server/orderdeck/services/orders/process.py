"""Processing (shipping) orders: stock deducted, allocation released, the dispatch owed recorded."""

from __future__ import annotations

from orderdeck.models import (
    LOCKED_IN,
    AuditKind,
    Dispatch,
    DispatchState,
    FulfilmentState,
    Location,
    Order,
    OrderItem,
    OrderState,
    OrderStatus,
    StockChangeReason,
    SyncKind,
)
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ErrorCode, ServiceError, validated
from orderdeck.services.orders.inputs import ShipmentInput
from orderdeck.services.orders.common import (
    BatchResult,
    OrderFailure,
    Refusal,
    lines_by_order,
    lock_orders,
    now,
    refuse_unless_open,
    save_orders,
)
from orderdeck.services.stock import StockChange, apply_stock_changes, lock_levels


# --- process ---------------------------------------------------------------------------------


async def process_orders(shipments: list[ShipmentInput | dict], actor: Actor, *, by_centre: bool = False) -> BatchResult:
    """Process (ship) open orders: deduct each line from its location's level, release the
    allocation, record the dispatch owed to the channel, and move the order to processed.

    Skipped, each with its reason: parked, locked, on-hold and unpaid orders, orders with unlinked
    lines, orders whose location does not physically hold their quantities, and orders a
    fulfilment centre holds (FULFILMENT_LOCKED). ``by_centre``: the fulfilment centre holding
    the orders shipped them (a status import), or their channel, which fulfils them itself
    (BY_CHANNEL: no dispatch note is owed to it, and its hold on them is no refusal): they are
    processed (SHIPPED), and their stock is deducted only where the location says so
    (deduct_stock_when_processed).
    """
    if not 1 <= len(shipments) <= 100:
        raise ServiceError.one("Give between 1 and 100 orders", "orders", ErrorCode.TOO_MANY)
    inputs = [validated(ShipmentInput, s, f"orders.{n}") for n, s in enumerate(shipments)]
    by_id = {s.order_id: s for s in inputs}
    if len(by_id) < len(inputs):
        raise ServiceError.one("Each order may be given only once", "orders", ErrorCode.DUPLICATE)
    result = BatchResult()
    async with transaction():
        orders = await lock_orders(by_id)
        lines = await lines_by_order(orders)
        levels = await lock_levels({(l.stock_item_id, o.location_id) for o in orders.values()
                                    for l in lines[o.id] if l.stock_item_id})  # fmt: skip
        left = {key: row.level for key, row in levels.items()}
        keeping = set(await Location.filter(id__in={o.location_id for o in orders.values()},
                                            deduct_stock_when_processed=False).values_list("id", flat=True))  # fmt: skip
        audit, changes, dispatches, stamp = AuditLog(actor), [], [], now()
        for oid, shipment in by_id.items():
            order = orders.get(oid)
            if order is None:
                result.failures.append(OrderFailure(oid, f"Order {oid} does not exist", ErrorCode.NOT_FOUND))
                continue
            deduct = not (by_centre and order.location_id in keeping)
            try:
                _processable(order, lines[oid], left if deduct else None, by_centre)
            except Refusal as refusal:
                result.failures.append(OrderFailure(oid, refusal.message, refusal.code, order.number))
                continue
            held = order.holds_stock
            for line in lines[oid]:
                taken = line.quantity if deduct else 0
                left[(line.stock_item_id, order.location_id)] -= taken
                changes.append(StockChange(line.stock_item_id, order.location_id, StockChangeReason.ORDER_PROCESSED,
                                           level=-taken, allocated=-line.quantity if held else 0,
                                           order_id=order.id, order_number=order.number))  # fmt: skip
            by_channel = order.fulfilment_state == FulfilmentState.BY_CHANNEL  # the channel shipped it: nothing to tell
            if by_centre:
                order.fulfilment_state = FulfilmentState.SHIPPED
            for name in ("tracking_number", "shipping_vendor", "shipping_service"):
                if getattr(shipment, name) is not None:
                    setattr(order, name, getattr(shipment, name))
            order.state, order.processed_at, order.updated_at = OrderState.PROCESSED, stamp, stamp
            dispatches.append(Dispatch(
                order_id=order.id, carrier=order.shipping_vendor, service=order.shipping_service,
                tracking_number=order.tracking_number,
                state=DispatchState.PENDING if order.channel_id and not by_channel else DispatchState.NOT_REQUIRED,
            ))  # fmt: skip
            audit.order(AuditKind.PROCESSED, order, f"Processed at {stamp.isoformat()}",
                        after={"trackingNumber": order.tracking_number})  # fmt: skip
            result.orders.append(order)
        await apply_stock_changes(changes, actor)
        if result.orders:
            await save_orders(result.orders, ["state", "processed_at", "updated_at", "tracking_number",
                                              "shipping_vendor", "shipping_service", "fulfilment_state"])  # fmt: skip
            await Dispatch.bulk_create(dispatches)
            owed = {o.id for o, d in zip(result.orders, dispatches, strict=True) if d.state == DispatchState.PENDING}
            outbox.wake(SyncKind.DISPATCH, {o.channel_id for o in result.orders if o.id in owed})
        await audit.write()
    return result


def _refuse_held(order: Order) -> None:
    """Refuse an order the seller holds back: locked, parked, on hold or unpaid."""
    if order.locked:
        raise Refusal(f"Order {order.number} is locked", ErrorCode.ORDER_LOCKED)
    if order.parked:
        raise Refusal(f"Order {order.number} is parked", ErrorCode.ORDER_PARKED)
    if order.on_hold:
        raise Refusal(f"Order {order.number} is on hold", ErrorCode.ORDER_ON_HOLD)
    if order.status == OrderStatus.UNPAID:
        raise Refusal(f"Order {order.number} is unpaid", ErrorCode.ORDER_UNPAID)


def _processable(order: Order, lines: list[OrderItem], left: dict[tuple, int] | None, by_centre: bool) -> None:
    """Refuse with the reason an order cannot be processed now (``left``: the levels its stock is
    taken from; None when it is not deducted)."""
    if by_centre:
        if order.state != OrderState.OPEN or order.fulfilment_state not in LOCKED_IN:
            raise Refusal(f"Order {order.number} is not held by a fulfilment centre ({order.state.value.lower()})")
    else:
        refuse_unless_open(order, "processed")
    if order.fulfilment_state != FulfilmentState.BY_CHANNEL:  # held (locked, parked) for the channel, which shipped it
        _refuse_held(order)
    unlinked = [l.sku for l in lines if l.stock_item_id is None]
    if unlinked:
        raise Refusal(f"Order {order.number} has unlinked items: {', '.join(unlinked)}", ErrorCode.UNLINKED_ITEMS)
    if left is None:
        return
    need: dict[tuple, int] = {}
    for line in lines:
        key = (line.stock_item_id, order.location_id)
        need[key] = need.get(key, 0) + line.quantity
    short = [key for key, qty in need.items() if left.get(key, 0) < qty]
    if short:
        skus = ", ".join(l.sku for l in lines if (l.stock_item_id, order.location_id) in short)
        raise Refusal(f"Order {order.number}: not enough stock of {skus} at its location", ErrorCode.INSUFFICIENT_STOCK)
