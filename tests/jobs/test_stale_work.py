"""Invariant 9 (both backends): stock the channel could not take reaches it in the end, sent again
by the scheduler's sweep with no human (the in-process worker runs the jobs, against a WooCommerce
sandbox over real HTTP; backoffs are short in tests: ORDERDECK_RETRY_*_BACKOFF_SECONDS); what only
a change can fix (refused credentials, a product the shop lacks) is not retried, and is shown in
GraphQL and in the run's sync event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from orderdeck.graphql.common import encode_id
from orderdeck.jobs.scheduler import tick
from orderdeck.models import Channel, Event, EventTopic, Listing, SubmitStatus, SyncKind, SyncOutcome, SyncRun
from orderdeck.services import channels, listings, stock
from orderdeck_woocommerce.sandbox import create_app
from tests.plugins.support import serve
from tests.services.helpers import make_item
from tests.services.shop import KEY, SECRET, Shop

SKUS = [f"SKU-{n}" for n in range(8)]
BATCH = "/products/batch"
ATTENTION = """query($id: ID!) {
  channel(id: $id) { attention { listingsWaiting listingsRetrying needsAttention } }
  listings(filter: {channelId: $id, submitStatus: FAILED}, first: 20) {
    nodes { channelSku submitStatus submitError pushDue nextPushAt } } }"""


@pytest.fixture
def shop() -> Iterator[Shop]:
    with serve(create_app(skus=SKUS, key=KEY, secret=SECRET, seed=5)) as running:
        shop = Shop(running)
        yield shop
        shop.close()


async def listed_channel(shop: Shop, location, actor, skus: list[str], secret: str = SECRET) -> Channel:
    """A channel on the shop offering ``location``'s stock, with each SKU listed (level 10)."""
    for sku in skus:
        await make_item(sku, actor, level=10, location_id=location.id)
    channel = await channels.create_channel({
        "name": "Shop", "plugin": "woocommerce", "stock_location_ids": [location.id],
        "settings": {"url": shop.url, "consumer_key": KEY, "consumer_secret": secret, "requests_per_second": 100,
                     "timeout_seconds": 1},
    }, actor)  # fmt: skip
    for sku in skus:
        await listings.link_listing({"channel_id": channel.id, "channel_sku": sku, "sku": sku}, actor)
    return channel


async def sell_two_of_each(location, actor, skus: list[str] = SKUS) -> None:
    await stock.adjust_stock_levels({"levels": [{"sku": sku, "location_id": location.id, "quantity": -2}
                                                for sku in skus]}, actor)  # fmt: skip


async def sweep_until(jobs, done, limit: float = 20.0) -> int:
    """Tick the scheduler (as `orderdeck scheduler` does) and run the jobs it sends until ``done()``;
    how many stock jobs the ticks sent."""
    sent, deadline = 0, time.monotonic() + limit
    while not await done():
        assert time.monotonic() < deadline, "the sweep did not get the work through"
        sent += len((await tick()).sent[SyncKind.STOCK_PUSH])
        await jobs.drain()
        await asyncio.sleep(0.1)
    return sent


@pytest.mark.parametrize(
    "fault",
    [{"kind": "malformed", "count": 1},  # the reproduction: one unreadable answer
     {"kind": "server_error", "count": 3},  # a 5xx through all of the client's own tries
     {"kind": "delay", "seconds": 2, "count": 3}],  # no answer within the channel's 1 s timeout
    ids=["malformed", "5xx", "timeout"],
)  # fmt: skip
async def test_a_push_the_shop_could_not_take_reaches_it_with_no_human(jobs, shop, default_location, actor, fault):
    channel = await listed_channel(shop, default_location, actor, SKUS)
    await jobs.drain()
    assert [shop.stock(sku) for sku in SKUS] == [10] * 8

    shop.fault(**fault)
    await sell_two_of_each(default_location, actor)  # wakes a push, which the fault fails
    await jobs.drain()

    rows = await Listing.filter(channel_id=channel.id)
    assert {(row.submit_status, row.push_due, row.push_attempts) for row in rows} == {(SubmitStatus.RETRYING, True, 1)}
    assert [shop.stock(sku) for sku in SKUS] == [10] * 8  # stale, for now
    failed = await SyncRun.filter(connection_id=channel.id, kind=SyncKind.STOCK_PUSH, outcome=SyncOutcome.FAILED).get()
    assert (failed.failed, failed.retrying, failed.waiting) == (8, 8, 0)
    [finished] = [e.data for e in await Event.filter(topic=EventTopic.SYNC, kind="FINISHED")
                  if e.data["runId"] == str(failed.id)]  # fmt: skip
    assert (finished["retrying"], finished["waiting"]) == (8, 0)

    async def shop_is_right() -> bool:
        return [shop.stock(sku) for sku in SKUS] == [8] * 8

    started = time.monotonic()
    assert await sweep_until(jobs, shop_is_right) >= 1  # the sweep sent it again: nobody asked
    print(f"{fault['kind']}: the shop was right {time.monotonic() - started:.2f} s after the failed push")
    assert {(row.submit_status, row.push_due, row.push_attempts, row.next_push_at)
            for row in await Listing.filter(channel_id=channel.id)} == {(SubmitStatus.OK, False, 0, None)}  # fmt: skip


async def test_refused_credentials_and_data_wait_for_a_change_and_are_shown(
    client, jobs, shop, default_location, actor
):
    channel = await listed_channel(shop, default_location, actor, SKUS[:2] + ["GHOST"])  # not in the shop
    await jobs.drain()
    ghost = await Listing.get(channel_id=channel.id, channel_sku="GHOST")
    assert ghost.submit_status == SubmitStatus.FAILED and not ghost.push_due
    gid = encode_id("Channel", channel.id)

    data = await client.gql(ATTENTION, {"id": gid})
    assert data["channel"]["attention"] == {"listingsWaiting": 1, "listingsRetrying": 0, "needsAttention": True}
    [shown] = data["listings"]["nodes"]
    assert (shown["channelSku"], shown["submitStatus"], shown["pushDue"], shown["nextPushAt"]) == (
        "GHOST", "FAILED", False, None)  # fmt: skip
    assert "no WooCommerce product has SKU GHOST" in shown["submitError"]

    await channels.update_channel(channel.id, {"settings": {"consumer_secret": "cs_wrong"}}, actor)
    await jobs.drain()  # new credentials: every listing is sent again, and refused
    await sell_two_of_each(default_location, actor, SKUS[:2])
    await jobs.drain()
    run = await SyncRun.filter(connection_id=channel.id, kind=SyncKind.STOCK_PUSH).order_by("-started_at").first()
    assert run.outcome == SyncOutcome.FAILED and "PartnerAuthError" in run.error and run.waiting == 2
    [finished] = [e.data for e in await Event.filter(topic=EventTopic.SYNC, kind="FINISHED")
                  if e.data["runId"] == str(run.id)]  # fmt: skip
    assert finished["waiting"] == 2 and "PartnerAuthError" in finished["error"]

    shop.clear_requests()
    for _ in range(3):  # the sweep leaves them alone: retrying cannot help
        assert (await tick()).sent[SyncKind.STOCK_PUSH] == []
        await jobs.drain()
    assert [r for r in shop.requests() if "/products" in r["path"]] == []  # (the ticks download orders)
    data = await client.gql(ATTENTION, {"id": gid})
    assert data["channel"]["attention"]["listingsWaiting"] == 3
    assert {n["channelSku"] for n in data["listings"]["nodes"]} == {*SKUS[:2], "GHOST"}
    assert all("PartnerAuthError" in n["submitError"] for n in data["listings"]["nodes"])

    await channels.update_channel(channel.id, {"settings": {"consumer_secret": SECRET}}, actor)  # the change
    await jobs.drain()
    assert [shop.stock(sku) for sku in SKUS[:2]] == [8, 8]
    data = await client.gql(ATTENTION, {"id": gid})
    assert data["channel"]["attention"]["listingsWaiting"] == 1  # GHOST, until the shop has the product
