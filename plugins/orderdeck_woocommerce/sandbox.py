"""A stateful emulation of the WooCommerce REST API v3 endpoints orderdeck uses, for tests and demos.

    app = create_app(seed_orders=20, skus=["MUG-RED", "MUG-BLUE"], key="ck_x", secret="cs_x")
    orderdeck sandbox woocommerce --port 8081 --seed-orders 20

State lives in memory, per app instance. The emulated API (under /wp-json/wc/v3), as WooCommerce
behaves:
- HTTP Basic with the configured consumer key/secret (or consumer_key/consumer_secret query
  parameters); otherwise 401 ``{"code": "woocommerce_rest_cannot_view", "message", "data":
  {"status": 401}}``.
- GET /orders: status (comma list, "any" = all but trash), modified_after / modified_before /
  after / before (exclusive, one-second resolution, in the site's local time unless
  dates_are_gmt=true), orderby (date, id, include, title, slug, modified; date and modified sort
  by ID second, as WooCommerce does), order (default desc), page, per_page (1-100, default 10);
  X-WP-Total, X-WP-TotalPages and Link (rel="prev"/"next") headers; 400 rest_invalid_param.
- GET/PUT /orders/{id}; GET/POST /orders/{id}/notes (notes are kept; newest first).
- GET /products (sku: exact, comma list), GET/PUT /products/{id}, POST /products/batch (at most
  100 items; an unknown id gets ``{"id", "error": {"code": "woocommerce_rest_product_invalid_id",
  ...}}`` in place of the product).
- Orders and products share one id sequence (WordPress posts), line items another.

The control API under /__sandbox/ is not WooCommerce (no auth; JSON in, JSON out):
- POST /__sandbox/orders ``{"random": K}`` and/or ``{"orders": [spec, ...]}``: create orders. A spec
  may give status, number, currency, date_created_gmt, date_modified_gmt, date_paid_gmt,
  lines [{sku, quantity, price, discount, name}], billing, shipping, shipping_total,
  shipping_method, payment_method_title and a ``defect``: missing_reference (empty number),
  negative_quantity, unknown_sku, missing_sku, bad_date (unreadable date_created_gmt). Whatever
  is not given is random (buyer, address, 1-3 lines over the configured SKUs).
- PATCH /__sandbox/orders/{id} ``{"status"?, "date_modified_gmt"?}``: a change made in the shop
  (touches date_modified, to now unless given).
- POST /__sandbox/products ``{"products": [{sku, stock_quantity?, price?, name?, type?}]}``: create
  or update by SKU (type "variation" makes a variation, which /products/batch refuses).
- POST /__sandbox/faults ``{"kind", "count", "after"?}``: the next ``count`` API requests fail
  (after ``after`` more have been answered, default 0):
  rate_limit (429 with Retry-After: ``retry_after``), server_error (``status``, default 500),
  delay (answer after ``seconds``), malformed (200 with broken JSON); kind bad_order (with
  ``defect``) creates a defective order instead. GET lists pending faults, DELETE clears them.
- GET /__sandbox/state: orders (status, dates, lines, notes) and products (stock).
- GET /__sandbox/requests: the API requests received (method, path, query, status, at);
  DELETE clears the log.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API = "/wp-json/wc/v3"
ORDER_STATUSES = ["pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash"]
ORDERBY = ["date", "id", "include", "title", "slug", "modified"]
DEFECTS = ["missing_reference", "negative_quantity", "unknown_sku", "missing_sku", "bad_date"]
DEFAULT_SKUS = ["MUG-RED", "MUG-BLUE", "TEE-S", "TEE-M", "TEE-L", "POSTER-A2", "CAP-BLACK", "TOTE-NATURAL"]
TAX_RATE = Decimal("0.20")
CENT = Decimal("0.01")
WC_VERSION = "9.4.0"

FIRST_NAMES = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Noah", "Oliver", "George", "Arthur", "Leo", "Harry",
               "Freya", "Jack", "Sophia", "Oscar", "Grace", "Theo", "Ella", "Finley", "Ruby"]  # fmt: skip
LAST_NAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
              "Robinson", "Evans", "Walker", "Thompson", "Khan", "Hughes", "Edwards", "Green", "Hall", "Wood"]  # fmt: skip
STREETS = ["High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane", "Park Avenue", "Kings Road",
           "Queen Street", "The Green", "Manor Road"]  # fmt: skip
TOWNS = [("London", "", "SW1A 1AA"), ("Manchester", "Greater Manchester", "M1 1AE"), ("Leeds", "West Yorkshire", "LS1 4AP"),
         ("Bristol", "", "BS1 5TR"), ("Glasgow", "", "G1 1XQ"), ("Cardiff", "", "CF10 1EP"), ("York", "North Yorkshire", "YO1 7HH"),
         ("Brighton", "East Sussex", "BN1 1AE"), ("Norwich", "Norfolk", "NR2 1NH"), ("Bath", "Somerset", "BA1 1LZ")]  # fmt: skip
SHIPPING_METHODS = [("flat_rate", "Royal Mail 2nd Class", "2.99"), ("flat_rate", "Royal Mail Tracked 24", "4.49"),
                    ("flat_rate", "DPD Next Day", "6.95"), ("free_shipping", "Free shipping", "0.00")]  # fmt: skip
PAYMENT_METHODS = [("stripe", "Credit Card (Stripe)"), ("ppcp-gateway", "PayPal"), ("bacs", "Direct bank transfer")]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _amount(value: Any, default: str = "0") -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else default)).quantize(CENT, ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_UP))


def _parse_date(value: str) -> datetime:
    """A WordPress REST date-time (ISO 8601; an offset is honoured), naive, in its own frame."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed


def _wp_error(code: str, message: str, status: int, **data: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status_code=status)


class ApiError(Exception):
    """Answered as a WordPress REST error body."""

    def __init__(self, code: str, message: str, status: int, **data: Any) -> None:
        super().__init__(message)
        self.response = _wp_error(code, message, status, **data)


def _invalid_param(name: str, reason: str) -> ApiError:
    return ApiError("rest_invalid_param", f"Invalid parameter(s): {name}", 400, params={name: reason})


@dataclass
class Fault:
    kind: str
    count: int
    after: int = 0
    retry_after: float = 1.0
    status: int = 500
    seconds: float = 1.0


@dataclass
class Line:
    id: int
    name: str
    product_id: int
    sku: str
    quantity: Any
    unit_price: Decimal
    discount: Decimal = Decimal(0)

    @property
    def subtotal(self) -> Decimal:
        quantity = self.quantity if isinstance(self.quantity, int) else 0
        return (self.unit_price * quantity).quantize(CENT, ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount


@dataclass
class Order:
    id: int
    number: str
    status: str
    currency: str
    created: datetime
    modified: datetime
    paid: datetime | None
    completed: datetime | None
    billing: dict[str, str]
    shipping: dict[str, str]
    lines: list[Line]
    shipping_method: tuple[str, str]
    shipping_total: Decimal
    payment_method: tuple[str, str]
    order_key: str
    overrides: dict[str, Any] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Product:
    id: int
    name: str
    sku: str
    price: Decimal
    stock_quantity: int | None
    manage_stock: bool = True
    type: str = "simple"
    parent_id: int = 0
    created: datetime = field(default_factory=_now)
    modified: datetime = field(default_factory=_now)


class Sandbox:
    """The state of one emulated shop, and its WooCommerce JSON."""

    def __init__(self, *, key: str, secret: str, skus: list[str], seed: int | None, utc_offset_hours: float,
                 currency: str) -> None:  # fmt: skip
        self.key = key
        self.secret = secret
        self.rng = random.Random(seed)
        self.offset = timedelta(hours=utc_offset_hours)
        self.currency = currency
        self.orders: dict[int, Order] = {}
        self.products: dict[int, Product] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self._post_id = 100
        self._item_id = 1000
        self._note_id = 5000
        for sku in skus:
            self.upsert_product({"sku": sku})

    # Ids: orders and products share WordPress's post ids; order items and notes have their own.

    def _next_post_id(self) -> int:
        self._post_id += self.rng.randint(1, 3)
        return self._post_id

    def _next_item_id(self) -> int:
        self._item_id += 1
        return self._item_id

    # Rendering, as WooCommerce answers

    def local(self, moment: datetime | None) -> str | None:
        return None if moment is None else (moment + self.offset).isoformat()

    @staticmethod
    def gmt(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    def render_order(self, order: Order, base: str) -> dict[str, Any]:
        lines = []
        for line in order.lines:
            tax = (line.total * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
            subtotal_tax = (line.subtotal * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
            quantity = line.quantity
            price = float(line.total / quantity) if isinstance(quantity, int) and quantity else 0.0
            lines.append({
                "id": line.id, "name": line.name, "product_id": line.product_id, "variation_id": 0,
                "quantity": quantity, "tax_class": "", "subtotal": _money(line.subtotal),
                "subtotal_tax": _money(subtotal_tax), "total": _money(line.total), "total_tax": _money(tax),
                "taxes": [{"id": 1, "total": _money(tax), "subtotal": _money(subtotal_tax)}],
                "meta_data": [], "sku": line.sku, "price": price,
            })  # fmt: skip
        items_total = sum((line.total for line in order.lines), Decimal(0))
        items_tax = sum((Decimal(item["total_tax"]) for item in lines), Decimal(0))
        discount = sum((line.discount for line in order.lines), Decimal(0))
        shipping_tax = (order.shipping_total * TAX_RATE).quantize(CENT, ROUND_HALF_UP)
        method_id, method_title = order.shipping_method
        body: dict[str, Any] = {
            "id": order.id, "parent_id": 0, "number": order.number, "order_key": order.order_key,
            "created_via": "checkout", "version": WC_VERSION, "status": order.status, "currency": order.currency,
            "date_created": self.local(order.created), "date_created_gmt": self.gmt(order.created),
            "date_modified": self.local(order.modified), "date_modified_gmt": self.gmt(order.modified),
            "discount_total": _money(discount), "discount_tax": _money((discount * TAX_RATE).quantize(CENT)),
            "shipping_total": _money(order.shipping_total), "shipping_tax": _money(shipping_tax),
            "cart_tax": _money(items_tax), "total": _money(items_total + items_tax + order.shipping_total + shipping_tax),
            "total_tax": _money(items_tax + shipping_tax), "prices_include_tax": False, "customer_id": 0,
            "customer_ip_address": "203.0.113.7", "customer_user_agent": "Mozilla/5.0", "customer_note": "",
            "billing": dict(order.billing), "shipping": dict(order.shipping),
            "payment_method": order.payment_method[0], "payment_method_title": order.payment_method[1],
            "transaction_id": "", "date_paid": self.local(order.paid), "date_paid_gmt": self.gmt(order.paid),
            "date_completed": self.local(order.completed), "date_completed_gmt": self.gmt(order.completed),
            "cart_hash": "", "meta_data": [], "line_items": lines, "tax_lines": [{
                "id": order.id * 10 + 1, "rate_code": "GB-VAT-1", "rate_id": 1, "label": "VAT", "compound": False,
                "tax_total": _money(items_tax), "shipping_tax_total": _money(shipping_tax), "meta_data": [],
            }],
            "shipping_lines": [{
                "id": order.id * 10 + 2, "method_title": method_title, "method_id": method_id,
                "total": _money(order.shipping_total), "total_tax": _money(shipping_tax),
                "taxes": [{"id": 1, "total": _money(shipping_tax), "subtotal": ""}], "meta_data": [],
            }],
            "fee_lines": [], "coupon_lines": [], "refunds": [],
            "_links": {"self": [{"href": f"{base}{API}/orders/{order.id}"}],
                       "collection": [{"href": f"{base}{API}/orders"}]},
        }  # fmt: skip
        for key, value in order.overrides.items():
            body[key] = value
        return body

    def render_product(self, product: Product, base: str) -> dict[str, Any]:
        in_stock = not product.manage_stock or (product.stock_quantity or 0) > 0
        return {
            "id": product.id, "name": product.name, "slug": product.sku.lower(), "type": product.type,
            "status": "publish", "parent_id": product.parent_id, "sku": product.sku, "price": _money(product.price),
            "regular_price": _money(product.price), "sale_price": "", "manage_stock": product.manage_stock,
            "stock_quantity": product.stock_quantity, "stock_status": "instock" if in_stock else "outofstock",
            "date_created": self.local(product.created), "date_created_gmt": self.gmt(product.created),
            "date_modified": self.local(product.modified), "date_modified_gmt": self.gmt(product.modified),
            "_links": {"self": [{"href": f"{base}{API}/products/{product.id}"}]},
        }  # fmt: skip

    def render_note(self, order: Order, note: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": note["id"], "author": note["author"], "date_created": self.local(note["created"]),
            "date_created_gmt": self.gmt(note["created"]), "note": note["note"], "customer_note": note["customer_note"],
        }  # fmt: skip

    # Changes

    def upsert_product(self, spec: dict[str, Any]) -> Product:
        sku = str(spec["sku"])
        product = next((p for p in self.products.values() if p.sku == sku), None)
        if product is None:
            product = Product(
                id=self._next_post_id(), name=str(spec.get("name") or sku.replace("-", " ").title()), sku=sku,
                price=_amount(spec.get("price"), str(self.rng.choice([4.99, 9.99, 12.5, 14.99, 19.99, 24.0]))),
                stock_quantity=None, type=str(spec.get("type", "simple")),
                parent_id=int(spec.get("parent_id", 0)) if spec.get("type") == "variation" else 0,
            )  # fmt: skip
            product.stock_quantity = int(spec.get("stock_quantity", self.rng.randint(0, 50)))
            self.products[product.id] = product
            return product
        if "stock_quantity" in spec:
            product.stock_quantity = None if spec["stock_quantity"] is None else int(spec["stock_quantity"])
        if "price" in spec:
            product.price = _amount(spec["price"])
        if "name" in spec:
            product.name = str(spec["name"])
        product.modified = _now()
        return product

    def _address(self, with_email: bool) -> dict[str, str]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        town, county, postcode = self.rng.choice(TOWNS)
        address = {
            "first_name": first, "last_name": last, "company": "",
            "address_1": f"{self.rng.randint(1, 199)} {self.rng.choice(STREETS)}", "address_2": "", "city": town, "state": county, "postcode": postcode, "country": "GB",
        }  # fmt: skip
        if with_email:
            address["email"] = f"{first.lower()}.{last.lower()}{self.rng.randint(1, 99)}@example.com"
        address["phone"] = f"07{self.rng.randint(100000000, 999999999)}"
        return address

    def create_order(self, spec: dict[str, Any]) -> Order:
        now = _now()
        status = str(spec.get("status") or self.rng.choices(["processing", "on-hold", "pending"], [8, 1, 1])[0])
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        created = _parse_date(spec["date_created_gmt"]) if spec.get("date_created_gmt") else now
        modified = _parse_date(spec["date_modified_gmt"]) if spec.get("date_modified_gmt") else max(created, now)
        if spec.get("date_paid_gmt"):
            paid = _parse_date(spec["date_paid_gmt"])
        else:
            paid = created if status in ("processing", "completed") else None
        billing = {**self._address(True), **spec.get("billing", {})}
        if "shipping" in spec:
            shipping = {**{k: "" for k in billing if k != "email"}, **spec["shipping"]}
        else:
            shipping = {k: v for k, v in billing.items() if k != "email"}
        products = [p for p in self.products.values() if p.type == "simple"]
        lines = []
        picked = self.rng.sample(products, k=min(len(products), self.rng.randint(1, 3)))
        for line_spec in spec.get("lines") or [{"sku": p.sku, "quantity": self.rng.randint(1, 3)} for p in picked]:
            product = next((p for p in self.products.values() if p.sku == line_spec.get("sku")), None)
            name = line_spec.get("name") or (product.name if product else line_spec.get("sku", "Item"))
            lines.append(Line(
                id=self._next_item_id(), name=str(name),
                product_id=product.id if product else 0, sku=str(line_spec.get("sku", "")),
                quantity=line_spec.get("quantity", 1),
                unit_price=_amount(line_spec.get("price"), str(product.price) if product else "10.00"),
                discount=_amount(line_spec.get("discount"), "0"),
            ))  # fmt: skip
        if not lines:
            raise ValueError("an order needs at least one line (configure SKUs or give lines)")
        if "shipping_method" in spec or "shipping_total" in spec:
            method = ("flat_rate", str(spec.get("shipping_method", "Flat rate")))
            shipping_total = _amount(spec.get("shipping_total"), "0")
        else:
            method_id, title, cost = self.rng.choice(SHIPPING_METHODS)
            method, shipping_total = (method_id, title), Decimal(cost)
        if "payment_method_title" in spec:
            payment = ("other", str(spec["payment_method_title"]))
        else:
            payment = self.rng.choice(PAYMENT_METHODS)
        order = Order(
            id=self._next_post_id(), number="", status=status, currency=str(spec.get("currency", self.currency)),
            created=created, modified=modified, paid=paid, completed=modified if status == "completed" else None,
            billing=billing, shipping=shipping, lines=lines, shipping_method=method, shipping_total=shipping_total,
            payment_method=payment, order_key=f"wc_order_{secrets.token_hex(6)}",
        )  # fmt: skip
        order.number = str(spec.get("number") or order.id)
        defect = spec.get("defect")
        if defect == "missing_reference":
            order.number = ""
        elif defect == "negative_quantity":
            order.lines[0].quantity = -1
        elif defect == "unknown_sku":
            order.lines.append(Line(id=self._next_item_id(), name="Discontinued item", product_id=0,
                                    sku=f"UNKNOWN-{self.rng.randint(1000, 9999)}", quantity=1, unit_price=Decimal("5.00")))  # fmt: skip
        elif defect == "missing_sku":
            order.lines[0].sku = ""
        elif defect == "bad_date":
            order.overrides["date_created_gmt"] = "31/02/2024 25:61"
        elif defect is not None:
            raise ValueError(f"unknown defect {defect!r}; one of {DEFECTS}")
        self.orders[order.id] = order
        return order

    def touch_order(self, order: Order, status: str | None, modified: datetime | None) -> None:
        now = _now()
        if status is not None:
            if status not in ORDER_STATUSES:
                raise ApiError("rest_invalid_param", "Invalid parameter(s): status", 400,
                               params={"status": f"status is not one of {', '.join(ORDER_STATUSES)}."})  # fmt: skip
            if status == "completed" and order.status != "completed":
                order.completed = now
            if status in ("processing", "completed") and order.paid is None:
                order.paid = now
            order.status = status
        order.modified = modified or now

    def take_fault(self) -> Fault | None:
        while self.faults:
            fault = self.faults[0]
            if fault.count <= 0:
                self.faults.pop(0)
                continue
            if fault.after > 0:
                fault.after -= 1
                return None
            fault.count -= 1
            if fault.count <= 0:
                self.faults.pop(0)
            return fault
        return None


# Query parameters, validated as WordPress does


def _int_param(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid_param(name, f"{name} is not of type integer.") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} (inclusive) and {high} (inclusive)" if high else f"greater than or equal to {low}"
        raise _invalid_param(name, f"{name} must be {bounds}")
    return value


def _bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0", ""):
        return False
    raise _invalid_param(name, f"{name} is not of type boolean.")


def _enum_param(request: Request, name: str, default: str, options: list[str]) -> str:
    value = request.query_params.get(name) or default
    if value not in options:
        raise _invalid_param(name, f"{name} is not one of {', '.join(options)}.")
    return value


def _list_param(request: Request, name: str) -> list[str]:
    values = request.query_params.getlist(name) + request.query_params.getlist(f"{name}[]")
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _date_param(request: Request, name: str, to_frame: Callable[[datetime], datetime]) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        parsed = _parse_date(raw)
    except ValueError:
        raise _invalid_param(name, "Invalid date.") from None
    return to_frame(parsed).replace(microsecond=0)


def _paged(request: Request, items: list[Any], per_page: int, page: int) -> tuple[list[Any], dict[str, str], list[str]]:
    total = len(items)
    pages = math.ceil(total / per_page) if total else 0
    chunk = items[(page - 1) * per_page : page * per_page]
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    base = str(request.url.replace(query="")).rstrip("/")
    params = list(request.query_params.multi_items())
    links = []

    def link(target: int) -> str:
        query = urlencode([(k, v) for k, v in params if k != "page"] + [("page", str(target))])
        return f"<{base}?{query}>"

    if page > 1:
        links.append(f'{link(min(page - 1, max(pages, 1)))}; rel="prev"')
    if pages > page:
        links.append(f'{link(page + 1)}; rel="next"')
    return chunk, headers, links


def _collection(items: list[Any], headers: dict[str, str], links: list[str]) -> JSONResponse:
    response = JSONResponse(items, headers=headers)
    for value in links:  # WordPress sends one Link header per relation
        response.headers.append("Link", value)
    return response


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError("rest_invalid_json", "Invalid JSON body passed.", 400) from None
    if not isinstance(body, dict):
        raise ApiError("rest_invalid_json", "Invalid JSON body passed.", 400)
    return body


def create_app(
    *,
    seed_orders: int = 0,
    skus: list[str] | None = None,
    key: str = "ck_sandbox",
    secret: str = "cs_sandbox",
    seed: int | None = None,
    utc_offset_hours: float = 0.0,
    currency: str = "GBP",
) -> Starlette:
    """A new sandbox shop: ``skus`` become simple products with random stock, ``seed_orders``
    random orders are placed; ``utc_offset_hours`` is the site's timezone (local dates)."""
    shop = Sandbox(key=key, secret=secret, skus=list(DEFAULT_SKUS if skus is None else skus), seed=seed,
                   utc_offset_hours=utc_offset_hours, currency=currency)  # fmt: skip
    for _ in range(seed_orders):
        shop.create_order({})

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def to_frame(gmt_frame: bool) -> Callable[[datetime], datetime]:
        def convert(moment: datetime) -> datetime:
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
                return moment if gmt_frame else moment + shop.offset
            return moment

        return convert

    def order_or_404(order_id: int) -> Order:
        order = shop.orders.get(order_id)
        if order is None:
            raise ApiError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        return order

    # The WooCommerce API

    async def list_orders(request: Request) -> Response:
        per_page = _int_param(request, "per_page", 10, 1, 100)
        page = _int_param(request, "page", 1, 1)
        orderby = _enum_param(request, "orderby", "date", ORDERBY)
        order_dir = _enum_param(request, "order", "desc", ["asc", "desc"])
        statuses = _list_param(request, "status") or ["any"]
        for status in statuses:
            if status not in [*ORDER_STATUSES, "any"]:
                raise _invalid_param("status", f"status[0] is not one of {', '.join([*ORDER_STATUSES, 'any'])}.")
        use_gmt = _bool_param(request, "dates_are_gmt")
        frame = to_frame(use_gmt)
        bounds = {name: _date_param(request, name, frame)
                  for name in ("after", "before", "modified_after", "modified_before")}  # fmt: skip

        def when(moment: datetime) -> datetime:
            return moment if use_gmt else moment + shop.offset

        selected = []
        for order in shop.orders.values():
            if "any" in statuses:
                if order.status == "trash" and "trash" not in statuses:
                    continue
            elif order.status not in statuses:
                continue
            created, modified = when(order.created), when(order.modified)
            if bounds["after"] and not created > bounds["after"]:
                continue
            if bounds["before"] and not created < bounds["before"]:
                continue
            if bounds["modified_after"] and not modified > bounds["modified_after"]:
                continue
            if bounds["modified_before"] and not modified < bounds["modified_before"]:
                continue
            selected.append(order)
        if orderby == "modified":
            selected.sort(key=lambda o: (o.modified, o.id), reverse=order_dir == "desc")
        elif orderby == "date":
            selected.sort(key=lambda o: (o.created, o.id), reverse=order_dir == "desc")
        else:
            selected.sort(key=lambda o: o.id, reverse=order_dir == "desc")
        chunk, headers, links = _paged(request, selected, per_page, page)
        return _collection([shop.render_order(o, base(request)) for o in chunk], headers, links)

    async def one_order(request: Request) -> Response:
        order = order_or_404(int(request.path_params["id"]))
        if request.method != "GET":
            body = await _json_body(request)
            if "status" in body:
                shop.touch_order(order, str(body["status"]), None)
        return JSONResponse(shop.render_order(order, base(request)))

    async def order_notes(request: Request) -> Response:
        order = order_or_404(int(request.path_params["id"]))
        if request.method == "GET":
            notes = sorted(order.notes, key=lambda n: n["id"], reverse=True)
            return JSONResponse([shop.render_note(order, n) for n in notes])
        body = await _json_body(request)
        if not isinstance(body.get("note"), str) or not body["note"]:
            raise ApiError("rest_missing_callback_param", "Missing parameter(s): note", 400, params=["note"])
        shop._note_id += 1
        note = {"id": shop._note_id, "author": "orderdeck", "created": _now(), "note": body["note"],
                "customer_note": bool(body.get("customer_note", False))}  # fmt: skip
        order.notes.append(note)
        return JSONResponse(shop.render_note(order, note), status_code=201)

    async def list_products(request: Request) -> Response:
        per_page = _int_param(request, "per_page", 10, 1, 100)
        page = _int_param(request, "page", 1, 1)
        sku_param = request.query_params.get("sku", "")
        products = list(shop.products.values())
        if sku_param:
            wanted = {s for s in sku_param.split(",")} | {sku_param}
            products = [p for p in products if p.sku in wanted]  # products and variations, as WooCommerce
        else:
            products = [p for p in products if p.type != "variation"]
        products.sort(key=lambda p: (p.created, p.id), reverse=True)
        chunk, headers, links = _paged(request, products, per_page, page)
        return _collection([shop.render_product(p, base(request)) for p in chunk], headers, links)

    def apply_product(product: Product, body: dict[str, Any]) -> None:
        if "manage_stock" in body:
            product.manage_stock = bool(body["manage_stock"])
        if "stock_quantity" in body:
            value = body["stock_quantity"]
            if isinstance(value, bool) or not isinstance(value, (int, float, str)) or not str(value).lstrip("-").isdigit():
                raise ApiError("rest_invalid_param", "Invalid parameter(s): stock_quantity", 400,
                               params={"stock_quantity": "stock_quantity is not of type integer."})  # fmt: skip
            product.stock_quantity = int(value)
        product.modified = _now()

    async def one_product(request: Request) -> Response:
        product = shop.products.get(int(request.path_params["id"]))
        if product is None:
            raise ApiError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
        if request.method != "GET":
            apply_product(product, await _json_body(request))
        return JSONResponse(shop.render_product(product, base(request)))

    async def batch_products(request: Request) -> Response:
        body = await _json_body(request)
        count = sum(len(body.get(key) or []) for key in ("create", "update", "delete"))
        if count > 100:
            raise ApiError("woocommerce_rest_request_entity_too_large",
                           "Unable to accept more than 100 items for this request.", 413)  # fmt: skip
        answer: dict[str, list[Any]] = {}
        for key in ("create", "delete"):
            if key in body:
                answer[key] = [{"id": 0, "error": {"code": "sandbox_unsupported", "message": f"The sandbox does not {key} products.",
                                                    "data": {"status": 400}}} for _ in body[key]]  # fmt: skip
        if "update" in body:
            answer["update"] = []
            for item in body["update"] or []:
                product_id = item.get("id") if isinstance(item, dict) else None
                product = shop.products.get(product_id) if isinstance(product_id, int) else None
                if product is None or product.type == "variation":
                    answer["update"].append({"id": product_id, "error": {
                        "code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.", "data": {"status": 400}}})  # fmt: skip
                    continue
                try:
                    apply_product(product, item)
                except ApiError as exc:
                    answer["update"].append({"id": product_id, "error": json.loads(exc.response.body)})
                    continue
                answer["update"].append(shop.render_product(product, base(request)))
        return JSONResponse(answer)

    def api(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        """Faults, the request log and authentication around one API endpoint."""

        async def endpoint(request: Request) -> Response:
            entry = {"method": request.method, "path": request.url.path, "query": request.url.query,
                     "at": time.time(), "status": 0}  # fmt: skip
            shop.requests.append(entry)
            response = await respond(request)
            entry["status"] = response.status_code
            return response

        async def respond(request: Request) -> Response:
            fault = shop.take_fault()
            if fault is not None:
                if fault.kind == "rate_limit":
                    response = _wp_error("rest_too_many_requests", "Too many requests, slow down.", 429)
                    response.headers["Retry-After"] = f"{fault.retry_after:g}"
                    return response
                if fault.kind == "server_error":
                    return _wp_error("internal_server_error", "There has been a critical error on this website.", fault.status)
                if fault.kind == "malformed":
                    return Response('[{"id": 101, "status": "processing", "line_items": [{"sku": ', media_type="application/json")
                if fault.kind == "delay":
                    await asyncio.sleep(fault.seconds)
            if not authorised(request):
                return _wp_error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401)
            try:
                return await handler(request)
            except ApiError as exc:
                return exc.response

        return endpoint

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return secrets.compare_digest(user, shop.key) and secrets.compare_digest(password, shop.secret)
        user = request.query_params.get("consumer_key", "")
        password = request.query_params.get("consumer_secret", "")
        return bool(user) and secrets.compare_digest(user, shop.key) and secrets.compare_digest(password, shop.secret)

    async def no_route(request: Request) -> Response:
        return _wp_error("rest_no_route", "No route was found matching the URL and request method.", 404)

    # The control API

    async def control_orders(request: Request) -> Response:
        body = await _json_body(request)
        created = []
        try:
            for spec in body.get("orders", []):
                created.append(shop.create_order(spec))
            for _ in range(int(body.get("random", 0))):
                created.append(shop.create_order({}))
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"orders": [shop.render_order(o, base(request)) for o in created]}, status_code=201)

    async def control_order(request: Request) -> Response:
        order = shop.orders.get(int(request.path_params["id"]))
        if order is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        body = await _json_body(request)
        try:
            modified = _parse_date(body["date_modified_gmt"]) if body.get("date_modified_gmt") else None
            shop.touch_order(order, body.get("status"), modified)
        except ApiError as exc:
            return exc.response
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(shop.render_order(order, base(request)))

    async def control_products(request: Request) -> Response:
        body = await _json_body(request)
        try:
            products = [shop.upsert_product(spec) for spec in body.get("products", [])]
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"products": [shop.render_product(p, base(request)) for p in products]})

    async def control_faults(request: Request) -> Response:
        if request.method == "DELETE":
            shop.faults.clear()
        elif request.method == "POST":
            body = await _json_body(request)
            kind = body.get("kind")
            if kind == "bad_order":
                try:
                    order = shop.create_order({**body.get("order", {}), "defect": body.get("defect")})
                except ValueError as exc:
                    return JSONResponse({"error": str(exc)}, status_code=400)
                return JSONResponse({"order": shop.render_order(order, base(request))}, status_code=201)
            if kind not in ("rate_limit", "server_error", "delay", "malformed"):
                return JSONResponse({"error": f"unknown fault kind {kind!r}"}, status_code=400)
            shop.faults.append(Fault(kind=kind, count=int(body.get("count", 1)), after=int(body.get("after", 0)),
                                     retry_after=float(body.get("retry_after", 1)),
                                     status=int(body.get("status", 500)), seconds=float(body.get("seconds", 1))))  # fmt: skip
        return JSONResponse({"faults": [fault.__dict__ for fault in shop.faults]})

    async def control_state(request: Request) -> Response:
        return JSONResponse({
            "orders": [{
                "id": o.id, "number": o.number, "status": o.status,
                "date_created_gmt": shop.gmt(o.created), "date_modified_gmt": shop.gmt(o.modified),
                "lines": [{"id": line.id, "sku": line.sku, "quantity": line.quantity} for line in o.lines],
                "notes": [{"note": n["note"], "customer_note": n["customer_note"]} for n in o.notes],
            } for o in sorted(shop.orders.values(), key=lambda o: o.id)],
            "products": [{"id": p.id, "sku": p.sku, "type": p.type, "stock_quantity": p.stock_quantity,
                          "manage_stock": p.manage_stock} for p in sorted(shop.products.values(), key=lambda p: p.id)],
            "faults": [fault.__dict__ for fault in shop.faults],
        })  # fmt: skip

    async def control_requests(request: Request) -> Response:
        if request.method == "DELETE":
            shop.requests.clear()
        return JSONResponse(shop.requests)

    editable = ["POST", "PUT", "PATCH"]
    routes = [
        Route(f"{API}/orders", api(list_orders), methods=["GET"]),
        Route(f"{API}/orders/{{id:int}}", api(one_order), methods=["GET", *editable]),
        Route(f"{API}/orders/{{id:int}}/notes", api(order_notes), methods=["GET", "POST"]),
        Route(f"{API}/products", api(list_products), methods=["GET"]),
        Route(f"{API}/products/batch", api(batch_products), methods=editable),
        Route(f"{API}/products/{{id:int}}", api(one_product), methods=["GET", *editable]),
        Route("/__sandbox/orders", control_orders, methods=["POST"]),
        Route("/__sandbox/orders/{id:int}", control_order, methods=["PATCH", "POST"]),
        Route("/__sandbox/products", control_products, methods=["POST"]),
        Route("/__sandbox/faults", control_faults, methods=["GET", "POST", "DELETE"]),
        Route("/__sandbox/state", control_state, methods=["GET"]),
        Route("/__sandbox/requests", control_requests, methods=["GET", "DELETE"]),
        Route("/wp-json/{rest:path}", no_route, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]

    async def not_found(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/wp-json"):
            return await no_route(request)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.sandbox = shop
    app.state.banner = (
        f"WooCommerce sandbox: shop URL = the address below, consumer key {key!r}, consumer secret {secret!r}; "
        f"{len(shop.products)} products, {len(shop.orders)} orders; control API under /__sandbox/"
    )
    return app
