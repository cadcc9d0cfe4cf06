"""The scheduler's tick (both backends): periodic downloads claimed once however many schedulers
tick, and the sweep for work whose wake-up was lost. Jobs go to the in-memory broker, where no
worker runs here: each test reads what a tick sent."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from tests.services.helpers import make_item, make_order
from orderdeck.jobs.scheduler import tick
from orderdeck.services.runs import SWEEP_GRACE as GRACE
from orderdeck.events.store import last_id
from orderdeck.models import Channel, Dispatch, DispatchState, Event, Listing, SyncKind, Connection
from orderdeck.services import channels, claims, listings

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


async def a_channel(name: str, location, actor, **options) -> Channel:
    return await channels.create_channel({
        "name": name, "plugin": "woocommerce", "stock_location_ids": [location.id], "sync_interval_seconds": 300,
        "settings": {"url": "http://127.0.0.1:9", "consumer_key": "ck", "consumer_secret": "cs"}, **options,
    }, actor)  # fmt: skip


async def test_a_channel_is_downloaded_once_per_interval_whatever_the_number_of_schedulers(default_location, actor):
    shop = await a_channel("Shop", default_location, actor)
    await a_channel("Closed shop", default_location, actor, enabled=False)

    ticks = await asyncio.gather(*(tick(NOW) for _ in range(4)))

    assert sum(len(t.sent[SyncKind.DOWNLOAD]) for t in ticks) == 1
    assert (await Connection.get(id=shop.id)).next_run_at == NOW + timedelta(seconds=300)
    assert (await tick(NOW + timedelta(seconds=299))).sent[SyncKind.DOWNLOAD] == []
    assert (await tick(NOW + timedelta(seconds=300))).sent[SyncKind.DOWNLOAD] == [shop.id]


async def test_the_sweep_sends_stock_pushes_left_waiting_or_abandoned(default_location, actor):
    shop = await a_channel("Shop", default_location, actor)
    other = await a_channel("Other", default_location, actor)
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    waiting = await listings.link_listing({"channel_id": shop.id, "channel_sku": "MUG", "sku": "MUG"}, actor)
    fresh = await listings.link_listing({"channel_id": other.id, "channel_sku": "MUG", "sku": "MUG"}, actor)
    now = datetime.now(timezone.utc)

    await Listing.filter(id=fresh.id).update(due_since=now)  # its own job has had no time yet
    await Listing.filter(id=waiting.id).update(due_since=now - GRACE - timedelta(seconds=1))
    assert (await tick(now)).sent[SyncKind.STOCK_PUSH] == [shop.id]

    # Left claimed: by a live run (its claim renewed) on one channel, by a run that died on the other.
    await claims.take(shop.id, SyncKind.STOCK_PUSH)
    await Listing.filter(id__in=[waiting.id, fresh.id]).update(push_due=False, push_claimed_at=now - GRACE * 2)
    assert (await tick(now)).sent[SyncKind.STOCK_PUSH] == [other.id]


async def test_the_sweep_sends_stock_pushes_when_their_backoff_is_over(default_location, actor):
    shop = await a_channel("Shop", default_location, actor)
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    listing = await listings.link_listing({"channel_id": shop.id, "channel_sku": "MUG", "sku": "MUG"}, actor)
    now = datetime.now(timezone.utc)
    await Listing.filter(id=listing.id).update(due_since=now - GRACE * 2, next_push_at=now + timedelta(seconds=5))
    assert (await tick(now)).sent[SyncKind.STOCK_PUSH] == []  # backing off

    later = now + timedelta(seconds=5)
    assert (await tick(later)).sent[SyncKind.STOCK_PUSH] == [shop.id]  # at once, not GRACE later
    row = await Listing.get(id=listing.id)
    assert (row.next_push_at, row.due_since, row.push_due) == (None, later, True)  # the job may take it now
    assert (await tick(later + GRACE / 2)).sent[SyncKind.STOCK_PUSH] == []  # not sent again every tick


async def test_the_sweep_sends_dispatches_left_pending_but_not_those_waiting_to_be_retried(default_location, actor):
    shop = await a_channel("Shop", default_location, actor)
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    orders = [await make_order(actor, ("MUG", 1)) for _ in range(2)]
    now = datetime.now(timezone.utc)
    old = now - GRACE - timedelta(seconds=1)
    for order in orders:
        await Dispatch.create(order_id=order.id, state=DispatchState.PENDING)
    from orderdeck.models import Order

    await Order.filter(id__in=[o.id for o in orders]).update(channel_id=shop.id)
    await Dispatch.filter(order_id=orders[0].id).update(created_at=old, next_attempt_at=now + timedelta(minutes=2))
    assert (await tick(now)).sent[SyncKind.DISPATCH] == []  # one too new, one waiting for its retry

    await Dispatch.filter(order_id=orders[1].id).update(created_at=old)
    assert (await tick(now)).sent[SyncKind.DISPATCH] == [shop.id]


async def test_disabled_channels_are_not_swept(default_location, actor):
    shop = await a_channel("Shop", default_location, actor, enabled=False)
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    listing = await listings.link_listing({"channel_id": shop.id, "channel_sku": "MUG", "sku": "MUG"}, actor)
    await Listing.filter(id=listing.id).update(due_since=datetime.now(timezone.utc) - GRACE * 2)
    sent = (await tick()).sent
    assert sent[SyncKind.STOCK_PUSH] == [] and sent[SyncKind.DOWNLOAD] == []


async def test_the_tick_deletes_events_older_than_the_retention_window(default_location, actor):
    for sku in ("MUG", "CUP", "CAP"):
        await make_item(sku, actor, level=5, location_id=default_location.id)  # a stock event each
    newest = await last_id()
    assert newest >= 3
    kept_from = datetime.now(timezone.utc)
    await Event.filter(id__lt=newest).update(created_at=kept_from - timedelta(hours=25))  # older than 24 h

    pruned = (await tick(kept_from)).events_pruned

    assert pruned == newest - 1
    assert await Event.all().values_list("id", flat=True) == [newest]
    assert await last_id() == newest  # numbering goes on from there
