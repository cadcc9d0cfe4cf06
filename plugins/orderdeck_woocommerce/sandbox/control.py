"""The shop's own control routes (under /__sandbox/, beside the base's faults, requests and state):
placing orders, changing them as the shop's back office would, and stocking products."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from orderdeck.plugins.sandbox import CONTROL, ApiError, control_error, control_json
from orderdeck_woocommerce.sandbox.render import order_json, product_json, site_url
from orderdeck_woocommerce.sandbox.shop import Shop, parse_date


def control_routes(shop: Shop) -> list[BaseRoute]:
    """POST /__sandbox/orders, PATCH /__sandbox/orders/{id}, POST /__sandbox/products."""

    async def place_orders(request: Request) -> Response:
        try:
            body = await control_json(request)
            created = [shop.create_order(spec) for spec in body.get("orders", [])]
            created += [shop.create_order({}) for _ in range(int(body.get("random", 0)))]
        except (ValueError, KeyError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse({"orders": [order_json(shop, o, site_url(request)) for o in created]}, status_code=201)

    async def change_order(request: Request) -> Response:
        order = shop.orders.get(int(request.path_params["id"]))
        if order is None:
            return control_error("no such order", 404)
        try:
            body = await control_json(request)
            modified = parse_date(body["date_modified_gmt"]) if body.get("date_modified_gmt") else None
            shop.touch_order(order, body.get("status"), modified)
        except ApiError as exc:
            return exc.response
        except ValueError as exc:
            return control_error(str(exc))
        return JSONResponse(order_json(shop, order, site_url(request)))

    async def stock_products(request: Request) -> Response:
        try:
            body = await control_json(request)
            products = [shop.upsert_product(spec) for spec in body.get("products", [])]
        except (ValueError, KeyError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse({"products": [product_json(shop, p, site_url(request)) for p in products]})

    return [
        Route(f"{CONTROL}/orders", place_orders, methods=["POST"]),
        Route(f"{CONTROL}/orders/{{id:int}}", change_order, methods=["PATCH", "POST"]),
        Route(f"{CONTROL}/products", stock_products, methods=["POST"]),
    ]
