"""Editing an open order: its fields and its lines, the allocation following the lines."""

from __future__ import annotations

import uuid

from orderdeck.models import (
    AuditKind,
    Order,
    OrderItem,
    OrderState,
    StockChangeReason,
    StockItem,
)
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError, validated
from orderdeck.services.orders.inputs import ItemEdit, OrderPatch
from orderdeck.services.orders.intake import ItemRef
from orderdeck.services.orders.common import (
    allocation_changes,
    Refusal,
    apply_fields,
    copy_keys_to_tags,
    line_snapshot,
    lines_by_order,
    lock_order,
    make_line,
    now,
    refuse_locked_in,
    set_totals,
    order_snapshot,
    stock_items_by_sku,
)
from orderdeck.services.stock import apply_stock_changes


# --- edit ------------------------------------------------------------------------------------


async def update_order(order_id: uuid.UUID, data: OrderPatch | dict, actor: Actor) -> Order:
    """Edit an open, unlocked order. When items change, the allocation follows the change."""
    patch = validated(OrderPatch, data)
    changes = patch.model_dump(exclude_unset=True)
    async with transaction():
        order = await lock_order(order_id, "id")
        _editable(order)
        before = order_snapshot(order)
        audit = AuditLog(actor)
        new_items = changes.pop("items", None)
        apply_fields(order, changes)
        if new_items is not None:
            await _replace_lines(order, patch.items or [], actor, audit)
        elif "postage" in changes:
            lines = (await lines_by_order([order.id]))[order.id]
            weights = {i.id: i.weight for i in await StockItem.filter(id__in={l.stock_item_id for l in lines if l.stock_item_id})}
            set_totals(order, lines, weights)
        order.updated_at = now()
        await order.save()
        await copy_keys_to_tags([order], changes)
        after = order_snapshot(order)
        diff_before = {k: v for k, v in before.items() if after.get(k) != v}
        if diff_before:
            audit.order(AuditKind.ORDER_UPDATED, order, "Order edited", before=diff_before,
                        after={k: after[k] for k in diff_before})  # fmt: skip
        await audit.write()
    return order


def _editable(order: Order) -> None:
    if order.state != OrderState.OPEN:
        raise ServiceError.one(f"Order {order.number} is {order.state.value.lower()} and cannot be edited",
                               "id", ErrorCode.INVALID_TRANSITION)  # fmt: skip
    try:
        refuse_locked_in(order, "edited")
    except Refusal as refusal:
        raise ServiceError.one(refusal.message, "id", refusal.code) from None
    if order.locked:
        raise ServiceError.one(f"Order {order.number} is locked: unlock it to edit it", "id",
                               ErrorCode.INVALID_TRANSITION)  # fmt: skip


async def _replace_lines(order: Order, edits: list[ItemEdit], actor: Actor, audit: AuditLog) -> None:
    old = (await lines_by_order([order.id]))[order.id]
    old_by_id = {line.id: line for line in old}
    errors = [
        FieldError(f"Line {e.id} is not a line of order {order.number}", f"items.{n}.id", ErrorCode.NOT_FOUND)
        for n, e in enumerate(edits) if e.id is not None and e.id not in old_by_id
    ]  # fmt: skip
    given = [e.id for e in edits if e.id is not None]
    errors += [FieldError(f"Line {line_id} is given more than once", "items", ErrorCode.DUPLICATE)
               for line_id in sorted({i for i in given if given.count(i) > 1}, key=str)]  # fmt: skip
    items = await stock_items_by_sku({e.sku for e in edits})
    old_skus = {line.sku for line in old}
    errors += [
        FieldError(f"SKU {e.sku} does not exist", f"items.{n}.sku", ErrorCode.NOT_FOUND)
        for n, e in enumerate(edits) if e.sku not in items and e.sku not in old_skus
    ]  # fmt: skip
    if errors:
        raise ServiceError(errors)
    new = [make_line(order.id, n, e, *_link_for(e, old_by_id, items)) for n, e in enumerate(edits)]
    if order.holds_stock:
        changes = allocation_changes(order, old, -1, StockChangeReason.ORDER_EDITED)
        changes += allocation_changes(order, new, +1, StockChangeReason.ORDER_EDITED)
        await apply_stock_changes(changes, actor)
    await OrderItem.filter(order_id=order.id).delete()
    await OrderItem.bulk_create(new)
    linked = {line.stock_item_id for line in new if line.stock_item_id}
    set_totals(order, new, {i.id: i.weight for i in await StockItem.filter(id__in=linked).only("id", "weight")})
    audit.order(AuditKind.ITEMS_CHANGED, order, "Items changed",
                before=[line_snapshot(l) for l in old], after=[line_snapshot(l) for l in new])  # fmt: skip


def _by_sku(sku: str, items: dict[str, ItemRef]) -> tuple[uuid.UUID | None, str]:
    """(stock item id, title) of the item with this SKU, or (None, "") for an unlinked line."""
    item = items.get(sku)
    return (item.id, item.title) if item else (None, "")


def _link_for(edit: ItemEdit, old: dict[uuid.UUID, OrderItem], items: dict[str, ItemRef]) -> tuple[uuid.UUID | None, str]:
    """(stock item id, title) an edited line links to: a kept line whose SKU text is unchanged keeps
    its link (even if the item's SKU was renamed since); any other line links by SKU."""
    kept = old.get(edit.id) if edit.id is not None else None
    if kept is not None and kept.sku == edit.sku and kept.stock_item_id is not None:
        return kept.stock_item_id, kept.title
    return _by_sku(edit.sku, items)
