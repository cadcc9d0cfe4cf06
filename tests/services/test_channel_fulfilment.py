"""Orders the channel fulfils itself (Amazon FBA, here the sample channel's ``"fulfilled_by":
"channel"`` entries): downloaded to the channel's fulfilment location and held there (BY_CHANNEL:
locked, parked, reserving nothing), refused to every hand, processed when the channel reports
them shipped (no dispatch note owed) and cancelled when it cancels them; refused, and logged, while
the channel has no fulfilment location."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from orderdeck.models import (
    AuditEntry,
    AuditKind,
    Channel,
    Dispatch,
    DispatchState,
    FulfilmentState,
    Location,
    Order,
    OrderState,
    SyncIssue,
)
from orderdeck.services import channels, locations, orders, stock, sync
from orderdeck.services.errors import ErrorCode, ServiceError
from tests.services.helpers import levels_of, make_item


def entry(number: str, status: str = "paid", by: str = "channel") -> dict[str, Any]:
    return {"number": number, "status": status, "placed_at": "2026-01-05T10:00:00Z", "fulfilled_by": by,
            "lines": [{"sku": "MUG", "quantity": 2, "price": "8.50"}]}  # fmt: skip


class Shop:
    """The sample channel's orders file: orders are appended, a change is the order appended again."""

    def __init__(self, path: Path) -> None:
        self.path, self.entries = path, []
        self.write()

    def add(self, *entries: dict[str, Any]) -> None:
        self.entries += entries
        self.write()

    def write(self) -> None:
        self.path.write_text(json.dumps(self.entries))

    def dispatched(self) -> dict[str, Any]:
        told = self.path.with_suffix(".dispatches.json")
        return json.loads(told.read_text()) if told.exists() else {}


@pytest.fixture
async def fba(actor) -> Location:
    return await locations.create_location("Sample FBA", actor)


@pytest.fixture
async def world(tmp_path: Path, default_location, fba: Location, actor) -> tuple[Shop, Channel]:
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": fba.id, "quantity": 6}]}, actor)
    shop = Shop(tmp_path / "orders.json")
    channel = await channels.create_channel({
        "name": "Sample", "plugin": "sample", "download_location_id": default_location.id,
        "fulfilment_location_id": fba.id, "settings": {"orders_file": str(shop.path), "api_key": "sk_1"},
    }, actor)  # fmt: skip
    return shop, channel


async def test_an_order_the_channel_fulfils_is_held_at_its_fulfilment_location_reserving_nothing(world, fba, default_location):
    shop, channel = world
    shop.add(entry("F-1"), entry("M-1", by="seller"))
    await sync.download_channel(channel.id)
    held, mine = await Order.get(reference="F-1"), await Order.get(reference="M-1")
    assert (held.location_id, held.locked, held.parked, held.fulfilment_state) == (fba.id, True, True, FulfilmentState.BY_CHANNEL)
    assert (mine.location_id, mine.locked, mine.parked, mine.fulfilment_state) == (default_location.id, False, False, None)
    assert await levels_of("MUG", fba.id) == (6, 0)  # the channel's own inventory counts it
    assert await levels_of("MUG", default_location.id) == (10, 2)


async def test_every_hand_is_refused_while_the_channel_holds_it(world, default_location, actor):
    shop, channel = world
    shop.add(entry("F-1"))
    await sync.download_channel(channel.id)
    order = await Order.get(reference="F-1")
    for attempt in (orders.move_orders([order.id], default_location.id, actor), orders.cancel_orders([order.id], "no", actor),
                    orders.process_orders([{"order_id": order.id}], actor), orders.set_locked([order.id], False, actor),
                    orders.set_parked([order.id], False, actor)):  # fmt: skip
        result = await attempt
        assert [f.code for f in result.failures] == [ErrorCode.FULFILMENT_LOCKED]
        assert "fulfilled by its channel" in result.failures[0].message
    with pytest.raises(ServiceError) as refused:
        await orders.update_order(order.id, {"buyer_name": "Someone else"}, actor)
    assert refused.value.errors[0].code == ErrorCode.FULFILMENT_LOCKED
    assert (await Order.get(id=order.id)).state == OrderState.OPEN


@pytest.mark.parametrize("deduct", [True, False])
async def test_shipped_by_the_channel_it_is_processed_and_the_channel_is_told_nothing(world, fba, deduct):
    shop, channel = world
    await Location.filter(id=fba.id).update(deduct_stock_when_processed=deduct)
    shop.add(entry("F-1"))
    await sync.download_channel(channel.id)
    shop.add(entry("F-1", "shipped"))
    run = await sync.download_channel(channel.id)
    order = await Order.get(reference="F-1")
    assert (order.state, order.fulfilment_state, run.updated) == (OrderState.PROCESSED, FulfilmentState.SHIPPED, 1)
    assert (await Dispatch.get(order_id=order.id)).state == DispatchState.NOT_REQUIRED
    assert shop.dispatched() == {}
    assert await levels_of("MUG", fba.id) == ((4, 0) if deduct else (6, 0))
    assert AuditKind.PROCESSED in await AuditEntry.filter(subject_id=order.id).values_list("kind", flat=True)
    shop.add(entry("F-1", "shipped"))  # told again: nothing more happens
    await sync.download_channel(channel.id)
    assert await levels_of("MUG", fba.id) == ((4, 0) if deduct else (6, 0))


async def test_cancelled_by_the_channel_it_is_cancelled_with_no_stock_change(world, fba):
    shop, channel = world
    shop.add(entry("F-1"))
    await sync.download_channel(channel.id)
    shop.add(entry("F-1", "cancelled"))
    await sync.download_channel(channel.id)
    order = await Order.get(reference="F-1")
    assert (order.state, order.fulfilment_state) == (OrderState.CANCELLED, FulfilmentState.BY_CHANNEL)
    assert await levels_of("MUG", fba.id) == (6, 0)
    notes = await AuditEntry.filter(subject_id=order.id, kind=AuditKind.CANCELLED).values_list("note", flat=True)
    assert notes == ["Cancelled on the channel, which fulfils it"]


async def test_without_a_fulfilment_location_such_orders_are_refused_and_logged(world, default_location, actor):
    shop, channel = world
    await channels.update_channel(channel.id, {"fulfilment_location_id": None}, actor)
    shop.add(entry("F-1"), entry("M-1", by="seller"))
    run = await sync.download_channel(channel.id)
    assert await Order.filter(reference="F-1").count() == 0 and await Order.filter(reference="M-1").count() == 1
    [(reference, kind, message)] = await SyncIssue.filter(run_id=run.id, kind="FAILED").values_list("reference", "kind", "message")
    assert reference == "F-1" and "give the channel a fulfilment location" in message


async def test_an_unknown_fulfilment_location_is_refused_by_field(world, actor):
    _, channel = world
    with pytest.raises(ServiceError) as refused:
        await channels.update_channel(channel.id, {"fulfilment_location_id": uuid.uuid4()}, actor)
    assert [(e.field, e.code) for e in refused.value.errors] == [("fulfilmentLocationId", ErrorCode.NOT_FOUND)]
    assert (await Channel.get(id=channel.id)).fulfilment_location_id is not None


async def test_graphql_shows_and_sets_the_fulfilment_location(client, world, fba):
    _, channel = world
    from tests.graphql.test_channel_jobs import gid

    query = "{ channels { name fulfilmentLocation { name } } }"
    assert (await client.gql(query))["channels"] == [{"name": "Sample", "fulfilmentLocation": {"name": "Sample FBA"}}]
    update = """mutation($id: ID!, $input: UpdateChannelInput!) { updateChannel(id: $id, input: $input) {
        channel { fulfilmentLocation { name } } errors { field code } } }"""
    bad = await client.gql(update, {"id": gid("Channel", channel.id), "input": {"fulfilmentLocationId": gid("Location", uuid.uuid4())}})
    assert bad["updateChannel"]["errors"] == [{"field": "fulfilmentLocationId", "code": "NOT_FOUND"}]
    cleared = await client.gql(update, {"id": gid("Channel", channel.id), "input": {"fulfilmentLocationId": None}})
    assert cleared["updateChannel"] == {"channel": {"fulfilmentLocation": None}, "errors": []}


async def test_a_new_channel_gets_the_centre_it_runs_itself_with_its_settings(tmp_path, default_location, actor):
    """The sample connector names its own centre (sample_centre, as Amazon names FBA): a new channel
    comes with that centre's connection (the channel's settings, secrets sealed) and the location
    it serves; the centre's stock report sets that location's levels; a rotated key reaches it."""
    from orderdeck.models import Connection, ConnectionKind
    from orderdeck.services.connections import hook_connection
    from orderdeck.services.fulfilment import imports

    await make_item("MUG", actor)
    shop = Shop(tmp_path / "orders.json")
    channel = await channels.create_channel({"name": "Sample", "plugin": "sample", "download_location_id": default_location.id,
                                             "settings": {"orders_file": str(shop.path), "api_key": "sk_1"}}, actor)  # fmt: skip
    centre = await Connection.get(kind=ConnectionKind.FULFILMENT_CENTRE)
    location = await Location.get(id=(await Channel.get(id=channel.id)).fulfilment_location_id)
    assert (centre.name, centre.connector) == ("Sample (Sample fulfilment)", "sample_centre")
    assert (location.name, location.fulfilment_connection_id, location.deduct_stock_when_processed) == (
        "Sample (Sample fulfilment)", centre.id, False)
    assert "sk_1" not in str(centre.settings) and hook_connection(centre)[1].settings.api_key.get_secret_value() == "sk_1"

    shop.path.with_suffix(".centre_stock.json").write_text(json.dumps({"MUG": 7}))
    await imports.import_stock(centre.id)
    assert await levels_of("MUG", location.id) == (7, 0)
    shop.add(entry("F-1"))
    await sync.download_channel(channel.id)
    assert (await Order.get(reference="F-1")).location_id == location.id

    await channels.update_channel(channel.id, {"settings": {"api_key": "sk_2"}}, actor)
    assert hook_connection(await Connection.get(id=centre.id))[1].settings.api_key.get_secret_value() == "sk_2"
    other = await channels.create_channel({"name": "Sample 2", "plugin": "sample", "download_location_id": default_location.id,
                                           "settings": {"orders_file": str(shop.path), "api_key": "sk_3"}}, actor)  # fmt: skip
    assert (await Location.get(id=(await Channel.get(id=other.id)).fulfilment_location_id)).name == "Sample 2 (Sample fulfilment)"
