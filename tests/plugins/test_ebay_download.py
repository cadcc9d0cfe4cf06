"""eBay orders through orderdeck's download runs (SQLite and PostgreSQL): paid orders come in,
an unknown SKU is logged as unlinked, cancelled and shipped orders are skipped, a partly shipped
order brings the lines still to ship, and a cursor older than eBay's 90 days is clamped with a
notice in the run's log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from orderdeck.models import Connection, Order, OrderItem, SyncIssue, SyncOutcome
from orderdeck.plugins.oauth import TOKENS
from orderdeck.services import channels, listings, sync
from orderdeck_ebay import download
from tests.plugins.ebay import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, EbayControl, assert_kept, ebay_sandbox, past
from tests.services.helpers import make_item


@pytest.fixture
def ebay() -> Iterator[EbayControl]:
    TOKENS.clear()
    with ebay_sandbox() as control:
        yield control
        assert_kept(control.checked)


async def test_a_download_run_takes_ebay_orders_and_logs_what_it_skipped(ebay, default_location, actor):
    channel = await channels.create_channel({
        "name": "eBay UK", "plugin": "ebay", "stock_location_ids": [default_location.id],
        "settings": {"api_url": ebay.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN,
                     "fulfillment_calls_per_day": 50_000_000, "burst": 50},
    }, actor)  # fmt: skip
    await make_item("MUG-RED", actor, level=10, location_id=default_location.id)
    await make_item("TEE-S", actor, level=10, location_id=default_location.id)
    await listings.link_listing({"channel_id": channel.id, "channel_sku": "MUG-RED", "sku": "MUG-RED"}, actor)
    mug = {"sku": "MUG-RED", "quantity": 2}
    ebay.orders(
        {"orderId": "40-00000-00001", "lastModifiedDate": past(900), "lines": [mug]},
        {"orderId": "40-00000-00002", "lastModifiedDate": past(899), "lines": [mug, {"sku": "DISCONTINUED-9", "quantity": 1}]},
        {"orderId": "40-00000-00003", "lastModifiedDate": past(898), "lines": [mug], "cancelState": "CANCELED"},
        {"orderId": "40-00000-00004", "lastModifiedDate": past(897), "lines": [mug], "orderFulfillmentStatus": "FULFILLED"},
        {"orderId": "40-00000-00005", "lastModifiedDate": past(896), "lines": [{**mug, "shipped": True}, {"sku": "TEE-S", "quantity": 1}]},
    )  # fmt: skip
    account = await Connection.get(id=channel.id)
    account.cursor = download.encode_cursor((datetime.now(UTC) - timedelta(days=100), ""))
    await account.save(update_fields=["cursor"])

    run = await sync.download_channel(channel.id)

    assert run.outcome == SyncOutcome.SUCCEEDED, run.error
    assert (run.downloaded, run.skipped_cancelled, run.skipped_shipped, run.failed) == (3, 1, 1, 0)
    issues = {(issue.reference, issue.kind): issue.message for issue in await SyncIssue.filter(run_id=run.id)}
    assert "older than the 90 days" in issues[("", "NOTICE")]
    assert "DISCONTINUED-9" in issues[("40-00000-00002", "UNLINKED")]
    assert ("40-00000-00003", "SKIPPED_CANCELLED") in issues and ("40-00000-00004", "SKIPPED_SHIPPED") in issues
    partial = await Order.get(channel_id=channel.id, reference="40-00000-00005")
    assert [item.sku for item in await OrderItem.filter(order_id=partial.id)] == ["TEE-S"], "its shipped line stays on eBay"
    assert (await Connection.get(id=channel.id)).cursor > account.cursor
