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
from orderdeck.graphql.common import Node, encode_id
from orderdeck.graphql.context import Info
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

    @strawberry.field(description="The stock item this line is linked to; null when unlinked.")
    async def stock_item(self, info: Info) -> StockItem | None:
        if self.stock_item_id is None:  # type: ignore[attr-defined]
            return None
        return await info.context.loaders.get(stock_item_by_id).load(self.stock_item_id)  # type: ignore[attr-defined]

    @strawberry.field(description="Stock of the linked item at the order's location; null when unlinked.")
    async def stock_level(self, info: Info) -> StockLevel | None:
        if self.stock_item_id is None:  # type: ignore[attr-defined]
            return None
        order = await info.context.loaders.get(loaders.order_by_id).load(self.order_id)  # type: ignore[attr-defined]
        if order is None:
            return None
        key = (self.stock_item_id, order.location_id)  # type: ignore[attr-defined]
        return await info.context.loaders.get(level_by_item_and_location).load(key)  # type: ignore[return-value]


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

    @strawberry.field(description="When a PENDING note the channel refused is tried again; null otherwise.")
    def next_attempt_at(self) -> datetime | None:
        d: Any = self
        return d.next_attempt_at if d.state == models.DispatchState.PENDING else None


@strawberry.type(description="A quantity of one order line in a return.")
class OrderReturnItem:
    quantity: int

    @strawberry.field
    async def order_item(self, info: Info) -> OrderItem:
        loader = info.context.loaders.get(loaders.order_item_by_id)
        return await loader.load(self.order_item_id)  # type: ignore[attr-defined,return-value]


@strawberry.type(description="Items returned from a processed order, restocked at a location if asked.")
class OrderReturn:
    reason: str
    restock: bool
    created_by: str
    created_at: datetime

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("OrderReturn", self.id))  # type: ignore[attr-defined]

    @strawberry.field(description="Where the items were restocked; null when not restocked.")
    async def location(self, info: Info) -> Location | None:
        if self.location_id is None:  # type: ignore[attr-defined]
            return None
        return await info.context.loaders.get(location_by_id).load(self.location_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def items(self, info: Info) -> list[OrderReturnItem]:
        loader = info.context.loaders.get(loaders.items_by_return)
        return await loader.load(self.id)  # type: ignore[attr-defined,return-value]


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
    label_printed: bool
    invoice_printed: bool
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

    @strawberry.field(description="The location the order ships from and takes its stock from.")
    async def location(self, info: Info) -> Location:
        return await info.context.loaders.get(location_by_id).load(self.location_id)  # type: ignore[attr-defined]

    @strawberry.field(description="The order's lines, in order.")
    async def items(self, info: Info) -> list[OrderItem]:
        # Lines resolve their stock level at this order's location: let them find the order here.
        info.context.loaders.get(loaders.order_by_id).prime(self.id, self)  # type: ignore[arg-type]
        loader = info.context.loaders.get(loaders.items_by_order)
        return await loader.load(self.id)  # type: ignore[arg-type,return-value]

    @strawberry.field
    async def tags(self, info: Info) -> list[str]:
        tags = await info.context.loaders.get(loaders.tags_by_order).load(self.id)  # type: ignore[arg-type]
        return [tag.name for tag in tags]

    @strawberry.field(description="Notes, oldest first.")
    async def notes(self, info: Info) -> list[OrderNote]:
        loader = info.context.loaders.get(loaders.notes_by_order)
        return await loader.load(self.id)  # type: ignore[arg-type,return-value]

    @strawberry.field(description="Extended properties, by name.")
    async def extended_properties(self, info: Info) -> list[ExtendedProperty]:
        loader = info.context.loaders.get(loaders.properties_by_order)
        return await loader.load(self.id)  # type: ignore[arg-type,return-value]

    @strawberry.field(description="The dispatch owed to the channel; null until the order is processed.")
    async def dispatch(self, info: Info) -> Dispatch | None:
        loader = info.context.loaders.get(loaders.dispatch_by_order)
        return await loader.load(self.id)  # type: ignore[arg-type,return-value]

    @strawberry.field(description="Returns recorded against this (processed) order, oldest first.")
    async def returns(self, info: Info) -> list[OrderReturn]:
        loader = info.context.loaders.get(loaders.returns_by_order)
        return await loader.load(self.id)  # type: ignore[arg-type,return-value]

    @strawberry.field(description="For a resend (status RESEND): the processed order it ships again.")
    async def original_order(self, info: Info) -> Order | None:
        if self.original_order_id is None:  # type: ignore[attr-defined]
            return None
        loader = info.context.loaders.get(loaders.order_by_id)
        return await loader.load(self.original_order_id)  # type: ignore[attr-defined,return-value]

    @strawberry.field(description="Resends of this order, by number.")
    async def resends(self, info: Info) -> list[Order]:
        loader = info.context.loaders.get(loaders.resends_by_order)
        return await loader.load(self.id)  # type: ignore[arg-type,return-value]

    @strawberry.field(description=ALLOCATION_RULE)
    async def allocation(self, info: Info) -> StockAllocation:
        return await info.context.loaders.get(loaders.allocation_by_order).load(self.id)  # type: ignore[arg-type]

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

    @strawberry.field(description="The location.")
    async def location(self, info: Info) -> Location:
        return await info.context.loaders.get(location_by_id).load(self.location_id)  # type: ignore[return-value]
