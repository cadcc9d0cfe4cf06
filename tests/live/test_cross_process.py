"""Events committed in another process (as by an `orderdeck worker`) reach this API process's
subscribers, over PostgreSQL LISTEN/NOTIFY and over Redis pub/sub."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from orderdeck import db
from orderdeck.models import Location
from tests.live.support import ORDER_EVENTS, STOCK_LEVELS, Collector, commit_elsewhere, live_server


@pytest.mark.parametrize("bus", ["postgres", "redis://127.0.0.1:6379/0"])
async def test_a_commit_in_another_process_reaches_subscribers(
    bus: str, database_url: str, admin_token: str, mugs: Location
) -> None:
    # A long poll: the events must come by the bus, not by the safety net.
    async with live_server(database_url, admin_token, event_bus=bus, event_poll_seconds=60) as live:
        async with live.connect() as client:
            orders_feed = Collector(client, ORDER_EVENTS)
            levels = Collector(client, STOCK_LEVELS)
            await asyncio.sleep(0.3)
            await asyncio.to_thread(commit_elsewhere, database_url, mugs, 5, bus)
            created = await orders_feed.wait_for(5, timeout=5)
            reserved = await levels.wait_for(5, timeout=5)
            await orders_feed.stop()
            await levels.stop()
    assert [e["kind"] for e in created] == ["CREATED"] * 5 and {e["actor"] for e in created} == {"worker"}
    assert [e["allocated"] for e in reserved] == [1, 2, 3, 4, 5]
    ids = sorted(e["eventId"] for e in created + reserved)
    assert ids == list(range(ids[0], ids[0] + 10))  # gapless across both topics


async def test_the_listen_connection_comes_back_after_it_is_lost(database_url: str, admin_token: str, mugs: Location) -> None:
    async with live_server(database_url, admin_token, event_bus="postgres", event_poll_seconds=60) as live:
        async with live.connect() as client:
            orders_feed = Collector(client, ORDER_EVENTS)
            await asyncio.sleep(0.3)
            admin = await asyncpg.connect(db.asyncpg_dsn(database_url))
            try:
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            finally:
                await admin.close()
            assert killed == 1
            await asyncio.sleep(1.5)  # the listener reconnects (first retry after 0.5 s)
            await asyncio.to_thread(commit_elsewhere, database_url, mugs, 1, "postgres")
            (created,) = await orders_feed.wait_for(1, timeout=5)  # by the bus, not the 60 s poll
            await orders_feed.stop()
    assert created["kind"] == "CREATED"
