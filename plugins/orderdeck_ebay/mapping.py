"""eBay Sell Fulfillment orders to orderdeck's ChannelOrder, and what an eBay order's state means.

Status: an order's ``status`` is eBay's payment and fulfillment status joined, e.g.
``PAID/NOT_STARTED``, or ``CANCELED`` when ``cancelStatus.cancelState`` is CANCELED (what a
channel's status overrides are keyed by). What it means (``map_status``), first rule that applies:

| eBay                                            | orderdeck                                  |
|-------------------------------------------------|--------------------------------------------|
| cancelState CANCELED                            | cancelled                                  |
| orderFulfillmentStatus FULFILLED                | shipped (paid unless payment PENDING/FAILED) |
| orderPaymentStatus FULLY_REFUNDED               | cancelled (nothing shipped, all refunded)  |
| PAID or PARTIALLY_REFUNDED, NOT_STARTED         | paid                                       |
| PAID or PARTIALLY_REFUNDED, IN_PROGRESS         | paid, not shipped: partly shipped on eBay; |
|                                                 | orderdeck ships the lines still to ship    |
| PENDING, FAILED or a status eBay adds later     | unpaid (parked, or skipped when the channel takes paid orders only) |

A cancellation the buyer asked for (cancelState IN_PROGRESS) changes nothing until eBay cancels.

Order (one eBay order -> one ChannelOrder):
- reference and external_reference: ``orderId``; received_at: ``creationDate``; paid_at: the
  first payment's ``paymentDate``; payment_method: its ``paymentMethod``.
- lines from ``lineItems`` (a partly shipped order's FULFILLED lines are left out: they have
  shipped): line_id = ``lineItemId``, channel_sku = ``sku`` (a listing without a SKU: its item
  number ``legacyItemId``, with ``-legacyVariationId`` for a variation, so the line comes in
  unlinked rather than not at all), quantity, title, unit_price = ``lineItemCost`` / quantity
  (lineItemCost is the price of all units before discounts), discount = the applied promotions
  (else lineItemCost - discountedLineItemCost), tax = the sum of ``taxes``.
- currency: ``pricingSummary.total.currency``; total: ``pricingSummary.total``; postage:
  ``pricingSummary.deliveryCost``; every amount is eBay's Amount ``{"value": "12.34", "currency"}``.
- shipping address, buyer name, email and phone: ``fulfillmentStartInstructions[0].shippingStep.shipTo``
  (``contactAddress``: addressLine1-2, city, stateOrProvince, postalCode, countryCode);
  shipping_service: its ``shippingServiceCode``.

An order that cannot be read is rejected with the field at fault (the rest of the page goes on):
no orderId, an unreadable creationDate or lastModifiedDate, no line items, a line without
lineItemId, a quantity that is not a positive integer, an Amount that is not a decimal string, no
currency.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from orderdeck.plugins.dto import UNIT_PRICE_PLACES, Address, ChannelOrder, ChannelOrderLine, StatusMapping
from orderdeck.plugins.errors import RejectedOrder

PAID_STATUSES = {"PAID", "PARTIALLY_REFUNDED"}


def order_status(raw: dict[str, Any]) -> str:
    """The order's status text: ``PAYMENT/FULFILLMENT`` or ``CANCELED``."""
    cancel = raw.get("cancelStatus") if isinstance(raw.get("cancelStatus"), dict) else {}
    if cancel.get("cancelState") == "CANCELED":
        return "CANCELED"
    return f"{raw.get('orderPaymentStatus') or 'UNKNOWN'}/{raw.get('orderFulfillmentStatus') or 'UNKNOWN'}"


def map_status(status: str) -> StatusMapping:
    """What an eBay order status (``order_status``) means for orderdeck (the module's table)."""
    if status == "CANCELED":
        return StatusMapping(paid=False, cancelled=True)
    payment, _, fulfillment = status.partition("/")
    if fulfillment == "FULFILLED":
        return StatusMapping(paid=payment not in ("PENDING", "FAILED"), shipped=True)
    if payment == "FULLY_REFUNDED":
        return StatusMapping(paid=False, cancelled=True)
    return StatusMapping(paid=payment in PAID_STATUSES)


def parse_date(value: Any, field: str) -> datetime:
    """An eBay ISO 8601 timestamp (``2024-05-01T10:00:00.000Z``) as an aware UTC datetime."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} is not a date: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field} is not an ISO 8601 date: {value!r}") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_date(moment: datetime) -> str:
    """A datetime as eBay writes them: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def order_position(raw: Any) -> tuple[datetime, str] | None:
    """Where an order sits in the download's order: (lastModifiedDate, orderId)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("orderId"), str) or not raw["orderId"]:
        return None
    try:
        return parse_date(raw.get("lastModifiedDate"), "lastModifiedDate"), raw["orderId"]
    except ValueError:
        return None


def amount(value: Any, field: str) -> tuple[Decimal, str]:
    """An eBay Amount ``{"value", "currency"}`` as (Decimal, currency); absent: (0, "")."""
    if value is None:
        return Decimal(0), ""
    if not isinstance(value, dict):
        raise ValueError(f"{field} is not an Amount: {value!r}")
    raw = value.get("value")
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ValueError(f"{field}.value is not an amount: {raw!r}")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{field}.value is not an amount: {raw!r}") from None
    if not number.is_finite():
        raise ValueError(f"{field}.value is not an amount: {raw!r}")
    return number, str(value.get("currency") or "").upper()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ship_to(raw: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The first shipping instruction's shipTo and shipping service code."""
    instructions = raw.get("fulfillmentStartInstructions")
    first = _dict(instructions[0]) if isinstance(instructions, list) and instructions else {}
    step = _dict(first.get("shippingStep"))
    return _dict(step.get("shipTo")), _text(step.get("shippingServiceCode"))


def _address(ship_to: dict[str, Any]) -> Address:
    contact = _dict(ship_to.get("contactAddress"))
    return Address(full_name=_text(ship_to.get("fullName")), company=_text(ship_to.get("companyName")),
                   address1=_text(contact.get("addressLine1")), address2=_text(contact.get("addressLine2")),
                   town=_text(contact.get("city")), region=_text(contact.get("stateOrProvince")),
                   postcode=_text(contact.get("postalCode")), country=_text(contact.get("countryCode")),
                   phone=_text(_dict(ship_to.get("primaryPhone")).get("phoneNumber")))  # fmt: skip


def channel_sku(raw: dict[str, Any]) -> str:
    """A line's SKU, else its listing's item number (and variation)."""
    sku = _text(raw.get("sku"))
    if sku:
        return sku
    item, variation = _text(raw.get("legacyItemId")), _text(raw.get("legacyVariationId"))
    return f"{item}-{variation}" if item and variation else item


def _line(raw: Any, index: int) -> ChannelOrderLine:
    if not isinstance(raw, dict):
        raise ValueError(f"lineItems[{index}] is not an object")
    line_id = _text(raw.get("lineItemId"))
    if not line_id:
        raise ValueError(f"lineItems[{index}] has no lineItemId")
    sku = channel_sku(raw)
    if not sku:
        raise ValueError(f"line item {line_id} has neither sku nor legacyItemId")
    quantity = raw.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise ValueError(f"line item {line_id} ({sku}): quantity must be a positive integer, got {quantity!r}")
    cost, _ = amount(raw.get("lineItemCost"), f"line item {line_id} lineItemCost")
    promotions = raw.get("appliedPromotions") if isinstance(raw.get("appliedPromotions"), list) else []
    discount = sum((amount(_dict(p).get("discountAmount"), f"line item {line_id} discountAmount")[0] for p in promotions),
                   Decimal(0))  # fmt: skip
    if not promotions and raw.get("discountedLineItemCost") is not None:
        discount = cost - amount(raw["discountedLineItemCost"], f"line item {line_id} discountedLineItemCost")[0]
    taxes = raw.get("taxes") if isinstance(raw.get("taxes"), list) else []
    tax = sum((amount(_dict(t).get("amount"), f"line item {line_id} tax")[0] for t in taxes), Decimal(0))
    return ChannelOrderLine(line_id=line_id, channel_sku=sku, quantity=quantity, title=_text(raw.get("title")),
                            unit_price=(cost / quantity).quantize(UNIT_PRICE_PLACES), tax=tax, discount=discount)  # fmt: skip


def _open_lines(items: list[Any]) -> list[Any]:
    """The line items still to ship: all, unless some (not all) have shipped already."""
    waiting = [i for i in items if not (isinstance(i, dict) and i.get("lineItemFulfillmentStatus") == "FULFILLED")]
    return waiting or items


def map_order(raw: Any) -> ChannelOrder:
    """One eBay order as a ChannelOrder; raises RejectedOrder when it cannot be read."""
    if not isinstance(raw, dict):
        raise RejectedOrder("", f"the order is not a JSON object: {str(raw)[:100]}")
    reference = _text(raw.get("orderId"))
    if not reference:
        raise RejectedOrder(_text(raw.get("legacyOrderId")), "the order has no orderId")
    try:
        received_at = parse_date(raw.get("creationDate"), "creationDate")
        parse_date(raw.get("lastModifiedDate"), "lastModifiedDate")
        items = raw.get("lineItems")
        if not isinstance(items, list) or not items:
            raise ValueError("the order has no lineItems")
        lines = [_line(item, index) for index, item in enumerate(_open_lines(items))]
        pricing = _dict(raw.get("pricingSummary"))
        total, currency = amount(pricing.get("total"), "pricingSummary.total")
        postage, _ = amount(pricing.get("deliveryCost"), "pricingSummary.deliveryCost")
        currency = currency or amount(_dict(items[0]).get("lineItemCost"), "lineItemCost")[1]
        if not currency:
            raise ValueError("the order has no currency (pricingSummary.total.currency)")
        payments = _dict(raw.get("paymentSummary")).get("payments")
        payment = _dict(payments[0]) if isinstance(payments, list) and payments else {}
        paid_at = parse_date(payment["paymentDate"], "paymentDate") if payment.get("paymentDate") else None
    except ValueError as exc:
        raise RejectedOrder(reference, str(exc)) from None
    ship_to, service = _ship_to(raw)
    address = _address(ship_to)
    return ChannelOrder(
        reference=reference, status=order_status(raw), received_at=received_at, lines=lines, currency=currency,
        external_reference=reference, paid_at=paid_at, buyer_name=address.full_name,
        email=_text(ship_to.get("email")), shipping_address=address, shipping_service=service,
        postage=postage, total=total if pricing.get("total") is not None else None,
        payment_method=_text(payment.get("paymentMethod")),
    )  # fmt: skip
