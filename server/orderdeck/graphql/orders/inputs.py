"""GraphQL input types of the orders area, and their conversion to the services' inputs.

Each input converts to the snake_case dict the service validates (orderdeck.services.orders.inputs).
Fields left out are left out of the dict too, and so are nulls but in OrderPatchInput (see
orderdeck.graphql.common.given): the service's defaults apply on create, unchanged fields stay
unchanged on edit, and null clears a field on edit. Global ids are decoded here; a malformed id
or one of another type is a ServiceError naming the field (``path`` + the field's name).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry import UNSET

from orderdeck.graphql.common import Patch, camel_case, decode_id, given
from orderdeck.graphql.orders.types import FulfilmentState, OrderState, OrderStatus

ID_TYPES: dict[str, str] = {
    "location_id": "Location",
    "order_id": "Order",
    "item_id": "OrderItem",
    "id": "OrderItem",
}
"""The node type each id field of an order input must hold."""


def to_service(value: Any, path: str = "") -> Any:
    """A Strawberry input (or list of them) as plain data for a service: only the fields given
    (see ``given``), global ids (fields named in ID_TYPES) decoded to UUIDs."""
    if isinstance(value, list):
        return [to_service(v, f"{path}{n}.") for n, v in enumerate(value)]
    if not dataclasses.is_dataclass(value):
        return value
    data: dict[str, Any] = {}
    for name, item in given(value).items():
        if name in ID_TYPES and item is not None:
            data[name] = decode_id(item, ID_TYPES[name], f"{path}{camel_case(name)}")
        else:
            data[name] = to_service(item, f"{path}{camel_case(name)}.")
    return data


# --- orders --------------------------------------------------------------------------------


@strawberry.input(description="A postal address. Fields left out (or null) are empty.")
class AddressInput:
    full_name: str | None = UNSET
    company: str | None = UNSET
    address1: str | None = UNSET
    address2: str | None = UNSET
    address3: str | None = UNSET
    town: str | None = UNSET
    region: str | None = UNSET
    postcode: str | None = UNSET
    country: str | None = UNSET
    phone: str | None = UNSET


@strawberry.input(
    description="A line of a new order, linked to the stock item with this SKU (an unknown SKU is an error). "
    "Prices exclude tax; tax = (quantity x unitPrice - discount) x taxRate / 100."
)
class OrderItemInput:
    sku: str
    quantity: int
    unit_price: Decimal | None = strawberry.field(default=UNSET, description="Default 0.")
    discount: Decimal | None = strawberry.field(default=UNSET, description="For the whole line. Default 0.")
    tax_rate: Decimal | None = strawberry.field(default=UNSET, description="Percent. Default 0.")
    title: str | None = strawberry.field(default=UNSET, description="Default: the stock item's title.")
    channel_sku: str | None = UNSET
    item_number: str | None = UNSET


@strawberry.input(description="A line of an edited order: with `id` it replaces that line, without it adds one.")
class OrderItemEditInput(OrderItemInput):
    id: strawberry.ID | None = strawberry.field(default=UNSET, description="An OrderItem id of this order.")


@strawberry.input(description="A note on an order.")
class OrderNoteInput:
    text: str
    internal: bool | None = strawberry.field(default=UNSET, description="Staff-only. Default true.")


@strawberry.input(description="An extended property (replaces one of the same name).")
class OrderPropertyInput:
    name: str
    value: str | None = strawberry.field(default=UNSET, description='Default "".')
    type: str | None = strawberry.field(default=UNSET, description='Default "Info".')


@strawberry.input(
    description="A new manual (DIRECT) order. Fields left out (or null) take their default. Dates must include "
    "a time zone."
)
class OrderInput:
    items: list[OrderItemInput] = strawberry.field(description="1 to 500 lines.")
    location_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Default: the default location.")
    reference: str | None = strawberry.field(default=UNSET, description="Unique per source and subsource.")
    secondary_reference: str | None = UNSET
    external_reference: str | None = UNSET
    subsource: str | None = UNSET
    status: OrderStatus | None = strawberry.field(default=UNSET, description="Default PAID; UNPAID parks it.")
    received_at: datetime | None = strawberry.field(default=UNSET, description="Default: now.")
    despatch_by_at: datetime | None = UNSET
    paid_at: datetime | None = strawberry.field(default=UNSET, description="Default for PAID orders: receivedAt.")
    buyer_name: str | None = UNSET
    email: str | None = UNSET
    shipping_address: AddressInput | None = UNSET
    billing_address: AddressInput | None = strawberry.field(default=UNSET, description="Default: the shipping address.")
    shipping_service: str | None = UNSET
    shipping_vendor: str | None = UNSET
    tracking_number: str | None = UNSET
    postage: Decimal | None = strawberry.field(default=UNSET, description="Default 0.")
    currency: str | None = strawberry.field(default=UNSET, description="ISO 4217 code. Default GBP.")
    payment_method: str | None = UNSET
    tags: list[str] | None = UNSET
    notes: list[OrderNoteInput] | None = UNSET
    properties: list[OrderPropertyInput] | None = UNSET


@strawberry.input(
    description="Changes to an open, unlocked order. Fields left out stay as they are; null clears a field "
    "that may be empty (a reference, a date), fields that always have a value refuse it; `items`, when given, "
    "is the complete new list of lines (lines not listed are removed) and the allocation follows."
)
class OrderPatchInput(Patch):
    secondary_reference: str | None = UNSET
    external_reference: str | None = UNSET
    despatch_by_at: datetime | None = UNSET
    paid_at: datetime | None = UNSET
    buyer_name: str | None = UNSET
    email: str | None = UNSET
    shipping_address: AddressInput | None = UNSET
    billing_address: AddressInput | None = UNSET
    shipping_service: str | None = UNSET
    shipping_vendor: str | None = UNSET
    tracking_number: str | None = UNSET
    postage: Decimal | None = UNSET
    currency: str | None = UNSET
    payment_method: str | None = UNSET
    items: list[OrderItemEditInput] | None = UNSET


@strawberry.input(description="An order to process (ship), with the shipment's details when known.")
class ProcessOrderInput:
    order_id: strawberry.ID
    tracking_number: str | None = UNSET
    shipping_vendor: str | None = UNSET
    shipping_service: str | None = UNSET


@strawberry.input(description="A quantity of one line of an order.")
class OrderLineQuantityInput:
    item_id: strawberry.ID = strawberry.field(description="An OrderItem id of the order.")
    quantity: int


@strawberry.input(description="Items coming back from a processed order.")
class ReturnInput:
    order_id: strawberry.ID
    items: list[OrderLineQuantityInput]
    reason: str
    restock: bool | None = strawberry.field(default=UNSET, description="Put the items back in stock. Default true.")
    location_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Where to restock. Default: the order's location."
    )


@strawberry.input(description="Items of a processed order to ship again, as a new open order with status RESEND.")
class ResendInput:
    order_id: strawberry.ID
    items: list[OrderLineQuantityInput]
    reason: str
    location_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Where to ship from. Default: the original order's location."
    )
    cost: Decimal | None = strawberry.field(default=UNSET, description="Charged as postage. Default 0.")


# --- queries -------------------------------------------------------------------------------


@strawberry.enum(
    description="Order of an order list. By date, ties go by number; orders without a despatch-by date "
    "come after the others (DESPATCH_BY_ASC) or before them (DESPATCH_BY_DESC), and so do orders not "
    "processed (PROCESSED_ASC / PROCESSED_DESC: processed orders in a date range read fastest this way)."
)
class OrderSort(Enum):
    NUMBER_ASC = "NUMBER_ASC"
    NUMBER_DESC = "NUMBER_DESC"
    RECEIVED_ASC = "RECEIVED_ASC"
    RECEIVED_DESC = "RECEIVED_DESC"
    DESPATCH_BY_ASC = "DESPATCH_BY_ASC"
    DESPATCH_BY_DESC = "DESPATCH_BY_DESC"
    PROCESSED_ASC = "PROCESSED_ASC"
    PROCESSED_DESC = "PROCESSED_DESC"

    @property
    def key(self) -> tuple[str, ...]:
        """The unique key the list is ordered and paged by."""
        dates = {"RECEIVED": "received_at", "DESPATCH_BY": "despatch_by_at", "PROCESSED": "processed_at"}
        date = dates.get(self.name.rsplit("_", 1)[0])
        return (date, "number") if date else ("number",)

    @property
    def nullable_first(self) -> bool:
        """Whether the key's first column may be null (despatch-by; processed, for open orders)."""
        return self.name.startswith(("DESPATCH_BY", "PROCESSED"))

    @property
    def descending(self) -> bool:
        return self.name.endswith("_DESC")


@strawberry.input(
    description="Which orders to list; every field given must match. Date ranges include both ends and "
    "need a time zone."
)
class OrderFilter:
    state: OrderState | None = None
    location_id: strawberry.ID | None = None
    source: str | None = None
    subsource: str | None = None
    status: OrderStatus | None = None
    parked: bool | None = None
    locked: bool | None = None
    on_hold: bool | None = None
    fulfilment_state: FulfilmentState | None = strawberry.field(
        default=None, description="Orders in this state with their fulfilment centre."
    )
    label_error: bool | None = strawberry.field(
        default=None, description="Orders whose export to their fulfilment centre failed (true) or did not (false)."
    )
    tag: str | None = strawberry.field(default=None, description="Orders carrying this tag.")
    received_from: datetime | None = None
    received_to: datetime | None = None
    processed_from: datetime | None = None
    processed_to: datetime | None = None
