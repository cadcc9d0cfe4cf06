"""GraphQL types of orders: the order, its lines, notes, properties, dispatch, returns, deleted orders."""

from __future__ import annotations

import inspect
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from orderdeck import models
from orderdeck.graphql.audit.types import audit_trail_field
from orderdeck.graphql.batched import batched_field, by, then
from orderdeck.graphql.common import Node, encode_id
from orderdeck.graphql.context import Loaders
from orderdeck.graphql.locations.loaders import location_by_id
from orderdeck.graphql.locations.types import Location
from orderdeck.graphql.orders import loaders
from orderdeck.graphql.stock.loaders import level_by_item_and_location, stock_item_by_id
from orderdeck.graphql.stock.types import StockItem, StockLevel
from orderdeck.services.allocation import AllocationState

OrderStatus = strawberry.enum(
    models.OrderStatus, name="OrderStatus",
    description="Payment/kind status: UNPAID (parked automatically), PAID, RETURN, PENDING, RESEND.",
)  # fmt: skip
OrderState = strawberry.enum(
    models.OrderState, name="OrderState",
    description="Where an order is in its life: OPEN, PROCESSED (shipped) or CANCELLED.",
)  # fmt: skip
DispatchState = strawberry.enum(
    models.DispatchState, name="DispatchState",
    description="Whether the channel has been told the order shipped (NOT_REQUIRED: no channel to tell).",
)  # fmt: skip
ALLOCATION_RULE = inspect.cleandoc(AllocationState.__doc__ or "")
StockAllocation = strawberry.enum(AllocationState, name="StockAllocation", description=ALLOCATION_RULE)


def _lines_of(order: models.Order, request: Loaders) -> uuid.UUID:
    """The key of an order's lines. Lines show their stock level at the order's location: the
    order is put in order_by_id for them to find."""
    request.get(loaders.order_by_id).prime(order.id, order)
    return order.id


def _level_of(line: models.OrderItem, request: Loaders) -> Any:
    """The key of the stock level a line shows: its item at its order's location (None: unlinked)."""
    if line.stock_item_id is None:
        return None
    order = request.load(loaders.order_by_id, line.order_id)
    return then(order, lambda o: None if o is None else (line.stock_item_id, o.location_id))


def _tag_names(tags: list[models.OrderTag]) -> list[str]:
    return [tag.name for tag in tags]


@strawberry.type(description="A postal address.")
class Address:
    full_name: str
    company: str
    address1: str
    address2: str
    address3: str
    town: str
    region: str
    postcode: str
    country: str
    phone: str

    @classmethod
    def of(cls, order: models.Order, prefix: str) -> Address:
        """The address stored on ``order`` in the columns ``<prefix>_<field>``."""
        return cls(**{name: getattr(order, f"{prefix}_{name}") for name in models.ADDRESS_FIELDS})


@strawberry.type(description="How an order ships.")
class Shipping:
    service: str
    vendor: str
    tracking_number: str
    total_weight: Decimal = strawberry.field(description="Weight of the linked lines (item weight x quantity).")
    postage: Decimal


@strawberry.type(
    description="An order's money: subtotal (lines net of discount, before tax) + tax + postage = total."
)
class Totals:
    subtotal: Decimal
    postage: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    currency: str
    payment_method: str


@strawberry.type(description="One line of an order.")
class OrderItem:
    sku: str
    channel_sku: str
    item_number: str = strawberry.field(description="The channel's id of this line.")
    title: str
    quantity: int
    unit_price: Decimal = strawberry.field(description="Price of one unit, before tax.")
    discount: Decimal
    tax_rate: Decimal = strawberry.field(description="Percent, e.g. 20 for 20%.")
    tax: Decimal
    line_total: Decimal = strawberry.field(description="quantity x unitPrice - discount + tax.")

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("OrderItem", self.id))  # type: ignore[attr-defined]

    @strawberry.field(description="Whether the line is linked to a stock item (unlinked lines hold no stock).")
    def linked(self) -> bool:
        return self.stock_item_id is not None  # type: ignore[attr-defined]

    stock_item = batched_field(
        StockItem | None, stock_item_by_id, key=by("stock_item_id"),
        description="The stock item this line is linked to; null when unlinked.",
    )  # fmt: skip
    stock_level = batched_field(
        StockLevel | None, level_by_item_and_location, key=_level_of,
        description="Stock of the linked item at the order's location; null when unlinked.",
    )  # fmt: skip


@strawberry.type(description="A note on an order. Internal notes are for the seller's staff only.")
class OrderNote:
    text: str
    internal: bool
    author: str
    created_at: datetime

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("OrderNote", self.id))  # type: ignore[attr-defined]


@strawberry.type(description="A named, typed value a channel or user attaches to an order.")
class ExtendedProperty:
    name: str
    value: str
    type: str


@strawberry.type(description="The dispatch note (carrier, tracking) owed to the order's channel once processed.")
class Dispatch:
    state: DispatchState = strawberry.field(description="Whether the channel has been told (yet).")
    carrier: str = strawberry.field(description="Who carries the parcel, as the channel is told.")
    service: str = strawberry.field(description="The carrier's service, as the channel is told.")
    tracking_number: str = strawberry.field(description="The parcel's tracking number (may be empty).")
    attempts: int = strawberry.field(description="How many times sending it was tried (since the last retry).")
    last_error: str | None = strawberry.field(description="Why the channel refused the last attempt; null if not.")
    sent_at: datetime | None = strawberry.field(description="When the channel was told; null until SENT.")
    followed_up_at: datetime | None = strawberry.field(
        description="When the channel was asked to follow the sale up with the buyer (Channel.followUp); null if not yet.")
    follow_up_error: str | None = strawberry.field(
        description="Why the channel refused the follow-up (it is not asked again); null if it did not.")

    @strawberry.field(description="When a PENDING note the channel refused is tried again; null otherwise.")
    def next_attempt_at(self) -> datetime | None:
        d: Any = self
        return d.next_attempt_at if d.state == models.DispatchState.PENDING else None


@strawberry.type(description="A quantity of one order line in a return.")
class OrderReturnItem:
    quantity: int

    order_item = batched_field(OrderItem, loaders.order_item_by_id, key=by("order_item_id"))


@strawberry.type(description="Items returned from a processed order, restocked at a location if asked.")
class OrderReturn:
    reason: str
    restock: bool
    created_by: str
    created_at: datetime

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("OrderReturn", self.id))  # type: ignore[attr-defined]

    location = batched_field(
        Location | None, location_by_id, key=by("location_id"),
        description="Where the items were restocked; null when not restocked.",
    )  # fmt: skip
    items = batched_field(list[OrderReturnItem], loaders.items_by_return, key=by("id"))


FulfilmentState = strawberry.enum(
    models.FulfilmentState, name="FulfilmentState",
    description="Where an order is with a fulfilment centre: EXPORTED and ERROR hold it (it cannot be moved, edited, "
    "cancelled or processed by hand: FULFILMENT_LOCKED), SHIPPED processed it, CANCELLED gave it back.",
)  # fmt: skip


@strawberry.type(description="A customer order: open until processed (shipped) or cancelled.")
class Order(Node):
    number: int = strawberry.field(description="The human, sequential order number.")
    source: str = strawberry.field(description="Where the order came from: DIRECT, DATAIMPORTEXPORT, EBAY, ...")
    subsource: str = strawberry.field(description="The account of the source, e.g. EBAY1.")
    reference: str | None = strawberry.field(description="The channel's order number (what users search by).")
    secondary_reference: str | None
    external_reference: str | None
    status: OrderStatus
    state: OrderState
    parked: bool = strawberry.field(description="Kept out of processing; its stock stays allocated.")
    locked: bool = strawberry.field(description="Holds no stock, cannot be edited or processed.")
    on_hold: bool
    label_printed: bool = strawberry.field(description="The label is printed (at a fulfilment centre: the order was exported).")
    invoice_printed: bool
    fulfilment_state: FulfilmentState | None = strawberry.field(
        description="Where the order is with its location's fulfilment centre; null when not (yet) handed over."
    )
    exported_at: datetime | None = strawberry.field(description="When it was exported to its fulfilment centre.")
    export_file: str = strawberry.field(description="The file (or the centre's reference) it was exported in.")
    label_error: str = strawberry.field(
        description="Why the last export to the fulfilment centre failed (it is tried again); empty otherwise."
    )
    fulfilment_message: str = strawberry.field(description="The fulfilment centre's last words on it (an error's text).")
    received_at: datetime
    despatch_by_at: datetime | None
    paid_at: datetime | None
    processed_at: datetime | None
    cancelled_at: datetime | None
    buyer_name: str
    email: str
    created_at: datetime = strawberry.field(description="When orderdeck recorded the order.")
    updated_at: datetime = strawberry.field(description="When the order last changed.")

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Order", self.id))  # type: ignore[arg-type]

    @strawberry.field
    def shipping_address(self) -> Address:
        return Address.of(self, "shipping")  # type: ignore[arg-type]

    @strawberry.field
    def billing_address(self) -> Address:
        return Address.of(self, "billing")  # type: ignore[arg-type]

    @strawberry.field
    def shipping(self) -> Shipping:
        o: Any = self
        return Shipping(service=o.shipping_service, vendor=o.shipping_vendor, tracking_number=o.tracking_number,
                        total_weight=o.total_weight, postage=o.postage)  # fmt: skip

    @strawberry.field
    def totals(self) -> Totals:
        o: Any = self
        return Totals(subtotal=o.subtotal, postage=o.postage, discount=o.discount, tax=o.tax, total=o.total,
                      currency=o.currency, payment_method=o.payment_method)  # fmt: skip

    location = batched_field(
        Location, location_by_id, key=by("location_id"),
        description="The location the order ships from and takes its stock from.",
    )  # fmt: skip
    items = batched_field(
        list[OrderItem], loaders.items_by_order, key=_lines_of, description="The order's lines, in order."
    )
    tags = batched_field(list[str], loaders.tags_by_order, key=by("id"), shape=_tag_names)
    notes = batched_field(list[OrderNote], loaders.notes_by_order, key=by("id"), description="Notes, oldest first.")
    extended_properties = batched_field(
        list[ExtendedProperty], loaders.properties_by_order, key=by("id"), description="Extended properties, by name."
    )
    dispatch = batched_field(
        Dispatch | None, loaders.dispatch_by_order, key=by("id"),
        description="The dispatch owed to the channel; null until the order is processed.",
    )  # fmt: skip
    returns = batched_field(
        list[OrderReturn], loaders.returns_by_order, key=by("id"),
        description="Returns recorded against this (processed) order, oldest first.",
    )  # fmt: skip
    original_order = batched_field(
        "Order | None", loaders.order_by_id, key=by("original_order_id"),
        description="For a resend (status RESEND): the processed order it ships again.",
    )  # fmt: skip
    resends = batched_field(
        "list[Order]", loaders.resends_by_order, key=by("id"), description="Resends of this order, by number."
    )
    allocation = batched_field(StockAllocation, loaders.allocation_by_order, key=by("id"), description=ALLOCATION_RULE)

    audit_trail = audit_trail_field("order")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (models.Order, cls))


@strawberry.type(
    description="What is left of an order a user deleted: identity, references, who, when, why, and a "
    "snapshot of the order as it was."
)
class DeletedOrder:
    number: int
    source: str
    subsource: str
    reference: str | None
    secondary_reference: str | None
    external_reference: str | None
    reason: str
    deleted_by: str
    deleted_at: datetime
    snapshot: JSON = strawberry.field(description="The order's fields and lines when it was deleted.")

    @strawberry.field(description='The deleted order\'s id ("DeletedOrder:<the order\'s uuid>").')
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("DeletedOrder", self.id))  # type: ignore[attr-defined]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (models.DeletedOrder, cls))


OrderSearchResult = Annotated[
    Order | DeletedOrder,
    strawberry.union("OrderSearchResult", description="An order found by search: live, or deleted."),
]


@strawberry.type(description="How many open orders wait at one location with one status.")
class OpenOrderCount:
    location_id: strawberry.Private[uuid.UUID]
    status: OrderStatus
    count: int

    location = batched_field(Location, location_by_id, key=by("location_id"), description="The location.")
