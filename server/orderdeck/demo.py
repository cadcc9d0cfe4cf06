"""``orderdeck serve --demo``: orderdeck with two WooCommerce sandbox shops taking orders.

Everything runs in the one ``orderdeck serve`` process, on the embedded default's in-process jobs:

- Two emulated WooCommerce shops (the sandbox the plugin offers for the connector DEMO_CONNECTOR,
  found through the plugin manager by name), "Demo Shop North" and "Demo Shop South", mounted into the app under ``/demo/north/`` and
  ``/demo/south/``. Mounted rather than served on ports of their own because that is the simplest
  thing that cannot go wrong: one port to choose (``--port``) and nothing else to bind or find free,
  the shops start and stop with the server, and a restart on another port only moves them along.
  orderdeck still reaches them over loopback HTTP through the WooCommerce plugin, like any shop.
  The cost: on shutdown uvicorn stops listening before the app stops its jobs, so a sync running
  at that instant cannot reach its shop and fails (logged; the next start syncs again).
  A shop keeps its state in memory: it starts empty on every start (orderdeck keeps its orders).
- On start, what is missing is made, so a restart duplicates nothing: the SKUs of PRODUCTS as
  stock items with a level at the default location; a channel per shop (the sandbox's credentials,
  stock offered from the default location); a listing of every SKU on both channels. A channel
  whose shop moved (another --port) is pointed at its new address, and every listing is pushed
  again (the new shop knows no levels yet).
- Then, for as long as the server runs, a few random orders go into a random shop every few
  seconds (through the shop's control API, ``POST /__sandbox/orders``) and both channels are
  asked to download (``services.work.request_sync``) a few seconds later: a channel's own
  schedule is at least 60 seconds apart, too slow to watch. Stock running low gets a delivery.

The demo keeps to its own SQLite file (DEMO_DATABASE_URL) unless ORDERDECK_DATABASE_URL is set,
and refuses a broker (ORDERDECK_BROKER_URL): its jobs must run in this process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import click
import httpx
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Mount, get_route_path
from starlette.types import Receive, Scope, Send

from orderdeck.config import Settings, get_settings
from orderdeck.models import ActorKind, Channel, Listing, Order, StockItem, StockLevel, SyncKind
from orderdeck.services.context import Actor
from orderdeck.services.errors import ServiceError

log = logging.getLogger(__name__)

DEMO_DATABASE_URL = "sqlite://orderdeck-demo.sqlite3"
"""The demo's own database (a file in the working folder), unless ORDERDECK_DATABASE_URL is set."""
DEMO_CONNECTOR = "woocommerce"
"""The connector the demo shows: its channels are configured with it, its shops are its sandbox."""
DEMO_ACTOR = Actor("demo", ActorKind.SYSTEM)
"""The actor recorded for what the demo sets up and restocks."""

SETTLE_SECONDS = 3.5
"""Wait between placing orders and downloading them: the WooCommerce plugin leaves orders changed
in the shop's last second (by its Date header, itself up to a second behind) for the next download."""
PAUSE_SECONDS = (3.0, 7.0)
"""Random pause between two rounds of new orders."""
LOW_STOCK = 3
"""A delivery arrives for a demo SKU whose available stock falls below this."""
DELIVERY = 30
"""Units a delivery adds."""


@dataclass(frozen=True)
class Product:
    """A SKU both shops sell, and the level it starts with."""

    sku: str
    title: str
    price: str
    level: int


PRODUCTS = (
    Product("MUG-ENAMEL-BLUE", "Enamel camping mug, blue", "9.50", 40),
    Product("MUG-ENAMEL-WHITE", "Enamel camping mug, white", "9.50", 30),
    Product("TEE-ORGANIC-M", "Organic cotton T-shirt, medium", "18.00", 25),
    Product("TOTE-CANVAS", "Canvas tote bag, natural", "12.00", 35),
    Product("CANDLE-FIG", "Soy wax candle, fig and cassis", "16.50", 20),
    Product("NOTEBOOK-A5", "Dot-grid notebook, A5", "7.95", 60),
)


@dataclass(frozen=True)
class ShopSpec:
    """One demo shop: its channel's name, where it is mounted, its order numbers and API key."""

    name: str
    slug: str
    prefix: str
    consumer_key: str
    consumer_secret: str


SHOPS = (
    ShopSpec("Demo Shop North", "north", "NORTH", "ck_demo_north", "cs_demo_north_secret"),
    ShopSpec("Demo Shop South", "south", "SOUTH", "ck_demo_south", "cs_demo_south_secret"),
)
FIRST_ORDER_NUMBER = 1001


# --- starting the demo (called by `orderdeck serve --demo`) ----------------------------------


def demo_app(host: str, port: int, workers: int) -> Callable[[], Starlette]:
    """Prepare ``orderdeck serve --demo`` and return the app factory uvicorn should run.

    Call it before the settings are first read: without ORDERDECK_DATABASE_URL the demo uses its
    own database file. Raises click.ClickException for what the demo cannot run with.
    """
    try:
        if "database_url" not in get_settings().model_fields_set:
            os.environ["ORDERDECK_DATABASE_URL"] = DEMO_DATABASE_URL  # the one setting the demo chooses
            get_settings.cache_clear()
        settings = get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise click.ClickException(f"Invalid configuration: {exc}") from None
    if settings.broker_url is not None:
        raise click.ClickException(
            "The demo runs its jobs inside `orderdeck serve`, not through a broker: unset ORDERDECK_BROKER_URL to run it."
        )
    if workers != 1:
        raise click.ClickException("The demo runs in one process: leave out --workers")
    if not settings.is_sqlite and settings.secret_key is None:
        raise click.ClickException("The demo's channels store API secrets: set ORDERDECK_SECRET_KEY (32+ characters)")
    from orderdeck.plugins import manager

    try:
        manager.sandbox(DEMO_CONNECTOR)
    except manager.UnknownSandbox as exc:
        raise click.ClickException(f"The demo runs {DEMO_CONNECTOR} sandbox shops: {exc}") from None
    address = Address(host, port)
    return lambda: create_app(address, settings)


@dataclass(frozen=True)
class Address:
    """Where the server listens, and so where the shops are."""

    host: str
    port: int

    @property
    def base_url(self) -> str:
        """The server's URL as seen from this machine (loopback when it listens everywhere)."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


class DemoShop:
    """A sandbox shop mounted at /demo/<slug>, and its channel once configured."""

    def __init__(self, spec: ShopSpec, address: Address) -> None:
        from orderdeck.plugins import manager

        self.spec = spec
        self.path = f"/demo/{spec.slug}"
        self.url = address.base_url + self.path
        self.app = manager.sandbox(DEMO_CONNECTOR).create_app(skus=[p.sku for p in PRODUCTS], key=spec.consumer_key,
                                                              secret=spec.consumer_secret)  # fmt: skip
        # The control API is called in-process: it needs no network and works before the server listens.
        self.control = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://shop")
        self.channel_id: uuid.UUID | None = None
        self.next_number = FIRST_ORDER_NUMBER

    async def mounted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The shop as an ASGI app mounted at self.path: it sees itself as a site in that folder
        (so the links it writes, built from its base URL, include the folder). Its front page
        (``/demo/<slug>/``, which the README links) shows the shop's state."""
        if scope["type"] == "http" and get_route_path(scope) in ("", "/"):
            await RedirectResponse(f"{scope.get('root_path', '')}/__sandbox/state")(scope, receive, send)
            return
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "app_root_path": scope.get("root_path", "")}
        await self.app(scope, receive, send)

    async def stock_products(self) -> None:
        """Give the shop's products their names and prices (stock comes from orderdeck's push)."""
        products = [{"sku": p.sku, "name": p.title, "price": p.price} for p in PRODUCTS]
        (await self.control.post("/__sandbox/products", json={"products": products})).raise_for_status()

    async def place_orders(self, count: int, rng: random.Random) -> list[str]:
        """Place ``count`` paid orders of 1-3 random lines; return their numbers."""
        specs = []
        for _ in range(count):
            picked = rng.sample(PRODUCTS, k=rng.choices([1, 2, 3], [60, 30, 10])[0])
            lines = [{"sku": p.sku, "quantity": rng.choices([1, 2, 3], [75, 20, 5])[0]} for p in picked]
            specs.append({"number": f"{self.spec.prefix}-{self.next_number}", "status": "processing", "lines": lines})
            self.next_number += 1
        (await self.control.post("/__sandbox/orders", json={"orders": specs})).raise_for_status()
        return [spec["number"] for spec in specs]


# --- the app ---------------------------------------------------------------------------------


def create_app(address: Address, settings: Settings | None = None) -> Starlette:
    """orderdeck's app with the demo shops mounted under /demo/, and the demo running beside it."""
    from orderdeck.app import create_app as create_orderdeck_app

    shops = [DemoShop(spec, address) for spec in SHOPS]
    orderdeck_app = create_orderdeck_app(settings)
    _quiet_shop_traffic()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with orderdeck_app.router.lifespan_context(orderdeck_app):
            task = asyncio.create_task(run_demo(shops, address), name="orderdeck-demo")
            try:
                yield
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                for shop in shops:
                    await shop.control.aclose()

    routes = [Mount(shop.path, app=shop.mounted) for shop in shops]
    return Starlette(routes=[*routes, Mount("", app=orderdeck_app)], lifespan=lifespan)


class _NotShopTraffic(logging.Filter):
    """Leaves the shops' requests (orderdeck's channel calls, every few seconds) out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (isinstance(args, tuple) and len(args) > 2 and str(args[2]).startswith("/demo/"))


def _quiet_shop_traffic() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NotShopTraffic) for f in access.filters):
        access.addFilter(_NotShopTraffic())


def say(message: str) -> None:
    """A line on the console for the person watching the demo."""
    click.echo(f"demo: {message}")


# --- what the demo does while the server runs --------------------------------------------------


async def run_demo(shops: list[DemoShop], address: Address, rng: random.Random | None = None) -> None:
    """Set the demo up once the server answers, then place orders until cancelled."""
    rng = rng or random.Random()
    await _until_serving(address)
    try:
        await configure(shops)
    except Exception:  # noqa: BLE001 - the API goes on serving; say why the demo does not
        log.exception("demo: setting up the demo's stock, channels and listings failed; the server runs without it")
        return
    click.echo(guide(shops, address))
    for shop in shops:  # a first round in every shop
        await _place(shop, 2, rng)
    while True:
        await asyncio.sleep(SETTLE_SECONDS)
        try:
            for shop in shops:
                await _request(shop, {SyncKind.DOWNLOAD})
            await restock()
        except Exception:  # noqa: BLE001 - the demo goes on; the error is on the console
            log.exception("demo: downloading or restocking failed")
        await asyncio.sleep(rng.uniform(*PAUSE_SECONDS))
        await _place(rng.choice(shops), rng.randint(1, 3), rng)


async def _until_serving(address: Address, timeout: float = 60.0) -> None:
    """Wait until the server answers at its address (the channels call the shops there)."""
    async with httpx.AsyncClient(timeout=2) as client:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                if (await client.get(f"{address.base_url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                say(f"the server does not answer at {address.base_url}: the channels will not reach the shops")
                return
            await asyncio.sleep(0.2)


async def _place(shop: DemoShop, count: int, rng: random.Random) -> None:
    try:
        numbers = await shop.place_orders(count, rng)
    except Exception:  # noqa: BLE001 - the demo goes on
        log.exception("demo: could not place orders in %s", shop.spec.name)
        return
    say(f"{shop.spec.name}: new order{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}")


async def _request(shop: DemoShop, kinds: set[SyncKind]) -> None:
    """Ask for the shop's channel to sync now (nothing when the channel was disabled or deleted)."""
    from orderdeck.services.work import request_sync

    if shop.channel_id is not None:
        try:
            await request_sync(shop.channel_id, kinds)
        except ServiceError:
            pass


async def configure(shops: list[DemoShop]) -> None:
    """Make what the demo needs and is missing: stock items with levels, a channel per shop,
    listings of every SKU on both; point each channel at its shop and push its levels there."""
    from orderdeck.services import channels, listings, stock
    from orderdeck.services.locations import ensure_default_location

    location = await ensure_default_location()
    for product in PRODUCTS:
        if await StockItem.filter(sku=product.sku).exists():
            continue
        await stock.create_stock_item({"sku": product.sku, "title": product.title, "unit_price": product.price},
                                      DEMO_ACTOR)  # fmt: skip
        await stock.set_stock_levels({"reason": "Opening stock count (demo)", "levels": [
            {"sku": product.sku, "location_id": location.id, "quantity": product.level}]}, DEMO_ACTOR)  # fmt: skip
    for shop in shops:
        await shop.stock_products()
        settings = {"url": shop.url, "consumer_key": shop.spec.consumer_key,
                    "consumer_secret": shop.spec.consumer_secret, "requests_per_second": 20}  # fmt: skip
        channel = await Channel.get_or_none(name=shop.spec.name)
        if channel is None:
            channel = await channels.create_channel({
                "name": shop.spec.name, "plugin": DEMO_CONNECTOR, "settings": settings,
                "download_location_id": location.id, "stock_location_ids": [location.id],
                "sync_interval_seconds": 60,
            }, DEMO_ACTOR)  # fmt: skip
        elif channel.settings.get("url") != shop.url:
            channel = await channels.update_channel(channel.id, {"settings": settings}, DEMO_ACTOR)
        for product in PRODUCTS:
            if not await Listing.filter(channel_id=channel.id, channel_sku=product.sku).exists():
                await listings.link_listing({"channel_id": channel.id, "channel_sku": product.sku,
                                             "sku": product.sku}, DEMO_ACTOR)  # fmt: skip
        shop.channel_id = channel.id
        shop.next_number = await _next_number(channel.id, shop.spec.prefix)
        await _request(shop, {SyncKind.STOCK_PUSH})


async def _next_number(channel_id: uuid.UUID, prefix: str) -> int:
    """The next order number of a shop: a restarted shop is empty, but must not reuse the numbers
    of orders orderdeck already has from it."""
    pattern = re.compile(rf"{re.escape(prefix)}-(\d+)")
    references = await Order.filter(channel_id=channel_id).values_list("reference", flat=True)
    used = [int(m.group(1)) for r in references if r and (m := pattern.fullmatch(r))]
    return max(used, default=FIRST_ORDER_NUMBER - 1) + 1


async def restock() -> None:
    """A delivery for each demo SKU whose available stock at the default location is low."""
    from orderdeck.services import stock
    from orderdeck.services.locations import ensure_default_location

    location = await ensure_default_location()
    levels = await StockLevel.filter(location_id=location.id, item__sku__in=[p.sku for p in PRODUCTS]).prefetch_related("item")
    low = [level.item.sku for level in levels if level.level - level.allocated < LOW_STOCK]
    if low:
        await stock.adjust_stock_levels({"reason": "Delivery from the supplier (demo)", "levels": [
            {"sku": sku, "location_id": location.id, "quantity": DELIVERY} for sku in low]}, DEMO_ACTOR)  # fmt: skip
        say(f"a delivery arrived: {DELIVERY} more of {', '.join(low)}")


# --- what to tell the user --------------------------------------------------------------------

EXAMPLES = {
    "The newest open orders": (
        "{ openOrders(first: 10, sort: NUMBER_DESC) { totalCount nodes { id number reference subsource "
        "allocation items { sku quantity } } } }"
    ),
    "Process one (use an id from above); the shop shows it completed, with the tracking number": (
        'mutation { processOrders(input: [{orderId: "ORDER_ID", trackingNumber: "TRK-1001", '
        'shippingVendor: "Royal Mail"}]) { orders { number state dispatch { state trackingNumber } } '
        "failures { message code } errors { message } } }"
    ),
    "What the syncs did (downloads, stock pushes, dispatches)": (
        "{ syncRuns(first: 10) { nodes { channel { name } kind outcome downloaded pushed dispatched error "
        "startedAt } } }"
    ),
    "The levels pushed to each shop": (
        "{ listings(first: 12) { nodes { channel { name } channelSku lastSubmittedQuantity submitStatus "
        "stockItem { levels { level allocated available } } } } }"
    ),
}


def guide(shops: list[DemoShop], address: Address) -> str:
    """What the user can do now, printed once the demo is set up."""
    database = get_settings().database_url
    lines = [
        "",
        "  orderdeck demo: two WooCommerce sandbox shops take orders every few seconds; orderdeck",
        "  downloads them, reserves the stock, pushes the new levels to both shops and, once you",
        "  process an order, sends the dispatch back to its shop.",
        "",
        f"  GraphiQL   {address.base_url}/graphql  (in a browser; in its Headers pane put",
        '             {"Authorization": "Bearer <token>"})',
        "  Token      the admin token printed above on this database's first start (another one:",
        f"             ORDERDECK_DATABASE_URL={database} orderdeck token create --name NAME)",
    ]
    for n, shop in enumerate(shops):
        lines.append(f"  {'Shops' if n == 0 else '':<10} {shop.spec.name}: {shop.url}/  (its state, as JSON)")
    if database == DEMO_DATABASE_URL:
        lines.append(f"  Database   {database.removeprefix('sqlite://')} (delete it and its .key file to start afresh)")
    lines += ["", "  Try (in GraphiQL, or with curl and the token):"]
    for title, query in EXAMPLES.items():
        lines += [f"    {title}:", f"      {query}"]
    return "\n".join([*lines, ""])
