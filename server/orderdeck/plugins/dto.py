"""The data plugins see and return: plain, typed, documented dataclasses (the public plugin API).

Plugins never import orderdeck's models or services; they receive and return these. Money is
Decimal, dates are timezone-aware datetimes, ids orderdeck gives a plugin are opaque strings it
hands back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel


class PluginKind(str, Enum):
    """What a plugin connects orderdeck to."""

    CHANNEL = "CHANNEL"
    FULFILMENT_CENTRE = "FULFILMENT_CENTRE"
    OTHER = "OTHER"


@dataclass(frozen=True)
class PluginInfo:
    """How a plugin describes itself.

    name: a short unique identifier, e.g. "woocommerce" (what a channel's configuration names).
    title: the human name, e.g. "WooCommerce".
    source: the order source its orders get, e.g. "WOOCOMMERCE" (channels only).
    settings: a pydantic model of the channel's settings; fields typed SecretStr are secrets
        (encrypted at rest, never returned by the API).
    stock_batch_size / dispatch_batch_size: the most updates one push_stock / send_dispatches call
        takes (the channel's own limit).
    """

    name: str
    title: str
    kind: PluginKind
    version: str = "0"
    description: str = ""
    source: str = ""
    settings: type[BaseModel] | None = None
    stock_batch_size: int = 50
    dispatch_batch_size: int = 20


@dataclass(frozen=True)
class ChannelContext:
    """The channel a hook is called for: its id and name, and its validated settings (secrets
    decrypted, as the plugin's settings model)."""

    channel_id: str
    name: str
    settings: Any


@dataclass(frozen=True)
class ConnectionResult:
    """The outcome of testing a channel's connection."""

    ok: bool
    message: str


@dataclass(frozen=True)
class Address:
    """A postal address as the channel gave it (missing parts are empty strings)."""

    full_name: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    address3: str = ""
    town: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""


@dataclass(frozen=True)
class ChannelOrderLine:
    """One line of a channel order.

    line_id: the channel's id of the line (sent back with the dispatch).
    channel_sku: the SKU as listed on the channel (linked to a stock item through listings, then
        by equal SKU).
    unit_price: per unit, excluding tax; tax: the line's tax amount.
    """

    line_id: str
    channel_sku: str
    quantity: int
    title: str = ""
    unit_price: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)


@dataclass(frozen=True)
class ChannelOrder:
    """An order as downloaded from a channel.

    reference: the channel's order number (unique per channel; what users search by).
    status: the channel's own status text, mapped by the plugin's map_status hook.
    """

    reference: str
    status: str
    received_at: datetime
    lines: list[ChannelOrderLine]
    currency: str = "GBP"
    external_reference: str = ""
    paid_at: datetime | None = None
    buyer_name: str = ""
    email: str = ""
    shipping_address: Address = field(default_factory=Address)
    billing_address: Address | None = None
    shipping_service: str = ""
    postage: Decimal = Decimal(0)
    total: Decimal | None = None
    payment_method: str = ""


@dataclass(frozen=True)
class OrderPage:
    """One page of downloaded orders.

    cursor: where the next call continues (opaque to orderdeck, stored only after the page is
        committed); has_more: whether another page follows now.
    rejected: orders the plugin could not read, as (reference or "", reason), logged as skips.
    """

    orders: list[ChannelOrder]
    cursor: str | None
    has_more: bool
    rejected: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class StatusMapping:
    """What a channel status means for orderdeck: paid? already shipped? cancelled?"""

    paid: bool
    shipped: bool = False
    cancelled: bool = False


@dataclass(frozen=True)
class StockUpdate:
    """A quantity to publish for one listing.

    listing_id: orderdeck's id of the listing (hand it back in the result).
    channel_reference: the channel's id of the product, if the listing has one.
    """

    listing_id: str
    channel_sku: str
    quantity: int
    channel_reference: str = ""


@dataclass(frozen=True)
class DispatchLine:
    """A quantity of one channel order line that shipped."""

    line_id: str
    quantity: int


@dataclass(frozen=True)
class DispatchNote:
    """Tell the channel an order shipped.

    dispatch_id: orderdeck's id of the dispatch (hand it back in the result).
    external_reference: the channel's own id of the order (ChannelOrder.external_reference), which
        some channels address orders by rather than by their number; "" when unknown.
    """

    dispatch_id: str
    order_reference: str
    lines: list[DispatchLine]
    shipped_at: datetime
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    external_reference: str = ""


@dataclass(frozen=True)
class ItemResult:
    """The outcome for one stock update or dispatch note: ok, or the channel's error."""

    id: str
    ok: bool
    error: str = ""
