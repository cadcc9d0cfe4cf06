"""A stateful emulation of the eBay APIs orderdeck uses (one seller account), for tests and demos.

    app = create_app(seed_orders=20, skus=["MUG-RED"], client_id="app", client_secret="cert", refresh_token="v^1.1#r")
    orderdeck sandbox ebay --port 8082 --seed-orders 20

Configure a connection with ``api_url`` = the sandbox's address and the banner's keys. Built on
the sandbox base (``orderdeck.plugins.sandbox``): faults, the request log and the control API's
plumbing are the base's; this package is eBay's own: ``account`` (the state, eBay's error body,
tokens, scopes and call limits) and ``api`` (its routes), ``control`` (its control routes).

The emulated API, as eBay behaves (field names, enums, Amount objects and ISO 8601 dates as in
eBay's OpenAPI contracts; checked against them by the tests):
- ``POST /identity/v1/oauth2/token``: HTTP Basic with the client id and secret (else 401
  ``invalid_client``), ``grant_type=refresh_token`` (else 400 ``unsupported_grant_type``), the
  refresh token (else 400 ``invalid_grant``) and scopes within those granted (else 400
  ``invalid_scope``) -> ``{access_token, expires_in, token_type}``; tokens expire after
  ``token_seconds``.
- Every API call needs ``Authorization: Bearer`` with a live token (else 401, errorId 1001
  "Invalid access token") carrying the API's scope (else 403, errorId 1100 "Access denied").
- ``GET /sell/fulfillment/v1/order``: ``filter`` (``creationdate:[a..b]``,
  ``lastmodifieddate:[a..]``, inclusive, at most 90 days back: errorIds 30700-30850;
  ``orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}`` or ``{FULFILLED|IN_PROGRESS}``),
  ``orderIds`` (at most 50; the rest is then ignored), ``limit`` (1-200, default 50; 31100),
  ``offset`` (31000) -> ``{href, total, limit, offset, next?, prev?, orders}``, newest created first.
- ``GET /sell/fulfillment/v1/order/{orderId}`` (404, errorId 32100).
- ``GET|POST /sell/fulfillment/v1/order/{orderId}/shipping_fulfillment``: the fulfillments, or a
  new one ``{lineItems: [{lineItemId, quantity}], shippedDate, shippingCarrierCode,
  trackingNumber}`` -> 201 with ``Location: .../shipping_fulfillment/{fulfillmentId}`` (the tracking
  number); its line items become FULFILLED, the order IN_PROGRESS or FULFILLED, the buyer is told
  (errorIds 32100, 32200, 32300, 32500, 32600); ``GET .../shipping_fulfillment/{fulfillmentId}``.
- ``POST /sell/inventory/v1/bulk_update_price_quantity``: at most 25 ``requests`` ``{sku,
  shipToLocationAvailability: {quantity}}`` -> ``{responses: [{sku, statusCode, errors?,
  warnings?}]}``, 200, or 207 when a SKU failed (unknown SKU: statusCode 404, errorId 25702).
- Call limits (``quotas``: resource -> (calls, seconds); resources ``sell.fulfillment``,
  ``sell.inventory``, ``identity``): over one, 429 with errorId 2001 and no Retry-After, as eBay.

The control API under /__sandbox/ is not eBay (no auth; JSON in, JSON out):
- POST /__sandbox/orders ``{"orders": [spec...], "random": K}``: a spec may give orderId,
  orderPaymentStatus, cancelState, orderFulfillmentStatus (FULFILLED: shipped outside the API),
  creationDate, lastModifiedDate, currency, deliveryCost, shipTo, shippingServiceCode, lines
  [{sku (none: a listing without SKU), quantity, price, title, shipped}] and ``overrides`` (fields
  replaced as given: a defective order). What it leaves out is random.
- PATCH /__sandbox/orders/{orderId} ``{"orderPaymentStatus"?, "cancelState"?,
  "orderFulfillmentStatus": "FULFILLED"?, "shipLineItems"?: [ids], "lastModifiedDate"?}``: a change
  made on eBay (lastModifiedDate: now unless given).
- POST /__sandbox/inventory ``{"items": {sku: quantity}}``; POST /__sandbox/tokens/expire (every
  issued token expires); POST /__sandbox/quotas ``{"quotas": {resource: {"calls", "seconds"?} | null}}``.
- The base's: /__sandbox/faults (rate_limit with Retry-After, server_error, delay, malformed,
  disconnect), /__sandbox/requests and /__sandbox/state (orders with their fulfillments and what
  the buyer was told, inventory, tokens, quotas).
"""

from __future__ import annotations

from starlette.applications import Starlette

from orderdeck.plugins.sandbox import Sandbox, sandbox_app
from orderdeck_ebay.sandbox.account import DEFAULT_SKUS, FULFILLMENT_SCOPE, INVENTORY_SCOPE, EbayAccount
from orderdeck_ebay.sandbox.api import api_routes
from orderdeck_ebay.sandbox.control import control_routes

__all__ = ["SANDBOX", "EbayAccount", "create_app"]


def create_app(
    *,
    seed_orders: int = 0,
    skus: list[str] | None = None,
    client_id: str = "orderdeck-sandbox-app",
    client_secret: str = "sandbox-cert-id",
    refresh_token: str = "v^1.1#i^1#r^1#sandbox-refresh-token",
    granted_scopes: list[str] | None = None,
    token_seconds: float = 7200,
    quotas: dict[str, tuple[int, float]] | None = None,
    seed: int | None = None,
    currency: str = "GBP",
    marketplace_id: str = "EBAY_GB",
) -> Starlette:
    """A new sandbox seller account: ``skus`` are inventory items with random quantities,
    ``seed_orders`` random orders are placed; ``granted_scopes`` are what the refresh token may
    ask for (default: fulfillment and inventory); ``quotas`` the call limits (default: none).
    ``app.state.sandbox`` is its ``EbayAccount``."""
    account = EbayAccount(client_id=client_id, client_secret=client_secret, refresh_token=refresh_token,
                          granted_scopes=granted_scopes or [FULFILLMENT_SCOPE, INVENTORY_SCOPE], token_seconds=token_seconds,
                          skus=list(DEFAULT_SKUS if skus is None else skus), seed=seed, currency=currency,
                          marketplace_id=marketplace_id, quotas=quotas or {})  # fmt: skip
    for _ in range(seed_orders):
        account.create_order({})
    banner = (f"eBay sandbox: api_url = the address below, client_id {client_id!r}, client_secret {client_secret!r}, "
              f"refresh_token {refresh_token!r}; {len(account.inventory)} inventory items, {len(account.orders)} orders; "
              f"control API under /__sandbox/")  # fmt: skip
    return sandbox_app(account, api_routes(account), control=control_routes(account), banner=banner)


SANDBOX = Sandbox(
    name="ebay",
    title="eBay seller account",
    create_app=create_app,
    description="eBay's OAuth token endpoint, Sell Fulfillment (orders, shipping fulfillments) and Sell Inventory "
                "(bulk quantities), with state",
)
"""What the plugin offers through orderdeck_register_sandboxes."""
