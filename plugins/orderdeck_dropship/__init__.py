"""orderdeck's URL drop shipper: a fulfilment connector for drop shippers (and fulfilment centres)
with an HTTP API, a plugin package like any third-party one (``[project.entry-points.orderdeck]
dropship = "orderdeck_dropship"``). Built on the toolkit only: ``UrlTransport`` / ``PartnerHttp``
(pacing per connection and operation, retries, 429 / Retry-After, typed errors) and
``orderdeck.plugins.reports`` (reports read with ``csvfiles``, one problem per bad row).
``sandbox`` is an emulated drop shipper speaking this wire format.

Wire format
-----------
Paths are the settings' defaults, relative to the base URL. Every request carries the API key in
a header: ``X-Api-Key: <key>`` (or, with ``auth_header="Authorization"`` and ``auth_prefix="Bearer
"``, a bearer token). 401/403: the key is refused. Bodies are JSON unless said otherwise.

``POST /orders`` with header ``Idempotency-Key: <batch file name>``, one batch::

    {"batch": "orders-0042.json",
     "orders": [{"order_number": 101, "reference": "FC-101", "channel_reference": "1234",
                 "received_at": "2026-01-05T09:30:00+00:00", "service": "Standard",
                 "currency": "GBP", "total": "9.00",
                 "buyer": {"name": "Ada Lovelace", "email": "ada@example.com"},
                 "address": {"full_name": "Ada Lovelace", "company": "", "address1": "1 Analytical Row",
                             "address2": "", "address3": "", "town": "London", "region": "",
                             "postcode": "N1 1AA", "country": "GB", "phone": ""},
                 "lines": [{"line_id": "l-1", "sku": "WH-CUP", "quantity": 2, "title": "Cup",
                            "unit_price": "4.50"}]}]}

  (a line's ``sku`` is the item's fulfilment SKU where it has one, else its SKU; money is a
  decimal string) answered 201::

    {"batch_id": "B-7", "taken": [101], "duplicates": [{"order_number": 102, "batch_id": "B-3"}],
     "refused": [{"order_number": 103, "reference": "FC-103", "reason": "unknown SKU 'NOPE'"}]}

  Refused orders are the ExportResult's ``refused`` (by order id, with the reason); duplicates
  (taken by an earlier batch) count as handed over; ``batch_id`` is its ``reference``.

  Idempotency: the key is the batch's file name, which orderdeck makes deterministically from the
  batch. A repeat POST after a crash between the POST and orderdeck's commit carries the same
  key, and the drop shipper answers with the first batch (200, ``Idempotent-Replayed: true``)
  instead of taking the orders again. The toolkit's retries of a POST whose answer was lost are
  safe for the same reason.

``GET /reports/status`` and ``GET /reports/stock``: the reports waiting, oldest first::

    {"reports": [{"id": "R-12", "created_at": "2026-01-05T12:00:00Z"}]}

``GET /reports/{id}``: one report, as JSON or CSV (the ``status_format`` setting)::

    {"id": "R-12", "statuses": [{"order_number": 101, "reference": "FC-101", "status": "SHIPPED",
                                  "carrier": "Royal Mail", "service": "Tracked 48",
                                  "tracking_number": "RM101GB", "message": ""}]}
    order_number,reference,status,carrier,service,tracking_number,message      (CSV)

    {"id": "R-13", "levels": [{"sku": "WH-CUP", "quantity": 12}]}
    sku,quantity                                                                (CSV)

  Statuses are read case-insensitively: SHIPPED or DISPATCHED, COMPLETE, CANCELLED or CANCELED,
  ERROR or FAILED (``message``: the error's text). A row is keyed by ``order_number`` or, without
  one, ``reference``. A bad row is a RowProblem (row, field, reason: rows count from 1 in JSON, from
  2 under a CSV header) while the good rows come through; a report that cannot be read at all (not
  JSON, columns missing, a proxy's error page) is a report with no rows and one problem, never an
  exception. A 5xx, a refused or dropped connection or a timeout raises PartnerUnavailable; an
  index that cannot be read raises PartnerUnreadable (both retried).

``POST /reports/{id}/ack``: the report was applied; the drop shipper does not list it again.
``ImportedFile.name`` is the report's id, its ``content_hash`` the SHA-256 of the body as received.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, Field, SecretStr, field_validator

from orderdeck.plugins.connectors import Connection, FulfilmentConnector
from orderdeck.plugins.csvfiles import CsvField, CsvReadResult, format_value, read_csv, read_records
from orderdeck.plugins.dto import (
    ConnectionResult,
    ExportBatch,
    ExportResult,
    FulfilmentOrder,
    ImportedFile,
    ItemResult,
    StatusReport,
    StockReport,
)
from orderdeck.plugins.errors import PartnerAuthError, PartnerError, PartnerUnreadable
from orderdeck.plugins.hookspecs import hookimpl
from orderdeck.plugins.reports import STATUS_FIELDS, STOCK_FIELDS, read_status_report, read_stock_report
from orderdeck.plugins.sandbox import Sandbox
from orderdeck.plugins.toolkit import PartnerHttp
from orderdeck.plugins.transports import UrlSettings, UrlTransport
from orderdeck_dropship.sandbox import SANDBOX

__version__ = "0.1.0"

IDEMPOTENCY_HEADER = "Idempotency-Key"
R = TypeVar("R", StatusReport, StockReport)


class DropshipSettings(BaseModel):
    """A drop shipper's HTTP API: its address, API key and paths, and how its reports are written."""

    url: str = Field(pattern=r"^https?://\S+$", description="The API's base URL, e.g. https://api.dropship.example/v1")
    api_key: SecretStr = Field(description="The API key the drop shipper issued")
    auth_header: str = Field("X-Api-Key", min_length=1, description="The header carrying the key (e.g. Authorization)")
    auth_prefix: str = Field("", description="Written before the key, e.g. 'Bearer ' with Authorization")
    orders_path: str = Field("/orders", description="Where order batches are POSTed")
    status_path: str = Field("/reports/status", description="The index of waiting status reports (GET)")
    stock_path: str = Field("/reports/stock", description="The index of waiting stock reports (GET)")
    report_path: str = Field("/reports/{id}", description="One report (GET); {id} is the report's id")
    ack_path: str = Field("/reports/{id}/ack", description="Acknowledges a report (POST); {id} is its id")
    status_format: Literal["json", "csv"] = Field("json", description="How status and stock reports are written")
    verify_tls: bool = Field(True, description="Check the drop shipper's TLS certificate")
    timeout_seconds: float = Field(30.0, gt=0, le=300, description="Longest wait for one answer")
    requests_per_second: float = Field(2.0, gt=0, le=100, description="Most requests a second, per operation")

    @field_validator("report_path", "ack_path")
    @classmethod
    def _has_id(cls, value: str) -> str:
        if "{id}" not in value:
            raise ValueError("must contain {id}, where the report's id goes")
        return value


def _transport(connection: Connection[DropshipSettings]) -> UrlTransport:
    """The drop shipper's API, paced per connection (and per operation: export, statuses, stock, ack)."""
    s = connection.settings
    url = UrlSettings(url=s.url, token=s.api_key, auth_header=s.auth_header, auth_prefix=s.auth_prefix,
                      send_path=s.orders_path, verify_tls=s.verify_tls, timeout_seconds=s.timeout_seconds,
                      requests_per_second=s.requests_per_second)  # fmt: skip
    return UrlTransport(url, limit_key=connection.connection_id)


def order_json(order: FulfilmentOrder) -> dict[str, Any]:
    """An order as the drop shipper takes it (see the module docstring)."""
    address = order.shipping_address
    return {
        "order_number": order.number, "reference": order.reference, "channel_reference": order.channel_reference,
        "received_at": order.received_at.isoformat(), "service": order.shipping_service, "currency": order.currency,
        "total": format_value(order.total), "buyer": {"name": order.buyer_name, "email": order.email},
        "address": {name: getattr(address, name) for name in address.__dataclass_fields__},
        "lines": [{"line_id": line.line_id, "sku": line.fulfilment_sku or line.sku, "quantity": line.quantity,
                   "title": line.title, "unit_price": format_value(line.unit_price)} for line in order.lines],
    }  # fmt: skip


def _refused(batch: ExportBatch, answer: dict[str, Any]) -> list[ItemResult]:
    """The orders the answer refuses, by order id with the drop shipper's reason."""
    refused = answer.get("refused", [])
    if not isinstance(refused, list) or not all(isinstance(r, dict) for r in refused):
        raise PartnerUnreadable(f"the answer to batch {batch.file_name}: refused is not a list of objects")
    by_number = {order.number: order.order_id for order in batch.orders}
    reasons = {r.get("order_number"): str(r.get("reason") or "refused by the drop shipper") for r in refused}
    return [ItemResult(by_number[n], False, reasons[n]) for n in by_number if n in reasons]


async def _index(transport: UrlTransport, path: str, operation: str) -> list[str]:
    """The ids of the reports waiting at ``path``."""
    response = await transport.http.request("GET", path, operation=operation)
    listed = PartnerHttp.json(response, dict).get("reports")
    if not isinstance(listed, list) or not all(isinstance(r, dict) and isinstance(r.get("id"), str) and r["id"]
                                               for r in listed):  # fmt: skip
        raise PartnerUnreadable(f"GET {path}: expected {{\"reports\": [{{\"id\": ...}}]}}, got {response.text[:200]!r}")
    return [r["id"] for r in listed]


def _rows(data: bytes, format: str, key: str, fields: tuple[CsvField, ...]) -> CsvReadResult:
    """A report's rows: a CSV file, or the records under ``key`` of a JSON object. A report that
    cannot be read at all raises a PartnerError (CsvFileError, PartnerUnreadable)."""
    if format == "csv":
        return read_csv(data, fields)
    try:
        body = json.loads(data)
    except ValueError:
        raise PartnerUnreadable(f"not JSON: {data[:120]!r}") from None
    records = body.get(key) if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise PartnerUnreadable(f"expected a JSON object with a list {key!r}")
    return read_records(records, fields)


async def _reports(connection: Connection[DropshipSettings], path: str, operation: str,
                   read: Callable[[str, bytes], R]) -> list[R]:  # fmt: skip
    """Every report waiting at ``path``, fetched and read by id and body (an unreadable one as a
    problem)."""
    settings = connection.settings
    found: list[R] = []
    async with _transport(connection) as transport:
        for report_id in await _index(transport, path, operation):
            answer = await transport.get(settings.report_path.format(id=quote(report_id, safe="")), operation=operation)
            found.append(read(report_id, answer.data))
    return found


class UrlDropship(FulfilmentConnector):
    """A drop shipper with an HTTP API: order batches POSTed as JSON (idempotent by the batch's
    file name), status and stock reports fetched as JSON or CSV and acknowledged once applied."""

    name = "url_dropship"
    title = "URL drop shipper"
    version = __version__
    description = "Drop shippers with an HTTP API: orders POSTed as JSON, status and stock reports (JSON or CSV) fetched"
    settings = DropshipSettings
    export_batch_size = 100

    async def test_connection(self, connection: Connection[DropshipSettings]) -> ConnectionResult:
        """One GET of the status report index: the key is accepted and the API answers as expected."""
        try:
            async with _transport(connection) as transport:
                waiting = await _index(transport, connection.settings.status_path, "statuses")
        except PartnerAuthError as exc:
            return ConnectionResult(False, f"The drop shipper refused the API key: {exc}")
        except PartnerUnreadable as exc:
            return ConnectionResult(False, f"This does not answer as the drop shipper's API: {exc}")
        except PartnerError as exc:
            return ConnectionResult(False, f"Could not reach the drop shipper: {exc}")
        return ConnectionResult(True, f"Connected to the drop shipper: {len(waiting)} status reports waiting.")

    async def export_orders(self, connection: Connection[DropshipSettings], batch: ExportBatch) -> ExportResult:
        """POST the batch with its file name as the idempotency key (see the module docstring)."""
        body = {"batch": batch.file_name, "orders": [order_json(order) for order in batch.orders]}
        async with _transport(connection) as transport:
            response = await transport.http.request("POST", connection.settings.orders_path, json=body,
                                                    headers={IDEMPOTENCY_HEADER: batch.file_name}, operation="export")  # fmt: skip
        answer = PartnerHttp.json(response, dict)
        if not isinstance(answer.get("batch_id"), str | int) or answer.get("batch_id") == "":
            raise PartnerUnreadable(f"the answer to batch {batch.file_name} has no batch_id: {response.text[:200]!r}")
        return ExportResult(str(answer["batch_id"]), _refused(batch, answer))

    async def import_statuses(self, connection: Connection[DropshipSettings]) -> list[StatusReport]:
        """Every waiting status report, read (not acknowledged: ``consume`` does that)."""
        format = connection.settings.status_format
        return await _reports(connection, connection.settings.status_path, "statuses",
                              lambda name, data: read_status_report(
                                  name, data, lambda data: _rows(data, format, "statuses", STATUS_FIELDS)))  # fmt: skip

    async def import_stock(self, connection: Connection[DropshipSettings]) -> list[StockReport]:
        """Every waiting stock report, read (as import_statuses)."""
        format = connection.settings.status_format
        return await _reports(connection, connection.settings.stock_path, "stock",
                              lambda name, data: read_stock_report(
                                  name, data, lambda data: _rows(data, format, "levels", STOCK_FIELDS)))  # fmt: skip

    async def consume(self, connection: Connection[DropshipSettings], imported: ImportedFile) -> None:
        """Acknowledge the report, so the drop shipper does not serve it again."""
        async with _transport(connection) as transport:
            await transport.post(connection.settings.ack_path.format(id=quote(imported.name, safe="")), {}, operation="ack")


@hookimpl
def orderdeck_register_connectors() -> list[FulfilmentConnector]:
    """The URL drop shipper."""
    return [UrlDropship()]


@hookimpl
def orderdeck_register_sandboxes() -> list[Sandbox]:
    """Its sandbox: an emulated drop shipper."""
    return [SANDBOX]
