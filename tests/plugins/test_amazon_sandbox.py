"""The Amazon sandbox behaves as Amazon documents: LWA's answers, getOrders' validation and window,
confirmShipment's rules, listings, solicitations, tokens and usage plans; every answer checked
against the API models."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from orderdeck_amazon.sandbox import create_app
from tests.plugins.support import ApiSpec, SpecChecked, serve

SELLER, MARKETPLACE = "A1SANDBOXTEST", "A1F83G8C2ARO7P"
WHEN = "2026-03-02T09:00:00Z"


@pytest.fixture
def api() -> Iterator[tuple[httpx.Client, object]]:
    """A client of a fresh sandbox account holding an access token, and the account."""
    app = create_app(skus=["SB-MUG"], seller_id=SELLER, marketplace_ids=[MARKETPLACE], seed=1,
                     rates={op: (100.0, 100) for op in ("getOrders", "getSolicitationActionsForOrder",
                                                        "createProductReviewAndSellerFeedbackSolicitation")})  # fmt: skip
    account = app.state.sandbox
    specs = [ApiSpec.load("amazon-sp-api-ordersV0.json"), ApiSpec.load("amazon-sp-api-listingsItems_2021-08-01.json"),
             ApiSpec.load("amazon-sp-api-solicitations.json")]  # fmt: skip
    checked = SpecChecked(app, specs, requests=False, skip=("/__sandbox", "/auth/o2/token"))
    with serve(checked) as running:
        token, _ = account.issue_token()
        with httpx.Client(base_url=running.url, headers={"x-amz-access-token": token}, timeout=10) as client:
            yield client, account
    assert checked.problems == [], checked.problems


def lwa(client: httpx.Client, account, **changes: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": account.refresh_token, "client_id": account.client_id,
            "client_secret": account.client_secret, **changes}  # fmt: skip
    return client.post("/auth/o2/token", data=form)


def test_lwa_issues_expiring_tokens_and_refuses_as_amazon_does(api):
    client, account = api
    issued = lwa(client, account).json()
    assert issued["token_type"] == "bearer" and issued["expires_in"] == 3600 and issued["access_token"].startswith("Atza|")
    assert lwa(client, account, refresh_token="Atzr|other").json()["error"] == "invalid_grant"
    assert lwa(client, account, client_secret="nope").status_code == 401
    assert lwa(client, account, grant_type="password").json()["error"] == "unsupported_grant_type"
    orders = client.get("/orders/v0/orders/1", headers={"x-amz-access-token": issued["access_token"]})
    assert orders.status_code == 404
    httpx.post(f"{client.base_url}/__sandbox/tokens/expire")
    expired = client.get("/orders/v0/orders/1", headers={"x-amz-access-token": issued["access_token"]})
    assert expired.status_code == 403 and expired.json()["errors"][0]["details"] == "The access token you provided has expired."


def test_get_orders_validates_its_window_as_amazon_does(api):
    client, account = api
    account.place_order({"AmazonOrderId": "203-0000000-0000001", "purchase_date": WHEN, "last_update_date": WHEN})
    account.place_order({"AmazonOrderId": "203-0000000-0000002"})  # now: inside the two minutes still settling
    answer = client.get("/orders/v0/orders", params={"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": "2026-03-01T00:00:00Z"})
    payload = answer.json()["payload"]
    assert [o["AmazonOrderId"] for o in payload["Orders"]] == ["203-0000000-0000001"]
    assert payload["LastUpdatedBefore"].endswith("Z") and answer.headers["x-amzn-RateLimit-Limit"] == "100"
    refusals = [
        {"LastUpdatedAfter": "2026-03-01T00:00:00Z"},  # no MarketplaceIds
        {"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2026-03-01T00:00:00Z"},  # not the seller's
        {"MarketplaceIds": MARKETPLACE},  # neither date
        {"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": WHEN, "CreatedAfter": WHEN},  # both
        {"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": "yesterday"},
        {"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": WHEN, "LastUpdatedBefore": "2099-01-01T00:00:00Z"},
        {"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": WHEN, "MaxResultsPerPage": "101"},
        {"MarketplaceIds": MARKETPLACE, "LastUpdatedAfter": WHEN, "NextToken": "garbage"},
    ]  # fmt: skip
    for params in refusals:
        refused = client.get("/orders/v0/orders", params=params)
        assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "InvalidInput", params


def test_confirm_shipment_ships_what_is_left_and_refuses_the_rest(api):
    client, account = api
    order = account.place_order({"AmazonOrderId": "203-1000000-0000001", "items": [{"sku": "SB-MUG", "quantity": 2}]})
    item = order.items[0].order_item_id

    def confirm(quantity: int, **package: object) -> httpx.Response:
        detail = {"packageReferenceId": "1", "carrierCode": "Royal Mail", "trackingNumber": "RM1",
                  "shipDate": WHEN, "orderItems": [{"orderItemId": item, "quantity": quantity}], **package}  # fmt: skip
        return client.post("/orders/v0/orders/203-1000000-0000001/shipmentConfirmation",
                           json={"marketplaceId": MARKETPLACE, "packageDetail": detail})  # fmt: skip

    assert confirm(3).status_code == 400
    assert confirm(1, shipDate="tomorrow").status_code == 400
    assert confirm(1).status_code == 204 and order.status == "PartiallyShipped"
    assert confirm(1).status_code == 204 and order.status == "Shipped" and len(order.buyer_messages) == 2
    assert confirm(1).status_code == 400, "nothing is left to ship"
    assert client.post("/orders/v0/orders/203-9999999-0000001/shipmentConfirmation", json={}).status_code == 404


def test_listings_answer_as_amazon_documents(api):
    client, _ = api
    path, params = f"/listings/2021-08-01/items/{SELLER}", {"marketplaceIds": MARKETPLACE}
    body = {"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                                                   "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 8}]}]}  # fmt: skip
    preview = client.patch(f"{path}/SB-MUG", params={**params, "mode": "VALIDATION_PREVIEW"}, json=body).json()
    assert preview["status"] == "VALID"
    assert client.patch(f"{path}/SB-MUG", params=params, json=body).json()["status"] == "ACCEPTED"
    read = client.get(f"{path}/SB-MUG", params={**params, "includedData": "summaries,fulfillmentAvailability"}).json()
    assert read["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 8}]
    bad = {**body, "patches": [{**body["patches"][0], "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -1}]}]}
    assert client.patch(f"{path}/SB-MUG", params=params, json=bad).json()["status"] == "INVALID"
    unknown = client.patch(f"{path}/SB-NONE", params=params, json=body).json()
    assert unknown["status"] == "INVALID" and unknown["issues"][0]["severity"] == "ERROR"
    assert client.get(f"{path}/SB-NONE", params=params).status_code == 404
    assert client.patch("/listings/2021-08-01/items/A9OTHER/SB-MUG", params=params, json=body).status_code == 403


def test_a_review_request_is_offered_5_to_30_days_after_delivery_once(api):
    client, account = api
    order = account.place_order({"AmazonOrderId": "203-2000000-0000001", "items": [{"sku": "SB-MUG", "quantity": 1}]})
    path, params = "/solicitations/v1/orders/203-2000000-0000001", {"marketplaceIds": MARKETPLACE}
    review = f"{path}/solicitations/productReviewAndSellerFeedback"

    def offered() -> list[str]:
        answer = client.get(path, params=params)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/hal+json"
        body = answer.json()
        assert body["_links"]["self"]["href"] == f"{path}?marketplaceIds={MARKETPLACE}"
        assert [a["payload"]["name"] for a in body["_embedded"]["actions"]] == [a["name"] for a in body["_links"]["actions"]]
        return [a["name"] for a in body["_links"]["actions"]]

    def advance(days: float) -> None:
        httpx.post(f"{client.base_url}/__sandbox/clock", json={"advance": days * 86400}).raise_for_status()

    assert offered() == [], "not shipped"
    account.change_order(order, "Shipped")
    advance(4.9)
    assert offered() == []
    too_early = client.post(review, params=params)
    assert too_early.status_code == 403 and "5-30 day range" in too_early.json()["errors"][0]["message"]
    advance(0.2)
    assert offered() == ["productReviewAndSellerFeedback"]
    created = client.post(review, params=params)
    assert created.status_code == 201 and created.json() == {}
    assert offered() == [], "once per order"
    again = client.post(review, params=params)
    assert again.status_code == 403 and again.json()["errors"][0] == {
        "code": "Unauthorized", "message": "The requested solicitation is not available for this amazonOrderId.", "details": ""}  # fmt: skip
    assert [s["name"] for s in order.solicitations] == ["productReviewAndSellerFeedback"]
    late = account.place_order({"AmazonOrderId": "203-2000000-0000002", "status": "Shipped", "ship_date": "2020-01-01T00:00:00Z",
                                "items": [{"sku": "SB-MUG", "quantity": 1}]})  # fmt: skip
    assert client.post(f"/solicitations/v1/orders/{late.id}/solicitations/productReviewAndSellerFeedback",
                       params=params).status_code == 403 and late.solicitations == []  # fmt: skip
    assert client.get("/solicitations/v1/orders/203-9999999-0000001", params=params).status_code == 404
    assert client.get(path, params={"marketplaceIds": "ATVPDKIKX0DER"}).status_code == 400, "not the seller's"
    assert client.get(path, params={"marketplaceIds": f"{MARKETPLACE},{MARKETPLACE}"}).status_code == 400, "one marketplace"
    assert client.get(path).status_code == 400


def test_each_operation_keeps_its_usage_plan():
    app = create_app(skus=[], rates={"getOrder": (0.5, 2)})
    account = app.state.sandbox
    token, _ = account.issue_token()
    with serve(app) as running:
        answers = [httpx.get(f"{running.url}/orders/v0/orders/1", headers={"x-amz-access-token": token}) for _ in range(3)]
    assert [a.status_code for a in answers] == [404, 404, 429]
    assert all(a.headers["x-amzn-RateLimit-Limit"] == "0.5" for a in answers) and "retry-after" not in answers[2].headers
