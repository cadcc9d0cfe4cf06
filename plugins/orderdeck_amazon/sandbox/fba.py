"""The seller account's FBA side: the inventory Amazon holds for it (FBA Inventory API v1) and the
orders Amazon ships itself (AFN), which the emulated fulfilment network ships on its own.

API (as Amazon's, each operation throttled by its usage plan and checked for its access token like
the account's others; answers carry ``x-amzn-RateLimit-Limit`` and ``x-amzn-RequestId``):
- ``GET /fba/inventory/v1/summaries`` (getInventorySummaries; 2 a second, burst 2): required
  ``granularityType=Marketplace``, ``granularityId`` and ``marketplaceIds`` (one, the same
  marketplace, one the seller sells in); ``details`` (``inventoryDetails`` only when true;
  ``totalQuantity`` always); ``startDateTime`` (summaries changed since, not older than 18 months;
  then sellerSkus and sellerSku are ignored), ``sellerSkus`` (at most 50), ``sellerSku``. Pages of
  ``page_size`` summaries in SKU order, ``pagination.nextToken`` naming the next; a nextToken lives
  ``next_token_seconds`` (30, as Amazon's) and serves only the query it was given for, else 400
  InvalidInput.
- The model's sandbox-only operations, as Amazon's sandbox has them: ``POST /fba/inventory/v1/items``
  (createInventoryItem: a SKU with nothing fulfillable), ``POST /fba/inventory/v1/items/inventory``
  (addInventory: fulfillable units added; the ``x-amzn-idempotency-token`` header makes a repeat add
  nothing) and ``DELETE /fba/inventory/v1/items/{sellerSku}?marketplaceId=`` (deleteInventoryItem).
  The model gives them no usage plan: this sandbox allows 5 a second, burst 10.
- The FBA Inventory model documents no static sandbox cases (only ``x-amzn-api-sandbox: dynamic``):
  there are none to answer.

Inventory per (marketplace, SKU): fulfillable, inbound (``inboundShippedQuantity``), reserved
(``reservedQuantity.pendingCustomerOrderQuantity``) and unfulfillable units; ``totalQuantity`` is
their sum; ``lastUpdatedTime`` moves (on the account's clock) with every change.

AFN orders the fulfilment network places (``POST /__sandbox/fba/orders``) reserve their units
(fulfillable -> reserved) and are shipped by Amazon on its own ``ship_after_seconds`` after their
PurchaseDate, on the account's clock (``POST /__sandbox/clock`` moves it): the order becomes
Shipped (LastUpdateDate the moment it shipped) and its reserved units leave the inventory. One
cancelled first (``PATCH /__sandbox/orders/{id}`` status Canceled) gives its units back. The
network looks at its orders before every request the sandbox answers. AFN orders placed through
``POST /__sandbox/orders`` are left as placed (tests drive them by hand).

Control routes (not Amazon's; JSON in, JSON out):
- ``POST /__sandbox/fba/inventory`` ``{"inventory": [{"sku", "marketplace_id"?, "fulfillable"?,
  "inbound"?, "reserved"?, "unfulfillable"?, "total"?, "asin"?, "product_name"?}]}`` sets those
  quantities (``total``: the units beyond fulfillable, reserved and unfulfillable are inbound);
  ``GET`` lists the inventory.
- ``POST /__sandbox/fba/orders`` ``{"orders": [spec, ...], "random": K}``: AFN orders, as
  ``/__sandbox/orders`` takes them (items default to SKUs with fulfillable units); an item asking
  for more than is fulfillable is refused.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from orderdeck.plugins.sandbox import CONTROL, InvalidCursor, control_error, control_json, cursor_page
from orderdeck_amazon.sandbox.account import AmazonError, Order, SellerAccount, invalid_input, iso, parse_iso
from orderdeck_amazon.sandbox.api import amazon_operation, json_body, order_json

INVENTORY = "/fba/inventory/v1"
FBA_USAGE_PLANS: dict[str, tuple[float, int]] = {
    "getInventorySummaries": (2, 2), "createInventoryItem": (5, 10), "addInventory": (5, 10), "deleteInventoryItem": (5, 10),
}  # fmt: skip
"""getInventorySummaries' usage plan as the FBA Inventory model documents it (a test compares
them); the sandbox-only operations have none documented."""
LOOK_BACK = timedelta(days=548)
"""How far back startDateTime may reach (18 months)."""
QUANTITIES = ("fulfillable", "inbound", "reserved", "unfulfillable")


@dataclass
class FbaStock:
    """One SKU's units in Amazon's fulfilment network, in one marketplace."""

    marketplace_id: str
    sku: str
    asin: str
    fnsku: str
    product_name: str
    updated: datetime
    fulfillable: int = 0
    inbound: int = 0
    reserved: int = 0
    unfulfillable: int = 0

    @property
    def total(self) -> int:
        return self.fulfillable + self.inbound + self.reserved + self.unfulfillable

    def summary(self, details: bool) -> dict[str, Any]:
        """The InventorySummary Amazon answers for it."""
        body: dict[str, Any] = {"asin": self.asin, "fnSku": self.fnsku, "sellerSku": self.sku, "condition": "NewItem",
                                "lastUpdatedTime": iso(self.updated), "productName": self.product_name,
                                "totalQuantity": self.total}  # fmt: skip
        if details:
            body["inventoryDetails"] = {
                "fulfillableQuantity": self.fulfillable, "inboundWorkingQuantity": 0,
                "inboundShippedQuantity": self.inbound, "inboundReceivingQuantity": 0,
                "reservedQuantity": {"totalReservedQuantity": self.reserved, "pendingCustomerOrderQuantity": self.reserved,
                                     "pendingTransshipmentQuantity": 0, "fcProcessingQuantity": 0},
                "researchingQuantity": {"totalResearchingQuantity": 0, "researchingQuantityBreakdown": []},
                "unfulfillableQuantity": {"totalUnfulfillableQuantity": self.unfulfillable, "customerDamagedQuantity": 0,
                                          "warehouseDamagedQuantity": self.unfulfillable, "distributorDamagedQuantity": 0,
                                          "carrierDamagedQuantity": 0, "defectiveQuantity": 0, "expiredQuantity": 0},
            }  # fmt: skip
        return body

    def as_json(self) -> dict[str, Any]:
        """What the control API shows."""
        return {"marketplace_id": self.marketplace_id, "sku": self.sku, "asin": self.asin, "fnsku": self.fnsku,
                "product_name": self.product_name, **{name: getattr(self, name) for name in QUANTITIES},
                "total": self.total, "updated": iso(self.updated)}  # fmt: skip


@dataclass(frozen=True)
class _NextToken:
    query: tuple[tuple[str, str], ...]
    cursor: str
    expires: float  # time.monotonic()


class FulfilmentNetwork:
    """The account's FBA inventory and the AFN orders Amazon ships itself."""

    def __init__(self, account: SellerAccount, *, ship_after_seconds: float, page_size: int, next_token_seconds: float) -> None:
        self.account = account
        self.ship_after = timedelta(seconds=ship_after_seconds)
        self.page_size = page_size
        self.next_token_seconds = next_token_seconds
        self.stock: dict[tuple[str, str], FbaStock] = {}
        self.placed: dict[str, list[tuple[str, str, int]]] = {}  # order id: (marketplace, SKU, units) reserved
        self.next_tokens: dict[str, _NextToken] = {}
        self.idempotency: set[str] = set()

    # Inventory

    def item(self, sku: str, marketplace_id: str | None = None, *, create: bool = True) -> FbaStock | None:
        marketplace = marketplace_id or self.account.marketplace_ids[0]
        found = self.stock.get((marketplace, sku))
        if found is None and create:
            listing = self.account.listings.get(sku)
            rng = self.account.rng
            found = FbaStock(marketplace, sku, listing.asin if listing else f"B0{rng.randint(10_000_000, 99_999_999)}",
                             f"X00{rng.randint(1_000_000, 9_999_999)}", listing.title if listing else sku,
                             self.account.now())  # fmt: skip
            self.stock[(marketplace, sku)] = found
        return found

    def set_stock(self, spec: dict[str, Any]) -> FbaStock:
        """Set a SKU's quantities (see the module docstring); ValueError for a bad spec."""
        if not isinstance(spec.get("sku"), str) or not spec["sku"]:
            raise ValueError("each inventory entry needs a sku")
        marketplace = spec.get("marketplace_id")
        if marketplace is not None and marketplace not in self.account.marketplace_ids:
            raise ValueError(f"the seller does not sell in {marketplace}")
        stock = self.item(spec["sku"], marketplace)
        assert stock is not None
        given = {name: int(spec[name]) for name in (*QUANTITIES, "total") if spec.get(name) is not None}
        if any(value < 0 for value in given.values()):
            raise ValueError("quantities must not be negative")
        for name in QUANTITIES:
            if name in given:
                setattr(stock, name, given[name])
        if "total" in given:
            stock.inbound = given["total"] - stock.fulfillable - stock.reserved - stock.unfulfillable
            if stock.inbound < 0:
                raise ValueError(f"total {given['total']} is less than the fulfillable, reserved and unfulfillable units")
        stock.asin = str(spec.get("asin") or stock.asin)
        stock.product_name = str(spec.get("product_name") or stock.product_name)
        stock.updated = self.account.now()
        return stock

    # AFN orders and the shipping the network does on its own

    def place_order(self, spec: dict[str, Any]) -> Order:
        """An AFN order from ``spec`` (as SellerAccount.place_order takes), its units reserved."""
        marketplace = str(spec.get("marketplace_id") or self.account.marketplace_ids[0])
        items = spec.get("items") or self._random_items(marketplace)
        wanted: list[tuple[FbaStock, int]] = []
        for line in items:
            stock = self.item(str(line.get("sku")), marketplace, create=False)
            quantity = int(line.get("quantity", 1))
            asked = quantity + sum(q for s, q in wanted if s is stock)
            if stock is None or stock.fulfillable < asked:
                have = stock.fulfillable if stock else 0
                raise ValueError(f"SKU {line.get('sku')} has {have} fulfillable units in FBA ({marketplace}), not {asked}")
            wanted.append((stock, quantity))
        order = self.account.place_order({**spec, "fulfillment_channel": "AFN", "marketplace_id": marketplace,
                                          "status": spec.get("status", "Unshipped"), "items": items})  # fmt: skip
        for stock, quantity in wanted:
            stock.fulfillable -= quantity
            stock.reserved += quantity
            stock.updated = self.account.now()
        self.placed[order.id] = [(marketplace, stock.sku, quantity) for stock, quantity in wanted]
        return order

    def _random_items(self, marketplace: str) -> list[dict[str, Any]]:
        rng = self.account.rng
        stocked = [s for s in self.stock.values() if s.marketplace_id == marketplace and s.fulfillable > 0]
        if not stocked:
            raise ValueError(f"nothing is fulfillable in FBA ({marketplace}): set the inventory first")
        chosen = rng.sample(stocked, k=min(len(stocked), rng.randint(1, 2)))
        return [{"sku": s.sku, "quantity": rng.randint(1, min(3, s.fulfillable))} for s in chosen]

    def ship_due(self) -> None:
        """Ship the placed AFN orders whose time has come; give back the units of cancelled ones."""
        now = self.account.now()
        for order_id, reserved in list(self.placed.items()):
            order = self.account.orders.get(order_id)
            if order is None or order.status in ("Shipped", "InvoiceUnconfirmed"):
                self._release(order_id, reserved, back=False)  # shipped by hand: the units left too
            elif order.status in ("Canceled", "Unfulfillable"):
                self._release(order_id, reserved, back=True)
            elif order.status in ("Unshipped", "PartiallyShipped") and order.purchased + self.ship_after <= now:
                shipped_at = order.purchased + self.ship_after
                self.account.change_order(order, "Shipped", shipped_at if shipped_at > order.updated else now)
                self._release(order_id, reserved, back=False)

    def _release(self, order_id: str, reserved: list[tuple[str, str, int]], *, back: bool) -> None:
        for marketplace, sku, quantity in reserved:
            stock = self.item(sku, marketplace, create=False)
            if stock is not None:
                taken = min(quantity, stock.reserved)
                stock.reserved -= taken
                stock.fulfillable += taken if back else 0
                stock.updated = self.account.now()
        del self.placed[order_id]

    # getInventorySummaries

    def summaries(self, request: Request) -> dict[str, Any]:
        """The answer to getInventorySummaries (see the module docstring); AmazonError otherwise."""
        query = request.query_params
        if query.get("granularityType") != "Marketplace":
            raise invalid_input("granularityType must be Marketplace.")
        marketplaces = [m.strip() for value in query.getlist("marketplaceIds") for m in value.split(",") if m.strip()]
        if len(marketplaces) != 1:
            raise invalid_input("marketplaceIds must name exactly one marketplace.")
        marketplace = marketplaces[0]
        if marketplace not in self.account.marketplace_ids:
            raise invalid_input(f"Invalid marketplaceIds: the seller does not sell in {marketplace}.")
        if query.get("granularityId") != marketplace:
            raise invalid_input("granularityId must be the marketplace of marketplaceIds.")
        details = query.get("details", "false")
        if details not in ("true", "false"):
            raise invalid_input("details must be true or false.")
        signature = tuple(sorted((k, v) for k, v in query.multi_items() if k != "nextToken"))
        token = query.get("nextToken")
        cursor = None
        if token:
            issued = self.next_tokens.get(token)
            if issued is None or issued.query != signature or issued.expires <= time.monotonic():
                raise invalid_input("The nextToken is invalid or has expired.", "A nextToken lives 30 seconds and "
                                    "serves the query it was returned for.")  # fmt: skip
            cursor = issued.cursor
        chosen = [s for s in self.stock.values() if s.marketplace_id == marketplace]
        if query.get("startDateTime"):
            try:
                start = parse_iso(query["startDateTime"])
            except ValueError:
                raise invalid_input(f"startDateTime {query['startDateTime']!r} is not an ISO 8601 date-time.") from None
            if start < self.account.now() - LOOK_BACK:
                raise invalid_input("startDateTime must be no earlier than 18 months before now.")
            chosen = [s for s in chosen if s.updated >= start]
        elif query.get("sellerSkus"):
            skus = [sku for value in query.getlist("sellerSkus") for sku in value.split(",") if sku]
            if len(skus) > 50:
                raise invalid_input("sellerSkus takes at most 50 SKUs.")
            chosen = [s for s in chosen if s.sku in skus]
        elif query.get("sellerSku"):
            chosen = [s for s in chosen if s.sku == query["sellerSku"]]
        try:
            page = cursor_page(chosen, key=lambda s: s.sku, cursor=cursor, limit=self.page_size)
        except InvalidCursor:  # pragma: no cover - the cursor is this sandbox's own
            raise invalid_input("The nextToken is invalid or has expired.") from None
        body: dict[str, Any] = {"payload": {"granularity": {"granularityType": "Marketplace", "granularityId": marketplace},
                                            "inventorySummaries": [s.summary(details == "true") for s in page.items]}}  # fmt: skip
        if page.next_cursor:
            following = secrets.token_urlsafe(24)
            self.next_tokens[following] = _NextToken(signature, page.next_cursor, time.monotonic() + self.next_token_seconds)
            body["pagination"] = {"nextToken": following}
        return body

    def state(self) -> dict[str, Any]:
        return {"inventory": [s.as_json() for s in sorted(self.stock.values(), key=lambda s: (s.marketplace_id, s.sku))],
                "placed": {order_id: [{"marketplace_id": m, "sku": sku, "quantity": q} for m, sku, q in reserved]
                           for order_id, reserved in self.placed.items()},
                "ship_after_seconds": self.ship_after.total_seconds()}  # fmt: skip


class ShipsBeforeEachRequest:
    """ASGI middleware: the network ships what is due before the sandbox answers any request."""

    def __init__(self, app: ASGIApp, network: FulfilmentNetwork) -> None:
        self.app, self.network = app, network

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.network.ship_due()
        await self.app(scope, receive, send)


def fba_api_routes(network: FulfilmentNetwork) -> list[BaseRoute]:
    """getInventorySummaries and the sandbox-only inventory operations."""
    account = network.account

    async def get_summaries(request: Request) -> Response:
        return JSONResponse(network.summaries(request))

    def marketplace_of(value: Any) -> str:
        if value not in account.marketplace_ids:
            raise invalid_input(f"Invalid marketplaceId: the seller does not sell in {value}.")
        return str(value)

    async def create_item(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body[k] for k in
                                                 ("sellerSku", "marketplaceId", "productName")):  # fmt: skip
            raise invalid_input("The body must be a CreateInventoryItemRequest: sellerSku, marketplaceId, productName.")
        network.set_stock({"sku": body["sellerSku"], "marketplace_id": marketplace_of(body["marketplaceId"]),
                           "product_name": body["productName"]})  # fmt: skip
        return JSONResponse({})

    async def add_inventory(request: Request) -> Response:
        idempotency = request.headers.get("x-amzn-idempotency-token")
        if not idempotency:
            raise invalid_input("Missing required header: x-amzn-idempotency-token.")
        body = await json_body(request)
        items = body.get("inventoryItems") if isinstance(body, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise invalid_input("The body must be an AddInventoryRequest: inventoryItems.")
        adding = []
        for entry in items:
            quantity = entry.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                raise invalid_input(f"quantity {quantity!r} is not a whole number of units.")
            stock = network.item(str(entry.get("sellerSku")), marketplace_of(entry.get("marketplaceId")), create=False)
            if stock is None:
                raise invalid_input(f"SKU {entry.get('sellerSku')} is not in the sandbox inventory: create it first.")
            adding.append((stock, quantity))
        if idempotency not in network.idempotency:
            network.idempotency.add(idempotency)
            for stock, quantity in adding:
                network.set_stock({"sku": stock.sku, "marketplace_id": stock.marketplace_id,
                                   "fulfillable": stock.fulfillable + quantity})  # fmt: skip
        return JSONResponse({})

    async def delete_item(request: Request) -> Response:
        marketplace = marketplace_of(request.query_params.get("marketplaceId"))
        sku = request.path_params["sellerSku"]
        if network.stock.pop((marketplace, sku), None) is None:
            raise AmazonError(404, "NotFound", f"SKU {sku} is not in the sandbox inventory of {marketplace}.")
        return JSONResponse({})

    def operation(name: str, handler: Callable[[Request], Any]) -> Any:
        return amazon_operation(account, name, handler)

    return [
        Route(f"{INVENTORY}/summaries", operation("getInventorySummaries", get_summaries), methods=["GET"]),
        Route(f"{INVENTORY}/items", operation("createInventoryItem", create_item), methods=["POST"]),
        Route(f"{INVENTORY}/items/inventory", operation("addInventory", add_inventory), methods=["POST"]),
        Route(f"{INVENTORY}/items/{{sellerSku:path}}", operation("deleteInventoryItem", delete_item), methods=["DELETE"]),
    ]


def fba_control_routes(network: FulfilmentNetwork) -> list[BaseRoute]:
    """GET/POST /__sandbox/fba/inventory, POST /__sandbox/fba/orders."""

    async def inventory(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await control_json(request)
                for spec in body.get("inventory", []):
                    network.set_stock(spec)
            except (ValueError, TypeError, AttributeError) as exc:
                return control_error(str(exc))
        return JSONResponse(network.state())

    async def orders(request: Request) -> Response:
        try:
            body = await control_json(request)
            placed = [network.place_order(spec) for spec in body.get("orders", [])]
            placed += [network.place_order({}) for _ in range(int(body.get("random", 0)))]
        except (ValueError, KeyError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse({"orders": [order_json(order) for order in placed]}, status_code=201)

    return [
        Route(f"{CONTROL}/fba/inventory", inventory, methods=["GET", "POST"]),
        Route(f"{CONTROL}/fba/orders", orders, methods=["POST"]),
    ]
