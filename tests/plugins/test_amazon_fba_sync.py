"""Amazon FBA through orderdeck's services (SQLite and PostgreSQL) against the Amazon sandbox over
real HTTP: a new Amazon channel comes with its FBA centre and location; the FBA inventory sets that
location's levels (once per snapshot); AFN orders are downloaded into it held (BY_CHANNEL),
reserving nothing, never exported, and processed with no dispatch note when Amazon ships them; an
order moved there by hand is refused with a label error; FBA stock reaches the Amazon listings
only when the seller adds the location; faults of the inventory call end in a retry or a logged
failure. Every request and answer is checked against Amazon's API models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orderdeck.models import (
    Channel,
    Connection,
    ConnectionKind,
    Dispatch,
    DispatchState,
    FulfilmentState,
    Location,
    Order,
    OrderState,
    StockLedgerEntry,
    SyncIssue,
    SyncOutcome,
    SyncRun,
)
from orderdeck.plugins.errors import PartnerRateLimited, PartnerUnavailable, PartnerUnreadable
from orderdeck.services import channels, listings, orders, stock_push, sync
from orderdeck.services.connections import hook_connection
from orderdeck.services.fulfilment import exports, imports
from orderdeck_amazon.fba import REFUSAL
from tests.plugins.amazon_fba import SHIP_AFTER, FbaSandbox, fba_sandbox
from tests.services.helpers import levels_of, make_item

SETTLE = 121
"""getOrders shows changes two minutes old: the account's clock is moved past them."""


@pytest.fixture
def fba() -> Iterator[FbaSandbox]:
    with fba_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def amazon(fba: FbaSandbox, default_location, actor) -> Channel:
    """An Amazon channel on the sandbox account, selling from the default location."""
    await make_item("AMZ-MUG", actor, level=4, location_id=default_location.id)
    await make_item("AMZ-CUP", actor, level=2, location_id=default_location.id)
    return await channels.create_channel({"name": "Amazon UK", "plugin": "amazon", "download_location_id": default_location.id,
                                          "stock_location_ids": [default_location.id], "settings": fba.settings()}, actor)  # fmt: skip


async def centre_of(channel: Channel) -> tuple[Connection, Location]:
    location = await Location.get(id=(await Channel.get(id=channel.id)).fulfilment_location_id)
    return await Connection.get(id=location.fulfilment_connection_id), location


async def test_a_new_amazon_channel_comes_with_its_fba_centre_and_location(fba, amazon, actor):
    centre, location = await centre_of(amazon)
    assert (centre.name, centre.kind, centre.connector) == ("Amazon UK (Amazon FBA)", ConnectionKind.FULFILMENT_CENTRE, "amazon_fba")
    assert (location.name, location.deduct_stock_when_processed) == ("Amazon UK (Amazon FBA)", False)
    connector, connection = hook_connection(centre)
    assert connection.settings.endpoint == fba.url and connection.settings.marketplace_ids == ["A1F83G8C2ARO7P"]
    assert "contract-secret" not in str(centre.settings) and connection.settings.client_secret.get_secret_value() == "contract-secret"
    assert (await connector.test_connection(connection)).ok
    channel = await Channel.get(id=amazon.id).prefetch_related("stock_locations")
    assert location.id not in [loc.id for loc in channel.stock_locations], "FBA stock is not published to Amazon"
    await channels.update_channel(amazon.id, {"settings": {"refresh_token": "Atzr|rotated"}}, actor)
    rotated = hook_connection(await Connection.get(id=centre.id))[1].settings
    assert rotated.refresh_token.get_secret_value() == "Atzr|rotated"


async def test_the_fba_inventory_sets_the_locations_levels_once_a_snapshot(fba, amazon, default_location):
    centre, location = await centre_of(amazon)
    fba.stock(**{"AMZ-MUG": 7, "AMZ-CUP": 3, "AMZ-GONE": 5})
    run = await imports.import_stock(centre.id)
    assert (run.outcome, run.imported) == (SyncOutcome.PARTIAL, 2)  # a SKU orderdeck does not know: logged
    assert (await levels_of("AMZ-MUG", location.id), await levels_of("AMZ-CUP", location.id)) == ((7, 0), (3, 0))
    assert await levels_of("AMZ-MUG", default_location.id) == (4, 0), "the seller's own stock is left alone"
    [issue] = await SyncIssue.filter(run_id=run.id).values_list("reference", "kind")
    assert issue == ("AMZ-GONE", "UNKNOWN_SKU")
    ledger = await StockLedgerEntry.filter(location_id=location.id).count()

    again = await imports.import_stock(centre.id)
    assert (again.duplicates, again.imported) == (1, 0) and await StockLedgerEntry.filter(location_id=location.id).count() == ledger

    fba.advance(60)
    fba.stock(**{"AMZ-MUG": 5})
    changed = await imports.import_stock(centre.id)
    assert (changed.imported, await levels_of("AMZ-MUG", location.id), await levels_of("AMZ-CUP", location.id)) == (1, (5, 0), (3, 0))


async def test_afn_orders_are_held_at_fba_and_processed_when_amazon_ships_them(fba, amazon, default_location):
    centre, location = await centre_of(amazon)
    fba.stock(**{"AMZ-MUG": 10})
    await imports.import_stock(centre.id)
    [afn] = fba.control("POST", "/fba/orders", json={"orders": [{"items": [{"sku": "AMZ-MUG", "quantity": 2}]}]})["orders"]
    fba.control("POST", "/orders", json={"orders": [{"AmazonOrderId": "202-9000000-0000001", "items": [{"sku": "AMZ-MUG", "quantity": 1}]}]})
    fba.advance(SETTLE)
    await sync.download_channel(amazon.id)

    held, mine = await Order.get(reference=afn["AmazonOrderId"]), await Order.get(reference="202-9000000-0000001")
    assert (held.location_id, held.locked, held.parked, held.fulfilment_state) == (location.id, True, True, FulfilmentState.BY_CHANNEL)
    assert (mine.location_id, mine.fulfilment_state) == (default_location.id, None)
    assert await levels_of("AMZ-MUG", location.id) == (10, 0), "an FBA order reserves nothing"
    assert await levels_of("AMZ-MUG", default_location.id) == (4, 1)
    assert await exports.export_orders(centre.id) is None, "nothing at the FBA location is due for export"
    assert (await Order.get(id=held.id)).fulfilment_state == FulfilmentState.BY_CHANNEL

    fba.advance(SHIP_AFTER + SETTLE)  # Amazon ships it on its own
    run = await sync.download_channel(amazon.id)
    shipped = await Order.get(id=held.id)
    assert (shipped.state, shipped.fulfilment_state, run.updated) == (OrderState.PROCESSED, FulfilmentState.SHIPPED, 1)
    assert (await Dispatch.get(order_id=held.id)).state == DispatchState.NOT_REQUIRED
    assert fba.requests("/shipmentConfirmation") == [], "Amazon is told nothing: it shipped the order"
    assert await levels_of("AMZ-MUG", location.id) == (10, 0), "FBA's levels come from its inventory, not processing"
    await imports.import_stock(centre.id)
    assert await levels_of("AMZ-MUG", location.id) == (8, 0)


async def test_an_order_moved_to_fba_by_hand_is_refused_with_a_label_error(fba, amazon, actor):
    centre, location = await centre_of(amazon)
    fba.control("POST", "/orders", json={"orders": [{"AmazonOrderId": "202-9100000-0000001", "items": [{"sku": "AMZ-CUP", "quantity": 1}]}]})
    fba.advance(SETTLE)
    await sync.download_channel(amazon.id)
    order = await Order.get(reference="202-9100000-0000001")
    moved = await orders.move_orders([order.id], location.id, actor)
    assert moved.failures == []

    run = await exports.export_orders(centre.id)

    assert (run.exported, run.failed) == (0, 1)
    refused = await Order.get(id=order.id)
    assert (refused.fulfilment_state, refused.label_printed, refused.label_error) == (None, False, REFUSAL)


async def test_fba_stock_reaches_the_amazon_listings_only_once_the_seller_adds_the_location(fba, amazon, default_location, actor):
    centre, location = await centre_of(amazon)
    fba.stock(**{"AMZ-MUG": 7})
    await imports.import_stock(centre.id)
    await listings.link_listing({"channel_id": amazon.id, "channel_sku": "AMZ-MUG", "sku": "AMZ-MUG"}, actor)
    await stock_push.push_stock(amazon.id)
    assert fba.account.listings["AMZ-MUG"].quantity == 4, "the default location's alone"

    await channels.update_channel(amazon.id, {"stock_location_ids": [default_location.id, location.id]}, actor)
    await stock_push.push_stock(amazon.id)
    assert fba.account.listings["AMZ-MUG"].quantity == 11


@pytest.mark.parametrize(("kind", "options", "raised", "logged"), [
    pytest.param("server_error", {"count": 3}, PartnerUnavailable, "PartnerUnavailable: GET /fba/inventory/v1/summaries: HTTP 500",
                 id="500"),
    pytest.param("rate_limit", {"retry_after": 120}, PartnerRateLimited, "PartnerRateLimited: GET /fba/inventory/v1/summaries",
                 id="429"),
    pytest.param("malformed", {}, PartnerUnreadable, "PartnerUnreadable:", id="malformed"),
    pytest.param("unauthorized", {"count": 2}, None, "PartnerAuthError:", id="401"),  # the call, then the token renewal
])  # fmt: skip
async def test_faults_of_the_inventory_call_end_in_a_retry_or_a_logged_failure(fba, amazon, kind, options, raised, logged):
    """A passing fault is raised for the job to try again (the run logged FAILED with it); refused
    credentials are logged and wait for a change."""
    centre, location = await centre_of(amazon)
    fba.stock(**{"AMZ-MUG": 7})
    connector, connection = hook_connection(centre)
    await connector.test_connection(connection)  # a token first: the fault is for the inventory
    fba.fault(kind, **options)
    if raised is None:
        run = await imports.import_stock(centre.id)
    else:
        with pytest.raises(raised):
            await imports.import_stock(centre.id)
        run = await SyncRun.filter(connection_id=centre.id).order_by("-started_at").first()
    assert run.outcome == SyncOutcome.FAILED and run.error.startswith(logged), run.error
    assert await levels_of("AMZ-MUG", location.id) == (0, 0)
    assert fba.control("GET", "/faults")["faults"] == [], "each fault was met"
    recovered = await imports.import_stock(centre.id)
    assert recovered.outcome == SyncOutcome.SUCCEEDED and await levels_of("AMZ-MUG", location.id) == (7, 0)
