"""WooCommerce order JSON (REST v3) to orderdeck's ChannelOrder, and what WooCommerce statuses mean.

Mapping (one WooCommerce order -> one ChannelOrder):
- reference: the order ``number`` (what the shop shows the buyer; equal to the id unless a
  sequential-numbering plugin is installed), the ``id`` when ``number`` is absent; an empty number is
  rejected (a broken numbering plugin: using the id could clash with a later real number).
  external_reference: the ``id`` (what the API addresses the order by).
- lines from ``line_items``: line_id = id, channel_sku = sku, quantity, title = name,
  unit_price = subtotal / quantity (excluding tax, before discounts; 4 decimals),
  tax = total_tax, discount = subtotal - total.
- received_at = date_created_gmt, paid_at = date_paid_gmt (UTC); currency; total; postage =
  shipping_total; shipping_service = shipping_lines[0].method_title; payment_method =
  payment_method_title; buyer_name and email from billing; billing and shipping addresses (the
  shipping address falls back to billing when it is blank, as for virtual goods).

Validation is strict; an order that fails it is rejected with the reason, the rest of the page
goes on: no id, an empty number, no status, no currency, an unreadable date, no line items, a line
without SKU, a quantity that is not a positive integer, an unreadable amount.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from orderdeck.plugins.dto import UNIT_PRICE_PLACES, Address, ChannelOrder, ChannelOrderLine, StatusMapping
from orderdeck.plugins.errors import RejectedOrder

DOWNLOAD_STATUSES = ["processing", "on-hold", "pending", "completed", "cancelled"]
"""What the download hook asks WooCommerce for. Beyond the statuses orderdeck may import (paid:
processing; payment pending: on-hold, pending) it asks for completed and cancelled too, so that
orderdeck learns when an order it already has was shipped or cancelled in the shop (orderdeck maps
each status and does not import new orders that are shipped or cancelled). refunded, failed and
trash are left out: they follow cancelled (or never-paid) orders and would only add traffic."""

STATUS_MAPPINGS: dict[str, StatusMapping] = {
    "processing": StatusMapping(paid=True),
    "on-hold": StatusMapping(paid=False),
    "pending": StatusMapping(paid=False),
    "completed": StatusMapping(paid=True, shipped=True),
    "cancelled": StatusMapping(paid=False, cancelled=True),
    "refunded": StatusMapping(paid=False, cancelled=True),
    "failed": StatusMapping(paid=False, cancelled=True),
    "trash": StatusMapping(paid=False, cancelled=True),
}
UNKNOWN_STATUS = StatusMapping(paid=False)
"""A status added by another WordPress plugin: held as unpaid until a status override says more."""


def map_status(status: str) -> StatusMapping:
    """What a WooCommerce order status means for orderdeck."""
    return STATUS_MAPPINGS.get(status, UNKNOWN_STATUS)


def parse_gmt(value: Any) -> datetime:
    """A WooCommerce ``*_gmt`` date (``YYYY-MM-DDTHH:MM:SS``, UTC without offset) as an aware UTC
    datetime; an explicit offset is honoured. Raises ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a date: {value!r}")
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def order_id(raw: Any) -> int | None:
    """The order's WooCommerce id, if it is a positive integer."""
    value = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value


def order_position(raw: Any) -> tuple[datetime, int] | None:
    """Where an order sits in WooCommerce's ``orderby=modified`` order: (date_modified_gmt, id)."""
    identifier = order_id(raw)
    if identifier is None:
        return None
    try:
        return parse_gmt(raw.get("date_modified_gmt")), identifier
    except ValueError:
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).strip()


def _money(value: Any, what: str) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        raise ValueError(f"{what} is not an amount: {value!r}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{what} is not an amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"{what} is not an amount: {value!r}")
    return amount


def _address(raw: Any) -> Address:
    if not isinstance(raw, dict):
        return Address()
    name = " ".join(part for part in (_text(raw.get("first_name")), _text(raw.get("last_name"))) if part)
    return Address(
        full_name=name,
        company=_text(raw.get("company")),
        address1=_text(raw.get("address_1")),
        address2=_text(raw.get("address_2")),
        town=_text(raw.get("city")),
        region=_text(raw.get("state")),
        postcode=_text(raw.get("postcode")),
        country=_text(raw.get("country")),
        phone=_text(raw.get("phone")),
    )


def _is_blank(address: Address) -> bool:
    return not (address.address1 or address.postcode or address.town)


def reference_of(raw: Any) -> str:
    """The reference an order would get (for rejection reports): its number, else its id."""
    if not isinstance(raw, dict):
        return ""
    number = raw.get("number")
    if number is not None and _text(number):
        return _text(number)
    identifier = order_id(raw)
    return str(identifier) if identifier is not None else ""


def _line(raw: Any, index: int) -> ChannelOrderLine:
    if not isinstance(raw, dict):
        raise ValueError(f"line {index + 1} is not an object")
    line_id = raw.get("id")
    if isinstance(line_id, bool) or not isinstance(line_id, int) or line_id <= 0:
        raise ValueError(f"line {index + 1} has no valid id: {line_id!r}")
    label = f"line {line_id}"
    sku = _text(raw.get("sku"))
    if not sku:
        raise ValueError(f"{label} has no SKU")
    quantity = raw.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValueError(f"{label} ({sku}): quantity is not an integer: {quantity!r}")
    if quantity <= 0:
        raise ValueError(f"{label} ({sku}): quantity must be positive, got {quantity}")
    subtotal = _money(raw.get("subtotal"), f"{label} subtotal")
    total = _money(raw.get("total"), f"{label} total")
    return ChannelOrderLine(
        line_id=str(line_id),
        channel_sku=sku,
        quantity=quantity,
        title=_text(raw.get("name")),
        unit_price=(subtotal / quantity).quantize(UNIT_PRICE_PLACES),
        tax=_money(raw.get("total_tax"), f"{label} total_tax"),
        discount=subtotal - total,
    )


def map_order(raw: Any) -> ChannelOrder:
    """One WooCommerce order as a ChannelOrder; raises RejectedOrder when it cannot be read."""
    reference = reference_of(raw)
    if not isinstance(raw, dict):
        raise RejectedOrder("", f"the order is not a JSON object: {str(raw)[:100]}")
    identifier = order_id(raw)
    if identifier is None:
        raise RejectedOrder(reference, f"the order has no valid id: {raw.get('id')!r}")
    if "number" in raw and raw["number"] is not None and not _text(raw["number"]):
        raise RejectedOrder(reference, f"order id {identifier} has an empty order number")
    try:
        status = _text(raw.get("status"))
        if not status:
            raise ValueError("the order has no status")
        currency = _text(raw.get("currency")).upper()
        if not currency:
            raise ValueError("the order has no currency")
        try:
            received_at = parse_gmt(raw.get("date_created_gmt"))
        except ValueError:
            raise ValueError(f"unreadable date_created_gmt: {raw.get('date_created_gmt')!r}") from None
        paid_raw = raw.get("date_paid_gmt")
        try:
            paid_at = parse_gmt(paid_raw) if paid_raw not in (None, "") else None
        except ValueError:
            raise ValueError(f"unreadable date_paid_gmt: {paid_raw!r}") from None
        items = raw.get("line_items")
        if not isinstance(items, list) or not items:
            raise ValueError("the order has no line items")
        lines = [_line(item, index) for index, item in enumerate(items)]
        postage = _money(raw.get("shipping_total"), "shipping_total")
        total = _money(raw.get("total"), "total") if raw.get("total") not in (None, "") else None
    except ValueError as exc:
        raise RejectedOrder(reference, str(exc)) from None

    billing = _address(raw.get("billing"))
    shipping = _address(raw.get("shipping"))
    if _is_blank(shipping):
        shipping = billing
    elif not shipping.phone and billing.phone:
        shipping = replace(shipping, phone=billing.phone)
    shipping_lines = raw.get("shipping_lines")
    service = ""
    if isinstance(shipping_lines, list) and shipping_lines and isinstance(shipping_lines[0], dict):
        service = _text(shipping_lines[0].get("method_title"))
    billing_raw = raw.get("billing") if isinstance(raw.get("billing"), dict) else {}
    return ChannelOrder(
        reference=reference,
        status=status,
        received_at=received_at,
        lines=lines,
        currency=currency,
        external_reference=str(identifier),
        paid_at=paid_at,
        buyer_name=billing.full_name,
        email=_text(billing_raw.get("email")),
        shipping_address=shipping,
        billing_address=billing,
        shipping_service=service,
        postage=postage,
        total=total,
        payment_method=_text(raw.get("payment_method_title")),
    )
