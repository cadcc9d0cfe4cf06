"""The eBay sandbox behaves as eBay's APIs do (OAuth, getOrders' filters and paging, shipping
fulfillments, bulk quantities, call limits), and every request and answer keeps eBay's OpenAPI 3
contracts (tests/plugins/support.py: ApiSpec, SpecChecked), which are shown to catch what breaks them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.plugins.ebay import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, EbayControl, assert_kept, contracts, ebay_sandbox, past

FULFILLMENT, INVENTORY = "/sell/fulfillment/v1", "/sell/inventory/v1"
SCOPES = "https://api.ebay.com/oauth/api_scope/sell.fulfillment https://api.ebay.com/oauth/api_scope/sell.inventory"


@pytest.fixture
def ebay() -> Iterator[EbayControl]:
    with ebay_sandbox() as control:
        yield control
        assert_kept(control.checked)  # every test's exchanges keep eBay's contracts


def token(ebay: EbayControl, *, secret: str = CLIENT_SECRET, refresh: str = REFRESH_TOKEN, scope: str = SCOPES) -> httpx.Response:
    return httpx.post(f"{ebay.url}/identity/v1/oauth2/token", auth=(CLIENT_ID, secret),
                      data={"grant_type": "refresh_token", "refresh_token": refresh, "scope": scope})  # fmt: skip


def api(ebay: EbayControl, scope: str = SCOPES) -> httpx.Client:
    answer = token(ebay, scope=scope).json()
    return httpx.Client(base_url=ebay.url, headers={"Authorization": f"Bearer {answer['access_token']}"}, timeout=10)


def error_ids(response: httpx.Response) -> list[int]:
    return [error["errorId"] for error in response.json()["errors"]]


def test_the_token_endpoint_issues_expiring_tokens_for_the_refresh_token(ebay):
    assert (token(ebay, secret="wrong").status_code, token(ebay, secret="wrong").json()["error"]) == (401, "invalid_client")
    assert token(ebay, refresh="v^1.1#other").json() == {"error": "invalid_grant", "error_description":
        "the provided authorization refresh token is invalid or was issued to another client"}  # fmt: skip
    assert token(ebay, scope="https://api.ebay.com/oauth/api_scope/sell.finances").json()["error"] == "invalid_scope"
    issued = token(ebay).json()
    assert issued["expires_in"] == 7200 and issued["token_type"] == "User Access Token"
    client = httpx.Client(base_url=ebay.url, headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert client.get(f"{FULFILLMENT}/order").status_code == 200
    nobody = httpx.get(f"{ebay.url}{FULFILLMENT}/order")
    assert nobody.status_code == 401 and error_ids(nobody) == [1001]
    assert ebay.post("/tokens/expire") == {"expired": 1}
    expired = client.get(f"{FULFILLMENT}/order")
    assert expired.status_code == 401 and expired.json()["errors"][0]["message"] == "Invalid access token"


def test_a_token_without_the_apis_scope_is_refused_with_403(ebay):
    client = api(ebay, scope="https://api.ebay.com/oauth/api_scope/sell.fulfillment")
    assert client.get(f"{FULFILLMENT}/order").status_code == 200
    refused = client.post(f"{INVENTORY}/bulk_update_price_quantity", json={"requests": [{"sku": "MUG-RED"}]})
    assert refused.status_code == 403 and error_ids(refused) == [1100]


def test_get_orders_filters_by_modification_and_fulfillment_status_and_pages_by_offset(ebay):
    ebay.orders(*({"orderId": f"01-0000{n}-0000{n}", "creationDate": past(600 - n), "lastModifiedDate": past(500 - n * 10),
                   "lines": [{"sku": "MUG-RED", "quantity": 1}]} for n in range(5)))  # fmt: skip
    ebay.change("01-00004-00004", orderFulfillmentStatus="FULFILLED", lastModifiedDate=past(400))
    client = api(ebay)
    since = f"lastmodifieddate:[{past(485)}..]"
    page = client.get(f"{FULFILLMENT}/order", params={"filter": since, "limit": 2}).json()
    assert (page["total"], page["limit"], page["offset"], len(page["orders"])) == (3, 2, 0, 2) and "prev" not in page
    rest = client.get(page["next"]).json()
    assert rest["offset"] == 2 and len(rest["orders"]) == 1 and "next" not in rest and "prev" in rest
    ids = {o["orderId"] for o in page["orders"] + rest["orders"]}
    assert ids == {"01-00003-00003", "01-00004-00004", "01-00002-00002"}
    unshipped = client.get(f"{FULFILLMENT}/order", params={
        "filter": f"{since},orderfulfillmentstatus:{{NOT_STARTED|IN_PROGRESS}}"}).json()  # fmt: skip
    assert {o["orderId"] for o in unshipped["orders"]} == {"01-00002-00002", "01-00003-00003"}
    window = client.get(f"{FULFILLMENT}/order", params={"filter": f"lastmodifieddate:[{past(475)}..{past(465)}]"}).json()
    assert [o["orderId"] for o in window["orders"]] == ["01-00003-00003"]
    by_id = client.get(f"{FULFILLMENT}/order", params={"orderIds": "01-00000-00000,nope", "filter": "bad"}).json()
    assert [o["orderId"] for o in by_id["orders"]] == ["01-00000-00000"]
    created = [o["creationDate"] for o in client.get(f"{FULFILLMENT}/order").json()["orders"]]
    assert created == sorted(created, reverse=True) and len(created) == 5, "no filter: the last 90 days, newest first"


@pytest.mark.parametrize(("params", "error_id"), [
    ({"filter": "lastmodifieddate:[2020-01-01T00:00:00.000Z..]"}, 30830),
    ({"filter": "shipdate:[2026-01-01T00:00:00.000Z..]"}, 30700),
    ({"filter": "lastmodifieddate:[yesterday..]"}, 30810),
    ({"filter": "lastmodifieddate:[..2026-01-01T00:00:00.000Z]"}, 30820),
    ({"filter": "orderfulfillmentstatus:{NOT_STARTED|FULFILLED}"}, 30800),
    ({"limit": "201"}, 31100),
    ({"offset": "-1"}, 31000),
])  # fmt: skip
def test_get_orders_refuses_what_ebay_refuses(ebay, params, error_id):
    refused = api(ebay).get(f"{FULFILLMENT}/order", params=params)
    assert refused.status_code == 400 and error_ids(refused) == [error_id]


def test_a_shipping_fulfillment_ships_its_line_items_and_tells_the_buyer(ebay):
    [order] = ebay.orders({"orderId": "02-11111-22222", "lines": [{"sku": "MUG-RED", "quantity": 2}, {"sku": "TEE-S", "quantity": 1}]})
    first, second = (line["lineItemId"] for line in order["lineItems"])
    client = api(ebay)
    url = f"{FULFILLMENT}/order/02-11111-22222/shipping_fulfillment"
    made = client.post(url, json={"lineItems": [{"lineItemId": first, "quantity": 2}], "shippedDate": past(60),
                                  "shippingCarrierCode": "RoyalMail", "trackingNumber": "RM123456785GB"})  # fmt: skip
    assert made.status_code == 201 and made.headers["Location"].endswith(f"{url}/RM123456785GB")
    assert client.get(f"{FULFILLMENT}/order/02-11111-22222").json()["orderFulfillmentStatus"] == "IN_PROGRESS"
    assert client.get(f"{url}/RM123456785GB").json()["shipmentTrackingNumber"] == "RM123456785GB"
    assert client.post(url, json={"lineItems": [{"lineItemId": "999"}]}).json()["errors"][0]["errorId"] == 32200
    assert error_ids(client.post(url, json={"lineItems": [{"lineItemId": second}], "trackingNumber": "X1"})) == [32300]
    assert error_ids(client.post(url, json={"lineItems": [{"lineItemId": second}], "shippedDate": "soon"})) == [32500]
    assert client.post(url, json={"lineItems": [{"lineItemId": second}]}).status_code == 201
    shipped = ebay.order("02-11111-22222")
    assert shipped["orderFulfillmentStatus"] == "FULFILLED" and len(shipped["fulfillments"]) == 2
    assert shipped["buyerMessages"][0] == "Your order 02-11111-22222 has shipped with RoyalMail, tracking RM123456785GB"
    assert client.get(f"{url}").json()["total"] == 2
    unknown = client.post(f"{FULFILLMENT}/order/09-99999-99999/shipping_fulfillment", json={"lineItems": [{"lineItemId": first}]})
    assert unknown.status_code == 400 and error_ids(unknown) == [32100]
    assert client.get(f"{FULFILLMENT}/order/09-99999-99999").status_code == 404


def test_bulk_update_price_quantity_answers_each_sku(ebay):
    client = api(ebay)
    url = f"{INVENTORY}/bulk_update_price_quantity"
    ok = client.post(url, json={"requests": [{"sku": "MUG-RED", "shipToLocationAvailability": {"quantity": 7}}]},
                     headers={"Content-Language": "en-GB"})  # fmt: skip
    assert ok.status_code == 200 and ok.json() == {"responses": [{"sku": "MUG-RED", "statusCode": 200}]}
    mixed = client.post(url, json={"requests": [{"sku": "MUG-BLUE", "shipToLocationAvailability": {"quantity": 0}},
                                                {"sku": "NOPE", "shipToLocationAvailability": {"quantity": 1}}]})  # fmt: skip
    assert mixed.status_code == 207
    blue, nope = mixed.json()["responses"]
    assert blue["statusCode"] == 200 and blue["warnings"] and nope["statusCode"] == 404 and nope["errors"][0]["errorId"] == 25702
    assert ebay.state()["inventory"]["MUG-RED"] == 7 and ebay.state()["inventory"]["MUG-BLUE"] == 0
    too_many = client.post(url, json={"requests": [{"sku": "MUG-RED", "shipToLocationAvailability": {"quantity": 1}}] * 26})
    assert too_many.status_code == 400 and error_ids(too_many) == [25709]


def test_over_a_call_limit_ebay_answers_429_without_retry_after(ebay):
    ebay.post("/quotas", {"quotas": {"sell.fulfillment": {"calls": 2, "seconds": 86400}}})
    client = api(ebay)
    assert [client.get(f"{FULFILLMENT}/order").status_code for _ in range(3)] == [200, 200, 429]
    limited = client.get(f"{FULFILLMENT}/order")
    assert error_ids(limited) == [2001] and "retry-after" not in limited.headers
    assert client.post(f"{INVENTORY}/bulk_update_price_quantity", json={"requests": [
        {"sku": "MUG-RED", "shipToLocationAvailability": {"quantity": 1}}]}).status_code == 200, "each API has its own limit"  # fmt: skip
    ebay.post("/quotas", {"quotas": {"sell.fulfillment": None}})
    assert client.get(f"{FULFILLMENT}/order").status_code == 200


def test_faults_answer_in_ebays_error_shape(ebay):
    client = api(ebay)
    ebay.fault("server_error", status=500)
    failed = client.get(f"{FULFILLMENT}/order")
    assert failed.status_code == 500 and failed.json()["errors"][0]["domain"] == "API_FULFILLMENT"
    ebay.fault("rate_limit", retry_after=3)
    limited = client.get(f"{FULFILLMENT}/order")
    assert (limited.status_code, limited.headers["Retry-After"], error_ids(limited)) == (429, "3", [2001])


def test_the_contracts_catch_answers_and_requests_that_break_them():
    """The checks can fail: an order whose quantity is a string (the sandbox's answer), a
    fulfillment whose line item quantity is text and a query parameter getOrders does not take (the
    client's requests), each caught as it passes."""
    with ebay_sandbox() as ebay:
        ebay.orders({"orderId": "03-00000-00001", "overrides": {"lineItems": [{"lineItemId": "1", "quantity": "2"}]}})
        client = api(ebay)
        client.get(f"{FULFILLMENT}/order/03-00000-00001")
        client.post(f"{FULFILLMENT}/order/03-00000-00001/shipping_fulfillment", json={"lineItems": [{"lineItemId": "1", "quantity": "two"}]})
        client.get(f"{FULFILLMENT}/order", params={"limit": "10", "sort": "newest"})
        with pytest.raises(AssertionError) as broken:
            assert_kept(ebay.checked)
    assert str(broken.value).splitlines() == [
        "getOrder 200: lineItems/0/quantity: '2' is not of type 'integer'",
        "createShippingFulfillment request body: lineItems/0/quantity: 'two' is not of type 'integer'",
        "getOrders: query parameter sort is not the operation's",
        "getOrders 200: orders/0/lineItems/0/quantity: '2' is not of type 'integer'",
    ]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "problem"), [
    (401, {"errors": [{"message": "no id"}]}, "getOrders 401: errors/0: 'errorId' is a required property"),
    (500, {"error": "boom"}, "getOrders 500: (root): 'errors' is a required property"),
    (200, {"orders": [{"orderId": "1", "lineItems": [{"quantity": 2**31}]}]}, "2147483648 is not a 'int32'"),
    (204, {}, "getOrders 204: status 204 is not documented"),
])  # fmt: skip
def test_the_contracts_hold_ebays_errors_to_ebays_error_shape(status, body, problem):
    """eBay documents few error statuses and none with a body: each error answer is checked
    against eBay's Error schema; int32 is a format the checks know."""
    problems = contracts()[0].response_problems("GET", f"{FULFILLMENT}/order", status, json.dumps(body).encode())
    assert any(problem in found for found in problems), problems


def test_the_contracts_read_207_as_the_200_and_want_content_language_where_documented():
    inventory = contracts()[1]
    mixed = {"responses": [{"sku": "A", "statusCode": "404"}]}
    assert inventory.response_problems("POST", f"{INVENTORY}/bulk_update_price_quantity", 207, json.dumps(mixed).encode()) == [
        "bulkUpdatePriceQuantity 207: responses/0/statusCode: '404' is not of type 'integer'"]  # fmt: skip
    item = json.dumps({"availability": {"shipToLocationAvailability": {"quantity": 1}}}).encode()
    assert inventory.request_problems("PUT", f"{INVENTORY}/inventory_item/MUG-RED", [], item, headers={}) == [
        "createOrReplaceInventoryItem: the required header parameter Content-Language is missing"]  # fmt: skip
    assert inventory.request_problems("PUT", f"{INVENTORY}/inventory_item/MUG-RED", [], item, headers={"content-language": "en-GB"}) == []
    assert contracts()[0].operation("POST", f"{INVENTORY}/bulk_update_price_quantity") is None
