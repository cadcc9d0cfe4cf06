"""The emulated WooCommerce REST API v3 routes (under /wp-json/wc/v3), with WordPress's parameter
validation, collection headers (X-WP-Total, X-WP-TotalPages, one Link header per relation) and
error bodies. Each handler is wrapped by ``Shop.api``: the request log, faults and credentials
come from the sandbox base."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from orderdeck.plugins.sandbox import number_page, page_url
from orderdeck_woocommerce.sandbox.render import API, note_json, order_json, product_json, site_url
from orderdeck_woocommerce.sandbox.errors import RestError, invalid_param, rest_date
from orderdeck_woocommerce.sandbox.shop import ORDER_STATUSES, Order, Product, Shop, now, order_status

ORDERBY = ["date", "id", "include", "title", "slug", "modified"]
MAX_BATCH = 100


# Query parameters, validated as WordPress does


def _int_param(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(name, f"{name} is not of type integer.", "rest_invalid_type") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} (inclusive) and {high} (inclusive)" if high else f"greater than or equal to {low}"
        raise invalid_param(name, f"{name} must be {bounds}", "rest_out_of_bounds")
    return value


def _bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0", ""):
        return False
    raise invalid_param(name, f"{name} is not of type boolean.", "rest_invalid_type")


def _enum_param(request: Request, name: str, default: str, options: list[str]) -> str:
    value = request.query_params.get(name) or default
    if value not in options:
        raise invalid_param(name, f"{name} is not one of {', '.join(options)}.", "rest_not_in_enum")
    return value


def _list_param(request: Request, name: str) -> list[str]:
    values = request.query_params.getlist(name) + request.query_params.getlist(f"{name}[]")
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _date_param(request: Request, name: str, to_frame: Callable[[datetime], datetime]) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    return to_frame(rest_date(name, raw)).replace(microsecond=0)


def _paging(request: Request) -> tuple[int, int]:
    """The page and per_page parameters (1-100, default 10)."""
    per_page = _int_param(request, "per_page", 10, 1, 100)
    return _int_param(request, "page", 1, 1), per_page


def _collection(request: Request, items: list[Any], paging: tuple[int, int],
                render: Callable[[Any], dict[str, Any]]) -> JSONResponse:  # fmt: skip
    """One page of ``items`` (``paging``: page and per_page) with WordPress's headers."""
    page = number_page(items, *paging)
    response = JSONResponse([render(item) for item in page.items],
                            headers={"X-WP-Total": str(page.total), "X-WP-TotalPages": str(page.pages)})  # fmt: skip
    if page.has_previous:  # WordPress sends one Link header per relation
        response.headers.append("Link", f'<{page_url(request, page=min(page.page - 1, max(page.pages, 1)))}>; rel="prev"')
    if page.has_next:
        response.headers.append("Link", f'<{page_url(request, page=page.page + 1)}>; rel="next"')
    return response


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400) from None
    if not isinstance(body, dict):
        raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400)
    return body


def _apply_product(product: Product, body: dict[str, Any]) -> None:
    """A product update (manage_stock, stock_quantity), validated as WooCommerce does."""
    if "manage_stock" in body:
        product.manage_stock = bool(body["manage_stock"])
    if "stock_quantity" in body:
        value = body["stock_quantity"]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)) or not str(value).lstrip("-").isdigit():
            raise RestError("rest_invalid_param", "Invalid parameter(s): stock_quantity", 400,
                            params={"stock_quantity": "stock_quantity is not of type integer."})  # fmt: skip
        product.stock_quantity = int(value)
    product.modified = now()


def api_routes(shop: Shop) -> list[BaseRoute]:
    """The WooCommerce API of ``shop``."""

    def to_frame(gmt_frame: bool) -> Callable[[datetime], datetime]:
        def convert(moment: datetime) -> datetime:
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
                return moment if gmt_frame else moment + shop.offset
            return moment

        return convert

    def permitted_order(request: Request, action: str, missing: int) -> Order:
        """The order of the path, once the route's permission check passed; WooCommerce's
        "Invalid ID." (with status ``missing``) when there is none."""
        order = shop.orders.get(int(request.path_params["id"]))
        Shop.permit(request, action, found=order is not None)
        if order is None:
            raise RestError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", missing)
        return order

    async def list_orders(request: Request) -> Response:
        paging = _paging(request)
        orderby = _enum_param(request, "orderby", "date", ORDERBY)
        order_dir = _enum_param(request, "order", "desc", ["asc", "desc"])
        statuses = _list_param(request, "status") or ["any"]
        for status in statuses:
            if status not in [*ORDER_STATUSES, "any"]:
                raise invalid_param("status", f"status[0] is not one of {', '.join([*ORDER_STATUSES, 'any'])}.",
                                    "rest_not_in_enum")  # fmt: skip
        use_gmt = _bool_param(request, "dates_are_gmt")
        frame = to_frame(use_gmt)
        bounds = {name: _date_param(request, name, frame)
                  for name in ("after", "before", "modified_after", "modified_before")}  # fmt: skip
        Shop.permit(request, "list")

        def when(moment: datetime) -> datetime:
            return moment if use_gmt else moment + shop.offset

        selected = []
        for order in shop.orders.values():
            if "any" in statuses:
                if order.status == "trash" and "trash" not in statuses:
                    continue
            elif order.status not in statuses:
                continue
            created, modified = when(order.created), when(order.modified)
            if bounds["after"] and not created > bounds["after"]:
                continue
            if bounds["before"] and not created < bounds["before"]:
                continue
            if bounds["modified_after"] and not modified > bounds["modified_after"]:
                continue
            if bounds["modified_before"] and not modified < bounds["modified_before"]:
                continue
            selected.append(order)
        if orderby == "modified":
            selected.sort(key=lambda o: (o.modified, o.id), reverse=order_dir == "desc")
        elif orderby == "date":
            selected.sort(key=lambda o: (o.created, o.id), reverse=order_dir == "desc")
        else:
            selected.sort(key=lambda o: o.id, reverse=order_dir == "desc")
        return _collection(request, selected, paging, lambda o: order_json(shop, o, site_url(request)))

    async def one_order(request: Request) -> Response:
        if request.method == "GET":
            order = permitted_order(request, "read", 404)
            return JSONResponse(order_json(shop, order, site_url(request)))
        body = await _json_body(request)
        status = order_status(body["status"]) if "status" in body else None
        order = permitted_order(request, "edit", 400)  # an update of no order is a bad request
        if status is not None:
            shop.touch_order(order, status, None)
        return JSONResponse(order_json(shop, order, site_url(request)))

    async def order_notes(request: Request) -> Response:
        order = shop.orders.get(int(request.path_params["id"]))
        if request.method == "GET":
            Shop.permit(request, "list")
            if order is None:
                raise RestError("woocommerce_rest_shop_order_invalid_id", "Invalid order ID.", 404)
            notes = sorted(order.notes, key=lambda n: n["id"], reverse=True)
            return JSONResponse([note_json(shop, n) for n in notes])
        body = await _json_body(request)
        if not isinstance(body.get("note"), str) or not body["note"]:
            raise RestError("rest_missing_callback_param", "Missing parameter(s): note", 400, params=["note"])
        Shop.permit(request, "create")
        if order is None:
            raise RestError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
        note = shop.add_note(order, body["note"], bool(body.get("customer_note", False)))
        return JSONResponse(note_json(shop, note), status_code=201)

    async def list_products(request: Request) -> Response:
        paging = _paging(request)
        sku_param = request.query_params.get("sku", "")
        products = list(shop.products.values())
        if sku_param:
            wanted = {s for s in sku_param.split(",")} | {sku_param}
            products = [p for p in products if p.sku in wanted]  # products and variations, as WooCommerce
        else:
            products = [p for p in products if p.type != "variation"]
        Shop.permit(request, "list")
        products.sort(key=lambda p: (p.created, p.id), reverse=True)
        return _collection(request, products, paging, lambda p: product_json(shop, p, site_url(request)))

    async def one_product(request: Request) -> Response:
        product = shop.products.get(int(request.path_params["id"]))
        body = await _json_body(request) if request.method != "GET" else {}
        Shop.permit(request, "read" if request.method == "GET" else "edit", found=product is not None)
        if product is None:  # GET: not found; an update of no product: a bad request
            raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404 if request.method == "GET" else 400)
        if request.method != "GET":
            _apply_product(product, body)
        return JSONResponse(product_json(shop, product, site_url(request)))

    async def batch_products(request: Request) -> Response:
        body = await _json_body(request)
        Shop.permit(request, "batch")
        count = sum(len(body.get(key) or []) for key in ("create", "update", "delete"))
        if count > MAX_BATCH:
            raise RestError("woocommerce_rest_request_entity_too_large",
                            "Unable to accept more than 100 items for this request.", 413)  # fmt: skip
        answer: dict[str, list[Any]] = {}
        for key in ("create", "delete"):
            if key in body:
                answer[key] = [{"id": 0, "error": {"code": "sandbox_unsupported", "message": f"The sandbox does not {key} products.",
                                                    "data": {"status": 400}}} for _ in body[key]]  # fmt: skip
        if "update" in body:
            answer["update"] = [await batch_update(request, item) for item in body["update"] or []]
        return JSONResponse(answer)

    async def batch_update(request: Request, item: Any) -> dict[str, Any]:
        product_id = item.get("id") if isinstance(item, dict) else None
        product = shop.products.get(product_id) if isinstance(product_id, int) else None
        if product is None or product.type == "variation":
            return {"id": product_id, "error": {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                                                "data": {"status": 400}}}  # fmt: skip
        try:
            _apply_product(product, item)
        except RestError as exc:
            return {"id": product_id, "error": json.loads(exc.response.body)}
        return product_json(shop, product, site_url(request))

    editable = ["POST", "PUT", "PATCH"]
    return [
        Route(f"{API}/orders", shop.api(list_orders), methods=["GET"]),
        Route(f"{API}/orders/{{id:int}}", shop.api(one_order), methods=["GET", *editable]),
        Route(f"{API}/orders/{{id:int}}/notes", shop.api(order_notes), methods=["GET", "POST"]),
        Route(f"{API}/products", shop.api(list_products), methods=["GET"]),
        Route(f"{API}/products/batch", shop.api(batch_products), methods=editable),
        Route(f"{API}/products/{{id:int}}", shop.api(one_product), methods=["GET", *editable]),
    ]
