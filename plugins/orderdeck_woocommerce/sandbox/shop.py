"""The state of one emulated WooCommerce shop: its products, orders and notes, the changes made to
them, and what is WooCommerce's own in the sandbox base's terms (its error body, its credentials,
its unknown routes, the defective orders it can be given)."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from orderdeck.plugins.sandbox import Emulator
from orderdeck.plugins.sandbox.emulator import Handler
from orderdeck_woocommerce.sandbox.auth import ApiKey
from orderdeck_woocommerce.sandbox.errors import RestError, invalid_param, wp_error
from orderdeck_woocommerce.sandbox.render import CENT, gmt, order_json, site_url

ORDER_STATUSES = ["pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash"]
DEFECTS = ["missing_reference", "negative_quantity", "unknown_sku", "missing_sku", "bad_date"]
DEFAULT_SKUS = ["MUG-RED", "MUG-BLUE", "TEE-S", "TEE-M", "TEE-L", "POSTER-A2", "CAP-BLACK", "TOTE-NATURAL"]

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


def now() -> datetime:
    """The shop's clock: naive GMT, to the second (as WooCommerce stores dates)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def amount(value: Any, default: str = "0") -> Decimal:
    """A money amount to the cent (``default`` when none is given)."""
    try:
        return Decimal(str(value if value not in (None, "") else default)).quantize(CENT, ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def parse_date(value: str) -> datetime:
    """A WordPress REST date-time (ISO 8601; an offset is honoured), in its own frame."""
    return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))


def order_status(value: Any) -> str:
    """An order status as an update gives it, or WordPress's 400 for one that is none."""
    if not isinstance(value, str) or value not in ORDER_STATUSES:
        raise invalid_param("status", f"status is not one of {', '.join(ORDER_STATUSES)}.", "rest_not_in_enum")
    return value


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
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)


PERMISSION_ERRORS = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "read": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "batch": ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."),
}
"""What each kind of route answers an anonymous request (WooCommerce's REST controllers)."""


class Shop(Emulator):
    """One emulated shop: its products and orders (faults and the request log come with the base)."""

    messages = {
        "rate_limit": ("rest_too_many_requests", "Too many requests, slow down."),
        "server_error": ("internal_server_error", "There has been a critical error on this website."),
    }
    """Credentials are WooCommerce's own (``api``, ``auth``), so no "unauthorised" of the base's."""
    malformed_body = '[{"id": 101, "status": "processing", "line_items": [{"sku": '

    def __init__(self, *, key: str, secret: str, skus: list[str], seed: int | None, utc_offset_hours: float,
                 currency: str, permissions: str = "read_write") -> None:  # fmt: skip
        super().__init__()
        self.api_key = ApiKey(key, secret, permissions)
        self.rng = random.Random(seed)
        self.offset = timedelta(hours=utc_offset_hours)
        self.currency = currency
        self.orders: dict[int, Order] = {}
        self.products: dict[int, Product] = {}
        self._post_id = 100
        self._item_id = 1000
        self._note_id = 5000
        for sku in skus:
            self.upsert_product({"sku": sku})

    # WooCommerce's ways, in the base's terms

    def error(self, status: int, code: str, message: str) -> Response:
        return wp_error(code, message, status)

    def api(self, handler: Handler, *, authenticate: bool = True) -> Handler:
        """The base's wrapping (log, faults), then WooCommerce's authentication (``auth``): refused
        credentials answer its error; ``request.state.authenticated`` tells the route's
        permission check (``permit``) whether a key or nobody is asking."""

        async def authenticated(request: Request) -> Response:
            request.state.authenticated = await self.api_key.authenticate(request) if authenticate else True
            return await handler(request)

        return super().api(authenticated, authenticate=False)

    @staticmethod
    def permit(request: Request, action: str, found: bool = True) -> None:
        """A route's permission check (WooCommerce's ``*_permissions_check``): an anonymous request
        is refused with the route's 401 (``PERMISSION_ERRORS[action]``); one about an object that
        does not exist (``found`` False) passes, to be answered "Invalid ID." by the route."""
        if found and not request.state.authenticated:
            raise RestError(*PERMISSION_ERRORS[action], 401)

    def unmatched(self, request: Request, status: int, detail: str) -> Response:
        if request.url.path.startswith("/wp-json"):
            return wp_error("rest_no_route", "No route was found matching the URL and request method.", 404)
        return super().unmatched(request, status, detail)

    def state(self) -> dict[str, Any]:
        return {
            "orders": [{
                "id": o.id, "number": o.number, "status": o.status,
                "date_created_gmt": gmt(o.created), "date_modified_gmt": gmt(o.modified),
                "lines": [{"id": line.id, "sku": line.sku, "quantity": line.quantity} for line in o.lines],
                "notes": [{"note": n["note"], "customer_note": n["customer_note"]} for n in o.notes],
            } for o in sorted(self.orders.values(), key=lambda o: o.id)],
            "products": [{"id": p.id, "sku": p.sku, "type": p.type, "stock_quantity": p.stock_quantity,
                          "manage_stock": p.manage_stock} for p in sorted(self.products.values(), key=lambda p: p.id)],
        }  # fmt: skip

    async def own_fault(self, request: Request, body: dict[str, Any]) -> Response | None:
        """``{"kind": "bad_order", "defect", "order"?}`` creates a defective order (see DEFECTS)."""
        if body.get("kind") != "bad_order":
            return None
        order = self.create_order({**body.get("order", {}), "defect": body.get("defect")})
        return JSONResponse({"order": order_json(self, order, site_url(request))}, status_code=201)

    # Ids: orders and products share WordPress's post ids; order items and notes have their own.

    def _next_post_id(self) -> int:
        self._post_id += self.rng.randint(1, 3)
        return self._post_id

    def _next_item_id(self) -> int:
        self._item_id += 1
        return self._item_id

    # Changes

    def upsert_product(self, spec: dict[str, Any]) -> Product:
        """Create the product with ``spec["sku"]``, or update it (stock_quantity, price, name)."""
        sku = str(spec["sku"])
        product = next((p for p in self.products.values() if p.sku == sku), None)
        if product is None:
            product = Product(
                id=self._next_post_id(), name=str(spec.get("name") or sku.replace("-", " ").title()), sku=sku,
                price=amount(spec.get("price"), str(self.rng.choice([4.99, 9.99, 12.5, 14.99, 19.99, 24.0]))),
                stock_quantity=None, type=str(spec.get("type", "simple")),
                parent_id=int(spec.get("parent_id", 0)) if spec.get("type") == "variation" else 0,
            )  # fmt: skip
            product.stock_quantity = int(spec.get("stock_quantity", self.rng.randint(0, 50)))
            self.products[product.id] = product
            return product
        if "stock_quantity" in spec:
            product.stock_quantity = None if spec["stock_quantity"] is None else int(spec["stock_quantity"])
        if "price" in spec:
            product.price = amount(spec["price"])
        if "name" in spec:
            product.name = str(spec["name"])
        product.modified = now()
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
        """A new order from ``spec`` (see the package docstring); what it leaves out is random."""
        moment = now()
        status = str(spec.get("status") or self.rng.choices(["processing", "on-hold", "pending"], [8, 1, 1])[0])
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        created = parse_date(spec["date_created_gmt"]) if spec.get("date_created_gmt") else moment
        modified = parse_date(spec["date_modified_gmt"]) if spec.get("date_modified_gmt") else max(created, moment)
        if spec.get("date_paid_gmt"):
            paid = parse_date(spec["date_paid_gmt"])
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
                unit_price=amount(line_spec.get("price"), str(product.price) if product else "10.00"),
                discount=amount(line_spec.get("discount"), "0"),
            ))  # fmt: skip
        if not lines:
            raise ValueError("an order needs at least one line (configure SKUs or give lines)")
        if "shipping_method" in spec or "shipping_total" in spec:
            method = ("flat_rate", str(spec.get("shipping_method", "Flat rate")))
            shipping_total = amount(spec.get("shipping_total"), "0")
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
        self._spoil(order, spec.get("defect"))
        self.orders[order.id] = order
        return order

    def _spoil(self, order: Order, defect: str | None) -> None:
        """Give a new order one of the DEFECTS (None: none)."""
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

    def touch_order(self, order: Order, status: str | None, modified: datetime | None) -> None:
        """A change to an order (its status, if given): date_modified becomes ``modified`` or now."""
        moment = now()
        if status is not None:
            order_status(status)
            if status == "completed" and order.status != "completed":
                order.completed = moment
            if status in ("processing", "completed") and order.paid is None:
                order.paid = moment
            order.status = status
        order.modified = modified or moment

    def add_note(self, order: Order, text: str, customer_note: bool) -> dict[str, Any]:
        """A note on the order, by orderdeck (a customer note is what the buyer is told)."""
        self._note_id += 1
        note = {"id": self._note_id, "author": "orderdeck", "created": now(), "note": text, "customer_note": customer_note}
        order.notes.append(note)
        return note
