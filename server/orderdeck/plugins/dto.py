"""The data connectors see and return: plain, typed, documented dataclasses (the public plugin API).

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

from orderdeck.plugins.csvfiles import Column


@dataclass(frozen=True)
class ConnectionResult:
    """The outcome of testing a connection: ok, or what is wrong."""

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


UNIT_PRICE_PLACES = Decimal("0.0001")
"""The places a line's unit price is kept to (a channel's line total divided by its quantity)."""


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
    properties: extended properties (name: value) the channel adds to the order, stored with it
        (e.g. Amazon's FulfillmentChannel, AFN for orders Amazon fulfils).
    fulfilled_by_channel: the channel fulfils the order itself (Amazon FBA): it goes to the
        channel's fulfilment location, held there (locked, parked, holding no stock), is never
        exported or processed by hand, and is processed when the channel reports it shipped.
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
    properties: dict[str, str] = field(default_factory=dict)
    fulfilled_by_channel: bool = False


@dataclass(frozen=True)
class OrderPage:
    """One page of downloaded orders.

    cursor: where the next call continues (opaque to orderdeck, stored only after the page is
        committed); has_more: whether another page follows now.
    rejected: orders the plugin could not read, as (reference or "", reason), logged as skips.
    notices: what the run's log should say about the download itself (e.g. that the cursor was
        older than the channel can look back, so it was moved on), one issue each.
    """

    orders: list[ChannelOrder]
    cursor: str | None
    has_more: bool
    rejected: list[tuple[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


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
class FollowUp:
    """Follow up a shipped order with its buyer (e.g. ask for a review), once.

    dispatch_id: orderdeck's id of the order's dispatch (hand it back in the result).
    external_reference: the channel's own id of the order, "" when unknown.
    """

    dispatch_id: str
    order_reference: str
    shipped_at: datetime
    external_reference: str = ""


@dataclass(frozen=True)
class ItemResult:
    """The outcome for one stock update or dispatch note: ok, or the channel's error (on an ok
    result: the channel's warnings, if it gave any, kept with the listing)."""

    id: str
    ok: bool
    error: str = ""


# --- fulfilment centres ------------------------------------------------------------------------


@dataclass(frozen=True)
class FulfilmentOrderLine:
    """A line of an order handed to a fulfilment centre.

    fulfilment_sku: the item's SKU at the centre when it has its own ("" when it uses ``sku``).
    """

    line_id: str
    sku: str
    quantity: int
    title: str = ""
    fulfilment_sku: str = ""
    unit_price: Decimal = Decimal(0)


@dataclass(frozen=True)
class FulfilmentOrder:
    """An order handed to a fulfilment centre to ship.

    order_id: orderdeck's id (opaque); number and reference: what the centre reports back by.
    """

    order_id: str
    number: int
    reference: str
    received_at: datetime
    lines: list[FulfilmentOrderLine]
    buyer_name: str = ""
    email: str = ""
    shipping_address: Address = field(default_factory=Address)
    shipping_service: str = ""
    currency: str = "GBP"
    total: Decimal = Decimal(0)
    channel_reference: str = ""

    def rows(self) -> list[dict[str, Any]]:
        """One row per line: the order's fields and the line's, by the names export columns
        take (EXPORT_FIELDS; the address is one value, its parts read as address.postcode...)."""
        order = {
            "order_id": self.order_id, "number": self.number, "reference": self.reference,
            "channel_reference": self.channel_reference, "received_at": self.received_at,
            "buyer_name": self.buyer_name, "email": self.email, "shipping_service": self.shipping_service,
            "currency": self.currency, "total": self.total,
            "address": self.shipping_address,
        }  # fmt: skip
        return [
            {**order, "line_id": line.line_id, "sku": line.sku, "fulfilment_sku": line.fulfilment_sku or line.sku,
             "quantity": line.quantity, "title": line.title, "unit_price": line.unit_price}
            for line in self.lines
        ]  # fmt: skip


ADDRESS_PARTS = ("full_name", "company", "address1", "address2", "address3", "town", "region", "postcode", "country", "phone")

EXPORT_FIELDS = (
    "order_id", "number", "reference", "channel_reference", "received_at", "buyer_name", "email",
    "shipping_service", "currency", "total", *(f"address.{name}" for name in ADDRESS_PARTS),
    "line_id", "sku", "fulfilment_sku", "quantity", "title", "unit_price",
)  # fmt: skip
"""The fields an export column may take its value from: the order's, its shipping address's
(address.postcode...) and its line's (an export has one row per order line)."""


DEFAULT_EXPORT_COLUMNS = (
    Column("number", "Order Number"), Column("reference", "Reference"),
    Column("received_at", "Received"), Column("address.full_name", "Name"),
    Column("address.company", "Company"), Column("address.address1", "Address 1"),
    Column("address.address2", "Address 2"), Column("address.town", "Town"),
    Column("address.region", "Region"), Column("address.postcode", "Postcode"),
    Column("address.country", "Country"), Column("address.phone", "Phone"),
    Column("email", "Email"), Column("shipping_service", "Service"),
    Column("fulfilment_sku", "SKU"), Column("quantity", "Quantity"),
    Column("title", "Title"), Column("unit_price", "Unit Price"),
    Column("currency", "Currency"),
)  # fmt: skip
"""The columns of an export when the location names none: what a warehouse needs to ship."""


@dataclass(frozen=True)
class ExportBatch:
    """Orders handed to a centre in one go (one file or one request).

    file_name: made from the location's file name pattern and the batch's orders, the same for the
        same batch when it is sent again (after a crash between the upload and its record), so a
        centre can recognise a repeat.
    columns: the location's export columns, for connectors that write files (``rows``).
    """

    file_name: str
    orders: list[FulfilmentOrder]
    columns: tuple[Column, ...] = DEFAULT_EXPORT_COLUMNS

    def rows(self) -> list[dict[str, Any]]:
        """Every line of every order, as rows for ``write_csv(batch.rows(), batch.columns)``."""
        return [row for order in self.orders for row in order.rows()]


@dataclass(frozen=True)
class ExportResult:
    """What became of an export: where it went (the file name, or the centre's id of the
    request) and the orders the centre refused, each by order id with the centre's message."""

    reference: str
    refused: list[ItemResult] = field(default_factory=list)


@dataclass(frozen=True)
class ImportedFile:
    """A report read from a centre: its name (file name, or the URL asked) and the SHA-256 of its
    content. orderdeck records both, so a report read again is never applied twice."""

    name: str
    content_hash: str


class FulfilmentStatus(str, Enum):
    """What a centre reports of an order: shipped (or complete), cancelled, or in error."""

    SHIPPED = "SHIPPED"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    ERROR = "ERROR"


@dataclass(frozen=True)
class RowProblem:
    """A row of a centre's report that could not be read: its row number (the header is row 1),
    the column and why."""

    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class StatusLine:
    """One order's status in a report, keyed by order number or (when 0) by reference; message:
    the centre's own words (an error's text)."""

    row: int
    status: FulfilmentStatus
    order_number: int = 0
    reference: str = ""
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    message: str = ""


@dataclass(frozen=True)
class StatusReport:
    """The order statuses of one report, and its rows that could not be read."""

    file: ImportedFile
    statuses: list[StatusLine]
    problems: list[RowProblem] = field(default_factory=list)


@dataclass(frozen=True)
class StockLine:
    """A stock level a centre reports: the SKU (its own fulfilment SKU or orderdeck's) and the
    quantity on hand (negative reported as 0 by orderdeck)."""

    row: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class StockReport:
    """The stock levels of one report, and its rows that could not be read."""

    file: ImportedFile
    levels: list[StockLine]
    problems: list[RowProblem] = field(default_factory=list)
