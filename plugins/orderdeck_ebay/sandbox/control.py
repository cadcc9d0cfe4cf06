"""The account's own control routes (under /__sandbox/, beside the base's faults, requests and
state): placing and changing orders as buyers and eBay would, stocking inventory, expiring tokens
and setting call limits."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from orderdeck.plugins.sandbox import CONTROL, control_error, control_json
from orderdeck_ebay.sandbox.account import EbayAccount, Quota


def control_routes(account: EbayAccount) -> list[BaseRoute]:
    """POST /__sandbox/orders, PATCH /__sandbox/orders/{orderId}, POST /__sandbox/inventory,
    POST /__sandbox/tokens/expire, POST /__sandbox/quotas."""

    async def place_orders(request: Request) -> Response:
        try:
            body = await control_json(request)
            created = [account.create_order(spec) for spec in body.get("orders", [])]
            created += [account.create_order({}) for _ in range(int(body.get("random", 0)))]
        except (ValueError, KeyError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse({"orders": created}, status_code=201)

    async def change_order(request: Request) -> Response:
        order = account.orders.get(request.path_params["orderId"])
        if order is None:
            return control_error("no such order", 404)
        try:
            account.change_order(order, await control_json(request))
        except (ValueError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse(order)

    async def stock(request: Request) -> Response:
        try:
            body = await control_json(request)
            for sku, quantity in dict(body.get("items", {})).items():
                account.inventory[str(sku)] = int(quantity)
        except (ValueError, TypeError) as exc:
            return control_error(str(exc))
        return JSONResponse({"inventory": account.inventory})

    async def expire(request: Request) -> Response:
        return JSONResponse({"expired": account.expire_tokens()})

    async def quotas(request: Request) -> Response:
        try:
            body = await control_json(request)
            for resource, limit in dict(body.get("quotas", {})).items():
                if limit is None:
                    account.quotas.pop(resource, None)
                else:
                    account.quotas[resource] = Quota(int(limit["calls"]), float(limit.get("seconds", 86_400)))
        except (ValueError, TypeError, KeyError) as exc:
            return control_error(f"quotas: {{resource: {{calls, seconds?}} or null}}: {exc}")
        return JSONResponse(account.state()["quotas"])

    return [
        Route(f"{CONTROL}/orders", place_orders, methods=["POST"]),
        Route(f"{CONTROL}/orders/{{orderId}}", change_order, methods=["PATCH", "POST"]),
        Route(f"{CONTROL}/inventory", stock, methods=["POST"]),
        Route(f"{CONTROL}/tokens/expire", expire, methods=["POST"]),
        Route(f"{CONTROL}/quotas", quotas, methods=["POST"]),
    ]
