"""The eBay connector against its sandbox over real HTTP: the OAuth token (cached, refreshed
before expiry and once on a 401), downloads (paging, time windows, the 90-day window, a
restartable cursor), quantities and dispatches one result each, and eBay's faults each ending in
a retry or a typed error. Every exchange is checked against eBay's OpenAPI 3 contracts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from orderdeck.plugins.dto import DispatchLine, DispatchNote, ItemResult, StockUpdate
from orderdeck.plugins.errors import PartnerAuthError, PartnerRateLimited, PartnerUnavailable, PartnerUnreadable
from orderdeck.plugins.manager import channel_connector
from orderdeck.plugins.oauth import TOKENS
from orderdeck_ebay import download
from orderdeck_ebay.client import SCOPES, EbayClient
from tests.plugins.ebay import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, EbayControl, assert_kept, connection, ebay_sandbox, past

pytestmark = pytest.mark.asyncio


@pytest.fixture
def ebay() -> Iterator[EbayControl]:
    TOKENS.clear()
    with ebay_sandbox() as control:
        yield control
        assert_kept(control.checked)


@pytest.fixture
def hooks():
    return channel_connector("ebay")


def paths(ebay: EbayControl) -> list[tuple[str, int]]:
    return [(r["path"].rsplit("/", 1)[-1] if "shipping" not in r["path"] else "fulfillment", r["status"]) for r in ebay.requests()]


def place(ebay: EbayControl, count: int, *, start: int = 0, seconds_ago: float = 3000, **spec) -> list[str]:
    """``count`` paid orders, modified a second apart from ``seconds_ago``."""
    specs = [{"orderId": f"20-{start + n:05d}-00001", "lastModifiedDate": past(seconds_ago - n),
              "creationDate": past(seconds_ago - n), "lines": [{"sku": "MUG-RED", "quantity": 1}], **spec}
             for n in range(count)]  # fmt: skip
    return [o["orderId"] for o in ebay.orders(*specs)]


async def download_all(hooks, channel, cursor=None, page_size=100):
    orders, pages = [], 0
    while True:
        page = await hooks.download_orders(channel, cursor, page_size)
        orders += page.orders
        cursor, pages = page.cursor, pages + 1
        if not page.has_more:
            return orders, page, pages


# OAuth


async def test_the_token_is_fetched_once_and_reused_until_shortly_before_it_expires(hooks):
    with ebay_sandbox(token_seconds=7200) as ebay:
        channel = connection(ebay.url)
        await hooks.test_connection(channel)
        await hooks.download_orders(channel, None, 10)
        assert [p for p in paths(ebay)].count(("token", 200)) == 1
    TOKENS.clear()
    with ebay_sandbox(token_seconds=100) as ebay:  # expires within the 120 s margin: fetched for each call
        channel = connection(ebay.url)
        await hooks.test_connection(channel)
        await hooks.test_connection(channel)
        assert paths(ebay).count(("token", 200)) == 2
        assert_kept(ebay.checked)


async def test_an_expired_token_is_refreshed_once_on_ebays_401(hooks, ebay):
    channel = connection(ebay.url)
    assert (await hooks.test_connection(channel)).ok
    ebay.post("/tokens/expire")
    assert (await hooks.test_connection(channel)).ok
    assert paths(ebay) == [("token", 200), ("order", 200), ("order", 401), ("token", 200), ("order", 200)]


async def test_refused_credentials_and_a_missing_scope_are_auth_errors(hooks, ebay):
    revoked = connection(ebay.url, refresh_token="v^1.1#revoked")
    result = await hooks.test_connection(revoked)
    assert not result.ok and "invalid_grant" in result.message
    with pytest.raises(PartnerAuthError):
        await hooks.download_orders(revoked, None, 10)
    TOKENS.clear()
    with ebay_sandbox(granted_scopes=["https://api.ebay.com/oauth/api_scope/sell.inventory"]) as narrow:
        with pytest.raises(PartnerAuthError, match="invalid_scope"):
            await hooks.download_orders(connection(narrow.url), None, 10)
    assert [r["status"] for r in ebay.requests()] == [400, 400]


# Downloads


async def test_a_download_pages_through_every_order_following_next(hooks, ebay):
    placed = place(ebay, 450)
    channel = connection(ebay.url)
    orders, last, pages = await download_all(hooks, channel, page_size=100)
    assert sorted(o.reference for o in orders) == sorted(placed) and pages == 5
    reads = [r for r in ebay.requests() if r["path"].endswith("/order")]
    assert "limit=200" in reads[0]["query"] and any("offset=400" in r["query"] for r in reads), "200 a page, following next"
    again = await hooks.download_orders(channel, last.cursor, 100)
    assert again.orders == [] and not again.has_more


async def test_a_crowded_window_is_halved_until_it_holds_few_enough(hooks, ebay, monkeypatch):
    monkeypatch.setattr(download, "WINDOW_ORDERS", 10)
    placed = place(ebay, 40)
    orders, _, _ = await download_all(hooks, connection(ebay.url), page_size=15)
    assert [o.reference for o in orders] == placed, "every order once, oldest change first"
    filters = [r["query"] for r in ebay.requests() if r["path"].endswith("/order")]
    assert any("..2" in f for f in filters), "windows with an end"


async def test_the_same_cursor_gives_the_same_page_and_a_changed_order_comes_again(hooks, ebay):
    place(ebay, 5)
    channel = connection(ebay.url)
    first = await hooks.download_orders(channel, None, 2)
    assert [o.reference for o in (await hooks.download_orders(channel, None, 2)).orders] == [o.reference for o in first.orders]
    _, last, _ = await download_all(hooks, channel, first.cursor, 2)
    ebay.change("20-00001-00001", cancelState="CANCELED", lastModifiedDate=past(100))
    later, _, _ = await download_all(hooks, channel, last.cursor, 2)
    assert [(o.reference, o.status) for o in later] == [("20-00001-00001", "CANCELED")]


async def test_a_cursor_older_than_90_days_is_clamped_and_the_run_is_told(hooks, ebay):
    place(ebay, 2)
    old = download.encode_cursor((datetime.now(UTC) - timedelta(days=120), ""))
    page = await hooks.download_orders(connection(ebay.url), old, 10)
    assert len(page.orders) == 2 and len(page.notices) == 1 and "older than the 90 days" in page.notices[0]
    assert all(r["status"] == 200 for r in ebay.requests()), "never a filter eBay refuses"
    assert download.decode_cursor(page.cursor)[0] > datetime.now(UTC) - timedelta(days=2)


async def test_recent_changes_wait_and_unshipped_only_asks_ebay_to_filter(hooks, ebay):
    place(ebay, 1)
    place(ebay, 1, start=1, seconds_ago=5)
    settled = connection(ebay.url, settle_seconds=60, unshipped_only=True)
    page = await hooks.download_orders(settled, None, 10)
    assert [o.reference for o in page.orders] == ["20-00000-00001"] and not page.has_more
    assert "orderfulfillmentstatus%3A%7BNOT_STARTED%7CIN_PROGRESS%7D" in ebay.requests()[-1]["query"]
    assert download.decode_cursor(page.cursor)[0] < datetime.now(UTC) - timedelta(seconds=60)


async def test_an_unreadable_order_is_rejected_alone_and_a_listing_without_sku_comes_by_item_number(hooks, ebay):
    place(ebay, 1)
    ebay.orders({"orderId": "21-00000-00001", "lastModifiedDate": past(2000), "lines": [{"quantity": 1}]},
                {"orderId": "21-00000-00002", "lastModifiedDate": past(1999), "overrides": {"creationDate": "yesterday"}})  # fmt: skip
    page = await hooks.download_orders(connection(ebay.url), None, 10)
    no_sku = next(o for o in page.orders if o.reference == "21-00000-00001")
    assert no_sku.lines[0].channel_sku.isdigit()
    assert page.rejected == [("21-00000-00002", "creationDate is not an ISO 8601 date: 'yesterday'")]
    assert {o.reference for o in page.orders} == {"20-00000-00001", "21-00000-00001"}


# Quantities


async def test_quantities_go_25_skus_a_call_with_a_result_per_listing(hooks, ebay):
    skus = [f"SKU-{n:02d}" for n in range(55)]
    ebay.post("/inventory", {"items": {sku: 1 for sku in skus}})
    updates = [StockUpdate(f"l-{sku}", sku, 5) for sku in skus] + [
        StockUpdate("l-unknown", "NOT-ON-EBAY", 2), StockUpdate("l-nosku", "", 2), StockUpdate("l-twice", "SKU-00", -3),
        StockUpdate("l-zero", "MUG-RED", 0)]  # fmt: skip
    results = {r.id: r for r in await hooks.push_stock(connection(ebay.url), updates)}
    assert len(results) == len(updates) and all(results[f"l-{sku}"].ok for sku in skus)
    assert not results["l-unknown"].ok and "statusCode 404" in results["l-unknown"].error and "25702" in results["l-unknown"].error
    assert not results["l-nosku"].ok and results["l-twice"].ok
    assert results["l-zero"] == ItemResult("l-zero", True, results["l-zero"].error) and "25401" in results["l-zero"].error, "warnings kept"
    calls = [r for r in ebay.requests() if r["path"].endswith("bulk_update_price_quantity")]
    assert len(calls) == 3
    assert ebay.state()["inventory"]["SKU-00"] == 0 and ebay.state()["inventory"]["SKU-54"] == 5
    bodies = [e for e in ebay.checked.exchanges if e.path.endswith("bulk_update_price_quantity")]
    assert len(bodies) == 3 and all(e.headers["content-language"] == "en-GB" for e in bodies)


# Dispatch


def note(order_id: str, dispatch_id: str, tracking: str, lines: list[tuple[str, int]] = (), carrier: str = "Royal Mail"):
    return DispatchNote(dispatch_id=dispatch_id, order_reference=order_id, lines=[DispatchLine(i, q) for i, q in lines],
                        shipped_at=datetime(2026, 5, 2, 9, 30, tzinfo=UTC), carrier=carrier, tracking_number=tracking,
                        external_reference=order_id)  # fmt: skip


async def test_a_partial_dispatch_leaves_the_rest_to_ship_and_a_repeat_tells_the_buyer_once(hooks, ebay):
    [order] = ebay.orders({"orderId": "22-00000-00001", "lastModifiedDate": past(500),
                           "lines": [{"sku": "MUG-RED", "quantity": 2}, {"sku": "TEE-S", "quantity": 1}]})  # fmt: skip
    first, second = (line["lineItemId"] for line in order["lineItems"])
    channel = connection(ebay.url)
    partial = note("22-00000-00001", "d-1", "RM 1234 5678 GB", [(first, 2)])
    assert await hooks.send_dispatches(channel, [partial, partial]) == [ItemResult("d-1", True)] * 2
    shipped = ebay.order("22-00000-00001")
    assert shipped["orderFulfillmentStatus"] == "IN_PROGRESS" and len(shipped["buyerMessages"]) == 1
    assert shipped["fulfillments"][0]["shipmentTrackingNumber"] == "RM12345678GB"
    assert shipped["fulfillments"][0]["shippingCarrierCode"] == "RoyalMail"
    ebay.change("22-00000-00001", lastModifiedDate=past(400))  # not one of eBay's last seconds
    [downloaded] = (await hooks.download_orders(channel, None, 10)).orders
    assert downloaded.status == "PAID/IN_PROGRESS" and [line.line_id for line in downloaded.lines] == [second]
    assert hooks.map_status(channel, downloaded).paid and not hooks.map_status(channel, downloaded).shipped
    untracked = note("22-00000-00001", "d-2", "", [])
    assert await hooks.send_dispatches(channel, [untracked, untracked]) == [ItemResult("d-2", True)] * 2
    done = ebay.order("22-00000-00001")
    assert done["orderFulfillmentStatus"] == "FULFILLED" and len(done["fulfillments"]) == 2
    assert "shippingCarrierCode" not in done["fulfillments"][1], "no tracking: neither carrier nor number"


async def test_a_cancelled_or_unknown_order_or_line_fails_its_note_alone(hooks, ebay):
    ebay.orders({"orderId": "23-00000-00001", "cancelState": "CANCELED", "orderPaymentStatus": "FULLY_REFUNDED"},
                {"orderId": "23-00000-00002"})  # fmt: skip
    results = await hooks.send_dispatches(connection(ebay.url), [
        note("23-00000-00001", "cancelled", "T1"), note("99-99999-99999", "unknown", "T2"),
        note("23-00000-00002", "bad-line", "T3", [("424242", 1)]), note("23-00000-00002", "good", "T4")])  # fmt: skip
    by_id = {r.id: r for r in results}
    assert "cancelled on eBay" in by_id["cancelled"].error and "32100" in by_id["unknown"].error
    assert "no line items 424242" in by_id["bad-line"].error and by_id["good"].ok
    assert ebay.order("23-00000-00002")["orderFulfillmentStatus"] == "FULFILLED"


# Faults: each ends in a retry (and success) or a typed error


async def test_a_500_a_timeout_and_a_short_429_are_retried(hooks, ebay):
    place(ebay, 1)
    channel = connection(ebay.url, timeout_seconds=0.3)
    await hooks.test_connection(channel)
    ebay.fault("server_error", status=500)
    ebay.fault("delay", seconds=1.0)
    ebay.fault("rate_limit", retry_after=0.1)
    page = await hooks.download_orders(channel, None, 10)
    assert [o.reference for o in page.orders] == ["20-00000-00001"]
    # the delayed answer is logged once sent, after the client gave up on it (timeout_seconds 0.3)
    assert [r["status"] for r in ebay.requests()][-4:] == [500, 200, 429, 200]


async def test_a_long_429_or_ebays_call_limit_without_retry_after_is_rate_limited(hooks, ebay):
    channel = connection(ebay.url, max_rate_limit_wait_seconds=0.5)
    ebay.fault("rate_limit", retry_after=600, count=5)
    with pytest.raises(PartnerRateLimited) as long_wait:
        await hooks.download_orders(channel, None, 10)
    assert long_wait.value.retry_after == 600
    ebay.http.delete("/faults")
    ebay.post("/quotas", {"quotas": {"sell.inventory": {"calls": 0, "seconds": 86400}}})
    with pytest.raises(PartnerRateLimited):
        await hooks.push_stock(channel, [StockUpdate("l-1", "MUG-RED", 1)])
    limited = [r for r in ebay.requests() if r["path"].endswith("bulk_update_price_quantity")]
    assert len(limited) >= 2 and {r["status"] for r in limited} == {429}, "waited at its own pace, then gave up"


async def test_malformed_json_is_unreadable_and_a_dropped_connection_unavailable(hooks, ebay):
    channel = connection(ebay.url)
    await hooks.test_connection(channel)
    ebay.fault("malformed")
    with pytest.raises(PartnerUnreadable):
        await hooks.download_orders(channel, None, 10)
    ebay.fault("disconnect", count=3)
    with pytest.raises(PartnerUnavailable):
        await hooks.push_stock(channel, [StockUpdate("l-1", "MUG-RED", 1)])
    assert (await hooks.download_orders(channel, None, 10)).orders == []


async def test_a_401_that_outlives_a_new_token_and_a_403_are_auth_errors(hooks):
    with ebay_sandbox(token_seconds=0) as ebay:  # every token eBay issues is dead on arrival
        with pytest.raises(PartnerAuthError, match="errorId 1001"):
            await hooks.download_orders(connection(ebay.url), None, 10)
        assert [r["status"] for r in ebay.requests()] == [200, 401, 200, 401], "refreshed once, then given up"
        TOKENS.clear()
    with ebay_sandbox() as ebay:
        settings = connection(ebay.url).settings
        async with EbayClient(connection_id="ch-narrow", api_url=ebay.url, token_url=settings.token_endpoint(), client_id=CLIENT_ID,
                              client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN, scopes=SCOPES[:1],
                              limits=settings.limits()) as narrow:  # fmt: skip
            with pytest.raises(PartnerAuthError, match="errorId 1100"):
                await narrow.bulk_update_quantities([("MUG-RED", 1)])
        assert_kept(ebay.checked)
