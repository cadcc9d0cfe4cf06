"""The seller account's own control routes (under /__sandbox/, beside the base's faults, requests
and state): placing and changing orders as buyers and Amazon would, listing SKUs, expiring the
LWA tokens and moving the account's clock."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from orderdeck.plugins.sandbox import CONTROL, control_error, control_json
from orderdeck_amazon.sandbox.account import SellerAccount, iso, parse_iso
from orderdeck_amazon.sandbox.api import order_json


def control_routes(account: SellerAccount) -> list[BaseRoute]:
    """POST /__sandbox/orders, PATCH /__sandbox/orders/{id}, POST /__sandbox/listings,
    POST /__sandbox/tokens/expire, POST /__sandbox/clock."""

    async def place_orders(request: Request) -> Response:
        try:
            body = await control_json(request)
            placed = [account.place_order(spec) for spec in body.get("orders", [])]
            placed += [account.place_order({}) for _ in range(int(body.get("random", 0)))]
        except (ValueError, KeyError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse({"orders": [order_json(order) for order in placed]}, status_code=201)

    async def change_order(request: Request) -> Response:
        order = account.orders.get(request.path_params["id"])
        if order is None:
            return control_error("no such order", 404)
        try:
            body = await control_json(request)
            updated = parse_iso(body["last_update_date"]) if body.get("last_update_date") else None
            shipped = parse_iso(body["ship_date"]) if body.get("ship_date") else None
            account.change_order(order, body.get("status"), updated, shipped)
        except (ValueError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse(order_json(order))

    async def list_skus(request: Request) -> Response:
        try:
            body = await control_json(request)
            listings = [account.upsert_listing(spec) for spec in body.get("listings", [])]
        except (ValueError, KeyError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse({"listings": [{"sku": x.sku, "asin": x.asin, "quantity": x.quantity} for x in listings]})

    async def expire_tokens(request: Request) -> Response:
        return JSONResponse({"expired": account.expire_tokens()})

    async def clock(request: Request) -> Response:
        try:
            body = await control_json(request)
            account.offset += timedelta(seconds=float(body.get("advance", 0)))
        except (ValueError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse({"now": iso(account.now())})

    return [
        Route(f"{CONTROL}/orders", place_orders, methods=["POST"]),
        Route(f"{CONTROL}/orders/{{id}}", change_order, methods=["PATCH", "POST"]),
        Route(f"{CONTROL}/listings", list_skus, methods=["POST"]),
        Route(f"{CONTROL}/tokens/expire", expire_tokens, methods=["POST"]),
        Route(f"{CONTROL}/clock", clock, methods=["POST"]),
    ]
