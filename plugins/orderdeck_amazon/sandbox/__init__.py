"""A stateful emulation of the Selling Partner API calls orderdeck makes (and Login with Amazon), for
tests and demos.

    app = create_app(seed_orders=20, skus=["MUG-RED"], refresh_token="Atzr|x")
    orderdeck sandbox amazon --port 8082 --seed-orders 20

Built on the sandbox base (``orderdeck.plugins.sandbox``): faults, the request log and the control
API's plumbing are the base's; this package is Amazon's own: ``account`` (the state, Amazon's error
body, tokens and usage plans), ``api`` (its routes), ``static`` (the API models' static cases) and
``control`` (the account's control routes). State lives in memory, per app instance.

The emulated API, as Amazon's behaves (the real field names, enums and ISO 8601 dates):
- ``POST /auth/o2/token`` (LWA, form): ``grant_type=refresh_token`` with the configured client id,
  client secret and refresh token answers ``{"access_token", "refresh_token", "token_type":
  "bearer", "expires_in"}`` (``token_lifetime`` seconds); a wrong client is 401
  ``invalid_client``, a wrong refresh token 400 ``invalid_grant``.
- Every SP-API request needs ``x-amz-access-token``: a token not issued, or expired, is 403
  ``{"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
  "details": "The access token you provided has expired."}]}``.
- Each operation has its usage plan (``USAGE_PLANS``, or ``rates``), enforced as a token bucket:
  past it, 429 ``QuotaExceeded`` (no Retry-After, as Amazon). Every answer carries
  ``x-amzn-RateLimit-Limit`` (the operation's rate) and ``x-amzn-RequestId``.
- Orders v0: ``getOrders`` (MarketplaceIds; exactly one of CreatedAfter / LastUpdatedAfter;
  LastUpdatedBefore / CreatedBefore, by default and at most ``settle_seconds`` before now;
  OrderStatuses, FulfillmentChannels, MaxResultsPerPage 1-100; ``NextToken`` pages that keep the
  window's end and never skip or repeat an order), ``getOrder``, ``getOrderItems`` (NextToken
  pages of ``items_per_page``), ``confirmShipment`` (validated: marketplace, package fields, items
  and quantities left to ship, an order Unshipped or PartiallyShipped; the items ship, the order
  becomes PartiallyShipped or Shipped and the buyer is told, 204). Unknown orders are 404.
- Listings Items 2021-08-01: ``getListingsItem`` (summaries, fulfillmentAvailability, issues;
  an unknown SKU 404 NOT_FOUND) and ``patchListingsItem`` (a ``fulfillment_availability`` patch
  sets the quantity: ACCEPTED, or VALID with mode=VALIDATION_PREVIEW; a bad value or an unknown
  SKU is 200 INVALID with the issues, as the operation documents no 404); a sellerId other than
  the account's is 403.
- Solicitations v1: ``getSolicitationActionsForOrder`` (HAL: ``_links.actions`` and
  ``_embedded.actions`` offer ``productReviewAndSellerFeedback`` for a shipped order 5 to 30 days
  after its ship date, taken as its delivery date, by the account's clock, until it is made; else
  empty lists) and ``createProductReviewAndSellerFeedbackSolicitation`` (201, once per order; out of
  its days or made before, 403 ``Unauthorized`` with Amazon's own messages). ``marketplaceIds``
  names one marketplace, the order's (another: 404).
- The models' static sandbox cases (31 of Orders v0, 14 of Listings Items, 2 of Solicitations)
  answer requests with their parameter values (``TEST_CASE_200``, ``VALIDATION_INVALID``,
  order ``123-1234567-1234567``...), as Amazon's static sandbox does; the operations emulated only that way are getOrderBuyerInfo, getOrderAddress,
  getOrderItemsBuyerInfo, updateShipmentStatus, the regulatedInfo pair, putListingsItem,
  deleteListingsItem and searchListingsItems.
- FBA (``fba``): FBA Inventory v1 ``getInventorySummaries`` over the account's FBA inventory, the
  model's sandbox-only inventory operations, and AFN orders that Amazon ships on its own after a
  delay of the account's clock (``POST /__sandbox/fba/inventory``, ``POST /__sandbox/fba/orders``).

The control API under /__sandbox/ is not Amazon's (no auth; JSON in, JSON out):
- ``POST /__sandbox/orders`` ``{"random": K}`` and/or ``{"orders": [spec, ...]}``. A spec may give
  AmazonOrderId, status (an OrderStatus), fulfillment_channel (MFN, AFN), marketplace_id,
  purchase_date, last_update_date, items [{sku, quantity, price, shipped, title}], buyer_name,
  email, address, is_prime, ship_date (a shipped order's) and a ``defect``: unknown_sku,
  missing_sku, bad_date, no_items. What it leaves out is random; dates default to the account's clock.
- ``PATCH /__sandbox/orders/{id}`` ``{"status"?, "last_update_date"?, "ship_date"?}``: a change made
  on Amazon (LastUpdateDate becomes now unless given; Shipped ships every item).
- ``POST /__sandbox/listings`` ``{"listings": [{sku, quantity?, asin?, title?}]}``.
- ``POST /__sandbox/tokens/expire``: every access token issued expires now.
- ``POST /__sandbox/clock`` ``{"advance": seconds}``: moves the account's clock (order dates and the
  two-minute window of getOrders; tokens expire in real time).
- The base's: ``POST /__sandbox/faults`` (rate_limit with Retry-After, server_error, delay,
  malformed, disconnect) plus ``unauthorized`` (401) and ``forbidden`` (403), and ``bad_order``
  (``{"kind": "bad_order", "defect"}`` places a defective order); ``GET /__sandbox/state``
  (orders with items, ship date, shipments, buyer messages and solicitations; listings; tokens;
  the clock);
  ``GET /__sandbox/requests``.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.applications import Starlette

from orderdeck.plugins.sandbox import Sandbox, sandbox_app
from orderdeck_amazon.sandbox.account import DEFAULT_SKUS, SellerAccount, iso
from orderdeck_amazon.sandbox.api import api_routes
from orderdeck_amazon.sandbox.control import control_routes
from orderdeck_amazon.sandbox.fba import (
    FBA_USAGE_PLANS,
    FulfilmentNetwork,
    ShipsBeforeEachRequest,
    fba_api_routes,
    fba_control_routes,
)

__all__ = ["SANDBOX", "USAGE_PLANS", "SellerAccount", "create_app"]

USAGE_PLANS: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20), "getOrder": (0.5, 30), "getOrderBuyerInfo": (0.5, 30), "getOrderAddress": (0.5, 30),
    "getOrderItems": (0.5, 30), "getOrderItemsBuyerInfo": (0.5, 30), "updateShipmentStatus": (5, 15),
    "getOrderRegulatedInfo": (0.5, 30), "updateVerificationStatus": (0.5, 30), "confirmShipment": (2, 10),
    "deleteListingsItem": (5, 5), "getListingsItem": (5, 10), "patchListingsItem": (5, 5), "putListingsItem": (5, 10),
    "searchListingsItems": (5, 5), "getSolicitationActionsForOrder": (1, 5),
    "createProductReviewAndSellerFeedbackSolicitation": (1, 5),
}  # fmt: skip
"""Each emulated operation's default usage plan (requests a second, burst), as the API models
document them (a test compares them)."""


def create_app(
    *,
    seed_orders: int = 0,
    skus: list[str] | None = None,
    client_id: str = "amzn1.application-oa2-client.sandbox",
    client_secret: str = "sandbox-client-secret",
    refresh_token: str = "Atzr|sandbox-refresh-token",
    seller_id: str = "A2SANDBOXSELLER",
    marketplace_ids: list[str] | None = None,
    token_lifetime: float = 3600,
    settle_seconds: float = 120,
    items_per_page: int = 100,
    rates: dict[str, tuple[float, int]] | None = None,
    enforce_rates: bool = True,
    seed: int | None = None,
    fba_stock: dict[str, int] | None = None,
    fba_ship_after_seconds: float = 300,
    fba_page_size: int = 50,
    fba_next_token_seconds: float = 30,
) -> Starlette:
    """A new seller account: ``skus`` are listed with random quantities, ``seed_orders`` random
    orders placed; ``rates`` override usage plans by operation (``enforce_rates`` False: none).
    ``app.state.sandbox`` is its ``SellerAccount``; ``app.state.fba`` its FBA side (``fba``:
    ``fba_stock`` fulfillable units by SKU, AFN orders it places shipped ``fba_ship_after_seconds``
    after purchase on the account's clock, inventory pages of ``fba_page_size``)."""
    account = SellerAccount(
        client_id=client_id, client_secret=client_secret, refresh_token=refresh_token, seller_id=seller_id,
        marketplace_ids=list(marketplace_ids or ["ATVPDKIKX0DER"]), token_lifetime=token_lifetime,
        settle_seconds=settle_seconds, items_per_page=items_per_page,
        rates={**USAGE_PLANS, **FBA_USAGE_PLANS, **{op: (float(r), int(b)) for op, (r, b) in (rates or {}).items()}},
        enforce_rates=enforce_rates, seed=seed,
    )  # fmt: skip
    for sku in DEFAULT_SKUS if skus is None else skus:
        account.upsert_listing({"sku": sku})
    for _ in range(seed_orders):  # placed some minutes ago, so getOrders shows them at once
        placed = iso(account.now() - timedelta(minutes=account.rng.randint(5, 600)))
        account.place_order({"purchase_date": placed, "last_update_date": placed})
    banner = (
        f"Amazon SP-API sandbox: endpoint and token_url = the address below (token_url + /auth/o2/token), "
        f"client id {client_id!r}, client secret {client_secret!r}, refresh token {refresh_token!r}, seller "
        f"{seller_id!r}, marketplaces {account.marketplace_ids}; {len(account.listings)} listings, "
        f"{len(account.orders)} orders; control API under /__sandbox/"
    )
    network = FulfilmentNetwork(account, ship_after_seconds=fba_ship_after_seconds, page_size=fba_page_size,
                                next_token_seconds=fba_next_token_seconds)  # fmt: skip
    for sku, fulfillable in (fba_stock or {}).items():
        network.set_stock({"sku": sku, "fulfillable": fulfillable})
    app = sandbox_app(account, api_routes(account) + fba_api_routes(network),
                      control=control_routes(account) + fba_control_routes(network), banner=banner)  # fmt: skip
    app.state.fba = network
    app.add_middleware(ShipsBeforeEachRequest, network=network)
    return app


SANDBOX = Sandbox(
    name="amazon",
    title="Amazon seller account",
    create_app=create_app,
    description="Amazon's Selling Partner API (Orders v0, Listings Items, Solicitations) and Login with Amazon, with state",
)
"""What the plugin offers through orderdeck_register_sandboxes."""
