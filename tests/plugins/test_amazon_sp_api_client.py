"""An independent client speaks to the Amazon sandbox: python-amazon-sp-api (not written by this
project), its SP-API endpoint and LWA token host pointed at the sandbox, fetches orders and their
items, patches a listing and asks a buyer for a review; every answer it gets is checked against
Amazon's API models."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sp_api.api import ListingsItems, Orders, Solicitations
from sp_api.auth import AccessTokenClient
from sp_api.auth.access_token_client import cache as token_cache
from sp_api.base import Marketplaces, SellingApiException, SellingApiForbiddenException

from orderdeck_amazon.sandbox import create_app
from orderdeck_amazon.sandbox.account import iso
from tests.plugins.support import ApiSpec, SpecChecked, serve

SELLER, MARKETPLACE = "A1INDEPENDENT", "ATVPDKIKX0DER"
CREDENTIALS = {"lwa_app_id": "amzn1.application-oa2-client.independent", "lwa_client_secret": "independent-secret"}
REFRESH_TOKEN = "Atzr|independent"


@pytest.fixture
def amazon() -> Iterator[tuple[str, SpecChecked, Any]]:
    app = create_app(skus=["IND-MUG", "IND-CUP"], seller_id=SELLER, marketplace_ids=[MARKETPLACE], seed=4,
                     client_id=CREDENTIALS["lwa_app_id"], client_secret=CREDENTIALS["lwa_client_secret"],
                     refresh_token=REFRESH_TOKEN, items_per_page=1)  # fmt: skip
    account = app.state.sandbox
    account.place_order({"AmazonOrderId": "111-0000001-0000001", "items": [{"sku": "IND-MUG", "quantity": 2},
                                                                           {"sku": "IND-CUP", "quantity": 1}],
                         "purchase_date": "2026-01-05T10:00:00Z", "last_update_date": "2026-01-05T10:00:00Z"})  # fmt: skip
    account.place_order({"AmazonOrderId": "111-0000002-0000001", "status": "Shipped", "items": [{"sku": "IND-MUG", "quantity": 1}],
                         "ship_date": iso(account.now() - timedelta(days=6))})  # fmt: skip
    specs = [ApiSpec.load("amazon-sp-api-ordersV0.json"), ApiSpec.load("amazon-sp-api-listingsItems_2021-08-01.json"),
             ApiSpec.load("amazon-sp-api-solicitations.json")]  # fmt: skip
    # Its requests carry extra marketplace parameters (MarketplaceId, marketplace_ids...): only the answers are checked.
    checked = SpecChecked(app, specs, requests=False, skip=("/__sandbox", "/auth/o2/token"))
    token_cache.clear()  # the library keeps tokens by refresh token for the process, whatever the host
    with serve(checked) as running:
        yield running.url, checked, account
    assert checked.problems == [], checked.problems


def client(kind: type, url: str, **options):
    """An sp_api client of ``kind`` whose endpoint and LWA host are the sandbox's (the library reads
    the token URL from its AccessTokenClient's scheme and host, and the endpoint from the client)."""
    address = urlsplit(url)
    tokens = type("SandboxTokens", (AccessTokenClient,), {"scheme": f"{address.scheme}://", "host": address.netloc})
    api = kind(Marketplaces.US, refresh_token=REFRESH_TOKEN, credentials=CREDENTIALS, auth_token_client_class=tokens,
               **options)  # fmt: skip
    api.endpoint = url
    return api


def test_python_amazon_sp_api_reads_orders_and_items_and_patches_a_listing(amazon):
    url, checked, account = amazon

    def work() -> tuple:
        orders = client(Orders, url, version="v0")
        page = orders.get_orders(LastUpdatedAfter="2026-01-01T00:00:00Z", MarketplaceIds=[MARKETPLACE]).payload
        items = orders.get_order_items("111-0000001-0000001")
        following = orders.get_order_items("111-0000001-0000001", NextToken=items.next_token)
        listing = client(ListingsItems, url).patch_listings_item(
            sellerId=SELLER, sku="IND-CUP", marketplaceIds=[MARKETPLACE],
            body={"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                                                         "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 17}]}]})  # fmt: skip
        return page, items, following, listing

    page, items, following, listing = asyncio.run(asyncio.to_thread(work))  # the library is synchronous

    assert [o["AmazonOrderId"] for o in page["Orders"]] == ["111-0000001-0000001"]
    assert page["Orders"][0]["OrderStatus"] == "Unshipped" and "LastUpdatedBefore" in page
    assert [i["SellerSKU"] for i in items.payload["OrderItems"] + following.payload["OrderItems"]] == ["IND-MUG", "IND-CUP"]
    assert following.next_token is None
    assert listing.payload["status"] == "ACCEPTED" and listing.payload["issues"] == []
    assert account.listings["IND-CUP"].quantity == 17
    assert checked.checked == 4, "each answer was checked against the models"


def test_python_amazon_sp_api_sees_amazons_errors(amazon):
    url, _, _ = amazon
    with pytest.raises(SellingApiException) as refused:
        client(Orders, url, version="v0").get_order("999-9999999-9999999")
    assert refused.value.code == 404


def test_python_amazon_sp_api_asks_for_a_review_once(amazon):
    url, checked, account = amazon

    def work() -> tuple:
        solicitations = client(Solicitations, url)
        offered = solicitations.get_solicitation_actions_for_order("111-0000002-0000001", marketplaceIds=[MARKETPLACE])
        created = solicitations.create_product_review_and_seller_feedback_solicitation(
            "111-0000002-0000001", marketplaceIds=[MARKETPLACE])  # fmt: skip
        after = solicitations.get_solicitation_actions_for_order("111-0000002-0000001", marketplaceIds=[MARKETPLACE])
        try:
            solicitations.create_product_review_and_seller_feedback_solicitation("111-0000002-0000001", marketplaceIds=[MARKETPLACE])
        except SellingApiForbiddenException as exc:
            return offered, created, after, exc
        raise AssertionError("a second request was taken")

    offered, created, after, refused = asyncio.run(asyncio.to_thread(work))

    assert [a["name"] for a in offered.payload["_links"]["actions"]] == ["productReviewAndSellerFeedback"]
    assert created.payload == {} and after.payload["_links"]["actions"] == []
    assert refused.error[0]["message"] == "The requested solicitation is not available for this amazonOrderId."
    assert [s["name"] for s in account.orders["111-0000002-0000001"].solicitations] == ["productReviewAndSellerFeedback"]
    assert checked.checked == 4
