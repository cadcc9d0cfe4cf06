"""The Amazon connector against its sandbox over real HTTP: download windows and items, mapping,
dispatch (partial shipments), quantities, LWA tokens, and the faults Amazon has (each ends in a
retry, a typed error or a result saying what went wrong). Every request the connector builds and
every answer the sandbox gives is checked against Amazon's API models."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.dto import DispatchLine, DispatchNote, StockUpdate
from orderdeck.plugins.errors import PartnerAuthError, PartnerRateLimited, PartnerUnreadable
from orderdeck.plugins.manager import channel_connector
from orderdeck_amazon import AmazonSettings, mapping, quantity_patch
from orderdeck_amazon.sandbox import SellerAccount, create_app
from tests.plugins.support import ApiSpec, SpecChecked, serve
from tests.plugins.test_amazon_contract import CLIENT_ID, CLIENT_SECRET, FAST, MARKETPLACE, REFRESH_TOKEN, SELLER, amazon_settings

SPECS = ("amazon-sp-api-ordersV0.json", "amazon-sp-api-listingsItems_2021-08-01.json", "amazon-sp-api-solicitations.json")
WHEN = "2026-03-02T09:00:00Z"


@dataclass
class Amazon:
    url: str
    account: SellerAccount
    checked: SpecChecked

    def connection(self, **overrides: Any) -> Connection[AmazonSettings]:
        return Connection(f"amazon-{uuid.uuid4().hex[:8]}", "Amazon UK", amazon_settings(self.url, **overrides))

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/__sandbox/requests").json()

    def fault(self, kind: str, **options: Any) -> None:
        assert httpx.post(f"{self.url}/__sandbox/faults", json={"kind": kind, **options}).status_code == 200

    def order(self, reference: str, status: str = "Unshipped", items: list[tuple[str, int]] = (("AMZ-MUG", 1),),
              **spec: Any) -> str:  # fmt: skip
        self.account.place_order({"AmazonOrderId": reference, "status": status, "purchase_date": WHEN,
                                  "last_update_date": WHEN, "items": [{"sku": s, "quantity": q} for s, q in items], **spec})  # fmt: skip
        return reference


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def amazon(sandbox_options: dict[str, Any]) -> Iterator[Amazon]:
    """A seller account (two listings) served behind the API models' check."""
    options = {"skus": ["AMZ-MUG", "AMZ-CUP"], "seed": 2, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
               "refresh_token": REFRESH_TOKEN, "seller_id": SELLER, "marketplace_ids": [MARKETPLACE], "rates": FAST,
               **sandbox_options}  # fmt: skip
    app = create_app(**options)
    checked = SpecChecked(app, [ApiSpec.load(name) for name in SPECS], skip=("/__sandbox", "/auth/o2/token"))
    with serve(checked) as running:
        yield Amazon(running.url, app.state.sandbox, checked)
    assert checked.problems == [], checked.problems


@pytest.fixture
def hooks():
    return channel_connector("amazon")


def calls(amazon: Amazon, path_part: str) -> list[dict[str, Any]]:
    return [r for r in amazon.requests() if path_part in r["path"]]


# Downloads


async def test_a_download_walks_a_window_by_next_token_and_ends_at_its_end(amazon, hooks):
    for n in range(5):
        amazon.order(f"202-000000{n}-0000001")
    connection = amazon.connection(first_download_days=400)
    first = await hooks.download_orders(connection, None, 2)
    assert len(first.orders) == 2 and first.has_more and "|" in first.cursor
    again = await hooks.download_orders(connection, None, 2)
    assert [o.reference for o in again.orders] == [o.reference for o in first.orders]
    second = await hooks.download_orders(connection, first.cursor, 2)
    repeated = await hooks.download_orders(connection, first.cursor, 2)
    assert [o.reference for o in repeated.orders] == [o.reference for o in second.orders], "a stored cursor answers the same page"
    third = await hooks.download_orders(connection, second.cursor, 2)
    assert not third.has_more and "|" not in third.cursor
    end = mapping.parse_date(third.cursor)
    assert abs((datetime.now(UTC) - end).total_seconds() - 120) < 5, "the window ends two minutes before Amazon's now"
    references = [o.reference for page in (first, second, third) for o in page.orders]
    assert sorted(references) == [f"202-000000{n}-0000001" for n in range(5)]
    query = calls(amazon, "/orders/v0/orders")[0]["query"]
    assert "MarketplaceIds=A1F83G8C2ARO7P" in query and "LastUpdatedAfter=" in query and "MaxResultsPerPage=2" in query


async def test_a_next_token_amazon_no_longer_takes_restarts_the_window(amazon, hooks):
    amazon.order("202-1000000-0000001")
    page = await hooks.download_orders(amazon.connection(), "2026-03-01T00:00:00Z|bm90LWEtdG9rZW4", 10)
    assert [o.reference for o in page.orders] == ["202-1000000-0000001"] and not page.has_more
    assert [r["status"] for r in calls(amazon, "/orders/v0/orders")] == [400, 200, 200]  # getOrders twice, then the items


@pytest.mark.parametrize("sandbox_options", [{"items_per_page": 1}])
async def test_items_come_in_pages_and_are_not_asked_for_closed_orders(amazon, hooks):
    amazon.order("202-2000000-0000001", items=[("AMZ-MUG", 1), ("AMZ-CUP", 2), ("AMZ-MUG", 3)])
    amazon.order("202-2000000-0000002", "Canceled")
    amazon.order("202-2000000-0000003", "Shipped")
    amazon.order("202-2000000-0000004", "Shipped", fulfillment_channel="AFN")
    amazon.order("202-2000000-0000005", "PartiallyShipped", items=[("AMZ-MUG", 2), ("AMZ-CUP", 1)])
    page = await hooks.download_orders(amazon.connection(), "2026-03-01T00:00:00Z", 10)
    by_reference = {o.reference: o for o in page.orders}
    assert [(l.channel_sku, l.quantity) for l in by_reference["202-2000000-0000001"].lines] == [
        ("AMZ-MUG", 1), ("AMZ-CUP", 2), ("AMZ-MUG", 3)]  # fmt: skip
    assert by_reference["202-2000000-0000002"].lines == [] and by_reference["202-2000000-0000003"].lines == []
    assert len(by_reference["202-2000000-0000004"].lines) == 1, "FBA orders keep their items"
    item_calls = [r["path"].split("/")[4] for r in calls(amazon, "/orderItems")]
    assert item_calls.count("202-2000000-0000001") == 3 and "202-2000000-0000002" not in item_calls
    assert "202-2000000-0000003" not in item_calls
    connection = amazon.connection()
    meanings = {ref: hooks.map_status(connection, order) for ref, order in by_reference.items()}
    assert meanings["202-2000000-0000002"].cancelled and meanings["202-2000000-0000003"].shipped
    assert meanings["202-2000000-0000005"].paid and not meanings["202-2000000-0000005"].shipped


async def test_an_order_maps_with_amazons_fields_and_fba_is_recognisable(amazon, hooks):
    amazon.order("202-3000000-0000001", items=[("AMZ-MUG", 2)], fulfillment_channel="AFN", is_prime=True,
                 buyer_name="Ada Lovelace", address={"PostalCode": "N1 1AA", "CountryCode": "GB"})  # fmt: skip
    [order] = (await hooks.download_orders(amazon.connection(), "2026-03-01T00:00:00Z", 10)).orders
    assert (order.reference, order.status, order.currency, order.buyer_name) == ("202-3000000-0000001", "Unshipped", "GBP", "Ada Lovelace")
    assert order.received_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert order.properties["FulfillmentChannel"] == "AFN" and mapping.is_fba(order) and order.properties["IsPrime"] == "true"
    [line] = order.lines
    assert (line.quantity, line.unit_price, line.tax) == (2, Decimal("12.9900"), Decimal("2.08"))
    assert order.total == Decimal("28.06") and order.shipping_address.postcode == "N1 1AA"


async def test_an_order_that_cannot_be_read_is_rejected_alone(amazon, hooks):
    amazon.order("202-4000000-0000001")
    amazon.order("202-4000000-0000002", defect="missing_sku")
    amazon.order("202-4000000-0000003", defect="bad_date")
    amazon.order("202-4000000-0000004", defect="unknown_sku")
    page = await hooks.download_orders(amazon.connection(), "2026-03-01T00:00:00Z", 10)
    assert sorted(o.reference for o in page.orders) == ["202-4000000-0000001", "202-4000000-0000004"]
    reasons = dict(page.rejected)
    assert "no SellerSKU" in reasons["202-4000000-0000002"] and "PurchaseDate" in reasons["202-4000000-0000003"]
    unknown = next(o for o in page.orders if o.reference == "202-4000000-0000004")
    assert any(line.channel_sku.startswith("UNKNOWN-") for line in unknown.lines), "left for orderdeck to report unlinked"


def test_every_amazon_status_has_a_meaning():
    assert {status: (m.paid, m.shipped, m.cancelled) for status, m in mapping.STATUS_MAPPINGS.items()} == {
        "PendingAvailability": (False, False, False), "Pending": (False, False, False),
        "Unshipped": (True, False, False), "PartiallyShipped": (True, False, False),
        "Shipped": (True, True, False), "InvoiceUnconfirmed": (True, True, False),
        "Canceled": (False, False, True), "Unfulfillable": (False, False, True),
    }  # fmt: skip
    assert mapping.map_status("SomethingNew") == mapping.UNKNOWN_STATUS


# Dispatch


def note(dispatch_id: str, reference: str, lines: list[tuple[str, int]], tracking: str) -> DispatchNote:
    return DispatchNote(dispatch_id, reference, [DispatchLine(i, q) for i, q in lines],
                        datetime(2026, 3, 3, 15, 30, tzinfo=UTC), "Royal Mail", "Tracked 24", tracking)  # fmt: skip


async def test_a_partial_shipment_then_the_rest_each_confirmed_once(amazon, hooks):
    amazon.order("202-5000000-0000001", items=[("AMZ-MUG", 2), ("AMZ-CUP", 1)])
    mug, cup = (item.order_item_id for item in amazon.account.orders["202-5000000-0000001"].items)
    connection = amazon.connection()
    first, rest = note("d-1", "202-5000000-0000001", [(mug, 2)], "RM1"), note("d-2", "202-5000000-0000001", [(cup, 1)], "RM2")
    assert [r.ok for r in await hooks.send_dispatches(connection, [first])] == [True]
    assert amazon.account.orders["202-5000000-0000001"].status == "PartiallyShipped"
    assert [r.ok for r in await hooks.send_dispatches(connection, [first, rest, first])] == [True, True, True]
    order = amazon.account.orders["202-5000000-0000001"]
    assert order.status == "Shipped" and [s["trackingNumber"] for s in order.shipments] == ["RM1", "RM2"]
    assert order.shipments[0] | {"packageReferenceId": "x"} == {
        "packageReferenceId": "x", "carrierCode": "Royal Mail", "carrierName": "Royal Mail", "shippingMethod": "Tracked 24",
        "trackingNumber": "RM1", "shipDate": "2026-03-03T15:30:00Z", "orderItems": [{"orderItemId": mug, "quantity": 2}]}  # fmt: skip
    assert order.shipments[0]["packageReferenceId"].isdigit()


async def test_cancelled_fba_and_unknown_item_notes_fail_alone(amazon, hooks):
    amazon.order("202-6000000-0000001", "Canceled")
    amazon.order("202-6000000-0000002", fulfillment_channel="AFN")
    amazon.order("202-6000000-0000003")
    amazon.order("202-6000000-0000004")
    results = await hooks.send_dispatches(amazon.connection(), [
        note("c", "202-6000000-0000001", [], "T1"), note("f", "202-6000000-0000002", [], "T2"),
        note("u", "202-6000000-0000003", [("no-such-item", 1)], "T3"), note("ok", "202-6000000-0000004", [], "T4")])  # fmt: skip
    by_id = {r.id: r for r in results}
    assert "Canceled" in by_id["c"].error and "FBA" in by_id["f"].error and "no item no-such-item" in by_id["u"].error
    assert by_id["ok"].ok and amazon.account.orders["202-6000000-0000004"].status == "Shipped"
    assert not any(r.ok for r in results if r.id != "ok")


# Quantities


async def test_push_stock_records_amazons_issues_per_sku(amazon, hooks):
    results = await hooks.push_stock(amazon.connection(), [
        StockUpdate("mug", "AMZ-MUG", 9), StockUpdate("gone", "AMZ-GONE", 1), StockUpdate("cup", "AMZ-CUP", -4)])  # fmt: skip
    by_id = {r.id: r for r in results}
    assert by_id["mug"].ok and by_id["cup"].ok
    assert not by_id["gone"].ok and by_id["gone"].error.startswith("Amazon answered INVALID for SKU AMZ-GONE: SKU_NOT_FOUND:")
    assert (amazon.account.listings["AMZ-MUG"].quantity, amazon.account.listings["AMZ-CUP"].quantity) == (9, 0)
    [patch] = [r for r in amazon.requests() if r["path"].endswith("/AMZ-MUG")]
    assert patch["method"] == "PATCH" and "marketplaceIds=A1F83G8C2ARO7P" in patch["query"]


# Login with Amazon


async def test_the_token_is_cached_and_renewed_when_amazon_says_it_expired(amazon, hooks):
    connection = amazon.connection()
    await hooks.push_stock(connection, [StockUpdate("mug", "AMZ-MUG", 1)])
    await hooks.push_stock(connection, [StockUpdate("mug", "AMZ-MUG", 2)])
    assert len(calls(amazon, "/auth/o2/token")) == 1
    httpx.post(f"{amazon.url}/__sandbox/tokens/expire")
    assert [r.ok for r in await hooks.push_stock(connection, [StockUpdate("mug", "AMZ-MUG", 3)])] == [True]
    assert [(r["path"], r["status"]) for r in amazon.requests()[-3:]] == [
        ("/listings/2021-08-01/items/A1CONTRACTSELLER/AMZ-MUG", 403), ("/auth/o2/token", 200),
        ("/listings/2021-08-01/items/A1CONTRACTSELLER/AMZ-MUG", 200)]  # fmt: skip


@pytest.mark.parametrize("sandbox_options", [{"token_lifetime": 30}])
async def test_a_token_is_renewed_shortly_before_it_expires(amazon, hooks):
    connection = amazon.connection()
    for quantity in (1, 2):
        await hooks.push_stock(connection, [StockUpdate("mug", "AMZ-MUG", quantity)])
    assert len(calls(amazon, "/auth/o2/token")) == 2, "a token with less than a minute left is not used"


@pytest.mark.parametrize("kind", ["unauthorized", "forbidden"])
async def test_a_refused_token_is_renewed_once_then_the_refusal_stands(amazon, hooks, kind):
    connection = amazon.connection()
    await hooks.push_stock(connection, [StockUpdate("mug", "AMZ-MUG", 1)])  # a token first
    amazon.fault(kind)
    assert [r.ok for r in await hooks.push_stock(connection, [StockUpdate("mug", "AMZ-MUG", 1)])] == [True]
    amazon.fault(kind, count=2)
    with pytest.raises(PartnerAuthError):
        await hooks.push_stock(connection, [StockUpdate("mug", "AMZ-MUG", 1)])
    assert len(calls(amazon, "/auth/o2/token")) == 3, "one token, then one renewal for each refusal"


async def test_a_refused_client_secret_is_an_auth_error(amazon, hooks):
    connection = amazon.connection(client_secret="wrong")
    with pytest.raises(PartnerAuthError, match="Client authentication failed"):
        await hooks.download_orders(connection, None, 10)
    result = await hooks.test_connection(connection)
    assert not result.ok and "refused the credentials" in result.message


# Faults


@pytest.mark.parametrize(("kind", "options"), [
    ("server_error", {"status": 500}), ("server_error", {"status": 503}), ("disconnect", {}),
    ("rate_limit", {"retry_after": 0.1}), ("delay", {"seconds": 1.0}),
])  # fmt: skip
async def test_a_passing_fault_is_retried(amazon, hooks, kind, options):
    amazon.order("202-7000000-0000001")
    connection = amazon.connection(timeout_seconds=0.3)
    await hooks.download_orders(connection, None, 10)  # the token, before the fault
    amazon.fault(kind, **options)
    page = await hooks.download_orders(connection, "2026-03-01T00:00:00Z", 10)
    assert [o.reference for o in page.orders] == ["202-7000000-0000001"]


async def test_a_long_retry_after_is_left_to_the_job(amazon, hooks):
    amazon.fault("rate_limit", retry_after=120, count=5)
    with pytest.raises(PartnerRateLimited) as limited:
        await hooks.push_stock(amazon.connection(), [StockUpdate("mug", "AMZ-MUG", 1)])
    assert limited.value.retry_after == 120


async def test_a_malformed_answer_is_unreadable_for_the_job_to_retry(amazon, hooks):
    amazon.order("202-8000000-0000001")
    connection = amazon.connection()
    await hooks.test_connection(connection)
    amazon.fault("malformed")
    with pytest.raises(PartnerUnreadable):
        await hooks.download_orders(connection, "2026-03-01T00:00:00Z", 10)
    page = await hooks.download_orders(connection, "2026-03-01T00:00:00Z", 10)
    assert [o.reference for o in page.orders] == ["202-8000000-0000001"]


@pytest.mark.parametrize("sandbox_options", [{"rates": {**FAST, "patchListingsItem": (4.0, 1)}}])
async def test_amazons_429_without_retry_after_waits_an_interval_of_the_operation(amazon, hooks):
    results = await hooks.push_stock(amazon.connection(), [StockUpdate("a", "AMZ-MUG", 1), StockUpdate("b", "AMZ-CUP", 2)])
    assert all(r.ok for r in results)
    statuses = [r["status"] for r in calls(amazon, "/listings/")]
    assert statuses[0] == 200 and 429 in statuses and statuses[-1] == 200 and statuses.count(200) == 2, statuses
    token = amazon.account.issue_token()[0]
    limited = httpx.patch(f"{amazon.url}/listings/2021-08-01/items/{SELLER}/AMZ-MUG", params={"marketplaceIds": MARKETPLACE},
                          json=quantity_patch("PRODUCT", 1), headers={"x-amz-access-token": token})  # fmt: skip
    assert limited.status_code == 429 and "retry-after" not in limited.headers
    assert limited.headers["x-amzn-RateLimit-Limit"] == "4" and limited.json()["errors"][0]["code"] == "QuotaExceeded"


@pytest.mark.parametrize("sandbox_options", [{"rates": {**FAST, "patchListingsItem": (5.0, 3)}}])
async def test_the_rate_amazon_announces_is_kept_to(amazon, hooks):
    """The connection's own plan is 1,000 a second (burst 1); the sandbox announces 5
    (x-amzn-RateLimit-Limit) with a burst of 3: five patches in a row would meet a 429 unless the
    client slows to 5 a second."""
    plans = {op: {"rate": rate, "burst": burst} for op, (rate, burst) in FAST.items()}
    connection = amazon.connection(rate_overrides={**plans, "patchListingsItem": {"rate": 1000, "burst": 1}})
    started = time.monotonic()
    results = await hooks.push_stock(connection, [StockUpdate(f"l{n}", "AMZ-MUG", n) for n in range(5)])
    assert all(r.ok for r in results)
    assert [r["status"] for r in calls(amazon, "/listings/")] == [200] * 5
    assert time.monotonic() - started >= 0.5


@pytest.mark.parametrize("sandbox_options", [{"rates": {**FAST, "patchListingsItem": (4.0, 2)}}])
async def test_connections_of_one_seller_share_its_usage_plans(amazon, hooks):
    """Amazon counts a usage plan per seller and app: two channels of the seller (say UK and DE)
    pushing at once keep to it together (4 a second, burst 1 in orderdeck; the sandbox allows a
    burst of 2 for the network's jitter), so the sandbox answers no 429. A bucket per connection
    would send two at once from each."""
    plans = {op: {"rate": rate, "burst": burst} for op, (rate, burst) in FAST.items()}
    plans["patchListingsItem"] = {"rate": 4, "burst": 1}
    uk, de = (amazon.connection(rate_overrides=plans) for _ in range(2))
    await asyncio.gather(hooks.test_connection(uk), hooks.test_connection(de))  # the tokens first
    started = time.monotonic()
    pushed = await asyncio.gather(*(hooks.push_stock(connection, [StockUpdate(f"{n}", sku, n) for n, sku in enumerate(skus)])
                                    for connection, skus in ((uk, ["AMZ-MUG", "AMZ-CUP"]), (de, ["AMZ-CUP", "AMZ-MUG"]))))  # fmt: skip
    assert all(r.ok for results in pushed for r in results)
    assert [r["status"] for r in calls(amazon, "/listings/")] == [200] * 4
    assert time.monotonic() - started >= 0.7  # three intervals of 0.25 s after the first
