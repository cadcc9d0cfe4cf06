"""A fulfilment centre's status and stock reports read into orderdeck's DTOs, whichever way they
come (a CSV file by FTP, a CSV or JSON answer by URL), one problem per bad row.

    file = imported_file("status-0042.csv", data)                       # name and SHA-256
    try:
        report = status_report(file, read_csv(data, STATUS_FIELDS, mapping=settings.columns))
    except CsvFileError as exc:
        report = unreadable_status_report(file, exc)                    # no statuses, one problem
    # JSON records: status_report(file, read_records(body["statuses"], STATUS_FIELDS))

Statuses are read case-insensitively in the words centres use (``STATUS_WORDS``: SHIPPED or
DISPATCHED, COMPLETE(D), CANCELLED or CANCELED, ERROR or FAILED). A status row is keyed by order
number or, without one, by reference; a row with neither is a problem. A stock row with a blank
quantity is ignored (not a problem); negative quantities are kept (orderdeck takes them as 0).
A problem of the whole report has row 0.
"""

from __future__ import annotations

import hashlib

from orderdeck.plugins.csvfiles import CsvError, CsvField, CsvReadResult, integer, text
from orderdeck.plugins.dto import (
    FulfilmentStatus,
    ImportedFile,
    RowProblem,
    StatusLine,
    StatusReport,
    StockLine,
    StockReport,
)
from orderdeck.plugins.errors import PartnerError

STATUS_WORDS: dict[str, FulfilmentStatus] = {
    "shipped": FulfilmentStatus.SHIPPED, "dispatched": FulfilmentStatus.SHIPPED,
    "complete": FulfilmentStatus.COMPLETE, "completed": FulfilmentStatus.COMPLETE,
    "cancelled": FulfilmentStatus.CANCELLED, "canceled": FulfilmentStatus.CANCELLED,
    "error": FulfilmentStatus.ERROR, "failed": FulfilmentStatus.ERROR,
}  # fmt: skip
"""A centre's status words (case-folded) and what they mean."""


def fulfilment_status(value: str) -> FulfilmentStatus:
    """A centre's status word as a FulfilmentStatus (a csvfiles converter: ValueError if unknown)."""
    try:
        return STATUS_WORDS[value.strip().casefold()]
    except KeyError:
        raise ValueError(f"{value!r} is not a status: one of {', '.join(w.upper() for w in STATUS_WORDS)}") from None


STATUS_FIELDS = (
    CsvField("order_number", integer, required=False),
    CsvField("reference", text, required=False, default=""),
    CsvField("status", fulfilment_status),
    CsvField("carrier", text, required=False, default=""),
    CsvField("service", text, required=False, default=""),
    CsvField("tracking_number", text, required=False, default=""),
    CsvField("message", text, required=False, default=""),
)
"""The fields of a status report (a mapping may name the file's column of each)."""

STOCK_FIELDS = (CsvField("sku", text), CsvField("quantity", integer, default=None))
"""The fields of a stock report (a blank quantity reads as None: the row is ignored)."""


def imported_file(name: str, data: bytes) -> ImportedFile:
    """The record of a report read: its name and the SHA-256 (hex) of its content."""
    return ImportedFile(name, hashlib.sha256(data).hexdigest())


def _problem(error: CsvError) -> RowProblem:
    return RowProblem(error.row or 0, error.column or "", error.reason)


def status_report(file: ImportedFile, result: CsvReadResult) -> StatusReport:
    """The status lines of rows read with STATUS_FIELDS, and a problem for each bad row."""
    statuses: list[StatusLine] = []
    problems = [_problem(error) for error in result.errors]
    for row in result.rows:
        number, reference = row["order_number"] or 0, row["reference"]
        if not number and not reference:
            problems.append(RowProblem(row.number, "order_number", "has neither an order number nor a reference"))
            continue
        statuses.append(StatusLine(row.number, row["status"], number, reference, row["carrier"], row["service"],
                                   row["tracking_number"], row["message"]))  # fmt: skip
    return StatusReport(file, statuses, sorted(problems, key=lambda p: p.row))


def stock_report(file: ImportedFile, result: CsvReadResult) -> StockReport:
    """The stock levels of rows read with STOCK_FIELDS (blank quantities ignored), and a problem
    for each bad row."""
    levels = [StockLine(row.number, row["sku"], row["quantity"]) for row in result.rows if row["quantity"] is not None]
    return StockReport(file, levels, [_problem(error) for error in result.errors])


def _whole(error: PartnerError) -> RowProblem:
    found = getattr(error, "error", None)
    return _problem(found) if isinstance(found, CsvError) else RowProblem(0, "", str(error))


def unreadable_status_report(file: ImportedFile, error: PartnerError) -> StatusReport:
    """A status report that cannot be read at all: no statuses, one problem saying why."""
    return StatusReport(file, [], [_whole(error)])


def unreadable_stock_report(file: ImportedFile, error: PartnerError) -> StockReport:
    """A stock report that cannot be read at all: no levels, one problem saying why."""
    return StockReport(file, [], [_whole(error)])
