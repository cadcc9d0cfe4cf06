"""The Amazon sandbox and client against Amazon's published API models (../shared/specs): the
contract checker itself, the usage plans, and the models' static sandbox cases (31 of Orders v0,
14 of Listings Items, 2 of Solicitations) replayed against the sandbox, each request built from
the case's parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from orderdeck_amazon.client import OPERATION_RATES
from orderdeck_amazon.sandbox import USAGE_PLANS, create_app, static
from tests.plugins.support import SPECS, ApiSpec, serve

ORDERS_V0, LISTINGS = "amazon-sp-api-ordersV0.json", "amazon-sp-api-listingsItems_2021-08-01.json"
SOLICITATIONS = "amazon-sp-api-solicitations.json"
MODELS = (ORDERS_V0, LISTINGS, SOLICITATIONS)
SELLER, MARKETPLACE, SKU = "A1SPECSELLER", "ATVPDKIKX0DER", "SPEC-MUG"
ORDER_DEFINITION = {"AmazonOrderId": "902-3159896-1390916", "PurchaseDate": "2026-01-20T19:49:35Z",
                    "LastUpdateDate": "2026-01-20T19:49:35Z", "OrderStatus": "Unshipped"}  # fmt: skip


def spec_document(name: str) -> dict[str, Any]:
    path = SPECS / name
    if not path.exists():
        pytest.skip(f"{path} is not here (it comes with shared/specs)")
    return json.loads(path.read_text())


# The checker: it must find what does not fit, or no test built on it could fail


def test_the_checker_passes_what_fits_the_orders_model():
    orders = ApiSpec.load(ORDERS_V0)
    query = [("MarketplaceIds", "ATVPDKIKX0DER,A2EUQ1WTGCTBG2"), ("LastUpdatedAfter", "2026-01-01T00:00:00Z"),
             ("MaxResultsPerPage", "50")]  # fmt: skip
    assert orders.request_problems("GET", "/orders/v0/orders", query, None) == []
    answer = json.dumps({"payload": {"Orders": [ORDER_DEFINITION], "LastUpdatedBefore": "2026-01-21T00:00:00Z"}})
    assert orders.response_problems("GET", "/orders/v0/orders", 200, answer.encode()) == []
    assert orders.response_problems("POST", "/orders/v0/orders/902-3159896-1390916/shipmentConfirmation", 204, b"") == []


@pytest.mark.parametrize(("method", "path", "query", "body", "problem"), [
    ("GET", "/orders/v0/orders", [("LastUpdatedAfter", "2026-01-01T00:00:00Z")], None, "required query parameter MarketplaceIds"),
    ("GET", "/orders/v0/orders", [("MarketplaceIds", "X"), ("MaxResultsPerPage", "ten")], None, "MaxResultsPerPage"),
    ("GET", "/orders/v0/orders", [("MarketplaceIds", ",".join(["X"] * 51))], None, "is too long"),
    ("GET", "/orders/v0/orders", [("MarketplaceIds", "X"), ("IsISPU", "maybe")], None, "'maybe' is not true or false"),
    ("GET", "/orders/v0/orders", [("MarketplaceIds", "X"), ("Since", "yesterday")], None, "Since is not the operation's"),
    ("POST", "/orders/v0/orders/1/shipmentConfirmation", [], b'{"marketplaceId": "X"}', "'packageDetail' is a required"),
    ("POST", "/orders/v0/orders/1/shipmentConfirmation", [], None, "required body is missing"),
    ("GET", "/orders/v0/everything", [], None, "no operation"),
    ("GET", "/solicitations/v1/orders/1", [("marketplaceIds", "A,B")], None, "is too long"),
])  # fmt: skip
def test_the_checker_finds_a_request_that_does_not_fit(method, path, query, body, problem):
    problems = ApiSpec.load(SOLICITATIONS if path.startswith("/solicitations") else ORDERS_V0).request_problems(
        method, path, query, body)  # fmt: skip
    assert any(problem in found for found in problems), problems


@pytest.mark.parametrize(("method", "path", "status", "body", "problem"), [
    ("GET", "/orders/v0/orders", 200, {"payload": {"Orders": [{**ORDER_DEFINITION, "OrderStatus": "Paid"}]}}, "'Paid' is not one of"),
    ("GET", "/orders/v0/orders", 200, {"payload": {"Orders": [{"AmazonOrderId": "1"}]}}, "'PurchaseDate' is a required"),
    ("GET", "/orders/v0/orders/1/orderItems", 200, {"payload": {"OrderItems": [{"ASIN": "B0", "OrderItemId": "1",
                                                                              "QuantityOrdered": "2"}], "AmazonOrderId": "1"}}, "'2' is not of type 'integer'"),
    ("PATCH", "/listings/2021-08-01/items/S/SKU", 404, {"errors": [{"code": "NOT_FOUND", "message": "no"}]}, "not documented"),
    ("PATCH", "/listings/2021-08-01/items/S/SKU", 200, {"sku": "SKU", "status": "DONE", "submissionId": "1"}, "'DONE' is not one of"),
    ("GET", "/orders/v0/orders/1", 400, {"errors": [{"code": "InvalidInput"}]}, "'message' is a required"),
    ("GET", "/solicitations/v1/orders/1", 200, {"_links": {"actions": []}}, "'self' is a required"),
    ("GET", "/solicitations/v1/orders/1", 200, {"_links": {"actions": [{"name": "x"}], "self": {"href": "/"}}}, "'href' is a required"),
])  # fmt: skip
def test_the_checker_finds_an_answer_that_does_not_fit(method, path, status, body, problem):
    specs = {"/orders": ApiSpec.load(ORDERS_V0), "/listings": ApiSpec.load(LISTINGS), "/solicitations": ApiSpec.load(SOLICITATIONS)}
    spec = next(s for prefix, s in specs.items() if path.startswith(prefix))
    kind = "application/hal+json" if path.startswith("/solicitations") else "application/json"
    problems = spec.response_problems(method, path, status, json.dumps(body).encode(), kind)
    assert any(problem in found for found in problems), problems


def test_the_checker_reads_openapi_3_too():
    """The same checker serves channels whose contract is OpenAPI 3 (eBay's), server variables and all."""
    ebay = ApiSpec.load("ebay-sell-fulfillment-v1-oas3.json")
    assert ebay.operation("GET", "/sell/fulfillment/v1/order/12-34").name == "getOrder"
    assert ebay.request_problems("GET", "/sell/fulfillment/v1/order", [("limit", "50")], None) == []
    problems = ebay.response_problems("GET", "/sell/fulfillment/v1/order", 200, b'{"orders": [{"orderId": 7}]}')
    assert any("7 is not of type 'string'" in p for p in problems), problems


# Usage plans and static cases, as the models say


def usage_plans(document: dict[str, Any]) -> dict[str, tuple[float, int]]:
    """Each operation's default rate and burst, from the usage plan table of its description."""
    plans = {}
    for item in document["paths"].values():
        for method, operation in item.items():
            if method != "parameters":
                found = re.search(r"\|\s*Rate.*?\n\|[- |]+\n\|\s*([\d.]+)\s*\|\s*(\d+)\s*\|", operation["description"])
                assert found, operation["operationId"]
                plans[operation["operationId"]] = (float(found.group(1)), int(found.group(2)))
    return plans


def test_the_usage_plans_are_the_models():
    documented = {op: plan for name in MODELS for op, plan in usage_plans(spec_document(name)).items()}
    assert USAGE_PLANS == documented
    assert OPERATION_RATES == {op: documented[op] for op in OPERATION_RATES}
    assert OPERATION_RATES["getOrders"] == (0.0167, 20) and OPERATION_RATES["confirmShipment"] == (2.0, 10)
    assert OPERATION_RATES["createProductReviewAndSellerFeedbackSolicitation"] == (1.0, 5)


def test_the_shipped_static_cases_are_the_models():
    shipped = json.loads(static.CASES_FILE.read_text())["sources"]
    assert [source["cases"] for source in shipped] == [static.extract(spec_document(name)) for name in MODELS]
    assert [sum(map(len, source["cases"].values())) for source in shipped] == [31, 14, 2]


# The static cases replayed


def all_cases() -> list[Any]:
    return [pytest.param(case, id=f"{operation}-{case.status}-{n}")
            for operation, cases in static.load().items() for n, case in enumerate(cases)]  # fmt: skip


@pytest.fixture(scope="module")
def amazon() -> Iterator[tuple[httpx.Client, str]]:
    """One sandbox account with a listing and an order, and a client holding an access token."""
    app = create_app(skus=[SKU], seller_id=SELLER, marketplace_ids=[MARKETPLACE], seed=9)
    account = app.state.sandbox
    order = account.place_order({"items": [{"sku": SKU, "quantity": 2}]})
    with serve(app) as running:
        token = httpx.post(f"{running.url}/auth/o2/token", data={
            "grant_type": "refresh_token", "refresh_token": account.refresh_token, "client_id": account.client_id,
            "client_secret": account.client_secret}).json()["access_token"]  # fmt: skip
        with httpx.Client(base_url=running.url, headers={"x-amz-access-token": token}, timeout=10) as client:
            yield client, order.id


def filler(name: str, order_id: str, operation: str) -> Any:
    """A value for a required parameter the case leaves out: the sandbox account's own."""
    if name == "body" and operation == "patchListingsItem":
        return {"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                                                       "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}]}]}  # fmt: skip
    if name == "body":
        return {"marketplaceId": MARKETPLACE, "shipmentStatus": "ReadyForPickup"}
    return {"orderId": order_id, "sellerId": SELLER, "sku": SKU, "MarketplaceIds": [MARKETPLACE],
            "marketplaceIds": [MARKETPLACE]}[name]  # fmt: skip


def query_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("case", all_cases())
def test_a_static_case_is_answered_as_the_model_says(amazon, case):
    client, order_id = amazon
    spec = ApiSpec.load(next(name for name in MODELS if case.operation in usage_plans(spec_document(name))))
    operation = next(op for op in spec.operations if op.name == case.operation)
    values = dict(case.parameters)
    for parameter in operation.parameters:
        name = "body" if parameter["in"] == "body" else parameter["name"]  # the cases call every body "body"
        if name not in values and parameter.get("required"):
            values[name] = filler(name, order_id, case.operation)
    places = {p["name"]: p["in"] for p in operation.parameters}
    path = re.sub(r"\{([^}]+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), operation.template)
    query = {name: query_value(v) for name, v in values.items() if places.get(name) == "query"}
    body = values.get("body")

    answer = client.request(operation.method.upper(), path, params=query, json=body)

    assert answer.status_code == case.status, answer.text
    assert answer.headers["x-amzn-RateLimit-Limit"] == f"{USAGE_PLANS[case.operation][0]:g}"
    if case.parameters or not answer.content:  # a canned answer: the case's own
        assert (answer.json() if answer.content else {}) == (case.response or {})
    else:  # a catch-all case the account's state answered: the answer fits the model
        assert spec.response_problems(operation.method, path, answer.status_code, answer.content,
                                      answer.headers["content-type"]) == []  # fmt: skip
