"""The whole flow on the embedded default's in-process worker (both backends): a shop's order is
downloaded and reserved, the new level reaches the other shop, processing sends the dispatch note
back, and the shop shows the order completed with its tracking number."""

from __future__ import annotations

import httpx

from tests.plugins.support import RunningApp
from tests.services.helpers import assert_stock_consistent, levels_of, make_item
from orderdeck.models import AuditEntry, AuditKind, Dispatch, DispatchState, Listing, Order, SubmitStatus, SyncKind, SyncRun
from orderdeck.services import channels, listings, orders
from orderdeck.services import outbox

PAST = "2026-11-20T10:00:00"


def place(shop: RunningApp, sku: str, quantity: int, status: str = "processing") -> None:
    spec = {"status": status, "date_created_gmt": PAST, "date_modified_gmt": PAST,
            "lines": [{"sku": sku, "quantity": quantity, "price": "5.00"}]}  # fmt: skip
    response = httpx.post(f"{shop.url}/__sandbox/orders", json={"orders": [spec]}, timeout=10)
    assert response.status_code < 300, response.text


def shop_state(shop: RunningApp) -> dict:
    return httpx.get(f"{shop.url}/__sandbox/state", timeout=10).json()


def stock_in(shop: RunningApp, sku: str) -> int:
    return next(p["stock_quantity"] for p in shop_state(shop)["products"] if p["sku"] == sku)


async def connect(shop: RunningApp, name: str, key: str, secret: str, location, actor, rate: float = 50, **settings):
    """A channel for the shop offering ``location``'s stock, with MUG listed (settings: extra
    WooCommerce settings)."""
    channel = await channels.create_channel({
        "name": name, "plugin": "woocommerce", "stock_location_ids": [location.id],
        "settings": {"url": shop.url, "consumer_key": key, "consumer_secret": secret, "requests_per_second": rate,
                     **settings},
    }, actor)  # fmt: skip
    await listings.link_listing({"channel_id": channel.id, "channel_sku": "MUG", "sku": "MUG"}, actor)
    return channel


async def test_an_order_flows_from_one_shop_to_the_other_and_back(jobs, shop_a, shop_b, default_location, actor):
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    a = await connect(shop_a, "Shop A", "ck_a", "cs_a", default_location, actor)
    b = await connect(shop_b, "Shop B", "ck_b", "cs_b", default_location, actor)
    await jobs.drain()
    assert stock_in(shop_a, "MUG") == 10 and stock_in(shop_b, "MUG") == 10

    place(shop_a, "MUG", 3)
    outbox.wake(SyncKind.DOWNLOAD, [a.id])
    await jobs.drain()

    [order] = await Order.filter(channel_id=a.id)
    assert await levels_of("MUG", default_location.id) == (10, 3)
    assert stock_in(shop_b, "MUG") == 7 and stock_in(shop_a, "MUG") == 7
    listing_b = await Listing.get(channel_id=b.id)
    assert (listing_b.submitted_quantity, listing_b.submit_status, listing_b.push_due) == (7, SubmitStatus.OK, False)

    await orders.process_orders([{"order_id": order.id, "tracking_number": "TRK-42", "shipping_vendor": "DPD"}], actor)
    await jobs.drain()

    dispatch = await Dispatch.get(order_id=order.id)
    assert dispatch.state == DispatchState.SENT
    shop_order = next(o for o in shop_state(shop_a)["orders"] if o["number"] == order.reference)
    assert shop_order["status"] == "completed"
    assert any("TRK-42" in note["note"] for note in shop_order["notes"])
    assert await AuditEntry.filter(subject_id=order.id, kind=AuditKind.DESPATCH_NOTE).count() == 1
    assert await levels_of("MUG", default_location.id) == (7, 0)
    assert stock_in(shop_b, "MUG") == 7  # processing moves level and allocated alike: nothing to push

    runs_before = await SyncRun.all().count()
    outbox.wake(SyncKind.DOWNLOAD, [a.id])  # re-sync: the completed order is known, nothing changes
    await jobs.drain()
    assert await Order.filter(channel_id=a.id).count() == 1
    assert await SyncRun.filter(kind=SyncKind.DOWNLOAD).count() == 2 and await SyncRun.all().count() == runs_before + 1
    await assert_stock_consistent()
