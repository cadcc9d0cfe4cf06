"""What the demo does while the server runs: sets up stock, channels and listings, then places
orders, asks the channels to download them, and restocks."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import uuid

import click
import httpx

from orderdeck.models import Channel, Listing, Order, StockItem, StockLevel, SyncKind
from orderdeck.services.errors import ServiceError
from orderdeck.demo.shops import Address, DemoShop
from orderdeck.demo.catalogue import DELIVERY, DEMO_ACTOR, DEMO_CONNECTOR, FIRST_ORDER_NUMBER, LOW_STOCK, PAUSE_SECONDS, PRODUCTS, SETTLE_SECONDS
from orderdeck.demo.centres import DemoCentre, configure_centres, request, send_to_centres
from orderdeck.demo.guide import guide, say

log = logging.getLogger(__name__)


async def run_demo(shops: list[DemoShop], address: Address, centres: list[DemoCentre] | None = None,
                   rng: random.Random | None = None) -> None:  # fmt: skip
    """Set the demo up once the server answers, then place orders until cancelled (moving some
    of them to the fulfilment centres, which ship them)."""
    rng, centres = rng or random.Random(), centres or []
    await _until_serving(address)
    try:
        await configure(shops)
    except Exception:  # noqa: BLE001 - the API goes on serving; say why the demo does not
        log.exception("demo: setting up the demo's stock, channels and listings failed; the server runs without it")
        return
    try:
        await configure_centres(centres)
    except Exception:  # noqa: BLE001 - the shops go on without the centres
        log.exception("demo: setting up the fulfilment centres failed; the shops run without them")
        centres = []
    click.echo(guide(shops, address, centres))
    for shop in shops:  # a first round in every shop
        await _place(shop, 2, rng)
    while True:
        await asyncio.sleep(SETTLE_SECONDS)
        try:
            for shop in shops:
                await _request(shop, {SyncKind.DOWNLOAD})
            await restock()
            await _fulfil(centres, rng)
        except Exception:  # noqa: BLE001 - the demo goes on; the error is on the console
            log.exception("demo: downloading or restocking failed")
        await asyncio.sleep(rng.uniform(*PAUSE_SECONDS))
        await _place(rng.choice(shops), rng.randint(1, 3), rng)


async def _fulfil(centres: list[DemoCentre], rng: random.Random) -> None:
    """Send some new orders to the centres, and ask the centres for their reports."""
    if not centres:
        return
    from orderdeck.services.locations import ensure_default_location

    for centre, number in await send_to_centres(centres, (await ensure_default_location()).id, rng):
        say(f"order {number} goes to {centre.spec.name}")
    for centre in centres:
        await request(centre, {SyncKind.STATUS_IMPORT, SyncKind.STOCK_IMPORT})


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
        channel = await Channel.get_or_none(connection__name=shop.spec.name).select_related("connection")
        if channel is None:
            channel = await channels.create_channel({
                "name": shop.spec.name, "plugin": DEMO_CONNECTOR, "settings": settings,
                "download_location_id": location.id, "stock_location_ids": [location.id],
                "sync_interval_seconds": 60,
            }, DEMO_ACTOR)  # fmt: skip
        elif channel.connection.settings.get("url") != shop.url:
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
