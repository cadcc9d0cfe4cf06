"""Downloading WooCommerce orders through the plugin manager, as the sync engine does: paging, the
cursor (ties on date_modified_gmt, changes between pages, recent changes held back), rejected
orders, statuses and their mapping, and the mapped fields."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from orderdeck.plugins.dto import Address, ChannelOrder, StatusMapping
from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError, PartnerUnreadable
from orderdeck_woocommerce import SETTLE_SECONDS
from tests.plugins.conftest import make_channel, past

BASE = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)


def at(second: int) -> str:
    """A GMT timestamp ``second`` seconds after a fixed moment an hour ago."""
    return (BASE + timedelta(seconds=second)).isoformat()


def expected_order(created: list[dict]) -> list[str]:
    """References in WooCommerce's orderby=modified&order=asc order: (date_modified_gmt, id)."""
    return [o["number"] for o in sorted(created, key=lambda o: (o["date_modified_gmt"], o["id"]))]


async def download_all(hooks, channel, cursor=None, page_size=100, max_pages=50):
    """Call the download hook until has_more is False; return (pages, last cursor)."""
    pages = []
    for _ in range(max_pages):
        page = await hooks.download_orders(channel, cursor=cursor, page_size=page_size)
        pages.append(page)
        cursor = page.cursor
        if not page.has_more:
            return pages, cursor
    raise AssertionError("the download never ended")


def references(pages) -> list[str]:
    return [order.reference for page in pages for order in page.orders]


async def test_250_orders_page_by_page_each_once_in_order(hooks, channel, control):
    rng = random.Random(1)
    seconds = [i // 7 for i in range(250)]  # seven orders share each second, across page boundaries
    rng.shuffle(seconds)  # ids do not follow modification times
    statuses = ["processing", "on-hold", "pending", "completed", "cancelled"]
    created = control.orders(*[{"status": rng.choice(statuses), "date_created_gmt": at(-100),
                                "date_modified_gmt": at(s)} for s in seconds])  # fmt: skip
    control.orders(*[{"status": s, "date_modified_gmt": at(10)} for s in ["refunded", "failed", "trash"] * 4])
    control.clear_requests()

    pages, cursor = await download_all(hooks, channel, page_size=100)

    # A page may come short: the rest of the cursor's second fills the start of the next answer.
    assert all(len(p.orders) <= 100 for p in pages) and len(pages) == 3
    assert [p.has_more for p in pages] == [True, True, False]
    assert references(pages) == expected_order(created)
    assert all(not p.rejected for p in pages)
    assert len(control.requests()) == 3, "one request a page"
    # Nothing more: the cursor stays put.
    again = await hooks.download_orders(channel, cursor=cursor, page_size=100)
    assert again.orders == [] and again.cursor == cursor and not again.has_more


async def test_each_request_asks_for_the_downloaded_statuses_by_gmt_modification(hooks, channel, control):
    control.orders(*[{"date_modified_gmt": at(i)} for i in range(3)])
    control.clear_requests()
    pages, _ = await download_all(hooks, channel, page_size=2)
    queries = [parse_qs(r["query"]) for r in control.requests()]
    assert len(queries) == 2
    for query in queries:
        assert query["status"] == ["processing,on-hold,pending,completed,cancelled"]
        assert query["orderby"] == ["modified"] and query["order"] == ["asc"]
        assert query["dates_are_gmt"] == ["true"] and query["per_page"] == ["100"] and query["page"] == ["1"]
    assert "modified_after" not in queries[0]
    # The second call resumes from the cursor's second, minus one (modified_after is exclusive).
    assert queries[1]["modified_after"] == [at(0)]
    assert pages[0].cursor.startswith(at(1) + "|")


async def test_the_cursor_resumes_without_loss_or_duplicates_when_orders_change_in_between(hooks, channel, control):
    created = control.orders(*[{"date_modified_gmt": at(i // 5)} for i in range(250)])
    first = await hooks.download_orders(channel, cursor=None, page_size=100)
    delivered = {o.reference for o in first.orders}
    assert len(delivered) == 100 and first.has_more

    seen_before = created[10]  # delivered already: a change must bring it again
    not_yet = created[150]  # not delivered yet: moves behind, must come once
    control.touch(seen_before["id"], status="completed", date_modified_gmt=at(1000))
    control.touch(not_yet["id"], status="on-hold", date_modified_gmt=at(1000))
    # New orders, several in the same second, and one whose second shares the cursor's.
    new = control.orders(*[{"date_modified_gmt": at(1000)} for _ in range(4)])
    new += control.orders({"date_modified_gmt": at(19)})  # the cursor is in second 19 (orders 95-99)
    assert first.cursor.startswith(at(19) + "|")

    pages, _ = await download_all(hooks, channel, cursor=first.cursor, page_size=100)
    later = [order for page in pages for order in page.orders]
    everything = [*first.orders, *later]
    counts: dict[str, int] = {}
    for order in everything:
        counts[order.reference] = counts.get(order.reference, 0) + 1

    assert set(counts) == {o["number"] for o in created + new}, "no order lost"
    assert counts[seen_before["number"]] == 2, "a changed order comes again"
    assert [o.status for o in everything if o.reference == seen_before["number"]] == ["processing", "completed"]
    assert {ref for ref, n in counts.items() if n > 1} == {seen_before["number"]}, "no other duplicates"
    assert next(o for o in later if o.reference == not_yet["number"]).status == "on-hold"
    # The late order in the cursor's second (higher id) comes first in the next page.
    assert later[0].reference == new[-1]["number"]


async def test_orders_sharing_a_second_are_not_skipped_at_page_boundaries(hooks, channel, control):
    created = control.orders(*[{"date_modified_gmt": at(5)} for _ in range(12)])
    pages, _ = await download_all(hooks, channel, page_size=5)
    assert [len(p.orders) for p in pages] == [5, 5, 2]
    assert references(pages) == [o["number"] for o in created]
    assert all(p.cursor.startswith(at(5) + "|") for p in pages)


async def test_more_orders_in_one_second_than_a_page_holds(hooks, channel, control):
    crowd = control.orders(*[{"date_modified_gmt": at(5)} for _ in range(130)])
    after = control.orders(*[{"date_modified_gmt": at(6 + i)} for i in range(10)])
    before = control.orders(*[{"date_modified_gmt": at(4)} for _ in range(3)])
    pages, _ = await download_all(hooks, channel, page_size=50)
    assert references(pages) == [o["number"] for o in before + crowd + after]
    assert [len(p.orders) for p in pages] == [50, 50, 43]


async def test_recent_changes_wait_until_the_shop_clock_moves_on(hooks, channel, control):
    old = control.orders({"date_modified_gmt": at(0)})
    fresh = control.orders({})  # modified now
    page = await hooks.download_orders(channel, cursor=None, page_size=100)
    assert [o.reference for o in page.orders] == [old[0]["number"]]
    assert not page.has_more, "held-back orders are for the next run"
    # It comes once the shop's clock (its Date header, which uvicorn updates once a second) has
    # moved SETTLE_SECONDS past its second.
    cursor, waited = page.cursor, 0.0
    while True:
        await asyncio.sleep(0.25)
        waited += 0.25
        page = await hooks.download_orders(channel, cursor=cursor, page_size=100)
        if page.orders or waited > SETTLE_SECONDS + 5:
            break
    assert [o.reference for o in page.orders] == [fresh[0]["number"]]
    assert waited >= SETTLE_SECONDS


async def test_bad_orders_are_rejected_with_reasons_and_the_rest_of_the_page_kept(hooks, channel, control):
    good = control.orders(*[{"date_modified_gmt": at(i)} for i in range(3)])
    bad = {defect: control.orders({"defect": defect, "date_modified_gmt": at(10 + n)})[0]
           for n, defect in enumerate(["missing_reference", "negative_quantity", "missing_sku", "bad_date"])}  # fmt: skip
    unknown_sku = control.orders({"defect": "unknown_sku", "date_modified_gmt": at(20)})[0]
    more_good = control.orders(*[{"date_modified_gmt": at(30 + i)} for i in range(2)])

    page = await hooks.download_orders(channel, cursor=None, page_size=100)

    assert [o.reference for o in page.orders] == [o["number"] for o in [*good, unknown_sku, *more_good]]
    reasons = dict(page.rejected)
    assert len(page.rejected) == 4
    assert "empty order number" in reasons[str(bad["missing_reference"]["id"])]  # reported by its id
    assert "quantity must be positive" in reasons[bad["negative_quantity"]["number"]]
    assert "has no SKU" in reasons[bad["missing_sku"]["number"]]
    assert "date_created_gmt" in reasons[bad["bad_date"]["number"]]
    # An unknown SKU is orderdeck's to resolve (listings), not a reason to reject.
    mapped = next(o for o in page.orders if o.reference == unknown_sku["number"])
    assert any(line.channel_sku.startswith("UNKNOWN-") for line in mapped.lines)
    # Rejected orders are passed, not retried on every run.
    again = await hooks.download_orders(channel, cursor=page.cursor, page_size=100)
    assert again.orders == [] and again.rejected == []


async def test_rejected_orders_count_towards_the_page_size(hooks, channel, control):
    control.orders({"defect": "missing_sku", "date_modified_gmt": at(0)}, {"date_modified_gmt": at(1)},
                   {"defect": "negative_quantity", "date_modified_gmt": at(2)}, {"date_modified_gmt": at(3)})  # fmt: skip
    pages, _ = await download_all(hooks, channel, page_size=2)
    assert [(len(p.orders), len(p.rejected)) for p in pages] == [(1, 1), (1, 1)]


async def test_a_page_that_is_not_a_json_list_raises_unreadable_which_is_retried(hooks, channel, control):
    control.orders(random=2)
    control.fault("malformed", count=1)
    with pytest.raises(PartnerUnreadable):
        await hooks.download_orders(channel, cursor=None, page_size=10)


async def test_download_with_a_wrong_secret_raises_auth_error(hooks, sandbox):
    with pytest.raises(PartnerAuthError):
        await hooks.download_orders(make_channel(sandbox.url, secret="nope"), cursor=None, page_size=10)


async def test_an_unreadable_cursor_raises_data_error(hooks, channel):
    with pytest.raises(PartnerDataError, match="cursor"):
        await hooks.download_orders(channel, cursor="yesterday", page_size=10)


async def test_status_mapping(hooks, channel, control):
    created = {s: control.orders({"status": s, "date_modified_gmt": at(i)})[0]
               for i, s in enumerate(["processing", "on-hold", "pending", "completed", "cancelled", "refunded", "failed", "trash"])}  # fmt: skip
    page = await hooks.download_orders(channel, cursor=None, page_size=100)
    assert [o.status for o in page.orders] == ["processing", "on-hold", "pending", "completed", "cancelled"]
    mapped = {o.status: hooks.map_status(channel, order=o) for o in page.orders}
    assert mapped == {
        "processing": StatusMapping(paid=True),
        "on-hold": StatusMapping(paid=False),
        "pending": StatusMapping(paid=False),
        "completed": StatusMapping(paid=True, shipped=True),
        "cancelled": StatusMapping(paid=False, cancelled=True),
    }
    template = page.orders[0]
    for status in ["refunded", "failed", "trash"]:
        order = ChannelOrder(**{**template.__dict__, "status": status})
        assert hooks.map_status(channel, order=order) == StatusMapping(paid=False, cancelled=True)
    custom = ChannelOrder(**{**template.__dict__, "status": "awaiting-shipment"})
    assert hooks.map_status(channel, order=custom) == StatusMapping(paid=False)
    assert created["refunded"]["number"] not in {o.reference for o in page.orders}


async def test_an_order_maps_field_by_field(hooks, channel, control):
    created = control.orders({
        "status": "processing", "currency": "EUR",
        "date_created_gmt": at(0), "date_modified_gmt": at(5), "date_paid_gmt": at(2),
        "lines": [{"sku": "MUG-RED", "quantity": 3, "price": "10.00", "discount": "3.00", "name": "Red mug"},
                  {"sku": "TEE-S", "quantity": 1, "price": "15.50"}],
        "billing": {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd", "address_1": "1 Bay St",
                    "address_2": "Flat 2", "city": "London", "state": "", "postcode": "W1 1AA", "country": "GB",
                    "email": "ada@example.com", "phone": "0201234567"},
        "shipping": {"first_name": "Charles", "last_name": "Babbage", "address_1": "5 Dorset St", "city": "London",
                     "postcode": "W1U 6QJ", "country": "GB"},
        "shipping_total": "4.99", "shipping_method": "Royal Mail Tracked 24", "payment_method_title": "PayPal",
    })[0]  # fmt: skip
    page = await hooks.download_orders(channel, cursor=None, page_size=10)
    order = page.orders[0]
    assert order.reference == created["number"] == str(created["id"])
    assert order.external_reference == str(created["id"])
    assert order.status == "processing" and order.currency == "EUR"
    assert order.received_at == (BASE).replace(tzinfo=UTC)
    assert order.paid_at == (BASE + timedelta(seconds=2)).replace(tzinfo=UTC)
    red, tee = order.lines
    assert (red.channel_sku, red.quantity, red.title) == ("MUG-RED", 3, "Red mug")
    assert red.line_id == str(created["line_items"][0]["id"])
    assert red.unit_price == Decimal("10.00") and red.discount == Decimal("3.00")
    assert red.tax == Decimal("5.40")  # 20% of the discounted 27.00
    assert (tee.unit_price, tee.discount, tee.tax) == (Decimal("15.50"), Decimal("0.00"), Decimal("3.10"))
    assert order.postage == Decimal("4.99") and order.shipping_service == "Royal Mail Tracked 24"
    assert order.payment_method == "PayPal"
    lines, line_tax, shipping, shipping_tax = Decimal("42.50"), Decimal("8.50"), Decimal("4.99"), Decimal("1.00")
    assert order.total == Decimal(created["total"]) == lines + line_tax + shipping + shipping_tax
    assert order.buyer_name == "Ada Lovelace" and order.email == "ada@example.com"
    assert order.billing_address == Address(full_name="Ada Lovelace", company="Engines Ltd", address1="1 Bay St",
                                            address2="Flat 2", town="London", postcode="W1 1AA", country="GB",
                                            phone="0201234567")  # fmt: skip
    assert order.shipping_address == Address(full_name="Charles Babbage", address1="5 Dorset St", town="London",
                                             postcode="W1U 6QJ", country="GB", phone="0201234567")  # fmt: skip


async def test_unpaid_orders_have_no_paid_date(hooks, channel, control):
    control.orders({"status": "on-hold", "date_modified_gmt": past(60)})
    page = await hooks.download_orders(channel, cursor=None, page_size=10)
    assert page.orders[0].paid_at is None
