"""An emulated drop shipper speaking the URL drop shipper's wire format (see ``orderdeck_dropship``),
with state, for tests, the demo and anyone writing a client.

    app = create_app(api_key="sandbox-key", ship_after_seconds=30, status_format="json")
    orderdeck sandbox url_dropship --port 8102

Built on the sandbox base (``orderdeck.plugins.sandbox``): faults (POST /__sandbox/faults:
rate_limit, server_error, malformed, disconnect, delay), the request log and the state route are
the base's; ``shipper`` holds the drop shipper's own state. The API (key in ``X-Api-Key`` or
``Authorization: Bearer``; otherwise 401 ``{"code": "invalid_api_key", "message"}``):

- POST /orders (header Idempotency-Key): takes a batch. A key seen before answers the first
  batch's answer again (200, ``Idempotent-Replayed: true``) and takes nothing; an order number
  already taken is listed under ``duplicates``, not taken twice; an order with an unknown SKU
  (not in the catalogue: ``skus``, plus those given stock) or no address line is ``refused``,
  alone. 201 ``{"batch_id", "taken", "duplicates", "refused"}``; 400 for a batch it cannot read.
- GET /reports/status, GET /reports/stock: the reports waiting, ``{"reports": [{"id",
  "created_at"}]}``, oldest first; GET /reports/{id}: one (JSON or CSV, by ``status_format``);
  POST /reports/{id}/ack: acknowledged, never listed again (acknowledging twice is fine).
- With ``ship_after_seconds``, orders received that long ago are shipped in one report with a
  made-up carrier and tracking number (checked whenever the API or the state is asked).

Control routes (no auth; JSON in and out), besides the base's faults, requests and state:
POST /__sandbox/ship ``{"orders": [number...], "carrier"?, "service"?, "tracking_number"?}``,
/cancel and /error ``{"orders", "message"?}`` (one status report each); /report ``{"statuses":
[row...]}`` (a report of rows as given, right or wrong); /stock ``{"levels": {sku: quantity}}``
(a stock report); /unreadable ``{"kind"?: "status"|"stock"}`` (a report that is a proxy's error
page). GET /__sandbox/state: orders taken (status, lines, reports), batches, reports waiting, stock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from orderdeck.plugins.sandbox import CONTROL, ApiError, Sandbox, control_error, control_json, sandbox_app
from orderdeck_dropship.sandbox.shipper import DEFAULT_SKUS, DropShipper, Format, Kind, Report

__all__ = ["SANDBOX", "DropShipper", "create_app"]


def api_routes(shipper: DropShipper) -> list[BaseRoute]:
    """The drop shipper's API."""

    async def take_orders(request: Request) -> Response:
        key = request.headers.get("idempotency-key", "").strip()
        if not key:
            raise ApiError(shipper.error(400, "missing_idempotency_key", "Send the batch's Idempotency-Key header."))
        try:
            answer, replayed = shipper.take_batch(key, await request.json())
        except ValueError as exc:  # BatchRefused, or a body that is not JSON
            raise ApiError(shipper.error(400, "invalid_batch", str(exc))) from None
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return JSONResponse(answer, status_code=200 if replayed else 201, headers=headers)

    def index(kind: Kind) -> Callable[[Request], Awaitable[Response]]:
        async def reports(request: Request) -> Response:
            return JSONResponse({"reports": [r.listing() for r in shipper.pending(kind)]})

        return reports

    def found(request: Request) -> Report:
        report = shipper.reports.get(request.path_params["id"])
        if report is None:
            raise ApiError(shipper.error(404, "unknown_report", f"No report {request.path_params['id']!r}."))
        return report

    async def report(request: Request) -> Response:
        found_report = found(request)
        return Response(found_report.body, media_type=found_report.content_type)

    async def acknowledge(request: Request) -> Response:
        found_report = found(request)
        found_report.acknowledged = True
        return JSONResponse({"id": found_report.id, "acknowledged": True})

    return [
        Route("/orders", shipper.api(take_orders), methods=["POST"]),
        Route("/reports/status", shipper.api(index("status"))),
        Route("/reports/stock", shipper.api(index("stock"))),
        Route("/reports/{id}", shipper.api(report)),
        Route("/reports/{id}/ack", shipper.api(acknowledge), methods=["POST"]),
    ]


def control_routes(shipper: DropShipper) -> list[BaseRoute]:
    """What tests and the demo make the drop shipper do."""

    def reporting(status: str) -> Callable[[Request], Awaitable[Response]]:
        async def report_orders(request: Request) -> Response:
            try:
                body = await control_json(request)
                details = {k: str(body[k]) for k in ("carrier", "service", "tracking_number", "message") if body.get(k)}
                report = shipper.report_orders(list(body.get("orders", [])), status, **details)
            except KeyError as exc:
                return control_error(str(exc.args[0]), 404)
            except (ValueError, TypeError) as exc:
                return control_error(str(exc))
            return JSONResponse(report.listing(), status_code=201)

        return report_orders

    async def raw_report(request: Request) -> Response:
        try:
            rows = (await control_json(request)).get("statuses", [])
            if not isinstance(rows, list):
                raise ValueError("statuses must be a list")
        except ValueError as exc:
            return control_error(str(exc))
        return JSONResponse(shipper.status_report(rows).listing(), status_code=201)

    async def stock(request: Request) -> Response:
        try:
            levels = (await control_json(request)).get("levels", {})
            if not isinstance(levels, dict) or not all(isinstance(q, int) for q in levels.values()):
                raise ValueError("levels must be {sku: quantity}")
        except ValueError as exc:
            return control_error(str(exc))
        return JSONResponse(shipper.stock_report(levels).listing(), status_code=201)

    async def unreadable(request: Request) -> Response:
        try:
            kind = (await control_json(request)).get("kind", "status")
            if kind not in ("status", "stock"):
                raise ValueError("kind must be status or stock")
        except ValueError as exc:
            return control_error(str(exc))
        return JSONResponse(shipper.unreadable_report(kind).listing(), status_code=201)

    return [
        Route(f"{CONTROL}/ship", reporting("SHIPPED"), methods=["POST"]),
        Route(f"{CONTROL}/cancel", reporting("CANCELLED"), methods=["POST"]),
        Route(f"{CONTROL}/error", reporting("ERROR"), methods=["POST"]),
        Route(f"{CONTROL}/report", raw_report, methods=["POST"]),
        Route(f"{CONTROL}/stock", stock, methods=["POST"]),
        Route(f"{CONTROL}/unreadable", unreadable, methods=["POST"]),
    ]


def create_app(*, api_key: str = "sandbox-key", ship_after_seconds: float | None = None,
               status_format: Format = "json", skus: list[str] | None = None) -> Starlette:  # fmt: skip
    """A new drop shipper account: ``skus`` its catalogue; ``ship_after_seconds`` (0 or None:
    only when told) ships received orders by itself; ``status_format`` (json or csv) is how its
    reports are written. ``app.state.sandbox`` is its ``DropShipper``."""
    shipper = DropShipper(api_key, list(DEFAULT_SKUS if skus is None else skus), ship_after_seconds, status_format)
    shipping = f"ships after {ship_after_seconds:g} s" if shipper.ship_after_seconds else "ships when told"
    banner = (f"URL drop shipper sandbox: base URL = the address below, API key {api_key!r} (X-Api-Key or "
              f"Authorization: Bearer), {status_format} reports, {shipping}; SKUs {', '.join(shipper.stock)}; "
              f"control API under {CONTROL}/")  # fmt: skip
    return sandbox_app(shipper, api_routes(shipper), control=control_routes(shipper), banner=banner)


SANDBOX = Sandbox(
    name="url_dropship",
    title="URL drop shipper",
    create_app=create_app,
    description="A drop shipper's order, status report and stock report API (JSON or CSV), with state",
)
"""What the plugin offers through orderdeck_register_sandboxes."""
