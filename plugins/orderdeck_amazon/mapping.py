"""Orders v0 JSON (an Order and its OrderItems) to orderdeck's ChannelOrder, and what Amazon's order
statuses mean.

Mapping (one Amazon order -> one ChannelOrder):
- reference: ``AmazonOrderId`` (3-7-7 digits, what Seller Central shows); external_reference: the
  same (Amazon addresses orders by it).
- received_at: ``PurchaseDate``; currency and total: ``OrderTotal``; shipping_service:
  ``ShipServiceLevel`` (else ``ShipmentServiceLevelCategory``); payment_method: ``PaymentMethod``;
  buyer_name and email: ``BuyerInfo`` (the shipping address's name when there is no buyer name);
  shipping_address: ``ShippingAddress`` (Name, CompanyName, AddressLine1-3, City, StateOrRegion,
  PostalCode, CountryCode, Phone; without a Restricted Data Token Amazon sends only the town,
  region, postcode and country).
- lines from the order items: line_id = ``OrderItemId`` (what confirmShipment names),
  channel_sku = ``SellerSKU``, quantity = ``QuantityOrdered``, title, unit_price = ``ItemPrice``
  / quantity (``ItemPrice`` is the line's price as Amazon gives it: without tax in the US, with VAT
  in Europe), tax = ``ItemTax``, discount = ``PromotionDiscount``; postage = the items'
  ``ShippingPrice`` less ``ShippingDiscount``. Items with no quantity left (cancelled items of an
  order still open) are left out.
- properties: ``FulfillmentChannel`` (AFN: Amazon fulfils the order, FBA; MFN: the seller does),
  ``MarketplaceId``, and ``IsPrime``, ``IsBusinessOrder`` and ``LatestShipDate`` when Amazon sends them.
- fulfilled_by_channel: FulfillmentChannel AFN (orderdeck holds it at the channel's FBA location).

An order that cannot be read is rejected with the reason (the rest of the page goes on): no
AmazonOrderId, no OrderStatus, an unreadable PurchaseDate, an open order without items, an item
without SellerSKU or OrderItemId, a quantity that is not a whole number, an unreadable amount.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from orderdeck.plugins.dto import UNIT_PRICE_PLACES, Address, ChannelOrder, ChannelOrderLine, StatusMapping
from orderdeck.plugins.errors import RejectedOrder

STATUS_MAPPINGS: dict[str, StatusMapping] = {
    "PendingAvailability": StatusMapping(paid=False),  # a pre-order, payment not yet authorised
    "Pending": StatusMapping(paid=False),
    "Unshipped": StatusMapping(paid=True),
    "PartiallyShipped": StatusMapping(paid=True),
    "Shipped": StatusMapping(paid=True, shipped=True),
    "InvoiceUnconfirmed": StatusMapping(paid=True, shipped=True),  # shipped; the invoice is not confirmed
    "Canceled": StatusMapping(paid=False, cancelled=True),
    "Unfulfillable": StatusMapping(paid=False, cancelled=True),  # a Multi-Channel Fulfillment order that will not ship
}
UNKNOWN_STATUS = StatusMapping(paid=False)
"""A status Amazon adds later: held as unpaid until a status override says more."""

WITHOUT_ITEMS = {"Canceled", "Unfulfillable"}
"""Orders downloaded without asking for their items (one getOrderItems call each saved): nothing
of them is imported, and a re-downloaded known order only changes its status."""
SHIPPED_WITHOUT_ITEMS = {"Shipped", "InvoiceUnconfirmed"}
"""Shipped orders fulfilled by the seller (MFN) come without items too; those Amazon fulfils (AFN)
come with them, as FBA records what Amazon shipped."""


def map_status(status: str) -> StatusMapping:
    """What an Amazon OrderStatus means for orderdeck."""
    return STATUS_MAPPINGS.get(status, UNKNOWN_STATUS)


def needs_items(raw: dict[str, Any]) -> bool:
    """Whether the download asks for this order's items (see WITHOUT_ITEMS)."""
    status = raw.get("OrderStatus")
    if status in WITHOUT_ITEMS:
        return False
    return not (status in SHIPPED_WITHOUT_ITEMS and raw.get("FulfillmentChannel") != "AFN")


def parse_date(value: Any) -> datetime:
    """An ISO 8601 date as Amazon writes them (``2024-05-01T10:00:00Z``), aware UTC; ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a date: {value!r}")
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """A datetime as Amazon's ISO 8601, UTC to the second: ``2024-05-01T10:00:00Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _money(value: Any, what: str) -> Decimal:
    """A Money object's Amount (0 when absent)."""
    if value is None:
        return Decimal(0)
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a Money object: {value!r}")
    amount = value.get("Amount")
    if amount in (None, ""):
        return Decimal(0)
    try:
        parsed = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"{what}.Amount is not an amount: {amount!r}") from None
    if not parsed.is_finite() or isinstance(amount, bool):
        raise ValueError(f"{what}.Amount is not an amount: {amount!r}")
    return parsed


def _address(raw: Any) -> Address:
    if not isinstance(raw, dict):
        return Address()
    return Address(
        full_name=_text(raw.get("Name")), company=_text(raw.get("CompanyName")),
        address1=_text(raw.get("AddressLine1")), address2=_text(raw.get("AddressLine2")),
        address3=_text(raw.get("AddressLine3")), town=_text(raw.get("City")),
        region=_text(raw.get("StateOrRegion")) or _text(raw.get("County")),
        postcode=_text(raw.get("PostalCode")), country=_text(raw.get("CountryCode")), phone=_text(raw.get("Phone")),
    )  # fmt: skip


def _line(raw: Any, index: int) -> ChannelOrderLine | None:
    """One order item as a line; None for an item with nothing ordered (cancelled)."""
    if not isinstance(raw, dict):
        raise ValueError(f"item {index + 1} is not an object")
    item_id = _text(raw.get("OrderItemId"))
    if not item_id:
        raise ValueError(f"item {index + 1} has no OrderItemId")
    sku = _text(raw.get("SellerSKU"))
    if not sku:
        raise ValueError(f"item {item_id} has no SellerSKU")
    quantity = raw.get("QuantityOrdered")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise ValueError(f"item {item_id} ({sku}): QuantityOrdered is not a whole number: {quantity!r}")
    if quantity == 0:
        return None
    price = _money(raw.get("ItemPrice"), f"item {item_id} ItemPrice")
    return ChannelOrderLine(
        line_id=item_id, channel_sku=sku, quantity=quantity, title=_text(raw.get("Title")),
        unit_price=(price / quantity).quantize(UNIT_PRICE_PLACES),
        tax=_money(raw.get("ItemTax"), f"item {item_id} ItemTax"),
        discount=_money(raw.get("PromotionDiscount"), f"item {item_id} PromotionDiscount"),
    )  # fmt: skip


def _postage(items: list[Any]) -> Decimal:
    total = Decimal(0)
    for index, item in enumerate(items):
        if isinstance(item, dict):
            label = f"item {item.get('OrderItemId') or index + 1}"
            total += _money(item.get("ShippingPrice"), f"{label} ShippingPrice")
            total -= _money(item.get("ShippingDiscount"), f"{label} ShippingDiscount")
    return total


def _properties(raw: dict[str, Any]) -> dict[str, str]:
    found = {"FulfillmentChannel": _text(raw.get("FulfillmentChannel")) or "MFN",
             "MarketplaceId": _text(raw.get("MarketplaceId"))}  # fmt: skip
    for name in ("IsPrime", "IsBusinessOrder"):
        if isinstance(raw.get(name), bool):
            found[name] = "true" if raw[name] else "false"
    if raw.get("LatestShipDate"):
        found["LatestShipDate"] = _text(raw["LatestShipDate"])
    return {name: value for name, value in found.items() if value}


def is_fba(order: ChannelOrder) -> bool:
    """Whether Amazon fulfils the order (FulfillmentChannel AFN: Fulfilment by Amazon)."""
    return order.properties.get("FulfillmentChannel") == "AFN"


def map_order(raw: Any, items: list[Any] | None) -> ChannelOrder:
    """An Amazon order and its items (None: not asked for, see ``needs_items``) as a
    ChannelOrder; raises RejectedOrder when it cannot be read."""
    if not isinstance(raw, dict):
        raise RejectedOrder("", f"the order is not a JSON object: {str(raw)[:100]}")
    reference = _text(raw.get("AmazonOrderId"))
    if not reference:
        raise RejectedOrder("", "the order has no AmazonOrderId")
    try:
        status = _text(raw.get("OrderStatus"))
        if not status:
            raise ValueError("the order has no OrderStatus")
        try:
            received_at = parse_date(raw.get("PurchaseDate"))
        except ValueError:
            raise ValueError(f"unreadable PurchaseDate: {raw.get('PurchaseDate')!r}") from None
        lines: list[ChannelOrderLine] = []
        postage = Decimal(0)
        if items is not None:
            lines = [line for index, item in enumerate(items) if (line := _line(item, index)) is not None]
            if not lines and not map_status(status).cancelled:
                raise ValueError("the order has no items with a quantity")
            postage = _postage(items)
        order_total = raw.get("OrderTotal")
        total = _money(order_total, "OrderTotal") if order_total is not None else None
        currency = _text(order_total.get("CurrencyCode")) if isinstance(order_total, dict) else ""
        if not currency and items:
            prices = [item.get("ItemPrice") for item in items if isinstance(item, dict)]
            currency = next((_text(p.get("CurrencyCode")) for p in prices if isinstance(p, dict) and p.get("CurrencyCode")), "")
        if lines and not currency:
            raise ValueError("neither OrderTotal nor the items' ItemPrice give a CurrencyCode")
    except ValueError as exc:
        raise RejectedOrder(reference, str(exc)) from None
    address = _address(raw.get("ShippingAddress"))
    buyer = raw.get("BuyerInfo") if isinstance(raw.get("BuyerInfo"), dict) else {}
    return ChannelOrder(
        reference=reference, status=status, received_at=received_at, lines=lines,
        currency=currency.upper(), external_reference=reference,
        buyer_name=_text(buyer.get("BuyerName")) or address.full_name, email=_text(buyer.get("BuyerEmail")),
        shipping_address=address,
        shipping_service=_text(raw.get("ShipServiceLevel")) or _text(raw.get("ShipmentServiceLevelCategory")),
        postage=postage, total=total, payment_method=_text(raw.get("PaymentMethod")), properties=_properties(raw),
        fulfilled_by_channel=raw.get("FulfillmentChannel") == "AFN",  # FBA: Amazon ships it
    )  # fmt: skip
