"""GraphQL mutations of the orders area. Each one calls one service operation.

Refused input comes back in the payload's ``errors`` (nothing is changed then), each naming its
field: relative to the input object for mutations taking one (``items.0.sku``), ``input.<n>.``
first for mutations taking a list of inputs (``input.3.locationId``), the argument's name
otherwise (``orderIds.2``, ``locationId``). Batch operations (processOrder included) change the
orders they can and list the others in ``failures`` with the reason (e.g. a cancelled order cannot
be moved, a processed one cannot be processed again).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import strawberry

from orderdeck import models
from orderdeck.graphql.common import ErrorCode, UserError, attempt, decode_id, decode_ids, encode_id
from orderdeck.graphql.context import Info
from orderdeck.graphql.orders.inputs import (
    OrderInput,
    OrderNoteInput,
    OrderPatchInput,
    OrderPropertyInput,
    ProcessOrderInput,
    ResendInput,
    ReturnInput,
    to_service,
)
from orderdeck.graphql.orders.types import ExtendedProperty, Order, OrderNote, OrderReturn, OrderStatus
from orderdeck.graphql.permissions import CANCEL_ORDERS, CREATE_ORDERS, EDIT_ORDERS, PROCESS_ORDERS
from orderdeck.services import dispatches
from orderdeck.services.orders import notes as note_service
from orderdeck.services import orders as service
from orderdeck.services.orders import returns as return_service
from orderdeck.services.context import MAX_BATCH, Actor
from orderdeck.services.errors import ErrorCode as ServiceErrorCode
from orderdeck.services.errors import ServiceError

# --- payloads --------------------------------------------------------------------------------


@strawberry.type(description="An order a batch operation did not change, and why.")
class OrderFailure:
    order_id: strawberry.ID
    number: int | None
    message: str
    code: ErrorCode


@strawberry.type(description="The orders a batch operation changed, and those it skipped with the reason.")
class OrdersBatchPayload:
    orders: list[Order] = strawberry.field(default_factory=list)
    failures: list[OrderFailure] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateOrderPayload:
    order: Order | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateOrdersPayload:
    orders: list[Order] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UpdateOrderPayload:
    order: Order | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderNotePayload:
    order: Order | None = None
    note: OrderNote | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderPropertyPayload:
    order: Order | None = None
    property: ExtendedProperty | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderPayload:
    order: Order | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateReturnPayload:
    order_return: OrderReturn | None = None
    order: Order | None = strawberry.field(default=None, description="The order the items came back from.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateResendPayload:
    order: Order | None = strawberry.field(default=None, description="The new resend order.")
    errors: list[UserError] = strawberry.field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------------

OrderIds = list[strawberry.ID]

BatchOperation = Callable[[list[uuid.UUID], Actor], Awaitable[service.BatchResult]]


def _batch_payload(result: service.BatchResult | None, errors: list[UserError]) -> OrdersBatchPayload:
    if result is None:
        return OrdersBatchPayload(errors=errors)
    failures = [
        OrderFailure(order_id=strawberry.ID(encode_id("Order", f.order_id)), number=f.number, message=f.message,
                     code=f.code)  # fmt: skip
        for f in result.failures
    ]
    return OrdersBatchPayload(orders=result.orders, failures=failures)  # type: ignore[arg-type]


async def _on_orders(order_ids: list[strawberry.ID], operation: BatchOperation, actor: Actor) -> OrdersBatchPayload:
    """Decode ``orderIds`` and run a batch operation on them."""

    async def call() -> service.BatchResult:
        return await operation(decode_ids(order_ids, "Order", "orderIds", MAX_BATCH), actor)

    return _batch_payload(*await attempt(call))


def _listed(data: list, what: str) -> None:
    """Refuse an empty or over-long list input (field ``input``)."""
    if not 1 <= len(data) <= MAX_BATCH:
        code = ServiceErrorCode.TOO_MANY if data else ServiceErrorCode.INVALID
        raise ServiceError.one(f"Give between 1 and {MAX_BATCH} {what}", "input", code)


def _rebased(errors: list[UserError], count: int) -> list[UserError]:
    """Service paths of a list input (``orders.<n>.x``, or ``x`` for a list of one) as ``input.<n>.x``."""
    for error in errors:
        name = error.field
        if name is None or name == "input" or name.startswith("input."):
            continue
        if name == "orders" or name.startswith("orders."):
            error.field = "input" + name.removeprefix("orders")
        elif count == 1:
            error.field = f"input.0.{name}"
    return errors


def _unnested(errors: list[UserError]) -> list[UserError]:
    """Service paths of a single order of a batch (``orders.0.x``) as ``x``."""
    for error in errors:
        if error.field is not None and error.field.startswith("orders.0."):
            error.field = error.field.removeprefix("orders.0.")
    return errors


def _actor(info: Info) -> Actor:
    return info.context.actor  # type: ignore[return-value]


# --- mutations -------------------------------------------------------------------------------


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=CREATE_ORDERS,
        description="Create a manual (DIRECT) order; its linked lines are allocated at its location, even "
        "beyond the stock there (the order then shows as INSUFFICIENT).",
    )
    async def create_order(self, info: Info, input: OrderInput) -> CreateOrderPayload:
        order, errors = await attempt(lambda: service.create_direct_order(to_service(input), _actor(info)))
        return CreateOrderPayload(order=order, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=CREATE_ORDERS,
        description=f"Create 1 to {MAX_BATCH} manual orders, all or none.",
    )
    async def create_orders(self, info: Info, input: list[OrderInput]) -> CreateOrdersPayload:
        def call() -> Awaitable[list[models.Order]]:
            _listed(input, "orders")
            return service.create_orders([to_service(o, f"input.{n}.") for n, o in enumerate(input)], _actor(info))

        created, errors = await attempt(call)
        return CreateOrdersPayload(orders=created or [], errors=_rebased(errors, len(input)))  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Edit an open, unlocked order. `items`, when given, is the complete new list of lines "
        "(give a line's `id` to change it); the allocation follows the change.",
    )
    async def update_order(self, info: Info, id: strawberry.ID, input: OrderPatchInput) -> UpdateOrderPayload:
        order, errors = await attempt(
            lambda: service.update_order(decode_id(id, "Order", "id"), to_service(input), _actor(info))
        )
        return UpdateOrderPayload(order=order, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Change the status of open orders: UNPAID parks an order, PAID unparks an unpaid one. "
        "RETURN and RESEND are set by createReturn and createResend.",
    )
    async def set_order_status(self, info: Info, order_ids: OrderIds, status: OrderStatus) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.set_status(ids, status, actor), _actor(info))

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Park open orders (kept out of processing; their stock stays allocated).",
    )
    async def park_orders(self, info: Info, order_ids: OrderIds) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.set_parked(ids, True, actor), _actor(info))

    @strawberry.mutation(permission_classes=EDIT_ORDERS, description="Unpark open orders.")
    async def unpark_orders(self, info: Info, order_ids: OrderIds) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.set_parked(ids, False, actor), _actor(info))

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Lock open orders: their stock is released; they cannot be edited or processed.",
    )
    async def lock_orders(self, info: Info, order_ids: OrderIds) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.set_locked(ids, True, actor), _actor(info))

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Unlock open orders: their stock is allocated again.",
    )
    async def unlock_orders(self, info: Info, order_ids: OrderIds) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.set_locked(ids, False, actor), _actor(info))

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Put open orders on hold (not processed until released).",
    )
    async def hold_orders(self, info: Info, order_ids: OrderIds) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.set_on_hold(ids, True, actor), _actor(info))

    @strawberry.mutation(permission_classes=EDIT_ORDERS, description="Release orders on hold.")
    async def release_orders(self, info: Info, order_ids: OrderIds) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.set_on_hold(ids, False, actor), _actor(info))

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Tag orders (1 to 20 tags); tags already there stay.",
    )
    async def add_order_tags(self, info: Info, order_ids: OrderIds, tags: list[str]) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.add_tags(ids, tags, actor), _actor(info))

    @strawberry.mutation(permission_classes=EDIT_ORDERS, description="Remove tags from orders.")
    async def remove_order_tags(self, info: Info, order_ids: OrderIds, tags: list[str]) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.remove_tags(ids, tags, actor), _actor(info))

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Move open orders to another location; their allocation moves with them.",
    )
    async def move_orders(
        self, info: Info, order_ids: OrderIds, location_id: strawberry.ID
    ) -> OrdersBatchPayload:
        async def move(ids: list[uuid.UUID], actor: Actor) -> service.BatchResult:
            return await service.move_orders(ids, decode_id(location_id, "Location", "locationId"), actor)

        return await _on_orders(order_ids, move, _actor(info))

    @strawberry.mutation(
        permission_classes=PROCESS_ORDERS,
        description="Process (ship) an open order: its location's level is deducted, its allocation released, "
        "and a dispatch recorded for its channel. An order that cannot be processed (parked, locked, on hold, "
        "unpaid, with unlinked lines, or whose location does not hold its quantities) is in `failures`.",
    )
    async def process_order(self, info: Info, input: ProcessOrderInput) -> OrdersBatchPayload:
        result, errors = await attempt(lambda: service.process_orders([to_service(input)], _actor(info)))
        return _batch_payload(result, _unnested(errors))

    @strawberry.mutation(
        permission_classes=PROCESS_ORDERS,
        description=f"Process 1 to {MAX_BATCH} orders (see processOrder); those that cannot be are skipped.",
    )
    async def process_orders(self, info: Info, input: list[ProcessOrderInput]) -> OrdersBatchPayload:
        def call() -> Awaitable[service.BatchResult]:
            _listed(input, "orders")
            return service.process_orders([to_service(s, f"input.{n}.") for n, s in enumerate(input)], _actor(info))

        result, errors = await attempt(call)
        return _batch_payload(result, _rebased(errors, 0))

    @strawberry.mutation(
        permission_classes=PROCESS_ORDERS,
        description="Send again the dispatch notes that failed for good (dispatch state FAILED) of these orders: "
        "their attempts start over, in the background. Orders without a failed note are in `failures`.",
    )
    async def retry_dispatches(self, info: Info, order_ids: OrderIds) -> OrdersBatchPayload:
        return await _on_orders(order_ids, dispatches.retry_dispatches, _actor(info))

    @strawberry.mutation(
        permission_classes=CANCEL_ORDERS,
        description="Cancel open orders: their stock is released; they stay searchable as cancelled.",
    )
    async def cancel_orders(self, info: Info, order_ids: OrderIds, reason: str) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.cancel_orders(ids, reason, actor), _actor(info))

    @strawberry.mutation(
        permission_classes=CANCEL_ORDERS,
        description="Delete open orders: their stock is released and a deleted-order record with a snapshot is "
        "kept (see deletedOrders and searchOrders). `orders` give the deleted orders' last fields; their lines, "
        "notes and tags are gone with them.",
    )
    async def delete_orders(self, info: Info, order_ids: OrderIds, reason: str) -> OrdersBatchPayload:
        return await _on_orders(order_ids, lambda ids, actor: service.delete_orders(ids, reason, actor), _actor(info))

    @strawberry.mutation(permission_classes=EDIT_ORDERS, description="Add a note to an order (in any state).")
    async def add_order_note(self, info: Info, order_id: strawberry.ID, input: OrderNoteInput) -> OrderNotePayload:
        note, errors = await attempt(
            lambda: note_service.add_note(decode_id(order_id, "Order", "orderId"), to_service(input), _actor(info))
        )
        if note is None:
            return OrderNotePayload(errors=errors)
        order = await models.Order.get(id=note.order_id)
        return OrderNotePayload(order=order, note=note)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=EDIT_ORDERS, description="Delete a note.")
    async def delete_order_note(self, info: Info, note_id: strawberry.ID) -> OrderPayload:
        order, errors = await attempt(
            lambda: note_service.delete_note(decode_id(note_id, "OrderNote", "noteId"), _actor(info))
        )
        return OrderPayload(order=order, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=EDIT_ORDERS,
        description="Set an extended property (replacing one of the same name).",
    )
    async def set_order_property(
        self, info: Info, order_id: strawberry.ID, input: OrderPropertyInput
    ) -> OrderPropertyPayload:
        prop, errors = await attempt(
            lambda: note_service.set_property(decode_id(order_id, "Order", "orderId"), to_service(input), _actor(info))
        )
        if prop is None:
            return OrderPropertyPayload(errors=errors)
        order = await models.Order.get(id=prop.order_id)
        return OrderPropertyPayload(order=order, property=prop)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=EDIT_ORDERS, description="Remove an extended property by name.")
    async def remove_order_property(self, info: Info, order_id: strawberry.ID, name: str) -> OrderPayload:
        order, errors = await attempt(
            lambda: note_service.remove_property(decode_id(order_id, "Order", "orderId"), name, _actor(info))
        )
        return OrderPayload(order=order, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=PROCESS_ORDERS,
        description="Record items returned from a processed order (at most what was shipped less what was "
        "returned before), restocking them at a location unless restock is false.",
    )
    async def create_return(self, info: Info, input: ReturnInput) -> CreateReturnPayload:
        row, errors = await attempt(lambda: return_service.create_return(to_service(input), _actor(info)))
        if row is None:
            return CreateReturnPayload(errors=errors)
        order = await models.Order.get(id=row.order_id)
        return CreateReturnPayload(order_return=row, order=order)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=PROCESS_ORDERS,
        description="Ship items of a processed order again: a new open order with status RESEND, linked to "
        "the original, allocating stock at its location.",
    )
    async def create_resend(self, info: Info, input: ResendInput) -> CreateResendPayload:
        order, errors = await attempt(lambda: return_service.create_resend(to_service(input), _actor(info)))
        return CreateResendPayload(order=order, errors=errors)  # type: ignore[arg-type]
