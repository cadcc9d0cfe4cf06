"""Writing downloaded pages: new, known, skipped and bad orders; linking; stock; the cursor."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal

from tests.services.helpers import assert_stock_consistent, levels_of, make_item
from tests.services.test_channels import make_channel
from orderdeck.models import AuditEntry, AuditKind, Channel, Order, OrderItem, OrderStatus, StockLedgerEntry, Connection
from orderdeck.plugins.dto import ChannelOrder, ChannelOrderLine, OrderPage
from orderdeck.services import listings, sync

WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)


def channel_order(reference: str, status: str = "processing", *lines: tuple[str, int]) -> ChannelOrder:
    lines = lines or (("WC-MUG", 2),)
    return ChannelOrder(
        reference=reference, status=status, received_at=WHEN, external_reference=f"id-{reference}",
        lines=[ChannelOrderLine(line_id=f"{reference}-{n}", channel_sku=sku, quantity=qty, title=sku,
                                unit_price=Decimal("4.50")) for n, (sku, qty) in enumerate(lines)],
        buyer_name="Ada", postage=Decimal("3.00"),
    )  # fmt: skip


def page(*orders: ChannelOrder, cursor: str = "c1", rejected=()) -> OrderPage:
    return OrderPage(orders=list(orders), cursor=cursor, has_more=False, rejected=list(rejected))


async def shop(default_location, actor, **fields) -> Channel:
    channel = await make_channel(actor, stock_location_ids=[default_location.id], **fields)
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await make_item("CUP", actor, level=10, location_id=default_location.id)
    await listings.link_listing({"channel_id": channel.id, "channel_sku": "WC-MUG", "sku": "MUG"}, actor)
    return channel


async def test_a_new_paid_order_is_created_linked_and_reserved(default_location, actor):
    channel = await shop(default_location, actor)
    counts = await sync.ingest_page(channel.id, page(channel_order("1001", "processing", ("WC-MUG", 2), ("CUP", 1), ("GIFT-WRAP", 1))))

    assert (counts.downloaded, counts.failed) == (1, 0)
    order = await Order.get(reference="1001")
    assert (order.channel_id, order.source, order.subsource, order.status) == (channel.id, "WOOCOMMERCE", "Web shop", OrderStatus.PAID)
    assert order.external_reference == "id-1001" and order.location_id == default_location.id
    links = {line.channel_sku: line.stock_item_id is not None for line in await OrderItem.filter(order_id=order.id)}
    assert links == {"WC-MUG": True, "CUP": True, "GIFT-WRAP": False}  # listing first, then SKU, else unlinked
    assert await levels_of("MUG", default_location.id) == (10, 2)
    assert await levels_of("CUP", default_location.id) == (10, 1)
    assert (await Connection.get(id=channel.id)).cursor == "c1"
    assert (await AuditEntry.get(kind=AuditKind.ORDER_CREATED, subject_id=order.id)).actor == "sync:Web shop"
    await assert_stock_consistent()


async def test_downloading_the_same_page_again_changes_nothing(default_location, actor):
    channel = await shop(default_location, actor)
    again = page(channel_order("1001"), channel_order("1002"))
    await sync.ingest_page(channel.id, again)
    ledger = await StockLedgerEntry.all().count()

    counts = await sync.ingest_page(channel.id, again)

    assert (counts.downloaded, counts.updated, counts.duplicates) == (0, 0, 2)
    assert await Order.all().count() == 2 and await StockLedgerEntry.all().count() == ledger


async def test_shipped_cancelled_and_unpaid_orders_are_skipped_and_logged(default_location, actor):
    channel = await shop(default_location, actor)
    counts = await sync.ingest_page(channel.id, page(
        channel_order("1", "completed"), channel_order("2", "cancelled"), channel_order("3", "on-hold"),
        channel_order("4", "processing"),
    ))  # fmt: skip
    assert (counts.skipped_shipped, counts.skipped_cancelled, counts.skipped_unpaid, counts.downloaded) == (1, 1, 1, 1)
    assert {(ref, kind) for ref, kind, _ in counts.issues} == {
        ("1", "SKIPPED_SHIPPED"), ("2", "SKIPPED_CANCELLED"), ("3", "SKIPPED_UNPAID")}
    assert await Order.filter(reference__in=["1", "2", "3"]).count() == 0


async def test_a_channel_taking_unpaid_orders_parks_them_until_paid(default_location, actor):
    channel = await shop(default_location, actor, download_unpaid=True)
    await sync.ingest_page(channel.id, page(channel_order("7", "on-hold")))
    order = await Order.get(reference="7")
    assert (order.status, order.parked) == (OrderStatus.UNPAID, True)
    assert await levels_of("MUG", default_location.id) == (10, 2)  # parked orders hold their stock

    counts = await sync.ingest_page(channel.id, page(channel_order("7", "processing"), cursor="c2"))

    order = await Order.get(reference="7")
    assert (counts.updated, order.status, order.parked) == (1, OrderStatus.PAID, False)


async def test_an_order_cancelled_on_the_channel_is_flagged_for_the_seller(default_location, actor):
    channel = await shop(default_location, actor)
    await sync.ingest_page(channel.id, page(channel_order("9")))
    await sync.ingest_page(channel.id, page(channel_order("9", "cancelled"), cursor="c2"))
    order = await Order.get(reference="9")
    assert order.channel_cancelled and order.state.value == "OPEN"
    assert await AuditEntry.filter(kind=AuditKind.CANCELLED_ON_CHANNEL, subject_id=order.id).count() == 1


async def test_bad_orders_are_logged_and_the_rest_of_the_page_goes_on(default_location, actor):
    channel = await shop(default_location, actor)
    counts = await sync.ingest_page(channel.id, page(
        channel_order("11", "processing", ("WC-MUG", -1)), channel_order("12"),
        rejected=[("13", "line 1 has no SKU")],
    ))  # fmt: skip
    assert (counts.downloaded, counts.failed) == (1, 2)
    assert {ref for ref, kind, _ in counts.issues if kind in ("FAILED", "REJECTED")} == {"11", "13"}
    assert await Order.filter(reference="12").exists() and not await Order.filter(reference="11").exists()


async def test_two_concurrent_writes_of_one_page_create_each_order_once(postgres_only, default_location, actor):
    channel = await shop(default_location, actor)
    same = page(*(channel_order(str(2000 + n)) for n in range(10)))
    results = await asyncio.wait_for(asyncio.gather(*(sync.ingest_page(channel.id, same) for _ in range(4))), 60)
    assert sum(r.downloaded for r in results) == 10
    assert await Order.filter(channel_id=channel.id).count() == 10
    assert await levels_of("MUG", default_location.id) == (10, 20)
    await assert_stock_consistent()


async def test_a_channels_extended_properties_are_stored_with_the_order(default_location, actor):
    """What a channel says of an order beyond the fields (e.g. Amazon's FulfillmentChannel AFN: an
    order Amazon fulfils) is kept as the order's extended properties."""
    from dataclasses import replace

    from orderdeck.models import OrderProperty

    channel = await shop(default_location, actor)
    fba = replace(channel_order("1901"), properties={"FulfillmentChannel": "AFN", "IsPrime": "true"})
    await sync.ingest_page(channel.id, page(fba))
    order = await Order.get(reference="1901")
    stored = {p.name: p.value for p in await OrderProperty.filter(order_id=order.id)}
    assert stored == {"FulfillmentChannel": "AFN", "IsPrime": "true"}
