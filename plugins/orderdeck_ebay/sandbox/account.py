"""The state of one emulated eBay seller account: its application keys and tokens, orders,
fulfillments and inventory, its call limits, and what is eBay's own in the sandbox base's terms
(the error body, bearer tokens, scopes)."""

from __future__ import annotations

import contextvars
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from orderdeck.plugins.sandbox import ApiError, Emulator, basic_auth, bearer_token, credentials_match

FULFILLMENT_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.fulfillment"
INVENTORY_SCOPE = "https://api.ebay.com/oauth/api_scope/sell.inventory"
PAYMENT_STATUSES = ("PAID", "PENDING", "FAILED", "PARTIALLY_REFUNDED", "FULLY_REFUNDED")
FULFILLMENT_STATUSES = ("NOT_STARTED", "IN_PROGRESS", "FULFILLED")
CANCEL_STATES = ("NONE_REQUESTED", "IN_PROGRESS", "CANCELED")
DEFAULT_SKUS = ["MUG-RED", "MUG-BLUE", "TEE-S", "TEE-M", "POSTER-A2", "CAP-BLACK"]
BUYERS = [("Olivia Smith", "London", "SW1A 1AA"), ("Noah Jones", "Leeds", "LS1 4AP"), ("Amelia Taylor", "Bath", "BA1 1LZ"),
          ("George Brown", "York", "YO1 7HH"), ("Isla Wilson", "Bristol", "BS1 5TR"), ("Leo Patel", "Cardiff", "CF10 1EP")]  # fmt: skip
SERVICES = ["UK_RoyalMailSecondClassStandard", "UK_RoyalMailTracked24", "UK_OtherCourier24"]

# Where each API's errors come from (eBay's domain and its system error), by path prefix.
DOMAINS = {"/sell/fulfillment": ("API_FULFILLMENT", 30500), "/sell/inventory": ("API_INVENTORY", 25001),
           "/identity": ("OAuth", 10001)}  # fmt: skip
_path: contextvars.ContextVar[str] = contextvars.ContextVar("ebay_sandbox_path", default="")


def now() -> datetime:
    """eBay's clock: UTC, to the millisecond."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def ebay_date(moment: datetime) -> str:
    """eBay's ISO 8601 format: ``2026-05-01T10:00:00.000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_date(value: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC); ValueError otherwise."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def money(value: Decimal, currency: str) -> dict[str, str]:
    """eBay's Amount: the value as a decimal string and the currency."""
    return {"value": f"{value:.2f}", "currency": currency}


def error_body(error_id: int, domain: str, category: str, message: str, long_message: str = "",
               parameters: list[dict[str, str]] | None = None) -> dict[str, Any]:  # fmt: skip
    """eBay's error entry."""
    entry: dict[str, Any] = {"errorId": error_id, "domain": domain, "category": category, "message": message,
                             "longMessage": long_message or message}  # fmt: skip
    if parameters:
        entry["parameters"] = parameters
    return entry


class EbayError(ApiError):
    """Answered as eBay's ``{"errors": [...]}`` with the API's domain."""

    def __init__(self, status: int, error_id: int, message: str, *, category: str = "REQUEST",
                 parameters: dict[str, str] | None = None) -> None:  # fmt: skip
        domain = next((d for prefix, (d, _) in DOMAINS.items() if _path.get().startswith(prefix)), "API")
        params = [{"name": k, "value": v} for k, v in (parameters or {}).items()]
        body = {"errors": [error_body(error_id, domain, category, message, parameters=params)]}
        super().__init__(JSONResponse(body, status_code=status), message)


@dataclass
class Token:
    value: str
    expires_at: float
    scopes: frozenset[str]


@dataclass
class Quota:
    """At most ``calls`` calls in any ``seconds`` (a daily call limit is 86,400 seconds)."""

    calls: int
    seconds: float
    made: list[float] = field(default_factory=list)

    def spend(self) -> float | None:
        """Count a call; None if allowed, else the seconds until one is."""
        moment = time.monotonic()
        self.made = [t for t in self.made if t > moment - self.seconds]
        if len(self.made) >= self.calls:
            return (self.made[0] + self.seconds - moment) if self.made else self.seconds
        self.made.append(moment)
        return None


class EbayAccount(Emulator):
    """One emulated seller account (faults and the request log come with the base)."""

    messages = {
        "rate_limit": ("2001", "Too many requests. The request limit has been reached for the resource."),
        "server_error": ("", "There was a problem with an eBay internal system or process. Contact eBay developer support for assistance."),
        "unauthorised": ("1001", "Invalid access token"),
    }
    malformed_body = '{"href": "https://api.ebay.com/sell/fulfillment/v1/order", "total": 3, "orders": [{"orderId": '

    def __init__(self, *, client_id: str, client_secret: str, refresh_token: str, granted_scopes: list[str],
                 token_seconds: float, skus: list[str], seed: int | None, currency: str, marketplace_id: str,
                 quotas: dict[str, tuple[int, float]]) -> None:  # fmt: skip
        super().__init__()
        self.client_id, self.client_secret, self.refresh_token = client_id, client_secret, refresh_token
        self.granted_scopes = frozenset(granted_scopes)
        self.token_seconds = token_seconds
        self.tokens: dict[str, Token] = {}
        self.rng = random.Random(seed)
        self.currency, self.marketplace_id = currency, marketplace_id
        self.orders: dict[str, dict[str, Any]] = {}
        self.fulfillments: dict[str, list[dict[str, Any]]] = {}
        self.buyer_messages: dict[str, list[str]] = {}
        self.inventory: dict[str, int] = {}
        self.quotas = {resource: Quota(calls, seconds) for resource, (calls, seconds) in quotas.items()}
        self._line_id = 10_000_000_000
        self._number = 0
        for sku in skus:
            self.inventory[sku] = self.rng.randint(0, 50)

    # eBay's ways, in the base's terms

    def error(self, status: int, code: str, message: str) -> Response:
        domain, system_error = next((v for prefix, v in DOMAINS.items() if _path.get().startswith(prefix)), ("API", 10001))
        if code == "2001":
            return JSONResponse({"errors": [error_body(2001, "ACCESS", "REQUEST", message)]}, status_code=status)
        if code == "1001":
            return JSONResponse({"errors": [error_body(1001, "OAuth", "REQUEST", message, "Invalid access token. "
                                                       "Check the value of the Authorization HTTP request header.")]},
                                status_code=status)  # fmt: skip
        error_id = int(code) if code.isdigit() else system_error
        return JSONResponse({"errors": [error_body(error_id, domain, "APPLICATION", message)]}, status_code=status)

    def authorised(self, request: Request) -> bool:
        """A bearer token this account issued that has not expired."""
        token = self.tokens.get(bearer_token(request) or "")
        return token is not None and credentials_match(bearer_token(request), token.value) and token.expires_at > time.time()

    def unmatched(self, request: Request, status: int, detail: str) -> Response:
        _path.set(request.url.path)
        if status == 405:
            return self.error(405, "", "Method Not Allowed")
        return JSONResponse({"errors": [error_body(2002, "ACCESS", "REQUEST", "Resource not found")]}, status_code=404)

    def state(self) -> dict[str, Any]:
        return {"orders": [self.order_state(o) for o in sorted(self.orders.values(), key=lambda o: o["creationDate"])],
                "inventory": dict(sorted(self.inventory.items())),
                "tokens": {"issued": len(self.tokens), "valid": sum(t.expires_at > time.time() for t in self.tokens.values())},
                "quotas": {r: {"calls": q.calls, "seconds": q.seconds, "made": len(q.made)} for r, q in self.quotas.items()}}  # fmt: skip

    def order_state(self, order: dict[str, Any]) -> dict[str, Any]:
        """What ``GET /__sandbox/state`` shows of an order."""
        order_id = order["orderId"]
        return {"orderId": order_id, "orderPaymentStatus": order["orderPaymentStatus"],
                "orderFulfillmentStatus": order["orderFulfillmentStatus"],
                "cancelState": order["cancelStatus"]["cancelState"], "lastModifiedDate": order["lastModifiedDate"],
                "lineItems": [{"lineItemId": li["lineItemId"], "sku": li.get("sku", ""), "quantity": li["quantity"],
                               "lineItemFulfillmentStatus": li["lineItemFulfillmentStatus"]} for li in order["lineItems"]],
                "fulfillments": self.fulfillments.get(order_id, []), "buyerMessages": self.buyer_messages.get(order_id, [])}  # fmt: skip

    def api(self, handler: Any, *, authenticate: bool = True, resource: str = "", scope: str = "") -> Any:  # type: ignore[override]
        """The base's wrapping (log, faults, token), then the token's scope (403) and the
        resource's call limit (429, errorId 2001)."""

        async def checked(request: Request) -> Response:
            if scope:
                token = self.tokens.get(bearer_token(request) or "")
                if token is None or scope not in token.scopes:
                    raise EbayError(403, 1100, "Access denied", category="REQUEST",
                                    parameters={"reason": "Insufficient permissions to fulfill the request."})  # fmt: skip
            quota = self.quotas.get(resource)
            if quota is not None and quota.spend() is not None:
                response = self.error(429, *self.messages["rate_limit"])
                raise ApiError(response)  # eBay names no Retry-After for its call limits
            return await handler(request)

        wrapped = super().api(checked, authenticate=authenticate)

        async def endpoint(request: Request) -> Response:
            _path.set(request.url.path)
            return await wrapped(request)

        return endpoint

    # OAuth

    def issue_token(self, scopes: frozenset[str]) -> Token:
        token = Token(f"v^1.1#i^1#sandbox#{secrets.token_urlsafe(24)}", time.time() + self.token_seconds, scopes)
        self.tokens[token.value] = token
        return token

    def expire_tokens(self) -> int:
        """Make every issued token expired (as two hours passing would)."""
        for token in self.tokens.values():
            token.expires_at = 0
        return len(self.tokens)

    # Orders

    def _next_order_id(self) -> str:
        self._number += 1
        return f"{self.rng.randint(10, 29)}-{self.rng.randint(10000, 99999):05d}-{self._number:05d}"

    def _next_line_id(self) -> str:
        self._line_id += self.rng.randint(1, 9)
        return str(self._line_id)

    def create_order(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A new order from ``spec`` (see the package docstring); what it leaves out is random."""
        moment = now()
        created = parse_date(spec["creationDate"]) if spec.get("creationDate") else moment
        modified = parse_date(spec["lastModifiedDate"]) if spec.get("lastModifiedDate") else max(created, moment)
        payment = str(spec.get("orderPaymentStatus", "PAID"))
        cancel_state = str(spec.get("cancelState", "NONE_REQUESTED"))
        if payment not in PAYMENT_STATUSES or cancel_state not in CANCEL_STATES:
            raise ValueError(f"orderPaymentStatus must be one of {PAYMENT_STATUSES}, cancelState one of {CANCEL_STATES}")
        currency = str(spec.get("currency", self.currency))
        lines_spec = spec.get("lines") or [{"sku": sku, "quantity": self.rng.randint(1, 3)}
                                           for sku in self.rng.sample(sorted(self.inventory), k=min(2, len(self.inventory)))]  # fmt: skip
        if not lines_spec:
            raise ValueError("an order needs at least one line (configure SKUs or give lines)")
        name, town, postcode = self.rng.choice(BUYERS)
        ship_to = {"fullName": name, "contactAddress": {"addressLine1": f"{self.rng.randint(1, 199)} High Street",
                   "city": town, "postalCode": postcode, "countryCode": "GB"},
                   "primaryPhone": {"phoneNumber": f"07{self.rng.randint(100000000, 999999999)}"},
                   "email": f"{secrets.token_hex(8)}@members.ebay.com"}  # fmt: skip
        ship_to.update(spec.get("shipTo", {}))
        lines = [self._line(line, currency, created) for line in lines_spec]
        subtotal = sum((Decimal(li["lineItemCost"]["value"]) for li in lines), Decimal(0))
        delivery = Decimal(str(spec.get("deliveryCost", "2.99")))
        order_id = str(spec.get("orderId") or self._next_order_id())
        if order_id in self.orders:
            raise ValueError(f"order {order_id} exists already")
        paid = payment in ("PAID", "PARTIALLY_REFUNDED", "FULLY_REFUNDED")
        order: dict[str, Any] = {
            "orderId": order_id, "legacyOrderId": f"{self.rng.randint(100000000000, 999999999999)}-{self.rng.randint(1000000000000, 9999999999999)}",
            "creationDate": ebay_date(created), "lastModifiedDate": ebay_date(modified),
            "orderFulfillmentStatus": "NOT_STARTED", "orderPaymentStatus": payment, "sellerId": "orderdeck_sandbox_seller",
            "buyer": {"username": name.lower().replace(" ", "_") + str(self.rng.randint(1, 99)),
                      "taxAddress": {"city": town, "postalCode": postcode, "countryCode": "GB"}},
            "pricingSummary": {"priceSubtotal": money(subtotal, currency), "deliveryCost": money(delivery, currency),
                               "total": money(subtotal + delivery, currency)},
            "cancelStatus": {"cancelState": cancel_state, "cancelRequests": []},
            "paymentSummary": {"payments": [{"paymentMethod": "EBAY", "paymentReferenceId": secrets.token_hex(8).upper(),
                                             "paymentDate": ebay_date(created), "amount": money(subtotal + delivery, currency),
                                             "paymentStatus": "PAID" if paid else payment}],
                               "refunds": [], "totalDueSeller": money(subtotal + delivery, currency)},
            "fulfillmentStartInstructions": [{"fulfillmentInstructionsType": "SHIP_TO", "ebaySupportedFulfillment": False,
                                              "minEstimatedDeliveryDate": ebay_date(created + timedelta(days=2)),
                                              "maxEstimatedDeliveryDate": ebay_date(created + timedelta(days=4)),
                                              "shippingStep": {"shipTo": ship_to, "shippingCarrierCode": "",
                                                               "shippingServiceCode": spec.get("shippingServiceCode") or self.rng.choice(SERVICES)}}],
            "fulfillmentHrefs": [], "lineItems": lines, "salesRecordReference": str(1000 + self._number),
            "totalFeeBasisAmount": money(subtotal + delivery, currency), "totalMarketplaceFee": money((subtotal * Decimal("0.128")).quantize(Decimal("0.01")), currency),
        }  # fmt: skip
        if not paid:
            order["paymentSummary"]["payments"][0].pop("paymentDate")
        if cancel_state == "CANCELED":
            order["cancelStatus"].update({"cancelledDate": ebay_date(modified), "cancelRequests": [{
                "cancelInitiator": "SELLER", "cancelReason": "OUT_OF_STOCK_OR_CANNOT_FULFILL", "cancelRequestId": secrets.token_hex(5),
                "cancelRequestState": "COMPLETED", "cancelRequestedDate": ebay_date(modified), "cancelCompletedDate": ebay_date(modified)}]})  # fmt: skip
        for line in order["lineItems"]:
            if line.pop("_shipped", False):
                line["lineItemFulfillmentStatus"] = "FULFILLED"
        self._settle_fulfillment(order)
        if spec.get("orderFulfillmentStatus") == "FULFILLED":  # shipped outside the API: every line
            for line in order["lineItems"]:
                line["lineItemFulfillmentStatus"] = "FULFILLED"
            self._settle_fulfillment(order)
        order.update(spec.get("overrides", {}))  # a defective order, as eBay should never send
        self.orders[order_id] = order
        return order

    def _line(self, spec: dict[str, Any], currency: str, created: datetime) -> dict[str, Any]:
        quantity = spec.get("quantity", 1)
        price = Decimal(str(spec.get("price", self.rng.choice(["4.99", "9.99", "12.50", "19.99"]))))
        cost = price * (quantity if isinstance(quantity, int) else 1)
        line: dict[str, Any] = {
            "lineItemId": self._next_line_id(), "legacyItemId": str(self.rng.randint(110000000000, 119999999999)),
            "title": spec.get("title") or str(spec.get("sku", "Item")).replace("-", " ").title(),
            "lineItemCost": money(cost, currency), "quantity": quantity, "soldFormat": "FIXED_PRICE",
            "listingMarketplaceId": self.marketplace_id, "purchaseMarketplaceId": self.marketplace_id,
            "lineItemFulfillmentStatus": "NOT_STARTED", "total": money(cost, currency),
            "deliveryCost": {"shippingCost": money(Decimal(0), currency)}, "appliedPromotions": [], "taxes": [],
            "properties": {"buyerProtection": True},
            "lineItemFulfillmentInstructions": {"minEstimatedDeliveryDate": ebay_date(created + timedelta(days=2)),
                                                "maxEstimatedDeliveryDate": ebay_date(created + timedelta(days=4)),
                                                "shipByDate": ebay_date(created + timedelta(days=1)), "guaranteedDelivery": False},
            "_shipped": bool(spec.get("shipped")),
        }  # fmt: skip
        if spec.get("sku"):
            line["sku"] = str(spec["sku"])
        return line

    def _settle_fulfillment(self, order: dict[str, Any]) -> None:
        """The order's fulfillment status from its lines'."""
        shipped = [li["lineItemFulfillmentStatus"] == "FULFILLED" for li in order["lineItems"]]
        order["orderFulfillmentStatus"] = "FULFILLED" if all(shipped) else "IN_PROGRESS" if any(shipped) else "NOT_STARTED"

    def change_order(self, order: dict[str, Any], changes: dict[str, Any]) -> None:
        """A change made on eBay (by the buyer, eBay or the seller elsewhere): payment, cancel
        state, lines shipped; lastModifiedDate becomes ``changes["lastModifiedDate"]`` or now."""
        if "orderPaymentStatus" in changes:
            if changes["orderPaymentStatus"] not in PAYMENT_STATUSES:
                raise ValueError(f"orderPaymentStatus must be one of {PAYMENT_STATUSES}")
            order["orderPaymentStatus"] = changes["orderPaymentStatus"]
        if "cancelState" in changes:
            if changes["cancelState"] not in CANCEL_STATES:
                raise ValueError(f"cancelState must be one of {CANCEL_STATES}")
            order["cancelStatus"]["cancelState"] = changes["cancelState"]
        shipped = changes.get("shipLineItems")
        if changes.get("orderFulfillmentStatus") == "FULFILLED":
            shipped = [li["lineItemId"] for li in order["lineItems"]]
        for line in order["lineItems"]:
            if line["lineItemId"] in (shipped or []):
                line["lineItemFulfillmentStatus"] = "FULFILLED"
        self._settle_fulfillment(order)
        modified = parse_date(changes["lastModifiedDate"]) if changes.get("lastModifiedDate") else now()
        order["lastModifiedDate"] = ebay_date(modified)

    def fulfil(self, order: dict[str, Any], details: dict[str, Any], href: str) -> dict[str, Any]:
        """A shipping fulfillment: its line items become FULFILLED, the buyer is told."""
        order_id = order["orderId"]
        tracking = details.get("trackingNumber") or ""
        taken = {f["fulfillmentId"] for f in self.fulfillments.get(order_id, [])}
        fulfillment_id = tracking if tracking and tracking not in taken else str(999 + len(taken))
        fulfillment = {"fulfillmentId": fulfillment_id, "lineItems": [{"lineItemId": li["lineItemId"]} for li in details["lineItems"]],
                       "shippedDate": details.get("shippedDate") or ebay_date(now())}  # fmt: skip
        if tracking:
            fulfillment.update({"shipmentTrackingNumber": tracking, "shippingCarrierCode": details["shippingCarrierCode"]})
        self.fulfillments.setdefault(order_id, []).append(fulfillment)
        ids = {li["lineItemId"] for li in details["lineItems"]}
        for line in order["lineItems"]:
            if line["lineItemId"] in ids:
                line["lineItemFulfillmentStatus"] = "FULFILLED"
        self._settle_fulfillment(order)
        order["fulfillmentHrefs"].append(f"{href}/{fulfillment_id}")
        order["lastModifiedDate"] = ebay_date(now())
        told = f"Your order {order_id} has shipped" + (f" with {details['shippingCarrierCode']}, tracking {tracking}" if tracking else "")
        self.buyer_messages.setdefault(order_id, []).append(told)
        return fulfillment
