"""The emulated eBay routes: the OAuth token endpoint, Sell Fulfillment (getOrders, getOrder,
getShippingFulfillments, createShippingFulfillment, getShippingFulfillment) and Sell Inventory
(bulkUpdatePriceQuantity), with eBay's parameter checks, paging and error ids. Each handler is
wrapped by ``EbayAccount.api``: the request log, faults, the bearer token, its scope and the call
limits come from there."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from orderdeck.plugins.sandbox import basic_auth, credentials_match, page_url
from orderdeck_ebay.sandbox.account import (
    FULFILLMENT_SCOPE,
    INVENTORY_SCOPE,
    EbayAccount,
    EbayError,
    now,
    parse_date,
)

FULFILLMENT, INVENTORY = "/sell/fulfillment/v1", "/sell/inventory/v1"
MAX_LIMIT, DEFAULT_LIMIT, MAX_ORDER_IDS, MAX_REQUESTS = 200, 50, 50, 25
LOOK_BACK = timedelta(days=90)
STATUS_SETS = ({"NOT_STARTED", "IN_PROGRESS"}, {"FULFILLED", "IN_PROGRESS"}, {"NOT_STARTED"}, {"IN_PROGRESS"}, {"FULFILLED"})
"""The orderfulfillmentstatus values getOrders takes (the two combinations eBay documents, and one value)."""
CRITERION = re.compile(r"(\w+):(\[[^\]]*\]|\{[^}]*\})")


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    """The identity endpoint's error body."""
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _date_range(name: str, value: str) -> tuple[datetime, datetime | None]:
    start_text, separator, end_text = value[1:-1].partition("..")
    if not value.startswith("[") or not separator:
        raise EbayError(400, 30800, f"Invalid filter value {value} for filter {name}", parameters={"filter": name})
    try:
        start = parse_date(start_text) if start_text else None
        end = parse_date(end_text) if end_text else None
    except ValueError:
        raise EbayError(400, 30810, "Invalid date format", parameters={"filter": name}) from None
    if start is None:
        raise EbayError(400, 30820, "Start date is missing", parameters={"filter": name})
    moment = now()
    if start > moment or (end is not None and end > moment + timedelta(seconds=5)):
        raise EbayError(400, 30850, "Start and end dates can't be in the future")
    if end is not None and start > end:
        raise EbayError(400, 30840, "Start date should be before end date")
    if start < moment - LOOK_BACK or (end is not None and end - start > LOOK_BACK):
        raise EbayError(400, 30830, "Start date must be within 90 days of end date and current date.")
    return start, end


def parse_filter(text: str) -> dict[str, Any]:
    """getOrders' ``filter``: creationdate / lastmodifieddate ranges and orderfulfillmentstatus."""
    criteria: dict[str, Any] = {}
    rest = CRITERION.sub("", text).replace(",", "").strip()
    if rest:
        raise EbayError(400, 30700, f"Invalid filter name: {rest}", parameters={"filter": rest})
    for name, value in CRITERION.findall(text):
        if name in ("creationdate", "lastmodifieddate"):
            criteria[name] = _date_range(name, value)
        elif name == "orderfulfillmentstatus":
            statuses = set(value.strip("{}").split("|"))
            if not value.startswith("{") or statuses not in STATUS_SETS:
                raise EbayError(400, 30800, f"Invalid filter value {value} for filter {name}", parameters={"filter": name})
            criteria[name] = statuses
        else:
            raise EbayError(400, 30700, f"Invalid filter name: {name}", parameters={"filter": name})
    return criteria


def _number(request: Request, name: str, default: int, low: int, high: int | None, error_id: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        raise EbayError(400, error_id, f"Invalid {name}: {raw}", parameters={name: raw})
    return int(raw)


def _selected(account: EbayAccount, request: Request) -> list[dict[str, Any]]:
    """The orders getOrders lists: by orderIds, else by filter (no filter: created in the last 90 days)."""
    ids = [i for i in request.query_params.get("orderIds", "").split(",") if i]
    if ids:
        if len(ids) > MAX_ORDER_IDS:
            raise EbayError(400, 30900, f"Exceeded maximum number of order IDs (the current limit is {MAX_ORDER_IDS})")
        return [account.orders[i] for i in ids if i in account.orders]
    criteria = parse_filter(request.query_params.get("filter", ""))
    if "creationdate" in criteria:  # eBay: with both, only creationdate is used
        field, (start, end) = "creationDate", criteria["creationdate"]
    elif "lastmodifieddate" in criteria:
        field, (start, end) = "lastModifiedDate", criteria["lastmodifieddate"]
    else:
        field, (start, end) = "creationDate", (now() - LOOK_BACK, None)
    statuses = criteria.get("orderfulfillmentstatus")
    chosen = []
    for order in account.orders.values():
        moment = parse_date(order[field])
        if moment < start or (end is not None and moment > end):
            continue
        if statuses is not None and order["orderFulfillmentStatus"] not in statuses:
            continue
        chosen.append(order)
    return sorted(chosen, key=lambda o: (o["creationDate"], o["orderId"]), reverse=True)  # newest first


async def _json_body(request: Request, error_id: int) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise EbayError(400, error_id, "Could not serialize the request body: it is not a JSON object")
    return body


def api_routes(account: EbayAccount) -> list[BaseRoute]:
    """The eBay API of ``account``."""

    async def token(request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if not credentials_match(basic_auth(request), (account.client_id, account.client_secret)):
            return oauth_error(401, "invalid_client", "client authentication failed")
        if form.get("grant_type") != "refresh_token":
            return oauth_error(400, "unsupported_grant_type", "grant type in request is not supported by the authorization server")
        if not credentials_match(str(form.get("refresh_token") or ""), account.refresh_token):
            return oauth_error(400, "invalid_grant", "the provided authorization refresh token is invalid or was issued to another client")
        scopes = frozenset(str(form.get("scope") or "").split()) or account.granted_scopes
        if not scopes <= account.granted_scopes:
            return oauth_error(400, "invalid_scope", "the requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client")
        issued = account.issue_token(scopes)
        return JSONResponse({"access_token": issued.value, "expires_in": int(account.token_seconds), "token_type": "User Access Token"})

    def order_or_error(order_id: str, status: int = 404) -> dict[str, Any]:
        order = account.orders.get(order_id)
        if order is None:
            raise EbayError(status, 32100, f"Invalid order ID: {order_id}", parameters={"orderId": order_id})
        return order

    async def get_orders(request: Request) -> Response:
        limit = _number(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, 31100)
        offset = _number(request, "offset", 0, 0, None, 31000)
        chosen = _selected(account, request)
        page = chosen[offset : offset + limit]
        body: dict[str, Any] = {"href": page_url(request, limit=limit, offset=offset), "total": len(chosen),
                                "limit": limit, "offset": offset, "orders": page}  # fmt: skip
        if offset + limit < len(chosen):
            body["next"] = page_url(request, limit=limit, offset=offset + limit)
        if offset > 0:
            body["prev"] = page_url(request, limit=limit, offset=max(0, offset - limit))
        return JSONResponse(body)

    async def get_order(request: Request) -> Response:
        return JSONResponse(order_or_error(request.path_params["orderId"]))

    def fulfillments_href(request: Request, order_id: str) -> str:
        return f"{str(request.base_url).rstrip('/')}{FULFILLMENT}/order/{quote(order_id, safe='')}/shipping_fulfillment"

    async def fulfillments(request: Request) -> Response:
        order = order_or_error(request.path_params["orderId"], 400)
        if request.method == "GET":
            found = account.fulfillments.get(order["orderId"], [])
            return JSONResponse({"fulfillments": found, "total": len(found)})
        body = await _json_body(request, 32600)
        lines = body.get("lineItems")
        if not isinstance(lines, list) or not lines or not all(isinstance(li, dict) for li in lines):
            raise EbayError(400, 32600, "Invalid input data: lineItems is required")
        known = {li["lineItemId"] for li in order["lineItems"]}
        for line in lines:
            if line.get("lineItemId") not in known:
                raise EbayError(400, 32200, f"Invalid line item id: {line.get('lineItemId')}",
                                parameters={"lineItemId": str(line.get("lineItemId"))})  # fmt: skip
        if bool(body.get("trackingNumber")) != bool(body.get("shippingCarrierCode")):
            raise EbayError(400, 32300, "Invalid shipment tracking number or carrier")
        if body.get("shippedDate") is not None:
            try:
                parse_date(str(body["shippedDate"]))
            except ValueError:
                raise EbayError(400, 32500, "Invalid shipped date") from None
        if order["cancelStatus"]["cancelState"] == "CANCELED":
            raise EbayError(400, 32600, "Invalid input data: the order is cancelled")
        href = fulfillments_href(request, order["orderId"])
        made = account.fulfil(order, body, href)
        return JSONResponse({}, status_code=201, headers={"Location": f"{href}/{made['fulfillmentId']}"})

    async def one_fulfillment(request: Request) -> Response:
        order = order_or_error(request.path_params["orderId"], 400)
        found = next((f for f in account.fulfillments.get(order["orderId"], []) if f["fulfillmentId"] == request.path_params["fulfillmentId"]), None)
        if found is None:
            raise EbayError(404, 32110, "Fulfillment ID not found", parameters={"fulfillmentId": request.path_params["fulfillmentId"]})
        return JSONResponse(found)

    async def bulk_update(request: Request) -> Response:
        body = await _json_body(request, 25709)
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests or not all(isinstance(r, dict) for r in requests):
            raise EbayError(400, 25709, "Invalid value for requests. At least one request is required.")
        if len(requests) > MAX_REQUESTS:
            raise EbayError(400, 25709, f"Invalid value for requests. The maximum is {MAX_REQUESTS}.")
        responses = [_price_quantity(account, item) for item in requests]
        failed = any(r["statusCode"] != 200 for r in responses)
        return JSONResponse({"responses": responses}, status_code=207 if failed else 200)

    def fulfillment(handler: Any) -> Any:
        return account.api(handler, resource="sell.fulfillment", scope=FULFILLMENT_SCOPE)

    return [
        Route("/identity/v1/oauth2/token", account.api(token, authenticate=False, resource="identity"), methods=["POST"]),
        Route(f"{FULFILLMENT}/order", fulfillment(get_orders), methods=["GET"]),
        Route(f"{FULFILLMENT}/order/{{orderId}}", fulfillment(get_order), methods=["GET"]),
        Route(f"{FULFILLMENT}/order/{{orderId}}/shipping_fulfillment", fulfillment(fulfillments), methods=["GET", "POST"]),
        Route(f"{FULFILLMENT}/order/{{orderId}}/shipping_fulfillment/{{fulfillmentId}}", fulfillment(one_fulfillment), methods=["GET"]),
        Route(f"{INVENTORY}/bulk_update_price_quantity",
              account.api(bulk_update, resource="sell.inventory", scope=INVENTORY_SCOPE), methods=["POST"]),
    ]


def _price_quantity(account: EbayAccount, item: dict[str, Any]) -> dict[str, Any]:
    """One SKU's part of bulkUpdatePriceQuantity: the ship-to-home quantity set, or why not."""
    sku = item.get("sku")
    availability = item.get("shipToLocationAvailability")
    quantity = availability.get("quantity") if isinstance(availability, dict) else None
    answer: dict[str, Any] = {"sku": sku if isinstance(sku, str) else ""}
    if not isinstance(sku, str) or sku not in account.inventory:
        return {**answer, "statusCode": 404, "errors": [{"errorId": 25702, "domain": "API_INVENTORY", "category": "REQUEST",
                "message": f"SKU {sku} is not available in the system.", "parameters": [{"name": "sku", "value": str(sku)}]}]}  # fmt: skip
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        return {**answer, "statusCode": 400, "errors": [{"errorId": 25709, "domain": "API_INVENTORY", "category": "REQUEST",
                "message": "Invalid value for shipToLocationAvailability.quantity.",
                "parameters": [{"name": "quantity", "value": str(quantity)}]}]}  # fmt: skip
    account.inventory[sku] = quantity
    response = {**answer, "statusCode": 200}
    if quantity == 0:
        response["warnings"] = [{"errorId": 25401, "domain": "API_INVENTORY", "category": "BUSINESS",
                                 "message": "The quantity is 0: the listing shows as out of stock."}]  # fmt: skip
    return response
