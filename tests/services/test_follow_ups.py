"""Follow-ups on a sale (services/follow_ups.py), with the sample channel's follow_up hook (a
third-party plugin: tests/sample_plugin): once, the configured days after the dispatch note reached
the channel, only for dispatches sent since it was switched on; refusals recorded and never asked
again; a failed call asked again; runs racing each other ask once; channels without the hook
cannot switch it on."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from orderdeck.models import AuditEntry, AuditKind, Channel, Dispatch, DispatchState, Order, SyncIssue, SyncKind, SyncOutcome
from orderdeck.services import channels, dispatches, follow_ups, orders, sync
from orderdeck.services.errors import ErrorCode, ServiceError
from orderdeck.services.work import WORK, kinds_of
from orderdeck.models import ConnectionKind
from tests.services.helpers import make_item


def entry(number: str) -> dict[str, Any]:
    return {"number": number, "status": "paid", "placed_at": "2026-01-05T10:00:00Z", "buyer": "Ada Lovelace",
            "currency": "GBP", "lines": [{"sku": "MUG", "quantity": 1, "price": "8.50"}]}  # fmt: skip


@pytest.fixture
def orders_file(tmp_path: Path) -> Path:
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([entry(f"S-{n}") for n in range(1, 4)]))
    return path


@pytest.fixture
async def channel(orders_file: Path, default_location, actor) -> Channel:
    await make_item("MUG", actor, level=100, location_id=default_location.id)
    return await channels.create_channel({"name": "Sample shop", "plugin": "sample", "download_location_id": default_location.id,
                                          "settings": {"orders_file": str(orders_file), "api_key": "sk_1"}}, actor)  # fmt: skip


async def ship_all(channel: Channel, actor) -> list[Order]:
    """Download the channel's orders, process them and tell the channel (dispatch notes SENT)."""
    await sync.download_channel(channel.id)
    found = await Order.filter(channel_id=channel.id).order_by("reference")
    result = await orders.process_orders([{"order_id": o.id} for o in found], actor)
    assert not result.failures
    await dispatches.send_dispatches(channel.id)
    assert await Dispatch.filter(order__channel_id=channel.id).exclude(state=DispatchState.SENT).count() == 0
    return found


async def age_dispatches(channel: Channel, days: float) -> None:
    """As if the channel had been told (and the follow-up switched on, if it is) ``days`` ago."""
    for d in await Dispatch.filter(order__channel_id=channel.id):
        await Dispatch.filter(id=d.id).update(sent_at=d.sent_at - timedelta(days=days))
    since = (await Channel.get(id=channel.id)).follow_up_since
    if since is not None:
        await Channel.filter(id=channel.id).update(follow_up_since=since - timedelta(days=days))


def asked(orders_file: Path) -> dict[str, str]:
    path = orders_file.with_suffix(".follow_ups.json")
    return json.loads(path.read_text()) if path.exists() else {}


async def test_a_sale_is_followed_up_once_its_days_after_dispatch_and_audited(channel, orders_file, actor):
    await follow_ups.set_channel_follow_up(channel.id, True, 3, actor)
    shipped = await ship_all(channel, actor)
    assert await follow_ups.follow_up(channel.id) is None and asked(orders_file) == {}  # not yet due
    await age_dispatches(channel, 3.5)
    run = await follow_ups.follow_up(channel.id)
    assert (run.kind, run.outcome, run.followed_up, run.failed) == (SyncKind.FOLLOW_UP, SyncOutcome.SUCCEEDED, 3, 0)
    assert set(asked(orders_file)) == {"S-1", "S-2", "S-3"}
    for order in shipped:
        dispatch = await Dispatch.get(order_id=order.id)
        assert dispatch.followed_up_at is not None and dispatch.follow_up_error is None
        notes = await AuditEntry.filter(subject_id=order.id, kind=AuditKind.FOLLOWED_UP).values_list("note", flat=True)
        assert notes == ["Sample shop followed the sale up with the buyer"]
    assert await follow_ups.follow_up(channel.id) is None  # once: nothing is due again
    assert await AuditEntry.filter(kind=AuditKind.FOLLOWED_UP).count() == 3


async def test_orders_dispatched_before_it_was_switched_on_are_never_followed_up(channel, orders_file, actor):
    await ship_all(channel, actor)
    await age_dispatches(channel, 10)  # before it was on
    await follow_ups.set_channel_follow_up(channel.id, True, 0, actor)
    assert await follow_ups.follow_up(channel.id) is None
    assert asked(orders_file) == {}
    assert await Dispatch.filter(followed_up_at__isnull=False).count() == 0


async def test_switched_off_nothing_is_asked(channel, orders_file, actor):
    await follow_ups.set_channel_follow_up(channel.id, True, 0, actor)
    await ship_all(channel, actor)
    await follow_ups.set_channel_follow_up(channel.id, False, None, actor)
    assert await follow_ups.follow_up(channel.id) is None and asked(orders_file) == {}


async def test_a_refused_follow_up_is_recorded_and_never_asked_again(channel, orders_file, actor):
    await follow_ups.set_channel_follow_up(channel.id, True, 0, actor)
    shipped = await ship_all(channel, actor)
    orders_file.with_suffix(".follow_ups.json").write_text(json.dumps({"S-2": "asked elsewhere"}))
    run = await follow_ups.follow_up(channel.id)
    assert (run.outcome, run.followed_up, run.failed, run.waiting) == (SyncOutcome.PARTIAL, 2, 1, 1)
    refused = await Dispatch.get(order_id=shipped[1].id)
    assert refused.followed_up_at is not None and refused.follow_up_error == "order S-2 was already asked"
    assert await SyncIssue.filter(run_id=run.id).values_list("reference", "kind") == [("S-2", "REFUSED")]
    assert await AuditEntry.filter(subject_id=shipped[1].id, kind=AuditKind.FOLLOW_UP_REFUSED).count() == 1
    assert await follow_ups.follow_up(channel.id) is None  # the refusal is final


async def test_a_call_that_fails_as_a_whole_records_nothing_and_is_asked_again(channel, orders_file, actor):
    await follow_ups.set_channel_follow_up(channel.id, True, 0, actor)
    await ship_all(channel, actor)
    record = orders_file.with_suffix(".follow_ups.json")
    record.write_text("[]")  # the channel cannot record anything: the call fails as a whole
    run = await follow_ups.follow_up(channel.id)
    assert run.outcome == SyncOutcome.FAILED and "must hold a JSON object" in run.error
    assert await Dispatch.filter(followed_up_at__isnull=False).count() == 0
    assert await AuditEntry.filter(kind__in=[AuditKind.FOLLOWED_UP, AuditKind.FOLLOW_UP_REFUSED]).count() == 0
    record.write_text("{}")
    run = await follow_ups.follow_up(channel.id)
    assert (run.outcome, run.followed_up) == (SyncOutcome.SUCCEEDED, 3)


async def test_runs_racing_each_other_ask_each_order_once(channel, orders_file, actor, postgres_only):
    await follow_ups.set_channel_follow_up(channel.id, True, 0, actor)
    await ship_all(channel, actor)
    runs = await asyncio.gather(*(follow_ups.follow_up(channel.id) for _ in range(4)))
    assert sum(run.followed_up for run in runs if run) == 3
    assert sum(run.failed for run in runs if run) == 0  # no order was asked twice (the sample refuses a repeat)
    assert set(asked(orders_file)) == {"S-1", "S-2", "S-3"}


async def test_the_setting_is_refused_for_a_channel_without_follow_up_and_for_bad_days(channel, shop_a, default_location, actor):
    shop = await channels.create_channel({"name": "Woo", "plugin": "woocommerce", "download_location_id": default_location.id,
                                          "settings": {"url": shop_a.url, "consumer_key": "ck", "consumer_secret": "cs"}}, actor)  # fmt: skip
    with pytest.raises(ServiceError) as refused:
        await follow_ups.set_channel_follow_up(shop.id, True, 5, actor)
    assert [(e.field, e.code) for e in refused.value.errors] == [("enabled", ErrorCode.INVALID_TRANSITION)]
    assert "woocommerce offers no follow-up" in refused.value.errors[0].message
    for days in (-1, follow_ups.MAX_AFTER_DAYS + 1):
        with pytest.raises(ServiceError) as bad:
            await follow_ups.set_channel_follow_up(channel.id, True, days, actor)
        assert [e.field for e in bad.value.errors] == ["afterDays"]
    assert [(c.follow_up_since, c.follow_up_after_days) for c in await Channel.all()] == [(None, 7), (None, 7)]
    assert await AuditEntry.filter(kind=AuditKind.CHANNEL_FOLLOW_UP_SET).count() == 0
    await follow_ups.set_channel_follow_up(shop.id, False, 9, actor)  # off and the days: allowed for any channel
    assert (await Channel.get(id=shop.id)).follow_up_after_days == 9


def test_follow_up_is_channel_work_on_the_channels_schedule():
    work = WORK[SyncKind.FOLLOW_UP]
    assert work.periodic and work.connection_kind == ConnectionKind.CHANNEL
    assert SyncKind.FOLLOW_UP in kinds_of(ConnectionKind.CHANNEL)
