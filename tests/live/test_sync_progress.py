"""syncProgress: a download run against the WooCommerce sandbox (real HTTP) reports its start, each
page with the orders so far and the errors, and its end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from orderdeck.graphql.common import encode_id
from orderdeck.services import sync
from tests.live.support import SYNC_PROGRESS, Collector, LiveServer, live_server, subscribed
from tests.services.test_download import place, shop, woo_channel  # noqa: F401 - the shop fixture


@pytest.fixture
async def live(database: str, database_url: str, admin_token: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, admin_token) as server:
        yield server


async def test_a_download_reports_its_progress(live: LiveServer, shop, default_location, actor) -> None:  # noqa: F811
    channel = await woo_channel(shop, default_location, actor)
    place(shop, *["processing"] * 5, "completed")
    channel_id = encode_id("Channel", channel.id)
    async with live.connect() as client:
        progress = Collector(client, SYNC_PROGRESS, {"filter": {"channelIds": [channel_id], "kinds": ["DOWNLOAD"]}})
        elsewhere = Collector(client, SYNC_PROGRESS, {"filter": {"channelIds": [encode_id("Channel", uuid.uuid4())]}})
        await subscribed(live.hub, 2)
        run = await sync.download_channel(channel.id, page_size=2)
        assert run is not None
        finished = await _until_finished(progress)
        await asyncio.sleep(0.2)
        assert elsewhere.items == []
        await progress.stop()
        await elsewhere.stop()
    got = progress.items
    assert got[0]["phase"] == "STARTED" and got[0]["outcome"] == "RUNNING" and got[0]["runId"] == encode_id("SyncRun", run.id)
    pages = [e for e in got if e["phase"] == "PROGRESS"]
    assert [p["pages"] for p in pages] == list(range(1, len(pages) + 1)) and len(pages) >= 3
    orders_so_far = [p["orders"] for p in pages]
    assert orders_so_far == sorted(orders_so_far) and orders_so_far[-1] == 5
    assert finished["outcome"] == "SUCCEEDED" and finished["orders"] == 5 and finished["failed"] == 0
    assert {e["channelId"] for e in got} == {e["connectionId"] for e in got} == {channel_id} and {e["kind"] for e in got} == {"DOWNLOAD"}


async def _until_finished(feed: Collector) -> dict:
    for _ in range(100):
        done = [e for e in feed.items if e["phase"] == "FINISHED"]
        if done:
            return done[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no FINISHED event: {feed.items}")
