"""A shop's orders, products and notes as WooCommerce's REST API v3 writes them (fields, money as
two-decimal strings, dates in the site's local time and in GMT, taxes, links)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

if TYPE_CHECKING:
    from orderdeck_woocommerce.sandbox.shop import Order, Product, Shop

API = "/wp-json/wc/v3"
TAX_RATE = Decimal("0.20")
CENT = Decimal("0.01")
WC_VERSION = "9.4.0"


def site_url(request: Request) -> str:
    """The shop's own address, as the request reached it (links are built on it)."""
    return str(request.base_url).rstrip("/")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_UP))


def local(offset: timedelta, moment: datetime | None) -> str | None:
    """A GMT moment in the site's local time (its timezone is ``offset`` from GMT)."""
    return None if moment is None else (moment + offset).isoformat()


def gmt(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def order_json(shop: Shop, order: Order, base: str) -> dict[str, Any]:
    """An order as GET /orders/{id} answers it (``base``: the site's URL)."""
    lines = []
    for line in order.lines:
        tax = (line.total * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
        subtotal_tax = (line.subtotal * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
        quantity = line.quantity
        price = float(line.total / quantity) if isinstance(quantity, int) and quantity else 0.0
        lines.append({
            "id": line.id, "name": line.name, "product_id": line.product_id, "variation_id": 0,
            "quantity": quantity, "tax_class": "", "subtotal": money(line.subtotal),
            "subtotal_tax": money(subtotal_tax), "total": money(line.total), "total_tax": money(tax),
            "taxes": [{"id": 1, "total": money(tax), "subtotal": money(subtotal_tax)}],
            "meta_data": [], "sku": line.sku, "price": price,
        })  # fmt: skip
    items_total = sum((line.total for line in order.lines), Decimal(0))
    items_tax = sum((Decimal(item["total_tax"]) for item in lines), Decimal(0))
    discount = sum((line.discount for line in order.lines), Decimal(0))
    shipping_tax = (order.shipping_total * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
    method_id, method_title = order.shipping_method
    offset = shop.offset
    body: dict[str, Any] = {
        "id": order.id, "parent_id": 0, "number": order.number, "order_key": order.order_key,
        "created_via": "checkout", "version": WC_VERSION, "status": order.status, "currency": order.currency,
        "date_created": local(offset, order.created), "date_created_gmt": gmt(order.created),
        "date_modified": local(offset, order.modified), "date_modified_gmt": gmt(order.modified),
        "discount_total": money(discount), "discount_tax": money((discount * TAX_RATE).quantize(CENT)),
        "shipping_total": money(order.shipping_total), "shipping_tax": money(shipping_tax),
        "cart_tax": money(items_tax), "total": money(items_total + items_tax + order.shipping_total + shipping_tax),
        "total_tax": money(items_tax + shipping_tax), "prices_include_tax": False, "customer_id": 0,
        "customer_ip_address": "203.0.113.7", "customer_user_agent": "Mozilla/5.0", "customer_note": "",
        "billing": dict(order.billing), "shipping": dict(order.shipping),
        "payment_method": order.payment_method[0], "payment_method_title": order.payment_method[1],
        "transaction_id": "", "date_paid": local(offset, order.paid), "date_paid_gmt": gmt(order.paid),
        "date_completed": local(offset, order.completed), "date_completed_gmt": gmt(order.completed),
        "cart_hash": "", "meta_data": [], "line_items": lines, "tax_lines": [{
            "id": order.id * 10 + 1, "rate_code": "GB-VAT-1", "rate_id": 1, "label": "VAT", "compound": False,
            "tax_total": money(items_tax), "shipping_tax_total": money(shipping_tax), "meta_data": [],
        }],
        "shipping_lines": [{
            "id": order.id * 10 + 2, "method_title": method_title, "method_id": method_id,
            "total": money(order.shipping_total), "total_tax": money(shipping_tax),
            "taxes": [{"id": 1, "total": money(shipping_tax), "subtotal": ""}], "meta_data": [],
        }],
        "fee_lines": [], "coupon_lines": [], "refunds": [],
        "_links": {"self": [{"href": f"{base}{API}/orders/{order.id}"}],
                   "collection": [{"href": f"{base}{API}/orders"}]},
    }  # fmt: skip
    for key, value in order.overrides.items():
        body[key] = value
    return body


def product_json(shop: Shop, product: Product, base: str) -> dict[str, Any]:
    """A product as GET /products/{id} answers it."""
    in_stock = not product.manage_stock or (product.stock_quantity or 0) > 0
    return {
        "id": product.id, "name": product.name, "slug": product.sku.lower(), "type": product.type,
        "status": "publish", "parent_id": product.parent_id, "sku": product.sku, "price": money(product.price),
        "regular_price": money(product.price), "sale_price": "", "manage_stock": product.manage_stock,
        "stock_quantity": product.stock_quantity, "stock_status": "instock" if in_stock else "outofstock",
        "date_created": local(shop.offset, product.created), "date_created_gmt": gmt(product.created),
        "date_modified": local(shop.offset, product.modified), "date_modified_gmt": gmt(product.modified),
        "_links": {"self": [{"href": f"{base}{API}/products/{product.id}"}]},
    }  # fmt: skip


def note_json(shop: Shop, note: dict[str, Any]) -> dict[str, Any]:
    """An order note as GET /orders/{id}/notes answers it."""
    return {
        "id": note["id"], "author": note["author"], "date_created": local(shop.offset, note["created"]),
        "date_created_gmt": gmt(note["created"]), "note": note["note"], "customer_note": note["customer_note"],
    }  # fmt: skip
