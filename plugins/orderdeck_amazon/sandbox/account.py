"""The state of one emulated seller account: its orders and listings, the LWA tokens issued, its
clock and usage plans, and what is Amazon's own in the sandbox base's terms (its error body and
messages, the token check, its own faults)."""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from orderdeck.plugins.sandbox import FAULT_KINDS, ApiError, Emulator, Fault
from orderdeck.ratelimit import MemoryRateLimiter, Rate

ORDER_STATUSES = ["PendingAvailability", "Pending", "Unshipped", "PartiallyShipped", "Shipped", "InvoiceUnconfirmed",
                  "Canceled", "Unfulfillable"]  # fmt: skip
MARKETPLACES = {  # marketplace id: (sales channel, currency, country)
    "ATVPDKIKX0DER": ("Amazon.com", "USD", "US"), "A2EUQ1WTGCTBG2": ("Amazon.ca", "CAD", "CA"),
    "A1F83G8C2ARO7P": ("Amazon.co.uk", "GBP", "GB"), "A1PA6795UKMFR9": ("Amazon.de", "EUR", "DE"),
    "A13V1IB3VIYZZH": ("Amazon.fr", "EUR", "FR"), "A1VC38T7YXB528": ("Amazon.co.jp", "JPY", "JP"),
}  # fmt: skip
DEFECTS = ["unknown_sku", "missing_sku", "bad_date", "no_items"]
AMAZON_FAULT_KINDS = ("unauthorized", "forbidden")
"""Faults of this sandbox's own: the next requests are answered 401 / 403 (as a revoked grant)."""
DEFAULT_SKUS = ["MUG-RED", "MUG-BLUE", "TEE-S", "TEE-M", "POSTER-A2"]
NAMES = ["Olivia Smith", "Noah Jones", "Amelia Taylor", "Leo Brown", "Isla Wilson", "Oscar Davies", "Ava Patel"]
REVIEW_REQUEST = "productReviewAndSellerFeedback"
"""The one solicitation Amazon offers (getSolicitationActionsForOrder's action name)."""
REVIEW_WINDOW = (timedelta(days=5), timedelta(days=30))
"""When after delivery (here: the order's ship date) Amazon offers the review request."""
NOT_AVAILABLE = "The requested solicitation is not available for this amazonOrderId."
OUTSIDE_WINDOW = "You can't use this feature to request a review outside the 5-30 day range after the order delivery date."
"""Amazon's 403 messages for a review request it does not take (already made, or out of its days)."""
ADDRESSES = [("1 Cross St.", "Canton", "MI", "48817"), ("500 Pine St", "Seattle", "WA", "98101"),
             ("77 Massachusetts Ave", "Cambridge", "MA", "02139"), ("350 Fifth Ave", "New York", "NY", "10118")]  # fmt: skip


def iso(moment: datetime) -> str:
    """ISO 8601 as Amazon writes dates: UTC, to the second, with Z."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    """An ISO 8601 date-time (an offset or Z; none means UTC); ValueError."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def amazon_error(status: int, code: str, message: str, details: str = "") -> JSONResponse:
    """SP-API's error body: ``{"errors": [{"code", "message", "details"}]}``."""
    return JSONResponse({"errors": [{"code": code, "message": message, "details": details}]}, status_code=status)


class AmazonError(ApiError):
    """Answered as an SP-API error body."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(amazon_error(status, code, message, details), message)


def invalid_input(message: str, details: str = "") -> AmazonError:
    return AmazonError(400, "InvalidInput", message, details)


@dataclass
class Item:
    order_item_id: str
    sku: str
    asin: str
    title: str
    quantity: int
    unit_price: Decimal
    shipped: int = 0
    tax_rate: Decimal = Decimal("0.08")
    shipping: Decimal = Decimal("0")


@dataclass
class Order:
    id: str
    status: str
    channel: str  # MFN or AFN
    marketplace_id: str
    purchased: datetime
    updated: datetime
    items: list[Item]
    buyer_name: str
    buyer_email: str
    address: dict[str, str]
    service_level: str = "Std US D2D Dom"
    is_prime: bool = False
    shipped_at: datetime | None = None  # when the last item shipped (the sandbox's delivery date too)
    shipments: list[dict[str, Any]] = field(default_factory=list)
    solicitations: list[dict[str, str]] = field(default_factory=list)
    buyer_messages: list[str] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Listing:
    sku: str
    asin: str
    title: str
    quantity: int
    product_type: str = "PRODUCT"
    submissions: list[str] = field(default_factory=list)


class SellerAccount(Emulator):
    """One emulated seller: orders, listings, LWA grants and usage plans (faults and the request
    log come with the base)."""

    messages = {
        "rate_limit": ("QuotaExceeded", "You exceeded your quota for the requested resource."),
        "server_error": ("InternalFailure", "We encountered an internal error. Please try again."),
        "unauthorised": ("Unauthorized", "Access to requested resource is denied."),
    }
    malformed_body = '{"payload": {"Orders": [{"AmazonOrderId": "902-3159896-'

    def __init__(self, *, client_id: str, client_secret: str, refresh_token: str, seller_id: str,
                 marketplace_ids: list[str], token_lifetime: float, settle_seconds: float, items_per_page: int,
                 rates: dict[str, tuple[float, int]], enforce_rates: bool, seed: int | None) -> None:  # fmt: skip
        super().__init__()
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.seller_id = seller_id
        self.marketplace_ids = marketplace_ids
        self.token_lifetime = token_lifetime
        self.settle = timedelta(seconds=settle_seconds)
        self.items_per_page = items_per_page
        self.rates = rates
        self.enforce_rates = enforce_rates
        self.rng = random.Random(seed)
        self.offset = timedelta(0)
        self.tokens: dict[str, float] = {}  # access token: when it expires (time.monotonic)
        self.orders: dict[str, Order] = {}
        self.listings: dict[str, Listing] = {}
        self._buckets = MemoryRateLimiter(Rate(60, 1))
        self._item_id = 10_000_000_000_000

    # Amazon's ways, in the base's terms

    def error(self, status: int, code: str, message: str) -> Response:
        return amazon_error(status, code, message)

    def state(self) -> dict[str, Any]:
        return {
            "now": iso(self.now()), "seller_id": self.seller_id, "marketplace_ids": self.marketplace_ids,
            "tokens": {"issued": len(self.tokens), "valid": sum(t > time.monotonic() for t in self.tokens.values())},
            "orders": [{"AmazonOrderId": o.id, "OrderStatus": o.status, "FulfillmentChannel": o.channel,
                        "LastUpdateDate": iso(o.updated),
                        "items": [{"OrderItemId": i.order_item_id, "SellerSKU": i.sku, "QuantityOrdered": i.quantity,
                                   "QuantityShipped": i.shipped} for i in o.items],
                        "ShipDate": iso(o.shipped_at) if o.shipped_at else None,
                        "shipments": o.shipments, "buyer_messages": o.buyer_messages, "solicitations": o.solicitations}
                       for o in sorted(self.orders.values(), key=lambda o: (o.updated, o.id))],
            "listings": [{"sku": listing.sku, "asin": listing.asin, "quantity": listing.quantity,
                          "submissions": len(listing.submissions)} for listing in self.listings.values()],
        }  # fmt: skip

    async def own_fault(self, request: Request, body: dict[str, Any]) -> Response | None:
        """``unauthorized`` / ``forbidden`` faults (queued like the base's), and ``{"kind":
        "bad_order", "defect", "order"?}``, which places a defective order (see DEFECTS)."""
        if body.get("kind") in AMAZON_FAULT_KINDS:
            self.faults.append(Fault.from_json(body, kinds=FAULT_KINDS + AMAZON_FAULT_KINDS))
            return JSONResponse({"faults": self.faults.as_json()})
        if body.get("kind") != "bad_order":
            return None
        order = self.place_order({**body.get("order", {}), "defect": body.get("defect")})
        return JSONResponse({"order": {"AmazonOrderId": order.id}}, status_code=201)

    def fault_response(self, fault: Fault) -> Response | None:
        if fault.kind == "unauthorized":
            return amazon_error(401, "Unauthorized", "Access to requested resource is denied.", "The access token is invalid.")
        if fault.kind == "forbidden":
            return amazon_error(403, "Unauthorized", "Access to requested resource is denied.",
                                "The seller has revoked the application's authorization.")  # fmt: skip
        return super().fault_response(fault)

    # The clock (orders' dates; tokens expire in real time)

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.offset

    # Login with Amazon and usage plans

    def issue_token(self) -> tuple[str, int]:
        token = "Atza|" + secrets.token_urlsafe(32)
        self.tokens[token] = time.monotonic() + self.token_lifetime
        return token, int(self.token_lifetime)

    def expire_tokens(self) -> int:
        """Every token issued expires now (as an hour passing would)."""
        for token in self.tokens:
            self.tokens[token] = 0.0
        return len(self.tokens)

    def check_token(self, request: Request) -> None:
        """Raise Amazon's 403 unless the request carries a token issued and still valid."""
        token = request.headers.get("x-amz-access-token", "")
        expires = self.tokens.get(token)
        if expires is None:
            raise AmazonError(403, "Unauthorized", "Access to requested resource is denied.",
                              "The access token is missing or invalid.")  # fmt: skip
        if expires <= time.monotonic():
            raise AmazonError(403, "Unauthorized", "Access to requested resource is denied.",
                              "The access token you provided has expired.")  # fmt: skip

    async def throttle(self, operation: str) -> None:
        """Take one request from the operation's usage plan; Amazon's 429 when it is spent."""
        rate, burst = self.rates[operation]
        if self.enforce_rates and await self._buckets.take(operation, Rate(rate * 60, burst)) > 0:
            raise AmazonError(429, *self.messages["rate_limit"])

    # Orders

    def _next_item_id(self) -> str:
        self._item_id += self.rng.randint(1, 999)
        return str(self._item_id)

    def _order_id(self) -> str:
        return f"{self.rng.randint(111, 999)}-{self.rng.randint(0, 9999999):07d}-{self.rng.randint(0, 9999999):07d}"

    def place_order(self, spec: dict[str, Any]) -> Order:
        """A new order from ``spec`` (see the package docstring); what it leaves out is random."""
        moment = self.now()
        status = str(spec.get("status") or self.rng.choices(["Unshipped", "Pending"], [9, 1])[0])
        if status not in ORDER_STATUSES:
            raise ValueError(f"unknown OrderStatus {status!r}; one of {ORDER_STATUSES}")
        channel = str(spec.get("fulfillment_channel", "MFN"))
        if channel not in ("MFN", "AFN"):
            raise ValueError("fulfillment_channel is MFN or AFN")
        marketplace = str(spec.get("marketplace_id") or self.marketplace_ids[0])
        purchased = parse_iso(spec["purchase_date"]) if spec.get("purchase_date") else moment
        updated = parse_iso(spec["last_update_date"]) if spec.get("last_update_date") else max(purchased, moment)
        listed = list(self.listings.values())
        lines = spec.get("items") or [{"sku": listing.sku, "quantity": self.rng.randint(1, 3)}
                                      for listing in self.rng.sample(listed, k=min(len(listed), self.rng.randint(1, 2)))]  # fmt: skip
        items = []
        for line in lines:
            listing = self.listings.get(str(line.get("sku")))
            quantity = int(line.get("quantity", 1))
            items.append(Item(
                order_item_id=self._next_item_id(), sku=str(line.get("sku", "")),
                asin=listing.asin if listing else f"B0{self.rng.randint(10_000_000, 99_999_999)}",
                title=str(line.get("title") or (listing.title if listing else line.get("sku", "Item"))),
                quantity=quantity, unit_price=Decimal(str(line.get("price", "12.99"))),
                shipped=int(line.get("shipped", quantity if status in ("Shipped", "InvoiceUnconfirmed") else 0)),
            ))  # fmt: skip
        if not items and spec.get("defect") != "no_items":
            raise ValueError("an order needs items (list SKUs or give items)")
        name = str(spec.get("buyer_name") or self.rng.choice(NAMES))
        street, city, region, postcode = self.rng.choice(ADDRESSES)
        address = {"Name": name, "AddressLine1": street, "City": city, "StateOrRegion": region, "PostalCode": postcode,
                   "CountryCode": MARKETPLACES.get(marketplace, ("", "", "US"))[2], **spec.get("address", {})}  # fmt: skip
        order = Order(
            id=str(spec.get("AmazonOrderId") or self._order_id()), status=status, channel=channel,
            marketplace_id=marketplace, purchased=purchased, updated=updated, items=items, buyer_name=name,
            buyer_email=str(spec.get("email") or f"{secrets.token_hex(8)}@marketplace.amazon.com"), address=address,
            is_prime=bool(spec.get("is_prime", False)),
        )  # fmt: skip
        if status in ("Shipped", "InvoiceUnconfirmed"):
            order.shipped_at = parse_iso(spec["ship_date"]) if spec.get("ship_date") else updated
        if order.id in self.orders:
            raise ValueError(f"order {order.id} exists")
        self._spoil(order, spec.get("defect"))
        self.orders[order.id] = order
        return order

    def _spoil(self, order: Order, defect: str | None) -> None:
        if defect == "unknown_sku":
            order.items.append(Item(self._next_item_id(), f"UNKNOWN-{self.rng.randint(1000, 9999)}", "B000000000",
                                    "Discontinued item", 1, Decimal("5.00")))  # fmt: skip
        elif defect == "missing_sku":
            order.items[0].sku = ""
        elif defect == "bad_date":
            order.overrides["PurchaseDate"] = "31/02/2024 25:61"
        elif defect == "no_items":
            order.items = []
        elif defect is not None:
            raise ValueError(f"unknown defect {defect!r}; one of {DEFECTS}")

    def change_order(self, order: Order, status: str | None, updated: datetime | None = None,
                     shipped: datetime | None = None) -> None:  # fmt: skip
        """A change made on Amazon (a status, if given): LastUpdateDate becomes ``updated`` or now;
        a shipped order's ship date ``shipped``, or when it shipped."""
        if status is not None:
            if status not in ORDER_STATUSES:
                raise ValueError(f"unknown OrderStatus {status!r}")
            order.status = status
            if status in ("Shipped", "InvoiceUnconfirmed"):
                for item in order.items:
                    item.shipped = item.quantity
                order.shipped_at = order.shipped_at or updated or self.now()
        order.updated = updated or self.now()
        if shipped is not None:
            order.shipped_at = shipped

    def confirm_shipment(self, order: Order, body: dict[str, Any]) -> None:
        """confirmShipment, validated as Amazon does: the package's items ship, the buyer is told."""
        if body.get("marketplaceId") != order.marketplace_id:
            raise invalid_input(f"The marketplaceId {body.get('marketplaceId')!r} is not the order's marketplace.")
        package = body.get("packageDetail")
        if not isinstance(package, dict):
            raise invalid_input("Missing request parameter: packageDetail.")
        for name in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems"):
            if not package.get(name):
                raise invalid_input(f"Missing request parameter: packageDetail.{name}.")
        if not str(package["packageReferenceId"]).isdigit() or int(package["packageReferenceId"]) <= 0:
            raise invalid_input("packageReferenceId must be a positive number.")
        try:
            parse_iso(str(package["shipDate"]))
        except ValueError:
            raise invalid_input(f"shipDate {package['shipDate']!r} is not an ISO 8601 date-time.") from None
        if order.status not in ("Unshipped", "PartiallyShipped"):
            raise invalid_input(f"The order is {order.status}: its shipment cannot be confirmed.")
        by_id = {item.order_item_id: item for item in order.items}
        shipping: list[tuple[Item, int]] = []
        for line in package["orderItems"]:
            item = by_id.get(str(line.get("orderItemId"))) if isinstance(line, dict) else None
            quantity = line.get("quantity") if isinstance(line, dict) else None
            if item is None:
                raise invalid_input(f"The order has no item {line.get('orderItemId') if isinstance(line, dict) else line!r}.")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= item.quantity - item.shipped:
                raise invalid_input(f"Item {item.order_item_id}: quantity {quantity!r} is more than is left to ship "
                                    f"({item.quantity - item.shipped}).")  # fmt: skip
            shipping.append((item, quantity))
        for item, quantity in shipping:
            item.shipped += quantity
        order.status = "Shipped" if all(i.shipped >= i.quantity for i in order.items) else "PartiallyShipped"
        order.updated = self.now()
        if order.status == "Shipped":
            order.shipped_at = order.updated
        order.shipments.append({key: package.get(key) for key in ("packageReferenceId", "carrierCode", "carrierName",
                                                                 "shippingMethod", "trackingNumber", "shipDate", "orderItems")})  # fmt: skip
        carrier = package.get("carrierName") or package["carrierCode"]
        order.buyer_messages.append(f"Your package has shipped with {carrier}, tracking number {package['trackingNumber']}.")

    # Solicitations

    def review_refusal(self, order: Order) -> str | None:
        """Why Amazon would not take a review request for the order now (its 403 message), None
        when it would: once per order, for a shipped order, 5 to 30 days after its delivery (the
        sandbox takes the ship date for it) by the account's clock."""
        if any(s["name"] == REVIEW_REQUEST for s in order.solicitations):
            return NOT_AVAILABLE
        if order.status not in ("Shipped", "InvoiceUnconfirmed") or order.shipped_at is None:
            return NOT_AVAILABLE
        if not REVIEW_WINDOW[0] <= self.now() - order.shipped_at <= REVIEW_WINDOW[1]:
            return OUTSIDE_WINDOW
        return None

    def request_review(self, order: Order, marketplace_id: str) -> None:
        """createProductReviewAndSellerFeedbackSolicitation: the buyer is asked, once; Amazon's 403
        when it does not take the request."""
        refusal = self.review_refusal(order)
        if refusal is not None:
            raise AmazonError(403, "Unauthorized", refusal, "")
        order.solicitations.append({"name": REVIEW_REQUEST, "marketplaceId": marketplace_id, "sent": iso(self.now())})

    # Listings

    def upsert_listing(self, spec: dict[str, Any]) -> Listing:
        sku = str(spec["sku"])
        listing = self.listings.get(sku)
        if listing is None:
            listing = Listing(sku=sku, asin=str(spec.get("asin") or f"B0{self.rng.randint(10_000_000, 99_999_999)}"),
                              title=str(spec.get("title") or sku.replace("-", " ").title()),
                              quantity=int(spec.get("quantity", self.rng.randint(0, 50))))  # fmt: skip
            self.listings[sku] = listing
        elif "quantity" in spec:
            listing.quantity = int(spec["quantity"])
        return listing
