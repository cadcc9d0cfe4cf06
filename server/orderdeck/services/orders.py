"""Order operations: create, edit, flags, move, process, cancel and delete (notes and properties
are in services.order_notes, returns and resends in services.returns, on the shared steps here).

Each public function is one transaction and writes its audit entries in it. Orders are locked
(SELECT ... FOR UPDATE, in id order) before stock rows, everywhere, so concurrent operations on the
same orders serialise and never deadlock.

Stock policy: an order is accepted even when its location has too little stock (as in Linnworks):
its lines are allocated, available may go negative, and the order is shown as insufficient. An
order is processed only when its location physically holds its quantities: processing never drives
a level below zero.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from tortoise.exceptions import IntegrityError

from orderdeck import db
from orderdeck.models import (
    ADDRESS_FIELDS,
    TAGGED_ORDER_KEYS,
    AuditKind,
    Counter,
    DeletedOrder,
    Dispatch,
    DispatchState,
    Location,
    Order,
    OrderItem,
    OrderNote,
    OrderProperty,
    OrderState,
    OrderStatus,
    OrderTag,
    Source,
    StockChangeReason,
    StockItem,
    SyncKind,
)
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.bulk import as_stored, insert_rows
from orderdeck.services.context import Actor, by_values, save_fields, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError, camel_case, not_found, validated
from orderdeck.services.fields import clean_text
from orderdeck.services.order_inputs import (
    ItemEdit,
    ItemInput,
    OrderIds,
    OrderInput,
    OrderPatch,
    ShipmentInput,
)
from orderdeck.services.locations import ensure_default_location, hold_locations
from orderdeck.services.order_intake import ItemRef, build_rows, line_row, order_fields, order_totals, tag_row
from orderdeck.services.stock import StockChange, apply_stock_changes, lock_levels

BULK_LIMIT = 1000
"""The most orders one call of create_orders accepts (GraphQL caps batches lower)."""



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


def _path(prefix: str, field: str) -> str:
    """A field's path inside the n-th input of a batch (prefix "orders.3") or a single input ("")."""
    return f"{prefix}.{field}" if prefix else field


def _open(order: Order, verb: str) -> None:
    """Refuse unless the order is open."""
    if order.state != OrderState.OPEN:
        raise Refusal(f"Order {order.number} is {order.state.value.lower()} and cannot be {verb}")


def _snapshot(order: Order) -> dict[str, Any]:
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


def _line_snapshot(line: OrderItem) -> dict[str, Any]:
    return {"sku": line.sku, "quantity": line.quantity, "unitPrice": str(line.unit_price),
            "linked": line.stock_item_id is not None}  # fmt: skip


def _set_totals(order: Order, lines: list[OrderItem], weights: dict[uuid.UUID, Decimal]) -> None:
    """Set an order's totals and weight from its lines; refuse amounts the columns cannot hold."""
    for name, value in order_totals([vars(l) for l in lines], order.postage, weights).items():
        setattr(order, name, value)


def _make_line(
    order_id: uuid.UUID, position: int, data: ItemInput, stock_item_id: uuid.UUID | None, item_title: str = ""
) -> OrderItem:
    """An order line; its title defaults to the linked stock item's."""
    return OrderItem(**line_row(order_id, position, data, stock_item_id, item_title))


async def _stock_items(skus: set[str], channel_id: uuid.UUID | None = None) -> dict[str, ItemRef]:
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


def _apply_fields(order: Order, data: dict[str, Any]) -> None:
    """Copy validated order fields (addresses flattened) onto an order."""
    for key, value in order_fields(data).items():
        setattr(order, key, value)


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
) -> list[Order]:
    """Create orders in bulk (one transaction, a constant number of statements per call).

    Lines link to stock items by SKU; for a channel's orders (``channel_id``), first through the
    channel's listings of that SKU. Unknown SKUs are an error unless ``allow_unlinked`` (channel
    downloads and imports), in which case the line stays unlinked and holds no stock. A reference
    already used by an order of the same source and subsource is an error.
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
        items = await _stock_items(skus, channel_id)
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
        missing = [FieldError(f"Location {o.location_id} does not exist", _path(prefix(n), "locationId"),
                              ErrorCode.NOT_FOUND)
                   for n, o in enumerate(inputs) if o.location_id and o.location_id not in locations]  # fmt: skip
        if missing:
            raise ServiceError(missing)
        default = await resolve_location(None, "locationId") if any(o.location_id is None for o in inputs) else None
        await _refuse_existing_references(source, inputs, prefix)
        first = await next_numbers(len(inputs))
        rows = build_rows(inputs, source, first, items, locations, default, actor, channel_id)
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


# --- edit ------------------------------------------------------------------------------------


async def update_order(order_id: uuid.UUID, data: OrderPatch | dict, actor: Actor) -> Order:
    """Edit an open, unlocked order. When items change, the allocation follows the change."""
    patch = validated(OrderPatch, data)
    changes = patch.model_dump(exclude_unset=True)
    async with transaction():
        order = await lock_order(order_id, "id")
        _editable(order)
        before = _snapshot(order)
        audit = AuditLog(actor)
        new_items = changes.pop("items", None)
        _apply_fields(order, changes)
        if new_items is not None:
            await _replace_lines(order, patch.items or [], actor, audit)
        elif "postage" in changes:
            lines = (await lines_by_order([order.id]))[order.id]
            weights = {i.id: i.weight for i in await StockItem.filter(id__in={l.stock_item_id for l in lines if l.stock_item_id})}
            _set_totals(order, lines, weights)
        order.updated_at = now()
        await order.save()
        await copy_keys_to_tags([order], changes)
        after = _snapshot(order)
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
    items = await _stock_items({e.sku for e in edits})
    old_skus = {line.sku for line in old}
    errors += [
        FieldError(f"SKU {e.sku} does not exist", f"items.{n}.sku", ErrorCode.NOT_FOUND)
        for n, e in enumerate(edits) if e.sku not in items and e.sku not in old_skus
    ]  # fmt: skip
    if errors:
        raise ServiceError(errors)
    new = [_make_line(order.id, n, e, *_link_for(e, old_by_id, items)) for n, e in enumerate(edits)]
    if order.holds_stock:
        changes = allocation_changes(order, old, -1, StockChangeReason.ORDER_EDITED)
        changes += allocation_changes(order, new, +1, StockChangeReason.ORDER_EDITED)
        await apply_stock_changes(changes, actor)
    await OrderItem.filter(order_id=order.id).delete()
    await OrderItem.bulk_create(new)
    linked = {line.stock_item_id for line in new if line.stock_item_id}
    _set_totals(order, new, {i.id: i.weight for i in await StockItem.filter(id__in=linked).only("id", "weight")})
    audit.order(AuditKind.ITEMS_CHANGED, order, "Items changed",
                before=[_line_snapshot(l) for l in old], after=[_line_snapshot(l) for l in new])  # fmt: skip


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
        _open(order, "changed")
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
        _open(order, "changed")
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
        return await _run_batch(order_ids, actor, _move_step(target), ["location_id"])


def _move_step(target: Location) -> Step:
    def step(order: Order, ctx: BatchContext) -> None:
        _open(order, "moved")
        if order.location_id == target.id:
            raise Refusal(f"Order {order.number} is already at {target.name}")
        if order.holds_stock:
            ctx.changes += allocation_changes(order, ctx.lines[order.id], -1, StockChangeReason.ORDER_MOVED)
            ctx.changes += allocation_changes(order, ctx.lines[order.id], +1, StockChangeReason.ORDER_MOVED, target.id)
        before = order.location_id
        order.location_id = target.id
        ctx.audit.order(AuditKind.MOVED, order, f"Moved to {target.name}",
                        before={"locationId": str(before)}, after={"locationId": str(target.id)})  # fmt: skip

    return step


# --- process ---------------------------------------------------------------------------------


async def process_orders(shipments: list[ShipmentInput | dict], actor: Actor) -> BatchResult:
    """Process (ship) open orders: deduct each line from its location's level, release the
    allocation, record the dispatch owed to the channel, and move the order to processed.

    Skipped, each with its reason: parked, locked, on-hold and unpaid orders, orders with unlinked
    lines, and orders whose location does not physically hold their quantities.
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
        audit, changes, dispatches, stamp = AuditLog(actor), [], [], now()
        for oid, shipment in by_id.items():
            order = orders.get(oid)
            if order is None:
                result.failures.append(OrderFailure(oid, f"Order {oid} does not exist", ErrorCode.NOT_FOUND))
                continue
            try:
                _processable(order, lines[oid], left)
            except Refusal as refusal:
                result.failures.append(OrderFailure(oid, refusal.message, refusal.code, order.number))
                continue
            for line in lines[oid]:
                left[(line.stock_item_id, order.location_id)] -= line.quantity
                changes.append(StockChange(line.stock_item_id, order.location_id, StockChangeReason.ORDER_PROCESSED,
                                           level=-line.quantity, allocated=-line.quantity,
                                           order_id=order.id, order_number=order.number))  # fmt: skip
            for name in ("tracking_number", "shipping_vendor", "shipping_service"):
                if getattr(shipment, name) is not None:
                    setattr(order, name, getattr(shipment, name))
            order.state, order.processed_at, order.updated_at = OrderState.PROCESSED, stamp, stamp
            dispatches.append(Dispatch(
                order_id=order.id, carrier=order.shipping_vendor, service=order.shipping_service,
                tracking_number=order.tracking_number,
                state=DispatchState.PENDING if order.channel_id else DispatchState.NOT_REQUIRED,
            ))  # fmt: skip
            audit.order(AuditKind.PROCESSED, order, f"Processed at {stamp.isoformat()}",
                        after={"trackingNumber": order.tracking_number})  # fmt: skip
            result.orders.append(order)
        await apply_stock_changes(changes, actor)
        if result.orders:
            await save_orders(result.orders, ["state", "processed_at", "updated_at", "tracking_number",
                                              "shipping_vendor", "shipping_service"])  # fmt: skip
            await Dispatch.bulk_create(dispatches)
            outbox.wake(SyncKind.DISPATCH, {o.channel_id for o in result.orders if o.channel_id})
        await audit.write()
    return result


def _processable(order: Order, lines: list[OrderItem], left: dict[tuple, int]) -> None:
    """Refuse with the reason an order cannot be processed now."""
    _open(order, "processed")
    if order.locked:
        raise Refusal(f"Order {order.number} is locked", ErrorCode.ORDER_LOCKED)
    if order.parked:
        raise Refusal(f"Order {order.number} is parked", ErrorCode.ORDER_PARKED)
    if order.on_hold:
        raise Refusal(f"Order {order.number} is on hold", ErrorCode.ORDER_ON_HOLD)
    if order.status == OrderStatus.UNPAID:
        raise Refusal(f"Order {order.number} is unpaid", ErrorCode.ORDER_UNPAID)
    unlinked = [l.sku for l in lines if l.stock_item_id is None]
    if unlinked:
        raise Refusal(f"Order {order.number} has unlinked items: {', '.join(unlinked)}", ErrorCode.UNLINKED_ITEMS)
    need: dict[tuple, int] = {}
    for line in lines:
        key = (line.stock_item_id, order.location_id)
        need[key] = need.get(key, 0) + line.quantity
    short = [key for key, qty in need.items() if left.get(key, 0) < qty]
    if short:
        skus = ", ".join(l.sku for l in lines if (l.stock_item_id, order.location_id) in short)
        raise Refusal(f"Order {order.number}: not enough stock of {skus} at its location", ErrorCode.INSUFFICIENT_STOCK)


# --- cancel and delete -------------------------------------------------------------------------


async def cancel_orders(order_ids: list[uuid.UUID], reason: str, actor: Actor) -> BatchResult:
    """Cancel open orders: their allocation is released; they stay searchable as cancelled."""
    reason = _reason(reason)

    def step(order: Order, ctx: BatchContext) -> None:
        _open(order, "cancelled")
        if order.holds_stock:
            ctx.changes += allocation_changes(order, ctx.lines[order.id], -1, StockChangeReason.ORDER_CANCELLED)
        order.state, order.cancelled_at = OrderState.CANCELLED, now()
        ctx.audit.order(AuditKind.CANCELLED, order, reason)

    return await _run_batch(order_ids, actor, step, ["state", "cancelled_at"])


async def delete_orders(order_ids: list[uuid.UUID], reason: str, actor: Actor) -> BatchResult:
    """Delete open orders: their allocation is released and a deleted-order record (who, when,
    why, and a snapshot of the order) is kept, searchable by reference."""
    reason = _reason(reason)
    deleted: list[DeletedOrder] = []

    def step(order: Order, ctx: BatchContext) -> None:
        _open(order, "deleted")
        if order.holds_stock:
            ctx.changes += allocation_changes(order, ctx.lines[order.id], -1, StockChangeReason.ORDER_DELETED)
        snapshot = _snapshot(order) | {"items": [_line_snapshot(l) for l in ctx.lines[order.id]]}
        deleted.append(DeletedOrder(
            id=order.id, number=order.number, source=order.source, subsource=order.subsource,
            reference=order.reference, secondary_reference=order.secondary_reference,
            external_reference=order.external_reference, reason=reason, deleted_by=actor.name,
            snapshot=snapshot,
        ))  # fmt: skip
        ctx.audit.order(AuditKind.DELETED, order, reason, before=snapshot)

    async def remove(orders: list[Order]) -> None:
        await DeletedOrder.bulk_create(deleted)
        await Order.filter(id__in=[o.id for o in orders]).delete()

    return await _run_batch(order_ids, actor, step, [], remove)


def _reason(reason: str) -> str:
    return clean_text(reason or "", "reason", 500)
