"""Validated inputs of the order operations, and the money arithmetic of an order's lines.

Prices exclude tax: a line's net is quantity x unit price less its discount, its tax is net x tax
rate / 100 (rounded to the penny), its total is net + tax. An order's subtotal is the sum of its
lines' nets, its total is subtotal + tax + postage.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from orderdeck.models import OrderStatus
from orderdeck.services.context import MAX_BATCH
from orderdeck.services.fields import MAX_MONEY, Money, Reference, Strict, Tag, text
from orderdeck.services.fields import require_time_zone as _require_time_zone

MAX_LINES = 500
"""The most lines one order may have."""

PENNY = Decimal("0.01")


class AddressInput(Strict):
    """A postal address."""

    full_name: text(200) = ""
    company: text(200) = ""
    address1: text(255) = ""
    address2: text(255) = ""
    address3: text(255) = ""
    town: text(100) = ""
    region: text(100) = ""
    postcode: text(32) = ""
    country: text(64) = ""
    phone: text(64) = ""


class ItemInput(Strict):
    """An order line, linked to the stock item with this SKU."""

    sku: text(100, 1)
    quantity: int = Field(ge=1, le=100_000)
    unit_price: Money = Decimal(0)
    discount: Money = Decimal(0)
    tax_rate: Decimal = Field(Decimal(0), ge=0, le=100, max_digits=6, decimal_places=3)
    title: text(255) = ""
    channel_sku: text(100) = ""
    item_number: text(100) = ""

    @model_validator(mode="after")
    def _amounts_in_range(self) -> ItemInput:
        if self.discount > self.unit_price * self.quantity:
            raise ValueError("discount cannot exceed quantity x unit price")
        if line_amounts(self.quantity, self.unit_price, self.discount, self.tax_rate)[2] > MAX_MONEY:
            raise ValueError(f"the line's total cannot exceed {MAX_MONEY}")
        return self


class ItemEdit(ItemInput):
    """A line of an edited order: with ``id`` it changes that line, without it adds one."""

    id: uuid.UUID | None = None


class NoteInput(Strict):
    """A note on an order."""

    text: text(2000, 1)
    internal: bool = True


class PropertyInput(Strict):
    """An extended property."""

    name: text(100, 1)
    value: text(1000) = ""
    type: text(50, 1) = "Info"


class OrderFields(Strict):
    """Fields an order has that a user may set when creating or editing it."""

    secondary_reference: Reference | None = None
    external_reference: Reference | None = None
    despatch_by_at: datetime | None = None
    paid_at: datetime | None = None
    buyer_name: text(200) = ""
    email: text(254) = ""
    shipping_address: AddressInput = Field(default_factory=AddressInput)
    billing_address: AddressInput | None = None
    shipping_service: text(100) = ""
    shipping_vendor: text(100) = ""
    tracking_number: text(100) = ""
    postage: Money = Decimal(0)
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "GBP"
    payment_method: text(50) = ""

    _aware = field_validator("despatch_by_at", "paid_at")(_require_time_zone)


class OrderInput(OrderFields):
    """A new order (a direct order, or one imported or downloaded from a channel)."""

    location_id: uuid.UUID | None = None
    reference: Reference | None = None
    subsource: text(100) = ""
    status: OrderStatus = OrderStatus.PAID
    received_at: datetime | None = None
    items: list[ItemInput] = Field(min_length=1, max_length=MAX_LINES)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    notes: list[NoteInput] = Field(default_factory=list, max_length=20)
    properties: list[PropertyInput] = Field(default_factory=list, max_length=50)

    @field_validator("status")
    @classmethod
    def _creatable(cls, value: OrderStatus) -> OrderStatus:
        if value in (OrderStatus.RETURN, OrderStatus.RESEND):
            raise ValueError(f"a new order cannot have status {value.value}: create a return or resend")
        return value

    _received_aware = field_validator("received_at")(_require_time_zone)

    @model_validator(mode="after")
    def _total_in_range(self) -> OrderInput:
        lines = sum((line_amounts(i.quantity, i.unit_price, i.discount, i.tax_rate)[2] for i in self.items), Decimal(0))
        if lines + self.postage > MAX_MONEY:
            raise ValueError(f"the order's total cannot exceed {MAX_MONEY}")
        return self


class OrderPatch(Strict):
    """Changes to an open order. Fields left out stay as they are; ``items``, when given,
    is the order's complete new list of lines (lines not listed are removed)."""

    secondary_reference: Reference | None = None
    external_reference: Reference | None = None
    despatch_by_at: datetime | None = None
    paid_at: datetime | None = None
    buyer_name: text(200) | None = None
    email: text(254) | None = None
    shipping_address: AddressInput | None = None
    billing_address: AddressInput | None = None
    shipping_service: text(100) | None = None
    shipping_vendor: text(100) | None = None
    tracking_number: text(100) | None = None
    postage: Money | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    payment_method: text(50) | None = None
    items: list[ItemEdit] | None = Field(None, min_length=1, max_length=MAX_LINES)

    _aware = field_validator("despatch_by_at", "paid_at")(_require_time_zone)

    @field_validator("buyer_name", "email", "shipping_service", "shipping_vendor", "tracking_number",
                     "postage", "currency", "payment_method")  # fmt: skip
    @classmethod
    def _not_null(cls, value: object) -> object:
        """These fields always have a value: null cannot clear them (leave them out to keep them)."""
        if value is None:
            raise ValueError("cannot be null: give a value, or leave the field out to keep it")
        return value


class ShipmentInput(Strict):
    """Processing one order, with the shipment's details when known."""

    order_id: uuid.UUID
    tracking_number: text(100) | None = None
    shipping_vendor: text(100) | None = None
    shipping_service: text(100) | None = None


class LineQuantity(Strict):
    """A quantity of one line of an order (for returns and resends)."""

    item_id: uuid.UUID
    quantity: int = Field(ge=1, le=100_000)


class ReturnInput(Strict):
    """Items coming back from a processed order."""

    order_id: uuid.UUID
    items: list[LineQuantity] = Field(min_length=1, max_length=MAX_LINES)
    reason: text(500, 1)
    restock: bool = True
    location_id: uuid.UUID | None = None


class ResendInput(Strict):
    """Items of a processed order to ship again, as a new open order."""

    order_id: uuid.UUID
    items: list[LineQuantity] = Field(min_length=1, max_length=MAX_LINES)
    reason: text(500, 1)
    location_id: uuid.UUID | None = None
    cost: Money = Decimal(0)


class OrderIds(Strict):
    """The orders of a batch operation: 1 to MAX_BATCH, no repeats."""

    order_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BATCH)

    @field_validator("order_ids")
    @classmethod
    def _unique(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        return list(dict.fromkeys(value))


def line_amounts(quantity: int, unit_price: Decimal, discount: Decimal, tax_rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(net, tax, total) of one line."""
    net = (unit_price * quantity - discount).quantize(PENNY, ROUND_HALF_UP)
    tax = (net * tax_rate / 100).quantize(PENNY, ROUND_HALF_UP)
    return net, tax, net + tax
