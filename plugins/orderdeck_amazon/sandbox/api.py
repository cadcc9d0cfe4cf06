"""The emulated Selling Partner API routes (Orders v0, Listings Items 2021-08-01, Solicitations v1)
and Login with Amazon's token endpoint. Each SP-API route is one operation: logged and faulted by the base
(``SellerAccount.api``), then throttled by its usage plan (429), its token checked (403), its static
cases tried (``static``), then served from the account's state; every answer carries
``x-amzn-RateLimit-Limit`` and ``x-amzn-RequestId``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from orderdeck.plugins.sandbox import InvalidCursor, cursor_page, decode_cursor, encode_cursor
from orderdeck_amazon.sandbox import static
from orderdeck_amazon.sandbox.account import (
    MARKETPLACES,
    ORDER_STATUSES,
    REVIEW_REQUEST,
    AmazonError,
    Item,
    Order,
    SellerAccount,
    invalid_input,
    iso,
    parse_iso,
)

Handler = Callable[[Request], Awaitable[Response]]
ORDERS = "/orders/v0/orders"
LISTINGS = "/listings/2021-08-01/items"
SOLICITATIONS = "/solicitations/v1/orders"
HAL = "application/hal+json"
"""What the Solicitations API answers in (JSON Hypertext Application Language)."""
CENT = Decimal("0.01")


# Rendering, with the real field names


def _money(currency: str, amount: Decimal) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": str(amount.quantize(CENT))}


def currency_of(order: Order) -> str:
    return MARKETPLACES.get(order.marketplace_id, ("Amazon.com", "USD", "US"))[1]


def order_json(order: Order) -> dict[str, Any]:
    currency = currency_of(order)
    total = sum((i.unit_price * i.quantity * (1 + i.tax_rate) + i.shipping for i in order.items), Decimal(0))
    body: dict[str, Any] = {
        "AmazonOrderId": order.id, "PurchaseDate": iso(order.purchased), "LastUpdateDate": iso(order.updated),
        "OrderStatus": order.status, "FulfillmentChannel": order.channel,
        "SalesChannel": MARKETPLACES.get(order.marketplace_id, ("Amazon.com",))[0], "ShipServiceLevel": order.service_level,
        "NumberOfItemsShipped": sum(i.shipped for i in order.items),
        "NumberOfItemsUnshipped": sum(i.quantity - i.shipped for i in order.items),
        "PaymentMethod": "Other", "PaymentMethodDetails": ["Standard"], "MarketplaceId": order.marketplace_id,
        "ShipmentServiceLevelCategory": "Standard", "OrderType": "StandardOrder",
        "EarliestShipDate": iso(order.purchased), "LatestShipDate": iso(order.purchased.replace(hour=23, minute=59, second=59)),
        "IsBusinessOrder": False, "IsPrime": order.is_prime, "IsPremiumOrder": False, "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False, "IsSoldByAB": False, "IsISPU": False, "IsAccessPointOrder": False,
        "ShippingAddress": order.address, "BuyerInfo": {"BuyerEmail": order.buyer_email, "BuyerName": order.buyer_name},
    }  # fmt: skip
    if order.status not in ("Pending", "PendingAvailability", "Canceled"):
        body["OrderTotal"] = _money(currency, total)  # Amazon leaves it out until payment is authorised
    return {**body, **order.overrides}


def item_json(order: Order, item: Item) -> dict[str, Any]:
    currency = currency_of(order)
    price = item.unit_price * item.quantity
    body: dict[str, Any] = {
        "ASIN": item.asin, "SellerSKU": item.sku, "OrderItemId": item.order_item_id, "Title": item.title,
        "QuantityOrdered": item.quantity, "QuantityShipped": item.shipped, "ProductInfo": {"NumberOfItems": "1"},
        "ItemPrice": _money(currency, price), "ItemTax": _money(currency, price * item.tax_rate),
        "ShippingPrice": _money(currency, item.shipping), "PromotionDiscount": _money(currency, Decimal(0)),
        "IsGift": "false", "ConditionId": "New", "IsTransparency": False, "SerialNumberRequired": False,
    }  # fmt: skip
    if not item.sku:
        del body["SellerSKU"]
    return body


# Parameters


async def request_parameters(request: Request) -> dict[str, Any]:
    """The request's parameters by name, as static cases name them: path, query (repeated values
    joined by commas) and the JSON body as ``body``."""
    found: dict[str, Any] = dict(request.path_params)
    for key in request.query_params:
        found[key] = ",".join(request.query_params.getlist(key))
    if request.method in ("POST", "PUT", "PATCH"):
        found["body"] = await json_body(request)
    return found


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise invalid_input("The request body is not valid JSON.") from None


def _list(request: Request, name: str) -> list[str]:
    return [part.strip() for value in request.query_params.getlist(name) for part in value.split(",") if part.strip()]


def _date(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise invalid_input(f"{name} {raw!r} is not a valid ISO 8601 date-time.") from None


def amazon_operation(account: SellerAccount, name: str, handler: Handler | None) -> Handler:
    """The endpoint of ``account``'s operation ``name`` (see the module docstring); without a
    handler only its static cases answer."""

    async def serve(request: Request) -> Response:
        await account.throttle(name)
        account.check_token(request)
        case = static.best(name, await request_parameters(request))
        if case is not None and (case.parameters or handler is None):
            if case.status == 204 or case.response is None and case.status < 300:
                return Response(status_code=case.status)
            return JSONResponse(case.response, status_code=case.status)
        if handler is None:
            raise invalid_input("This sandbox answers this operation's documented static cases only; none matches.")
        return await handler(request)

    logged = account.api(serve, authenticate=False)

    async def endpoint(request: Request) -> Response:
        response = await logged(request)
        if request.url.path.startswith(SOLICITATIONS) and response.headers.get("content-type", "").startswith(
                "application/json"):  # fmt: skip
            response.headers["content-type"] = HAL  # Solicitations answer everything, errors too, in HAL
        response.headers["x-amzn-RateLimit-Limit"] = f"{account.rates[name][0]:g}"
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return response

    return endpoint


def api_routes(account: SellerAccount) -> list[BaseRoute]:
    """The SP-API of ``account`` and its LWA token endpoint."""

    def operation(name: str, handler: Handler | None) -> Handler:
        return amazon_operation(account, name, handler)

    def order_or_404(request: Request) -> Order:
        order = account.orders.get(request.path_params["orderId"])
        if order is None:
            raise AmazonError(404, "NotFound", "The resource specified does not exist.",
                              f"No order {request.path_params['orderId']} for this seller.")  # fmt: skip
        return order

    def marketplaces(request: Request, name: str) -> list[str]:
        given = _list(request, name)
        if not given:
            raise invalid_input(f"Missing required parameter: {name}.")
        unknown = [m for m in given if m not in account.marketplace_ids]
        if unknown:
            raise invalid_input(f"Invalid {name}: the seller does not sell in {', '.join(unknown)}.")
        return given

    async def get_orders(request: Request) -> Response:
        wanted = set(marketplaces(request, "MarketplaceIds"))
        created_after, updated_after = _date(request, "CreatedAfter"), _date(request, "LastUpdatedAfter")
        if (created_after is None) == (updated_after is None):
            raise invalid_input("Exactly one of CreatedAfter and LastUpdatedAfter is required.")
        by_update = updated_after is not None
        after = updated_after or created_after
        assert after is not None
        latest = account.now() - account.settle
        token = request.query_params.get("NextToken")
        position = None
        if token:
            try:
                snapshot = decode_cursor(token)
                before, position = parse_iso(snapshot["before"]), snapshot["position"]
            except (InvalidCursor, KeyError, TypeError, ValueError):
                raise invalid_input("Invalid NextToken.") from None
        else:
            before = _date(request, "LastUpdatedBefore" if by_update else "CreatedBefore") or latest
            if before > latest:
                raise invalid_input(f"{'LastUpdatedBefore' if by_update else 'CreatedBefore'} must be no later than "
                                    "two minutes before the time of the request.")  # fmt: skip
        if after > before:
            raise invalid_input(f"{'LastUpdatedAfter' if by_update else 'CreatedAfter'} must be before "
                                f"{'LastUpdatedBefore' if by_update else 'CreatedBefore'}.")  # fmt: skip
        limit_raw = request.query_params.get("MaxResultsPerPage", "100")
        if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= 100:
            raise invalid_input("MaxResultsPerPage must be between 1 and 100.")
        statuses, channels = set(_list(request, "OrderStatuses")), set(_list(request, "FulfillmentChannels"))
        if statuses - set(ORDER_STATUSES):
            raise invalid_input(f"Invalid OrderStatuses: {', '.join(sorted(statuses - set(ORDER_STATUSES)))}.")

        def moment(order: Order) -> datetime:
            return order.updated if by_update else order.purchased

        chosen = [o for o in account.orders.values() if o.marketplace_id in wanted and after <= moment(o) <= before
                  and (not statuses or o.status in statuses) and (not channels or o.channel in channels)]  # fmt: skip
        page = cursor_page(chosen, key=lambda o: (iso(moment(o)), o.id),
                           cursor=encode_cursor(position) if position else None, limit=int(limit_raw))  # fmt: skip
        payload: dict[str, Any] = {"Orders": [order_json(o) for o in page.items],
                                   ("LastUpdatedBefore" if by_update else "CreatedBefore"): iso(before)}  # fmt: skip
        if page.next_cursor:
            payload["NextToken"] = encode_cursor({"before": iso(before), "position": decode_cursor(page.next_cursor)})
        return JSONResponse({"payload": payload})

    async def get_order(request: Request) -> Response:
        return JSONResponse({"payload": order_json(order_or_404(request))})

    async def get_order_items(request: Request) -> Response:
        order = order_or_404(request)
        token = request.query_params.get("NextToken")
        try:
            page = cursor_page(list(enumerate(order.items)), key=lambda pair: pair[0], cursor=token or None,
                               limit=account.items_per_page)  # fmt: skip
        except InvalidCursor:
            raise invalid_input("Invalid NextToken.") from None
        payload: dict[str, Any] = {"OrderItems": [item_json(order, item) for _, item in page.items], "AmazonOrderId": order.id}
        if page.next_cursor:
            payload["NextToken"] = page.next_cursor
        return JSONResponse({"payload": payload})

    async def confirm_shipment(request: Request) -> Response:
        order = order_or_404(request)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise invalid_input("The request body must be a ConfirmShipmentRequest object.")
        account.confirm_shipment(order, body)
        return Response(status_code=204)

    def seller(request: Request) -> None:
        if request.path_params["sellerId"] != account.seller_id:
            raise AmazonError(403, "Unauthorized", "Access to requested resource is denied.",
                              f"The application is not authorised for seller {request.path_params['sellerId']}.")  # fmt: skip

    async def get_listing(request: Request) -> Response:
        seller(request)
        marketplace_ids = marketplaces(request, "marketplaceIds")
        sku = request.path_params["sku"]
        listing = account.listings.get(sku)
        if listing is None:
            raise AmazonError(404, "NOT_FOUND", f"Requested item '{sku}' not found", "")
        included = _list(request, "includedData") or ["summaries"]
        body: dict[str, Any] = {"sku": sku}
        if "summaries" in included:
            body["summaries"] = [{"marketplaceId": m, "asin": listing.asin, "productType": listing.product_type,
                                  "status": ["BUYABLE", "DISCOVERABLE"], "itemName": listing.title,
                                  "createdDate": iso(account.now()), "lastUpdatedDate": iso(account.now())}
                                 for m in marketplace_ids]  # fmt: skip
        if "fulfillmentAvailability" in included:
            body["fulfillmentAvailability"] = [{"fulfillmentChannelCode": "DEFAULT", "quantity": listing.quantity}]
        if "issues" in included:
            body["issues"] = []
        return JSONResponse(body)

    async def patch_listing(request: Request) -> Response:
        seller(request)
        marketplaces(request, "marketplaceIds")
        sku = request.path_params["sku"]
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("productType"), str) or not isinstance(body.get("patches"), list) \
                or not body["patches"]:  # fmt: skip
            raise invalid_input("The request body must be a ListingsItemPatchRequest: productType and patches.")
        submission = str(uuid.uuid4())
        listing = account.listings.get(sku)
        if listing is None:
            return JSONResponse({"sku": sku, "status": "INVALID", "submissionId": submission, "issues": [
                {"code": "SKU_NOT_FOUND", "message": f"SKU '{sku}' is not listed by seller {account.seller_id}: "
                 "a patch changes an existing listing (create it with putListingsItem).", "severity": "ERROR",
                 "categories": ["INVALID_ATTRIBUTE"]}]})  # fmt: skip
        issues, quantity = [], None
        for patch in body["patches"]:
            if not isinstance(patch, dict) or patch.get("op") not in ("add", "replace", "merge", "delete") \
                    or not isinstance(patch.get("path"), str):  # fmt: skip
                raise invalid_input("Each patch needs an op (add, replace, merge, delete) and a path.")
            if patch["path"] == "/attributes/fulfillment_availability" and patch["op"] != "delete":
                value = patch.get("value")
                first = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else {}
                given = first.get("quantity")
                if first.get("fulfillment_channel_code") != "DEFAULT" or isinstance(given, bool) \
                        or not isinstance(given, int) or given < 0:  # fmt: skip
                    issues.append({"code": "INVALID_VALUE", "message": "fulfillment_availability needs "
                                   "fulfillment_channel_code DEFAULT and a quantity of 0 or more.", "severity": "ERROR",
                                   "attributeNames": ["fulfillment_availability"], "categories": ["INVALID_ATTRIBUTE"]})  # fmt: skip
                else:
                    quantity = given
        if issues:
            return JSONResponse({"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues})
        preview = request.query_params.get("mode") == "VALIDATION_PREVIEW"
        if quantity is not None and not preview:
            listing.quantity = quantity
        listing.submissions.append(submission)
        return JSONResponse({"sku": sku, "status": "VALID" if preview else "ACCEPTED", "submissionId": submission, "issues": []})

    def solicited_order(request: Request) -> tuple[Order, str]:
        """The order of a Solicitations path and the one marketplace asked about (``marketplaceIds``,
        at most one); an order not sold there is not found."""
        given = marketplaces(request, "marketplaceIds")
        if len(given) > 1:
            raise invalid_input("Only one marketplace can be specified in marketplaceIds.")
        order = account.orders.get(request.path_params["amazonOrderId"])
        if order is None or order.marketplace_id != given[0]:
            raise AmazonError(404, "NotFound", "The resource specified does not exist.",
                              f"No order {request.path_params['amazonOrderId']} in marketplace {given[0]}.")  # fmt: skip
        return order, given[0]

    async def solicitation_actions(request: Request) -> Response:
        order, marketplace = solicited_order(request)
        base, query = f"{SOLICITATIONS}/{order.id}", f"?marketplaceIds={marketplace}"
        offered = account.review_refusal(order) is None
        action = f"{base}/solicitations/{REVIEW_REQUEST}"
        links = [{"href": action + query, "name": REVIEW_REQUEST}] if offered else []
        embedded = [{"_links": {"self": {"href": action + query, "name": REVIEW_REQUEST},
                                "schema": {"href": f"{action}/schema", "name": REVIEW_REQUEST}},
                     "payload": {"name": REVIEW_REQUEST}}] if offered else []  # fmt: skip
        return JSONResponse({"_links": {"actions": links, "self": {"href": base + query}}, "_embedded": {"actions": embedded}},
                            media_type=HAL)  # fmt: skip

    async def request_review(request: Request) -> Response:
        order, marketplace = solicited_order(request)
        account.request_review(order, marketplace)
        return JSONResponse({}, status_code=201, media_type=HAL)

    async def lwa_token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))  # application/x-www-form-urlencoded
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type", "error_description": "The authorization grant type is not supported"}, status_code=400)
        if form.get("client_id") != account.client_id or form.get("client_secret") != account.client_secret:
            return JSONResponse({"error": "invalid_client", "error_description": "Client authentication failed"}, status_code=401)
        if form.get("refresh_token") != account.refresh_token:
            return JSONResponse({"error": "invalid_grant", "error_description": "The request has an invalid grant parameter : refresh_token"}, status_code=400)
        token, lifetime = account.issue_token()
        return JSONResponse({"access_token": token, "refresh_token": account.refresh_token, "token_type": "bearer",
                             "expires_in": lifetime})  # fmt: skip

    order_path = f"{ORDERS}/{{orderId}}"
    item_path = f"{LISTINGS}/{{sellerId}}/{{sku:path}}"
    solicited = f"{SOLICITATIONS}/{{amazonOrderId}}"
    return [
        Route("/auth/o2/token", account.api(lwa_token, authenticate=False), methods=["POST"]),
        Route(ORDERS, operation("getOrders", get_orders), methods=["GET"]),
        Route(order_path, operation("getOrder", get_order), methods=["GET"]),
        Route(f"{order_path}/buyerInfo", operation("getOrderBuyerInfo", None), methods=["GET"]),
        Route(f"{order_path}/address", operation("getOrderAddress", None), methods=["GET"]),
        Route(f"{order_path}/orderItems", operation("getOrderItems", get_order_items), methods=["GET"]),
        Route(f"{order_path}/orderItems/buyerInfo", operation("getOrderItemsBuyerInfo", None), methods=["GET"]),
        Route(f"{order_path}/shipment", operation("updateShipmentStatus", None), methods=["POST"]),
        Route(f"{order_path}/regulatedInfo", operation("getOrderRegulatedInfo", None), methods=["GET"]),
        Route(f"{order_path}/regulatedInfo", operation("updateVerificationStatus", None), methods=["PATCH"]),
        Route(f"{order_path}/shipmentConfirmation", operation("confirmShipment", confirm_shipment), methods=["POST"]),
        Route(item_path, operation("getListingsItem", get_listing), methods=["GET"]),
        Route(item_path, operation("patchListingsItem", patch_listing), methods=["PATCH"]),
        Route(item_path, operation("putListingsItem", None), methods=["PUT"]),
        Route(item_path, operation("deleteListingsItem", None), methods=["DELETE"]),
        Route(f"{LISTINGS}/{{sellerId}}", operation("searchListingsItems", None), methods=["GET"]),
        Route(solicited, operation("getSolicitationActionsForOrder", solicitation_actions), methods=["GET"]),
        Route(f"{solicited}/solicitations/{REVIEW_REQUEST}",
              operation("createProductReviewAndSellerFeedbackSolicitation", request_review), methods=["POST"]),
    ]
