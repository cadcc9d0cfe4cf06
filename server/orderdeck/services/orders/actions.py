"""Batch actions on open orders: status, park, hold, lock, tags, move, cancel and delete; each locks
the orders, applies a step to each (a refusal skips it) and writes everything at once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from orderdeck.models import (
    AuditKind,
    DeletedOrder,
    Location,
    Order,
    OrderItem,
    FulfilmentState,
    OrderState,
    OrderStatus,
    OrderTag,
    StockChangeReason,
    SyncKind,
)
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ErrorCode, ServiceError, validated
from orderdeck.services.fields import clean_text
from orderdeck.services.orders.inputs import OrderIds
from orderdeck.services.orders.intake import tag_row
from orderdeck.services.orders.common import (
    BatchResult,
    OrderFailure,
    Refusal,
    allocation_changes,
    line_snapshot,
    lines_by_order,
    lock_orders,
    now,
    refuse_unless_open,
    resolve_location,
    save_orders,
    order_snapshot,
)
from orderdeck.services.stock import StockChange, apply_stock_changes


# --- batch flag operations --------------------------------------------------------------------


Step = Callable[[Order, "BatchContext"], None]


@dataclass
class BatchContext:
    """What a batch step may read and add to."""

    actor: Actor
    audit: AuditLog
    lines: dict[uuid.UUID, list[OrderItem]]
    changes: list[StockChange] = field(default_factory=list)


async def _run_batch(
    order_ids: list[uuid.UUID] | OrderIds | dict,
    actor: Actor,
    step: Step,
    fields_changed: list[str],
    after: Callable[[list[Order]], Awaitable[None]] | None = None,
) -> BatchResult:
    """Lock the orders, run ``step`` on each (a Refusal skips it), then write everything at once;
    ``after`` runs last, in the same transaction, with the orders that were changed."""
    ids = validated(OrderIds, {"order_ids": order_ids} if isinstance(order_ids, list) else order_ids).order_ids
    result = BatchResult()
    async with transaction():
        orders = await lock_orders(ids)
        context = BatchContext(actor, AuditLog(actor), await lines_by_order(orders))
        for oid in ids:
            order = orders.get(oid)
            if order is None:
                result.failures.append(OrderFailure(oid, f"Order {oid} does not exist", ErrorCode.NOT_FOUND))
                continue
            try:
                step(order, context)
            except Refusal as refusal:
                result.failures.append(OrderFailure(oid, refusal.message, refusal.code, order.number))
                continue
            order.updated_at = now()
            result.orders.append(order)
        await apply_stock_changes(context.changes, actor)
        if result.orders:
            await save_orders(result.orders, [*fields_changed, "updated_at"])
            if after is not None:
                await after(result.orders)
        await context.audit.write()
    return result


async def set_status(order_ids: list[uuid.UUID], status: OrderStatus, actor: Actor) -> BatchResult:
    """Change the status of open orders. UNPAID parks an order, PAID unparks an unpaid one."""
    if status in (OrderStatus.RETURN, OrderStatus.RESEND):
        raise ServiceError.one(f"Status {status.value} is set by creating a return or resend", "status")

    def step(order: Order, ctx: BatchContext) -> None:
        refuse_unless_open(order, "changed")
        if order.status == status:
            raise Refusal(f"Order {order.number} is already {status.value}")
        before = order.status
        if status == OrderStatus.UNPAID:
            order.parked = True
        elif before == OrderStatus.UNPAID:
            order.parked = False
            if status == OrderStatus.PAID and order.paid_at is None:
                order.paid_at = now()
        order.status = status
        ctx.audit.order(AuditKind.STATUS_CHANGED, order, f"{before.value} -> {status.value}",
                        before={"status": before.value}, after={"status": status.value})  # fmt: skip

    return await _run_batch(order_ids, actor, step, ["status", "parked", "paid_at"])


def _flag_step(flag: str, value: bool, on: AuditKind, off: AuditKind, label: str) -> Step:
    def step(order: Order, ctx: BatchContext) -> None:
        refuse_unless_open(order, "changed")
        if getattr(order, flag) == value:
            raise Refusal(f"Order {order.number} is already {'' if value else 'not '}{label}")
        setattr(order, flag, value)
        ctx.audit.order(on if value else off, order)

    return step


async def set_parked(order_ids: list[uuid.UUID], parked: bool, actor: Actor) -> BatchResult:
    """Park (keep out of processing, stock still allocated) or unpark open orders."""
    step = _flag_step("parked", parked, AuditKind.PARKED, AuditKind.UNPARKED, "parked")
    return await _run_batch(order_ids, actor, step, ["parked"])


async def set_on_hold(order_ids: list[uuid.UUID], on_hold: bool, actor: Actor) -> BatchResult:
    """Put open orders on hold (not processed until released) or release them."""
    step = _flag_step("on_hold", on_hold, AuditKind.HELD, AuditKind.UNHELD, "on hold")
    return await _run_batch(order_ids, actor, step, ["on_hold"])


async def set_locked(order_ids: list[uuid.UUID], locked: bool, actor: Actor) -> BatchResult:
    """Lock open orders (their stock is released, they cannot be edited or processed) or unlock
    them (their stock is allocated again)."""
    flag = _flag_step("locked", locked, AuditKind.LOCKED, AuditKind.UNLOCKED, "locked")
    reason = StockChangeReason.ORDER_LOCKED if locked else StockChangeReason.ORDER_UNLOCKED

    def step(order: Order, ctx: BatchContext) -> None:
        flag(order, ctx)
        ctx.changes += allocation_changes(order, ctx.lines[order.id], -1 if locked else +1, reason)

    return await _run_batch(order_ids, actor, step, ["locked"])


async def add_tags(order_ids: list[uuid.UUID], tags: list[str], actor: Actor) -> BatchResult:
    """Tag orders (open or not). Tags already present are left as they are."""
    return await _change_tags(order_ids, tags, actor, add=True)


async def remove_tags(order_ids: list[uuid.UUID], tags: list[str], actor: Actor) -> BatchResult:
    """Remove tags from orders."""
    return await _change_tags(order_ids, tags, actor, add=False)


async def _change_tags(order_ids: list[uuid.UUID], tags: list[str], actor: Actor, *, add: bool) -> BatchResult:
    if not 1 <= len(tags) <= 20:
        raise ServiceError.one("Give 1 to 20 tags", "tags", ErrorCode.TOO_MANY if tags else ErrorCode.INVALID)
    names = [clean_text(tag, f"tags.{n}", 50) for n, tag in enumerate(tags)]

    def step(order: Order, ctx: BatchContext) -> None:
        ctx.audit.order(AuditKind.TAG_ADDED if add else AuditKind.TAG_REMOVED, order, ", ".join(names),
                        tag=names[0])  # fmt: skip

    async def write_tags(orders: list[Order]) -> None:
        if add:
            await OrderTag.bulk_create([OrderTag(**tag_row(vars(o), t)) for o in orders for t in names],
                                       ignore_conflicts=True)  # fmt: skip
        else:
            await OrderTag.filter(order_id__in=[o.id for o in orders], name__in=names).delete()

    return await _run_batch(order_ids, actor, step, [], write_tags)


async def move_orders(order_ids: list[uuid.UUID], location_id: uuid.UUID, actor: Actor) -> BatchResult:
    """Move open orders to another location; their allocation moves with them atomically."""
    async with transaction():
        target = await resolve_location(location_id, "locationId")
        result = await _run_batch(order_ids, actor, _move_step(target),
                                  ["location_id", "fulfilment_state", "label_error", "export_attempts", "export_next_at"])  # fmt: skip
        if result.orders and target.fulfilment_connection_id:
            outbox.wake(SyncKind.EXPORT, [target.fulfilment_connection_id])
        return result


def _move_step(target: Location) -> Step:
    def step(order: Order, ctx: BatchContext) -> None:
        refuse_unless_open(order, "moved")
        if order.location_id == target.id:
            raise Refusal(f"Order {order.number} is already at {target.name}")
        if order.holds_stock:
            ctx.changes += allocation_changes(order, ctx.lines[order.id], -1, StockChangeReason.ORDER_MOVED)
            ctx.changes += allocation_changes(order, ctx.lines[order.id], +1, StockChangeReason.ORDER_MOVED, target.id)
        before = order.location_id
        order.location_id = target.id
        # A new location starts the order's life with a fulfilment centre afresh (one that
        # cancelled it no longer has it; the new one exports it).
        order.fulfilment_state, order.label_error, order.export_attempts, order.export_next_at = None, "", 0, None
        ctx.audit.order(AuditKind.MOVED, order, f"Moved to {target.name}",
                        before={"locationId": str(before)}, after={"locationId": str(target.id)})  # fmt: skip

    return step


# --- cancel and delete -------------------------------------------------------------------------


async def cancel_orders(order_ids: list[uuid.UUID], reason: str, actor: Actor) -> BatchResult:
    """Cancel open orders: their allocation is released; they stay searchable as cancelled."""
    reason = _reason(reason)

    def step(order: Order, ctx: BatchContext) -> None:
        refuse_unless_open(order, "cancelled")
        if order.holds_stock:
            ctx.changes += allocation_changes(order, ctx.lines[order.id], -1, StockChangeReason.ORDER_CANCELLED)
        order.state, order.cancelled_at = OrderState.CANCELLED, now()
        ctx.audit.order(AuditKind.CANCELLED, order, reason)

    return await _run_batch(order_ids, actor, step, ["state", "cancelled_at"])


async def cancel_by_channel(order_ids: list[uuid.UUID], actor: Actor) -> BatchResult:
    """Cancel open orders their channel fulfils itself (BY_CHANNEL, e.g. Amazon FBA) because the
    channel cancelled them: they held no stock (their channel's inventory counted them)."""

    def step(order: Order, ctx: BatchContext) -> None:
        if order.state != OrderState.OPEN or order.fulfilment_state != FulfilmentState.BY_CHANNEL:
            raise Refusal(f"Order {order.number} is not an open order its channel fulfils")
        order.state, order.cancelled_at = OrderState.CANCELLED, now()
        ctx.audit.order(AuditKind.CANCELLED, order, "Cancelled on the channel, which fulfils it")

    return await _run_batch(order_ids, actor, step, ["state", "cancelled_at"])


async def delete_orders(order_ids: list[uuid.UUID], reason: str, actor: Actor) -> BatchResult:
    """Delete open orders: their allocation is released and a deleted-order record (who, when,
    why, and a snapshot of the order) is kept, searchable by reference."""
    reason = _reason(reason)
    deleted: list[DeletedOrder] = []

    def step(order: Order, ctx: BatchContext) -> None:
        refuse_unless_open(order, "deleted")
        if order.holds_stock:
            ctx.changes += allocation_changes(order, ctx.lines[order.id], -1, StockChangeReason.ORDER_DELETED)
        taken = order_snapshot(order) | {"items": [line_snapshot(l) for l in ctx.lines[order.id]]}
        deleted.append(DeletedOrder(
            id=order.id, number=order.number, source=order.source, subsource=order.subsource,
            reference=order.reference, secondary_reference=order.secondary_reference,
            external_reference=order.external_reference, reason=reason, deleted_by=actor.name,
            snapshot=taken,
        ))  # fmt: skip
        ctx.audit.order(AuditKind.DELETED, order, reason, before=taken)

    async def remove(orders: list[Order]) -> None:
        await DeletedOrder.bulk_create(deleted)
        await Order.filter(id__in=[o.id for o in orders]).delete()

    return await _run_batch(order_ids, actor, step, [], remove)


def _reason(reason: str) -> str:
    return clean_text(reason or "", "reason", 500)
