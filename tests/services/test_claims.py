"""Run claims (services/claims.py, both backends; the races on PostgreSQL): one holder per channel
and kind however many take it at once, a heartbeat that keeps a long run's claim, a lapsed claim
taken over with its old holder fenced off (it writes nothing more), and dead runs closed as
abandoned by the scheduler's tick while live ones are left alone."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from orderdeck.jobs.scheduler import tick
from orderdeck.models import Channel, Event, EventTopic, RunClaim, SyncKind, SyncOutcome, SyncRun, Connection
from orderdeck.plugins.dto import OrderPage
from orderdeck.services import channels, claims, sync
from orderdeck.services.context import transaction
from orderdeck.services.runs import RunLog


async def a_channel(name: str, location, actor) -> Channel:
    return await channels.create_channel({
        "name": name, "plugin": "woocommerce", "stock_location_ids": [location.id],
        "settings": {"url": "http://127.0.0.1:9", "consumer_key": "ck", "consumer_secret": "cs"},
    }, actor)  # fmt: skip


async def lapse(claim: claims.Claim) -> None:
    """As if the holder's worker died: its lease ends with no heartbeat."""
    await RunClaim.filter(token=claim.token).update(lease_until=datetime.now(timezone.utc) - timedelta(seconds=1))


async def test_one_holder_per_channel_and_kind_however_many_take_at_once(default_location, actor, postgres_only):
    shop, other = await a_channel("Shop", default_location, actor), await a_channel("Other", default_location, actor)

    taken = await asyncio.gather(*(claims.take(shop.id, SyncKind.STOCK_PUSH) for _ in range(12)))

    assert len([c for c in taken if c is not None]) == 1
    assert await claims.take(shop.id, SyncKind.DOWNLOAD) is not None  # another kind: its own claim
    assert await claims.take(other.id, SyncKind.STOCK_PUSH) is not None  # another channel too

    [holder] = [c for c in taken if c is not None]
    await lapse(holder)
    again = await asyncio.gather(*(claims.take(shop.id, SyncKind.STOCK_PUSH) for _ in range(12)))
    assert len([c for c in again if c is not None]) == 1  # the take-over too: one winner


async def test_a_heartbeat_keeps_a_long_run_s_claim_and_release_frees_it(default_location, actor, monkeypatch):
    monkeypatch.setattr(claims, "lease", lambda: timedelta(seconds=0.4))  # heartbeat every 0.1 s
    shop = await a_channel("Shop", default_location, actor)

    async with claims.holding(shop.id, SyncKind.DISPATCH) as claim:
        assert claim is not None
        for _ in range(6):  # three leases long
            await asyncio.sleep(0.2)
            assert await claims.take(shop.id, SyncKind.DISPATCH) is None
        await claim.renew()

    assert (await RunClaim.get(connection_id=shop.id, kind=SyncKind.DISPATCH)).token is None
    assert await claims.take(shop.id, SyncKind.DISPATCH) is not None


async def test_a_lapsed_claim_is_taken_over_and_its_old_holder_writes_nothing(default_location, actor):
    shop = await a_channel("Shop", default_location, actor)
    old = await claims.take(shop.id, SyncKind.DOWNLOAD)
    log = RunLog(old)
    run = await log.start()
    await lapse(old)

    new = await claims.take(shop.id, SyncKind.DOWNLOAD)  # the next download: the old run is closed

    assert new is not None
    closed = await SyncRun.get(id=run.id)
    assert (closed.outcome, closed.abandoned, closed.finished_at is not None) == (SyncOutcome.FAILED, True, True)
    with pytest.raises(claims.ClaimLost):
        await old.renew()
    with pytest.raises(claims.ClaimLost):  # the old run's progress: not saved over its closing
        run.pages = 5
        await log.progress([])
    with pytest.raises(claims.ClaimLost):  # nor a page it downloaded
        await sync.ingest_page(shop.id, OrderPage(orders=[], cursor="from-the-old-run", has_more=False), old)
    assert (await SyncRun.get(id=run.id)).outcome == SyncOutcome.FAILED
    assert (await Connection.get(id=shop.id)).cursor is None
    await new.renew()  # the new holder's claim is intact


async def test_the_tick_closes_dead_runs_and_leaves_live_ones(default_location, actor):
    shop, other = await a_channel("Shop", default_location, actor), await a_channel("Other", default_location, actor)
    dead_claim = await claims.take(shop.id, SyncKind.STOCK_PUSH)
    live_claim = await claims.take(other.id, SyncKind.STOCK_PUSH)
    dead = await RunLog(dead_claim).start()
    live = await RunLog(live_claim).start()
    orphan = await SyncRun.create(connection_id=other.id, kind=SyncKind.DOWNLOAD)  # e.g. from before claims
    await lapse(dead_claim)

    assert (await tick()).runs_abandoned == 2

    assert (await SyncRun.get(id=dead.id)).abandoned and (await SyncRun.get(id=orphan.id)).abandoned
    assert (await SyncRun.get(id=live.id)).outcome == SyncOutcome.RUNNING
    assert (await RunClaim.get(connection_id=shop.id, kind=SyncKind.STOCK_PUSH)).token is None  # released
    finished = [e.data for e in await Event.filter(topic=EventTopic.SYNC, kind="FINISHED")]
    assert {(d["runId"], d["outcome"], d["abandoned"]) for d in finished} == {
        (str(dead.id), "FAILED", True), (str(orphan.id), "FAILED", True)}  # fmt: skip
    assert (await tick()).runs_abandoned == 0


async def test_a_renewal_in_flight_wins_over_a_take_over(default_location, actor, postgres_only):
    """The holder's write transaction renews first and keeps the claim's row locked until it
    commits: a take-over of its lapsed lease waits for it, then finds the lease live again, so two
    owners never hold the claim at once."""
    shop = await a_channel("Shop", default_location, actor)
    holder = await claims.take(shop.id, SyncKind.DOWNLOAD)
    await lapse(holder)  # e.g. a long pause: the lease ran out, nobody took it yet
    renewed, commit = asyncio.Event(), asyncio.Event()

    async def a_page_of_the_holder() -> None:
        async with transaction():
            await holder.renew()
            renewed.set()
            await commit.wait()

    page = asyncio.create_task(a_page_of_the_holder())
    await renewed.wait()
    taker = asyncio.create_task(claims.take(shop.id, SyncKind.DOWNLOAD))
    await asyncio.sleep(0.5)
    assert not taker.done()  # waits on the row lock
    commit.set()
    await page

    assert await taker is None
    await holder.renew()
