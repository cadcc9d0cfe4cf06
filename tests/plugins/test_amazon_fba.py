"""Amazon FBA (``amazon_fba``) against the Amazon sandbox over real HTTP: the FBA inventory read
into one stock report (every nextToken page, fulfillable units, named and hashed so an unchanged
inventory is the same report), the refused exports, the connection test, and the faults of the
inventory call; the sandbox's FBA side (getInventorySummaries' rules and usage plan, the
sandbox-only inventory operations, AFN orders Amazon ships on its own). Every request and answer
is checked against Amazon's API models."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from orderdeck.plugins.dto import ExportBatch, FulfilmentOrder, RowProblem
from orderdeck.plugins.errors import PartnerAuthError, PartnerRateLimited, PartnerUnavailable, PartnerUnreadable
from orderdeck.plugins.manager import channel_connector, fulfilment_connector
from orderdeck_amazon import AmazonSettings, mapping
from orderdeck_amazon.fba import FBA_RATES, REFUSAL, FbaSettings, stock_report
from orderdeck_amazon.sandbox import create_app, static
from orderdeck_amazon.sandbox.fba import FBA_USAGE_PLANS
from tests.plugins.amazon_fba import FBA_FAST, SHIP_AFTER, FbaSandbox, fba_sandbox
from tests.plugins.support import SPECS, ApiSpec, SpecChecked, serve
from tests.plugins.test_amazon_contract import MARKETPLACE

SUMMARIES = "/fba/inventory/v1/summaries"


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return {}


@pytest.fixture
def fba(sandbox_options: dict[str, Any]) -> Iterator[FbaSandbox]:
    with fba_sandbox(**sandbox_options) as sandbox:
        yield sandbox


@pytest.fixture
def hooks():
    return fulfilment_connector("amazon_fba")


def levels(report) -> dict[str, int]:
    return {line.sku: line.quantity for line in report.levels}


# The settings: the channel's, so orderdeck can copy them


def test_the_amazon_channel_names_its_fba_centre_whose_settings_it_can_fill():
    assert channel_connector("amazon").fulfilment_connector == "amazon_fba"
    channel = AmazonSettings(marketplace_ids=["A1F83G8C2ARO7P", "A1PA6795UKMFR9"], seller_id="S", client_id="c",
                             client_secret="s", refresh_token="Atzr|r", region="eu")  # fmt: skip
    copied = {name: value for name, value in channel.model_dump().items() if name in FbaSettings.model_fields}
    assert set(copied) == set(FbaSettings.model_fields) - {"fba_marketplace_id", "inventory_rate"}
    settings = FbaSettings(**copied)
    assert settings.marketplace == "A1F83G8C2ARO7P" and settings.client_secret.get_secret_value() == "s"
    assert FbaSettings(**copied, fba_marketplace_id="A1PA6795UKMFR9").marketplace == "A1PA6795UKMFR9"
    with pytest.raises(ValueError, match="marketplace id"):
        FbaSettings(**copied, fba_marketplace_id="uk")
    with pytest.raises(ValueError, match="must be Amazon marketplace ids"):
        FbaSettings(**{**copied, "marketplace_ids": ["amazon.co.uk"]})


def test_an_afn_order_is_fulfilled_by_the_channel_and_an_mfn_one_is_not():
    raw = {"AmazonOrderId": "202-0000000-0000001", "OrderStatus": "Unshipped", "PurchaseDate": "2026-03-02T09:00:00Z",
           "OrderTotal": {"CurrencyCode": "GBP", "Amount": "5.00"}}  # fmt: skip
    items = [{"OrderItemId": "1", "SellerSKU": "AMZ-MUG", "QuantityOrdered": 1}]
    assert mapping.map_order({**raw, "FulfillmentChannel": "AFN"}, items).fulfilled_by_channel
    assert not mapping.map_order({**raw, "FulfillmentChannel": "MFN"}, items).fulfilled_by_channel
    assert not mapping.map_order(raw, items).fulfilled_by_channel


# Stock


@pytest.mark.parametrize("sandbox_options", [{"fba_page_size": 2}])
async def test_the_inventory_is_read_page_by_page_into_one_report_of_fulfillable_units(fba, hooks):
    fba.stock(**{"AMZ-MUG": 7, "AMZ-CUP": 0, "TEE-S": 3, "TEE-M": 12})
    fba.control("POST", "/fba/inventory", json={"inventory": [{"sku": "POSTER", "fulfillable": 2, "inbound": 40,
                                                                "reserved": 5, "unfulfillable": 1}]})  # fmt: skip
    [report] = await hooks.import_stock(fba.connection())
    assert levels(report) == {"AMZ-CUP": 0, "AMZ-MUG": 7, "POSTER": 2, "TEE-M": 12, "TEE-S": 3}, "fulfillable, not total"
    assert report.problems == []
    latest = max(item["updated"] for item in fba.control("GET", "/fba/inventory")["inventory"])
    assert report.file.name == f"fba-inventory {MARKETPLACE} at {latest}"
    pages = fba.requests(SUMMARIES)
    assert len(pages) == 3 and all(r["status"] == 200 for r in pages)
    first = dict(re.findall(r"([^&=]+)=([^&]*)", pages[0]["query"]))
    assert first == {"granularityType": "Marketplace", "granularityId": MARKETPLACE, "marketplaceIds": MARKETPLACE,
                     "details": "true"}  # fmt: skip
    assert all("nextToken=" in r["query"] for r in pages[1:])


async def test_an_unchanged_inventory_is_the_same_report_and_a_change_a_new_one(fba, hooks):
    connection = fba.connection()
    fba.stock(**{"AMZ-MUG": 7, "AMZ-CUP": 2})
    [first] = await hooks.import_stock(connection)
    [again] = await hooks.import_stock(connection)
    assert again.file == first.file, "read again: orderdeck sees the report it applied"
    fba.advance(60)
    fba.stock(**{"AMZ-MUG": 6})
    [changed] = await hooks.import_stock(connection)
    assert changed.file.name != first.file.name and changed.file.content_hash != first.file.content_hash
    assert levels(changed) == {"AMZ-MUG": 6, "AMZ-CUP": 2}
    fba.advance(60)
    fba.stock(**{"AMZ-MUG": 7})
    [back] = await hooks.import_stock(connection)
    assert back.file.content_hash == first.file.content_hash and back.file.name != first.file.name, (
        "the same levels again, later: a new report, so they are applied again")


async def test_nothing_in_fba_is_no_report(fba, hooks):
    assert await hooks.import_stock(fba.connection()) == []


def test_a_summary_without_a_sku_or_fulfillable_units_is_a_row_problem():
    summaries = [
        {"sellerSku": "AMZ-MUG", "totalQuantity": 9, "lastUpdatedTime": "2026-03-02T09:00:00Z",
         "inventoryDetails": {"fulfillableQuantity": 4}},
        {"asin": "B0TEST", "totalQuantity": 3, "inventoryDetails": {"fulfillableQuantity": 3}},
        {"sellerSku": "AMZ-CUP", "totalQuantity": 5},
        {"sellerSku": "TEE-S", "inventoryDetails": {"fulfillableQuantity": "5"}},
        "not a summary",
        {"sellerSku": "TEE-M", "lastUpdatedTime": "2026-03-03T09:00:00Z", "inventoryDetails": {"fulfillableQuantity": 0}},
    ]  # fmt: skip
    report = stock_report(MARKETPLACE, summaries)
    assert levels(report) == {"AMZ-MUG": 4, "TEE-M": 0}
    assert [(p.row, p.column) for p in report.problems] == [
        (2, "sellerSku"), (3, "inventoryDetails.fulfillableQuantity"), (4, "inventoryDetails.fulfillableQuantity"), (5, "")]
    assert report.problems[1] == RowProblem(3, "inventoryDetails.fulfillableQuantity",
                                            "SKU AMZ-CUP: Amazon gave no fulfillable quantity; its level is left as it was")  # fmt: skip
    assert report.file.name == f"fba-inventory {MARKETPLACE} at 2026-03-03T09:00:00Z"
    assert stock_report(MARKETPLACE, list(reversed(summaries))).file.content_hash == report.file.content_hash


@pytest.mark.parametrize("sandbox_options", [{"fba_page_size": 1}])
async def test_a_next_token_amazon_refuses_starts_the_reading_again_once(fba, hooks):
    fba.stock(**{"AMZ-MUG": 1, "AMZ-CUP": 2, "TEE-S": 3})
    connection = fba.connection()
    await hooks.test_connection(connection)  # the token first: the fault is for the inventory
    fba.fault("server_error", status=400, after=1)
    [report] = await hooks.import_stock(connection)
    assert levels(report) == {"AMZ-MUG": 1, "AMZ-CUP": 2, "TEE-S": 3}
    assert [r["status"] for r in fba.requests(SUMMARIES)][1:] == [200, 400, 200, 200, 200]


@pytest.mark.parametrize("sandbox_options", [{"fba_page_size": 1, "fba_next_token_seconds": 0}])
async def test_next_tokens_that_expire_at_once_are_a_passing_failure(fba, hooks):
    fba.stock(**{"AMZ-MUG": 1, "AMZ-CUP": 2})
    with pytest.raises(PartnerUnavailable, match="refused a nextToken twice"):
        await hooks.import_stock(fba.connection())
    assert [r["status"] for r in fba.requests(SUMMARIES)] == [200, 400, 200, 400]
    assert fba.account.requests.as_json()[-1]["query"].count("nextToken=") == 1


# Orders and statuses


async def test_every_order_handed_to_fba_is_refused_and_no_status_is_read(fba, hooks):
    order = FulfilmentOrder(order_id="o-1", number=1001, reference="202-1", received_at=datetime(2026, 3, 2, tzinfo=UTC), lines=[])
    result = await hooks.export_orders(fba.connection(), ExportBatch("FBA-1001.csv", [order]))
    assert [(r.id, r.ok, r.error) for r in result.refused] == [("o-1", False, REFUSAL)]
    assert "Multi-Channel Fulfillment is not supported" in REFUSAL
    assert await hooks.import_statuses(fba.connection()) == []
    assert fba.requests() == [], "neither asks Amazon anything"


# The connection test


async def test_the_connection_test_reads_one_page_of_inventory(fba, hooks):
    result = await hooks.test_connection(fba.connection())
    assert result.ok and MARKETPLACE in result.message
    [asked] = fba.requests(SUMMARIES)
    assert "details=false" in asked["query"]
    refused = await hooks.test_connection(fba.connection(refresh_token="Atzr|revoked"))
    assert not refused.ok and "refused the credentials" in refused.message
    elsewhere = await hooks.test_connection(fba.connection(fba_marketplace_id="A1PA6795UKMFR9"))
    assert not elsewhere.ok and "does not sell in A1PA6795UKMFR9" in elsewhere.message


# Faults of the inventory call


@pytest.mark.parametrize(("kind", "options"), [
    ("server_error", {"status": 500}), ("server_error", {"status": 503}), ("disconnect", {}),
    ("rate_limit", {"retry_after": 0.1}), ("unauthorized", {}), ("forbidden", {}),
])  # fmt: skip
async def test_a_passing_fault_is_retried(fba, hooks, kind, options):
    fba.stock(**{"AMZ-MUG": 4})
    connection = fba.connection()
    await hooks.test_connection(connection)
    fba.fault(kind, **options)
    [report] = await hooks.import_stock(connection)
    assert levels(report) == {"AMZ-MUG": 4}


@pytest.mark.parametrize(("kind", "options", "error"), [
    ("server_error", {"count": 3}, PartnerUnavailable), ("rate_limit", {"retry_after": 120, "count": 5}, PartnerRateLimited),
    ("malformed", {}, PartnerUnreadable), ("unauthorized", {"count": 2}, PartnerAuthError),
])  # fmt: skip
async def test_a_lasting_fault_is_a_typed_error(fba, hooks, kind, options, error):
    fba.stock(**{"AMZ-MUG": 4})
    connection = fba.connection()
    await hooks.test_connection(connection)
    fba.fault(kind, **options)
    with pytest.raises(error):
        await hooks.import_stock(connection)


@pytest.mark.parametrize("sandbox_options", [{"fba_page_size": 1, "rates": {**FBA_FAST, "getInventorySummaries": (2, 2)}}])
async def test_amazons_own_429s_are_waited_out_at_the_pace_it_announces(fba, hooks):
    """The connection's plan (burst 10) outruns Amazon's (2 a second, burst 2): Amazon answers 429
    QuotaExceeded without Retry-After, and the client slows to the rate Amazon announces."""
    fba.stock(**{"AMZ-MUG": 1, "AMZ-CUP": 2, "TEE-S": 3, "TEE-M": 4, "POSTER": 5})
    [report] = await hooks.import_stock(fba.connection(inventory_rate={"rate": 1000, "burst": 10}))
    assert len(report.levels) == 5
    statuses = [r["status"] for r in fba.requests(SUMMARIES)]
    assert 429 in statuses and statuses.count(200) == 5, statuses
    token = fba.account.issue_token()[0]
    limited = httpx.get(f"{fba.url}{SUMMARIES}", headers={"x-amz-access-token": token}, params={
        "granularityType": "Marketplace", "granularityId": MARKETPLACE, "marketplaceIds": MARKETPLACE})  # fmt: skip
    for _ in range(3):
        if limited.status_code == 429:
            break
        limited = httpx.get(str(limited.request.url), headers={"x-amz-access-token": token})
    assert limited.status_code == 429 and "retry-after" not in limited.headers
    assert limited.headers["x-amzn-RateLimit-Limit"] == "2" and limited.json()["errors"][0]["code"] == "QuotaExceeded"


# The sandbox's FBA Inventory API


@pytest.fixture
def api(fba: FbaSandbox) -> Iterator[httpx.Client]:
    """A client of the sandbox holding an access token."""
    token = fba.account.issue_token()[0]
    with httpx.Client(base_url=fba.url, headers={"x-amz-access-token": token}, timeout=10) as client:
        yield client


def summaries(api: httpx.Client, **params: Any) -> httpx.Response:
    return api.get(SUMMARIES, params={"granularityType": "Marketplace", "granularityId": MARKETPLACE,
                                      "marketplaceIds": MARKETPLACE, **params})  # fmt: skip


@pytest.mark.parametrize("sandbox_options", [{"fba_page_size": 2}])
def test_inventory_summaries_filter_and_page_as_amazon_documents(fba, api):
    fba.stock(**{"AMZ-MUG": 7, "AMZ-CUP": 1})
    fba.advance(3600)
    fba.control("POST", "/fba/inventory", json={"inventory": [{"sku": "TEE-S", "fulfillable": 3, "total": 10}]})
    plain = summaries(api).json()
    assert plain["payload"]["granularity"] == {"granularityType": "Marketplace", "granularityId": MARKETPLACE}
    assert [s["sellerSku"] for s in plain["payload"]["inventorySummaries"]] == ["AMZ-CUP", "AMZ-MUG"]
    assert all("inventoryDetails" not in s and "totalQuantity" in s for s in plain["payload"]["inventorySummaries"])
    rest = summaries(api, nextToken=plain["pagination"]["nextToken"]).json()
    [tee] = rest["payload"]["inventorySummaries"]
    assert "pagination" not in rest and tee["totalQuantity"] == 10 and "inventoryDetails" not in tee
    detailed = summaries(api, details="true", sellerSkus="TEE-S,AMZ-MUG").json()["payload"]["inventorySummaries"]
    assert [(s["sellerSku"], s["inventoryDetails"]["fulfillableQuantity"], s["inventoryDetails"]["inboundShippedQuantity"])
            for s in detailed] == [("AMZ-MUG", 7, 0), ("TEE-S", 3, 7)]  # fmt: skip
    assert [s["sellerSku"] for s in summaries(api, sellerSku="AMZ-CUP").json()["payload"]["inventorySummaries"]] == ["AMZ-CUP"]
    since = fba.control("GET", "/fba/inventory")["inventory"][-1]["updated"]
    changed = summaries(api, startDateTime=since, sellerSku="AMZ-CUP").json()["payload"]["inventorySummaries"]
    assert [s["sellerSku"] for s in changed] == ["TEE-S"], "startDateTime wins over sellerSku"


@pytest.mark.parametrize(("params", "message"), [
    ({"granularityId": "A1PA6795UKMFR9"}, "granularityId must be the marketplace"),
    ({"granularityId": "A1PA6795UKMFR9", "marketplaceIds": "A1PA6795UKMFR9"}, "does not sell in A1PA6795UKMFR9"),
    ({"startDateTime": "2020-01-01T00:00:00Z"}, "18 months"),
    ({"nextToken": "bm90LWEtdG9rZW4"}, "nextToken is invalid or has expired"),
])  # fmt: skip
def test_inventory_summaries_refuse_what_amazon_refuses(fba, api, params, message):
    refused = summaries(api, **params)
    assert refused.status_code == 400 and message in refused.json()["errors"][0]["message"]


@pytest.mark.parametrize("sandbox_options", [{"fba_page_size": 1}])
def test_a_next_token_serves_only_its_own_query(fba, api):
    fba.stock(**{"AMZ-MUG": 7, "AMZ-CUP": 1})
    token = summaries(api).json()["pagination"]["nextToken"]
    assert summaries(api, details="true", nextToken=token).status_code == 400
    assert summaries(api, nextToken=token).status_code == 200


def test_the_sandbox_only_operations_create_add_and_delete_inventory(fba, api):
    created = api.post("/fba/inventory/v1/items", json={"sellerSku": "NEW-1", "marketplaceId": MARKETPLACE, "productName": "New"})
    assert created.status_code == 200
    add = {"inventoryItems": [{"sellerSku": "NEW-1", "marketplaceId": MARKETPLACE, "quantity": 5}]}
    for _ in range(2):  # the same idempotency token: added once
        assert api.post("/fba/inventory/v1/items/inventory", json=add, headers={"x-amzn-idempotency-token": "t-1"}).status_code == 200
    assert api.post("/fba/inventory/v1/items/inventory", json=add, headers={"x-amzn-idempotency-token": "t-2"}).status_code == 200
    [new] = summaries(api, details="true").json()["payload"]["inventorySummaries"]
    assert (new["sellerSku"], new["productName"], new["inventoryDetails"]["fulfillableQuantity"]) == ("NEW-1", "New", 10)
    unknown = {"inventoryItems": [{"sellerSku": "NOPE", "marketplaceId": MARKETPLACE, "quantity": 1}]}
    assert api.post("/fba/inventory/v1/items/inventory", json=unknown, headers={"x-amzn-idempotency-token": "t-3"}).status_code == 400
    assert api.delete("/fba/inventory/v1/items/NEW-1", params={"marketplaceId": MARKETPLACE}).status_code == 200
    assert api.delete("/fba/inventory/v1/items/NEW-1", params={"marketplaceId": MARKETPLACE}).status_code == 404
    assert summaries(api).json()["payload"]["inventorySummaries"] == []


# The sandbox's AFN orders


def test_afn_orders_reserve_their_units_and_ship_on_their_own(fba, api):
    fba.stock(**{"AMZ-MUG": 5, "AMZ-CUP": 1})
    [order] = fba.control("POST", "/fba/orders", json={"orders": [{"items": [{"sku": "AMZ-MUG", "quantity": 2}]}]})["orders"]
    [cancelled] = fba.control("POST", "/fba/orders", json={"orders": [{"items": [{"sku": "AMZ-CUP", "quantity": 1}]}]})["orders"]
    assert order["FulfillmentChannel"] == "AFN" and order["OrderStatus"] == "Unshipped"
    too_many = httpx.post(f"{fba.url}/__sandbox/fba/orders", json={"orders": [{"items": [{"sku": "AMZ-MUG", "quantity": 4}]}]})
    assert too_many.status_code == 400 and "has 3 fulfillable units" in too_many.json()["error"]
    stock = {s["sku"]: s for s in fba.control("GET", "/fba/inventory")["inventory"]}
    assert (stock["AMZ-MUG"]["fulfillable"], stock["AMZ-MUG"]["reserved"], stock["AMZ-MUG"]["total"]) == (3, 2, 5)
    fba.control("PATCH", f"/orders/{cancelled['AmazonOrderId']}", json={"status": "Canceled"})
    fba.advance(SHIP_AFTER - 5)
    assert fba.account.orders[order["AmazonOrderId"]].status == "Unshipped"
    fba.advance(5)
    shipped = api.get(f"/orders/v0/orders/{order['AmazonOrderId']}").json()["payload"]
    assert shipped["OrderStatus"] == "Shipped" and shipped["NumberOfItemsShipped"] == 2
    purchased = mapping.parse_date(order["PurchaseDate"])
    assert (mapping.parse_date(shipped["LastUpdateDate"]) - purchased).total_seconds() == SHIP_AFTER
    stock = {s["sku"]: s for s in fba.control("GET", "/fba/inventory")["inventory"]}
    assert (stock["AMZ-MUG"]["fulfillable"], stock["AMZ-MUG"]["reserved"], stock["AMZ-MUG"]["total"]) == (3, 0, 3)
    assert (stock["AMZ-CUP"]["fulfillable"], stock["AMZ-CUP"]["reserved"]) == (1, 0), "a cancelled order gives its units back"
    random = fba.control("POST", "/fba/orders", json={"random": 2})["orders"]
    assert len(random) == 2 and all(o["FulfillmentChannel"] == "AFN" for o in random)


# The model: usage plan and sandbox cases


def test_the_usage_plan_and_sandbox_cases_are_the_models():
    path = SPECS / "amazon-sp-api-fbaInventory.json"
    if not path.exists():
        pytest.skip(f"{path} is not here (it comes with shared/specs)")
    document = json.loads(path.read_text())
    operation = document["paths"][SUMMARIES]["get"]
    found = re.search(r"\|\s*Rate.*?\n\|[- |]+\n\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|", operation["description"])
    assert found and (float(found.group(1)), int(found.group(2))) == FBA_RATES["getInventorySummaries"]
    assert FBA_USAGE_PLANS["getInventorySummaries"] == FBA_RATES["getInventorySummaries"]
    assert static.extract(document) == {}, "the FBA Inventory model has no static cases to replay"
    assert all(item["x-amzn-api-sandbox"] == {"dynamic": {}} for item in document["paths"].values())
    sandbox_only = {op["operationId"] for item in document["paths"].values() for method, op in item.items()
                    if isinstance(op, dict) and "operationId" in op and item.get("x-amzn-api-sandbox-only")}  # fmt: skip
    assert sandbox_only == set(FBA_USAGE_PLANS) - {"getInventorySummaries"}


# An independent client


def test_python_amazon_sp_api_reads_the_fba_inventory():
    """python-amazon-sp-api (not written by this project) pages through the sandbox's inventory;
    its requests carry parameters of its own (only the answers are checked against the model)."""
    from sp_api.api import Inventories
    from sp_api.auth.access_token_client import cache as token_cache

    from tests.plugins.test_amazon_sp_api_client import CREDENTIALS, REFRESH_TOKEN, client

    app = create_app(client_id=CREDENTIALS["lwa_app_id"], client_secret=CREDENTIALS["lwa_client_secret"],
                     refresh_token=REFRESH_TOKEN, fba_stock={"AMZ-MUG": 7, "AMZ-CUP": 2}, fba_page_size=1, seed=5)  # fmt: skip
    checked = SpecChecked(app, [ApiSpec.load("amazon-sp-api-fbaInventory.json")], requests=False,
                          skip=("/__sandbox", "/auth/o2/token"))  # fmt: skip
    token_cache.clear()  # the library keeps tokens by refresh token for the process

    def read(url: str) -> list[dict[str, Any]]:
        api = client(Inventories, url)
        found, token = [], None
        while True:
            page = api.get_inventory_summary_marketplace(details="true", marketplaceIds="ATVPDKIKX0DER",
                                                         **({"nextToken": token} if token else {}))  # fmt: skip
            found += page.payload["inventorySummaries"]
            token = page.next_token
            if not token:
                return found

    with serve(checked) as running:
        found = asyncio.run(asyncio.to_thread(read, running.url))  # the library is synchronous
    assert [(s["sellerSku"], s["inventoryDetails"]["fulfillableQuantity"]) for s in found] == [("AMZ-CUP", 2), ("AMZ-MUG", 7)]
    assert checked.problems == [] and checked.checked == 2
