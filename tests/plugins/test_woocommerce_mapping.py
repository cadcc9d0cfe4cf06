"""The WooCommerce order mapping on its own: strict validation and the arithmetic of lines."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orderdeck_woocommerce.mapping import RejectedOrder, map_order, parse_gmt

ORDER = {
    "id": 727, "number": "727", "status": "processing", "currency": "GBP",
    "date_created_gmt": "2024-05-01T10:00:00", "date_modified_gmt": "2024-05-01T10:05:00",
    "date_paid_gmt": "2024-05-01T10:01:00", "total": "40.00", "total_tax": "6.00", "shipping_total": "4.00",
    "payment_method_title": "PayPal",
    "billing": {"first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Bay St", "city": "London",
                "postcode": "W1 1AA", "country": "GB", "email": "ada@example.com", "phone": "020"},
    "shipping": {"first_name": "", "last_name": "", "address_1": "", "city": "", "postcode": "", "country": ""},
    "line_items": [{"id": 1, "name": "Mug", "product_id": 9, "sku": "MUG", "quantity": 3, "subtotal": "10.00",
                    "total": "9.00", "total_tax": "1.80", "price": 3.0}],
    "shipping_lines": [{"id": 2, "method_title": "Royal Mail", "total": "4.00"}],
}  # fmt: skip


def changed(**changes):
    order = copy.deepcopy(ORDER)
    for path, value in changes.items():
        target = order
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is KeyError:
            del target[leaf]
        else:
            target[leaf] = value
    return order


def test_a_line_unit_price_is_the_subtotal_over_the_quantity():
    (line,) = map_order(ORDER).lines
    assert line.unit_price == Decimal("3.3333") and line.discount == Decimal("1.00") and line.tax == Decimal("1.80")


def test_a_blank_shipping_address_falls_back_to_billing():
    order = map_order(ORDER)
    assert order.shipping_address == order.billing_address and order.shipping_address.full_name == "Ada Lovelace"


def test_the_id_stands_in_for_a_missing_number():
    assert map_order(changed(number=KeyError)).reference == "727"
    assert map_order(changed(number=None)).reference == "727"
    assert map_order(changed(number="SO-1")).reference == "SO-1"


def test_dates_are_utc():
    order = map_order(changed(date_created_gmt="2024-05-01T10:00:00+01:00"))
    assert order.received_at == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert map_order(changed(date_paid_gmt=None)).paid_at is None
    assert parse_gmt("2024-05-01T10:00:00").tzinfo is UTC


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"number": ""}, "empty order number"),
        ({"id": None}, "no valid id"),
        ({"id": "727"}, "no valid id"),
        ({"status": ""}, "no status"),
        ({"currency": None}, "no currency"),
        ({"date_created_gmt": "yesterday"}, "date_created_gmt"),
        ({"date_created_gmt": None}, "date_created_gmt"),
        ({"date_paid_gmt": "2024-13-01T00:00:00"}, "date_paid_gmt"),
        ({"line_items": []}, "no line items"),
        ({"line_items": "MUG"}, "no line items"),
        ({"line_items__0__sku": ""}, "has no SKU"),
        ({"line_items__0__sku": KeyError}, "has no SKU"),
        ({"line_items__0__quantity": 0}, "must be positive"),
        ({"line_items__0__quantity": -2}, "must be positive"),
        ({"line_items__0__quantity": 1.5}, "not an integer"),
        ({"line_items__0__quantity": "3"}, "not an integer"),
        ({"line_items__0__quantity": True}, "not an integer"),
        ({"line_items__0__subtotal": "ten"}, "subtotal is not an amount"),
        ({"line_items__0__id": None}, "no valid id"),
        ({"total": "NaN"}, "total is not an amount"),
    ],
)
def test_strict_validation_rejects_with_a_reason(changes, reason):
    with pytest.raises(RejectedOrder) as caught:
        map_order(changed(**changes))
    assert reason in caught.value.reason
    if "id" not in changes and "number" not in changes:
        assert caught.value.reference == "727"


def test_not_an_object():
    with pytest.raises(RejectedOrder, match="not a JSON object"):
        map_order(["an", "array"])
