"""A stateful emulation of the WooCommerce REST API v3 endpoints orderdeck uses, for tests and demos.

    app = create_app(seed_orders=20, skus=["MUG-RED", "MUG-BLUE"], key="ck_x", secret="cs_x")
    orderdeck sandbox woocommerce --port 8081 --seed-orders 20

Built on the sandbox base (``orderdeck.plugins.sandbox``): faults, the request log and the control
API's plumbing are the base's; this package is WooCommerce's own: ``shop`` (the state and its
changes, WooCommerce's error body and credentials), ``render`` (its JSON), ``api`` (its routes) and
``control`` (the shop's control routes), ``auth`` (WooCommerce's authentication) and ``errors``
(WordPress's error bodies). State lives in memory, per app instance.

The emulated API (under /wp-json/wc/v3), as WooCommerce behaves:
- Authentication as WooCommerce's (see ``auth``): over HTTPS, HTTP Basic or the consumer_key /
  consumer_secret query parameters; over plain HTTP, OAuth 1.0a signatures only (nonces, a
  15-minute timestamp window); refused credentials answer 401
  ``woocommerce_rest_authentication_error`` (or ``..._missing_parameter``), and a request
  without credentials reaches the route, which refuses nobody with its own 401
  (``woocommerce_rest_cannot_view``, ``_cannot_edit``, ``_cannot_create``, ``_cannot_batch``).
  Parameters are validated before permissions, as WordPress does.
- GET /orders: status (comma list, "any" = all but trash), modified_after / modified_before /
  after / before (RFC 3339 only, else 400 rest_invalid_param naming the parameter; exclusive,
  one-second resolution, in the site's local time unless dates_are_gmt=true), orderby (date, id,
  include, title, slug, modified; date and modified sort by ID second, as WooCommerce does), order
  (default desc), page, per_page (1-100, default 10); X-WP-Total, X-WP-TotalPages and Link
  (rel="prev"/"next") headers; 400 rest_invalid_param with ``params`` and ``details``.
- GET/PUT /orders/{id} (an unknown id: 404 on GET, 400 on PUT,
  ``woocommerce_rest_shop_order_invalid_id``); GET/POST /orders/{id}/notes (notes are kept;
  newest first).
- GET /products (sku: exact, comma list), GET/PUT /products/{id} (unknown: 404 / 400
  ``woocommerce_rest_product_invalid_id``), POST /products/batch (at most 100 items; an unknown id
  gets ``{"id", "error": {"code": "woocommerce_rest_product_invalid_id", ...}}`` in place of the
  product).
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
- The base's: POST /__sandbox/faults (rate_limit, server_error, delay, malformed, disconnect; see
  ``orderdeck.plugins.sandbox.faults``) with WooCommerce's error bodies, plus kind bad_order (with
  ``defect``), which creates a defective order instead; GET lists pending faults, DELETE clears
  them. GET /__sandbox/state: orders (status, dates, lines, notes), products (stock) and faults.
  GET /__sandbox/requests: the API requests received (method, path, query, status, at); DELETE
  clears the log.
"""

from __future__ import annotations

from starlette.applications import Starlette

from orderdeck.plugins.sandbox import Fault, Sandbox, sandbox_app
from orderdeck_woocommerce.sandbox.api import api_routes
from orderdeck_woocommerce.sandbox.control import control_routes
from orderdeck_woocommerce.sandbox.shop import DEFAULT_SKUS, Shop

__all__ = ["SANDBOX", "Fault", "Shop", "create_app"]


def create_app(
    *,
    seed_orders: int = 0,
    skus: list[str] | None = None,
    key: str = "ck_sandbox",
    secret: str = "cs_sandbox",
    seed: int | None = None,
    utc_offset_hours: float = 0.0,
    currency: str = "GBP",
    permissions: str = "read_write",
) -> Starlette:
    """A new sandbox shop: ``skus`` become simple products with random stock, ``seed_orders``
    random orders are placed; ``utc_offset_hours`` is the site's timezone (local dates);
    ``permissions`` those of its API key (read, write, read_write). ``app.state.sandbox`` is its
    ``Shop``. Serve it over HTTPS (``serve(app, certificate=...)``) for HTTP Basic; over plain
    HTTP it takes OAuth 1.0a signatures only, as WooCommerce does."""
    shop = Shop(key=key, secret=secret, skus=list(DEFAULT_SKUS if skus is None else skus), seed=seed,
                utc_offset_hours=utc_offset_hours, currency=currency, permissions=permissions)  # fmt: skip
    for _ in range(seed_orders):
        shop.create_order({})
    banner = (
        f"WooCommerce sandbox: shop URL = the address below, consumer key {key!r}, consumer secret {secret!r} "
        "(OAuth 1.0a signatures over http, as a real shop; HTTP Basic over https only); "
        f"{len(shop.products)} products, {len(shop.orders)} orders; control API under /__sandbox/"
    )
    return sandbox_app(shop, api_routes(shop), control=control_routes(shop), banner=banner)


SANDBOX = Sandbox(
    name="woocommerce",
    title="WooCommerce shop",
    create_app=create_app,
    description="A WooCommerce shop's REST API v3 (orders, notes, products, stock batches), with state",
)
"""What the plugin offers through orderdeck_register_sandboxes."""
