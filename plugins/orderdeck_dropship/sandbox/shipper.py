"""The emulated drop shipper's state: the orders it took (by batch, each once), its catalogue and
stock levels, and the status and stock reports waiting to be fetched until acknowledged."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request

from orderdeck.plugins.csvfiles import Column, write_csv
from orderdeck.plugins.sandbox import Emulator, bearer_token, credentials_match

DEFAULT_SKUS = ("MUG-RED", "MUG-BLUE", "TEE-S", "TEE-M", "POSTER-A2")
STATUS_COLUMNS = ("order_number", "reference", "status", "carrier", "service", "tracking_number", "message")
STOCK_COLUMNS = ("sku", "quantity")
AUTO_CARRIER, AUTO_SERVICE = "Sandbox Parcels", "Standard 48"
UNREADABLE_BODY = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
"""An unreadable report: a proxy's error page where the report should be."""

Format = Literal["json", "csv"]
Kind = Literal["status", "stock"]


@dataclass
class Report:
    """A report waiting to be fetched: its id, kind, body (fixed when made, so it reads the same
    until acknowledged) and content type."""

    id: str
    kind: Kind
    body: bytes
    content_type: str
    created_at: float
    acknowledged: bool = False

    def listing(self) -> dict[str, Any]:
        """The report as the index lists it."""
        return {"id": self.id, "created_at": _iso(self.created_at)}


@dataclass
class ReceivedOrder:
    """An order the drop shipper took, and where it is now (received, shipped, cancelled, error)."""

    number: int
    reference: str
    batch_id: str
    lines: list[dict[str, Any]]
    address: dict[str, Any]
    service: str
    received_at: float
    status: str = "received"
    reported: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"order_number": self.number, "reference": self.reference, "batch_id": self.batch_id,
                "status": self.status, "received_at": _iso(self.received_at), "service": self.service,
                "address": self.address, "lines": [{"sku": l["sku"], "quantity": l["quantity"]} for l in self.lines],
                "reports": self.reported}  # fmt: skip


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


class BatchRefused(ValueError):
    """A batch the drop shipper cannot read at all (answered 400 with this message)."""


class DropShipper(Emulator):
    """One drop shipper account (see the sandbox package's docstring for its API)."""

    messages = {**Emulator.messages, "unauthorised": ("invalid_api_key", "The API key was refused.")}

    def __init__(self, api_key: str, skus: list[str], ship_after_seconds: float | None, status_format: Format,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        super().__init__()
        if status_format not in ("json", "csv"):
            raise ValueError(f"status_format must be json or csv, not {status_format!r}")
        self.api_key = api_key
        self.ship_after_seconds = ship_after_seconds or None
        self.status_format: Format = status_format
        self.clock = clock
        self.stock: dict[str, int] = {sku: 0 for sku in skus}
        self.orders: dict[int, ReceivedOrder] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, Report] = {}
        self._sequence = 0

    # Credentials: the key in X-Api-Key, or as a bearer token

    def authorised(self, request: Request) -> bool:
        given = request.headers.get("x-api-key") or bearer_token(request)
        return credentials_match(given, self.api_key)

    # Orders

    def _next(self, prefix: str) -> str:
        self._sequence += 1
        return f"{prefix}-{self._sequence}"

    def take_batch(self, key: str, body: Any) -> tuple[dict[str, Any], bool]:
        """Take a batch's orders: the answer, and whether it repeats the answer to a key seen
        before (then nothing is taken again). Orders already taken are not taken twice; an
        order with an unknown SKU or no address line is refused alone."""
        if key in self.batches:
            return self.batches[key], True
        orders = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(orders, list) or not all(isinstance(o, dict) for o in orders):
            raise BatchRefused("the body must be {\"orders\": [order, ...]}")
        for order in orders:
            if not isinstance(order.get("order_number"), int) or not isinstance(order.get("lines"), list):
                raise BatchRefused("every order needs an integer order_number and a list of lines")
        batch_id = self._next("B")
        answer: dict[str, Any] = {"batch_id": batch_id, "taken": [], "duplicates": [], "refused": []}
        for order in orders:
            number = order["order_number"]
            if number in self.orders:
                answer["duplicates"].append({"order_number": number, "batch_id": self.orders[number].batch_id})
                continue
            reason = self._refusal(order)
            if reason:
                answer["refused"].append({"order_number": number, "reference": order.get("reference", ""), "reason": reason})
                continue
            address = order.get("address") if isinstance(order.get("address"), dict) else {}
            self.orders[number] = ReceivedOrder(number, str(order.get("reference", "")), batch_id, order["lines"],
                                                address, str(order.get("service", "")), self.clock())  # fmt: skip
            answer["taken"].append(number)
        self.batches[key] = answer
        return answer, False

    def _refusal(self, order: dict[str, Any]) -> str:
        """Why the drop shipper refuses ``order`` ("" if it takes it)."""
        address = order.get("address")
        if not isinstance(address, dict) or not str(address.get("address1") or "").strip():
            return "no address line"
        if not order["lines"]:
            return "no lines"
        for line in order["lines"]:
            if not isinstance(line, dict) or not isinstance(line.get("quantity"), int) or line["quantity"] < 1:
                return "every line needs a quantity of at least 1"
            if line.get("sku") not in self.stock:
                return f"unknown SKU {line.get('sku')!r}"
        return ""

    def order(self, number: Any) -> ReceivedOrder:
        """A taken order; KeyError if there is none numbered so."""
        try:
            return self.orders[int(number)]
        except (TypeError, ValueError):
            raise KeyError(f"no order {number!r}") from None

    # Reports

    def _add(self, kind: Kind, body: bytes, content_type: str, report_id: str) -> Report:
        report = Report(report_id, kind, body, content_type, self.clock())
        self.reports[report.id] = report
        return report

    def status_report(self, rows: list[Any]) -> Report:
        """A status report of ``rows`` (objects with the STATUS_COLUMNS, written as given)."""
        report_id = self._next("R")
        if self.status_format == "csv":
            body = write_csv([{c: row.get(c) for c in STATUS_COLUMNS} for row in rows], [Column(c) for c in STATUS_COLUMNS])
            return self._add("status", body, "text/csv; charset=utf-8", report_id)
        return self._add("status", json.dumps({"id": report_id, "statuses": rows}).encode(), "application/json", report_id)

    def stock_report(self, levels: dict[str, int]) -> Report:
        """A stock report of ``levels`` (which also become the catalogue's levels)."""
        self.stock.update(levels)
        rows = [{"sku": sku, "quantity": quantity} for sku, quantity in levels.items()]
        report_id = self._next("R")
        if self.status_format == "csv":
            return self._add("stock", write_csv(rows, [Column(c) for c in STOCK_COLUMNS]), "text/csv; charset=utf-8", report_id)
        return self._add("stock", json.dumps({"id": report_id, "levels": rows}).encode(), "application/json", report_id)

    def unreadable_report(self, kind: Kind) -> Report:
        """A report whose body is a proxy's error page."""
        return self._add(kind, UNREADABLE_BODY, "text/html", self._next("R"))

    def report_orders(self, numbers: list[Any], status: str, **details: str) -> Report:
        """One status report of orders ``numbers`` (taken ones) in ``status``."""
        orders = [self.order(number) for number in numbers]
        rows = []
        for order in orders:
            tracking = details.get("tracking_number") or (f"SBX{order.number:08d}" if status == "SHIPPED" else "")
            rows.append({"order_number": order.number, "reference": order.reference, "status": status,
                         "carrier": details.get("carrier", ""), "service": details.get("service", ""),
                         "tracking_number": tracking, "message": details.get("message", "")})  # fmt: skip
            order.status = status.lower()
        report = self.status_report(rows)
        for order in orders:
            order.reported.append(report.id)
        return report

    def ship_due(self) -> None:
        """Ship (in one report, with a made-up carrier and tracking) the received orders taken
        ship_after_seconds ago or more."""
        if self.ship_after_seconds is None:
            return
        due = [o.number for o in self.orders.values()
               if o.status == "received" and self.clock() - o.received_at >= self.ship_after_seconds]  # fmt: skip
        if due:
            self.report_orders(due, "SHIPPED", carrier=AUTO_CARRIER, service=AUTO_SERVICE)

    def pending(self, kind: Kind) -> list[Report]:
        """The reports of ``kind`` not yet acknowledged, oldest first."""
        self.ship_due()
        return [r for r in self.reports.values() if r.kind == kind and not r.acknowledged]

    def state(self) -> dict[str, Any]:
        self.ship_due()
        return {
            "orders": [order.as_json() for order in self.orders.values()],
            "batches": self.batches,
            "reports": [{**r.listing(), "kind": r.kind, "body": r.body.decode(errors="replace")}
                        for r in self.reports.values() if not r.acknowledged],
            "stock": self.stock,
        }  # fmt: skip
