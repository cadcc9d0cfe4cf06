"""Download runs against the WooCommerce sandbox over real HTTP: the automation log, one download
per channel at a time, and channel failures."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.plugins.support import RunningApp, serve
from tests.services.helpers import assert_stock_consistent, levels_of, make_item
from orderdeck.models import Channel, Order, RunClaim, SyncIssue, SyncKind, SyncOutcome, SyncRun, Connection
from orderdeck.plugins.errors import PartnerUnavailable
from orderdeck.services import channels, listings, sync
from orderdeck_woocommerce.sandbox import create_app

KEY, SECRET = "ck_shop", "cs_shop"
PAST = "2026-11-20T10:00:00"


@pytest.fixture
def shop() -> Iterator[RunningApp]:
    with serve(create_app(skus=["MUG", "CUP"], key=KEY, secret=SECRET, seed=7)) as running:
        yield running


def place(shop: RunningApp, *statuses: str) -> None:
    """Orders in the sandbox shop, modified in the past (so none is held back as too recent)."""
    specs = [{"status": status, "date_created_gmt": PAST, "date_modified_gmt": PAST,
              "lines": [{"sku": "MUG", "quantity": 2, "price": "5.00"}]} for status in statuses]  # fmt: skip
    response = httpx.post(f"{shop.url}/__sandbox/orders", json={"orders": specs}, timeout=10)
    assert response.status_code < 300, response.text


async def woo_channel(shop: RunningApp, default_location, actor, secret: str = SECRET) -> Channel:
    channel = await channels.create_channel({
        "name": "Sandbox shop", "plugin": "woocommerce", "stock_location_ids": [default_location.id],
        "settings": {"url": shop.url, "consumer_key": KEY, "consumer_secret": secret, "requests_per_second": 50},
    }, actor)  # fmt: skip
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await listings.link_listing({"channel_id": channel.id, "channel_sku": "MUG", "sku": "MUG"}, actor)
    return channel


async def test_a_download_takes_paid_orders_skips_the_rest_and_logs_the_run(shop, default_location, actor):
    channel = await woo_channel(shop, default_location, actor)
    place(shop, "processing", "processing", "processing", "completed", "on-hold")

    run = await sync.download_channel(channel.id)

    assert run.outcome == SyncOutcome.SUCCEEDED and run.finished_at is not None
    assert (run.downloaded, run.skipped_shipped, run.skipped_unpaid, run.failed) == (3, 1, 1, 0)
    assert {issue.kind for issue in await SyncIssue.filter(run_id=run.id)} == {"SKIPPED_SHIPPED", "SKIPPED_UNPAID"}
    assert await Order.filter(channel_id=channel.id).count() == 3
    assert await levels_of("MUG", default_location.id) == (10, 6)
    assert (await Connection.get(id=channel.id)).cursor

    again = await sync.download_channel(channel.id)
    assert (again.outcome, again.downloaded) == (SyncOutcome.SUCCEEDED, 0)
    assert await Order.filter(channel_id=channel.id).count() == 3
    await assert_stock_consistent()


async def test_one_download_of_a_channel_at_a_time(shop, default_location, actor):
    channel = await woo_channel(shop, default_location, actor)
    place(shop, *["processing"] * 30)
    runs = await asyncio.gather(*(sync.download_channel(channel.id, page_size=5) for _ in range(3)))
    started = [run for run in runs if run is not None]
    assert len(started) == 1 and started[0].downloaded == 30
    assert await Order.filter(channel_id=channel.id).count() == 30
    assert (await RunClaim.get(connection_id=channel.id, kind=SyncKind.DOWNLOAD)).token is None  # released


async def test_refused_credentials_fail_the_run_without_a_retry(shop, default_location, actor):
    channel = await woo_channel(shop, default_location, actor, secret="cs_wrong")
    place(shop, "processing")
    run = await sync.download_channel(channel.id)
    assert run.outcome == SyncOutcome.FAILED and "PartnerAuthError" in run.error
    assert await Order.all().count() == 0
    assert await sync.download_channel(channel.id) is not None  # the lease was released


async def test_an_unavailable_channel_fails_the_run_and_is_raised_for_a_retry(shop, default_location, actor):
    channel = await woo_channel(shop, default_location, actor)
    httpx.post(f"{shop.url}/__sandbox/faults", json={"kind": "server_error", "count": 10}, timeout=10)
    with pytest.raises(PartnerUnavailable):
        await sync.download_channel(channel.id)
    run = await SyncRun.get(connection_id=channel.id)
    assert run.outcome == SyncOutcome.FAILED and "PartnerUnavailable" in run.error


async def test_the_page_asked_for_ahead_failing_keeps_the_page_being_written(shop, default_location, actor):
    """The next page is asked for while one is written: when that request fails, the page
    already taken is still written, the cursor stays after it, and the run fails."""
    channel = await woo_channel(shop, default_location, actor)
    place(shop, *["processing"] * 10)
    httpx.post(f"{shop.url}/__sandbox/faults", json={"kind": "server_error", "count": 10, "after": 1}, timeout=10)
    with pytest.raises(PartnerUnavailable):
        await sync.download_channel(channel.id, page_size=4)
    run = await SyncRun.get(connection_id=channel.id)
    assert (run.outcome, run.pages, run.downloaded) == (SyncOutcome.FAILED, 1, 4)
    assert await Order.filter(channel_id=channel.id).count() == 4
    cursor = (await Connection.get(id=channel.id)).cursor
    assert cursor

    httpx.delete(f"{shop.url}/__sandbox/faults", timeout=10)
    again = await sync.download_channel(channel.id, page_size=4)
    assert (again.outcome, again.pages, again.downloaded) == (SyncOutcome.SUCCEEDED, 2, 6)
    assert await Order.filter(channel_id=channel.id).count() == 10
    await assert_stock_consistent()


async def test_a_run_ending_at_its_page_limit_asks_for_nothing_beyond_it(shop, default_location, actor):
    channel = await woo_channel(shop, default_location, actor)
    place(shop, *["processing"] * 10)
    httpx.delete(f"{shop.url}/__sandbox/requests", timeout=10)
    run = await sync.download_channel(channel.id, page_size=3, max_pages=2)
    assert (run.outcome, run.pages, run.downloaded) == (SyncOutcome.SUCCEEDED, 2, 6)
    listed = [r for r in httpx.get(f"{shop.url}/__sandbox/requests", timeout=10).json() if r["path"].endswith("/orders")]
    assert len(listed) == 2, listed


async def test_a_disabled_channel_is_not_downloaded(shop, default_location, actor):
    channel = await woo_channel(shop, default_location, actor)
    await channels.set_channel_enabled(channel.id, False, actor)
    assert await sync.download_channel(channel.id) is None
    assert not await SyncRun.exists()
