"""Reading a warehouse's status and stock files into reports (``orderdeck.plugins.csvfiles``):
every readable row comes through, each bad row is one ``RowProblem``, and a file that cannot be
read at all is a report with one problem (never an exception)."""

from __future__ import annotations

import codecs
import hashlib

from pydantic import BaseModel, Field, field_validator

from orderdeck.plugins.csvfiles import DELIMITERS, CsvError, CsvField, CsvFileError, CsvReadResult, integer, read_csv
from orderdeck.plugins.dto import (
    FulfilmentStatus,
    ImportedFile,
    RowProblem,
    StatusLine,
    StatusReport,
    StockLine,
    StockReport,
)

STATUS_WORDS: dict[str, FulfilmentStatus] = {
    "SHIPPED": FulfilmentStatus.SHIPPED, "DISPATCHED": FulfilmentStatus.SHIPPED,
    "DESPATCHED": FulfilmentStatus.SHIPPED, "SENT": FulfilmentStatus.SHIPPED,
    "COMPLETE": FulfilmentStatus.COMPLETE, "COMPLETED": FulfilmentStatus.COMPLETE,
    "DELIVERED": FulfilmentStatus.COMPLETE,
    "CANCELLED": FulfilmentStatus.CANCELLED, "CANCELED": FulfilmentStatus.CANCELLED,
    "ERROR": FulfilmentStatus.ERROR, "FAILED": FulfilmentStatus.ERROR, "REJECTED": FulfilmentStatus.ERROR,
}  # fmt: skip
"""A warehouse's status words (in any case) and what each means."""


class StatusColumns(BaseModel):
    """The columns of a status file, as the warehouse names them (matched in any case). An order
    is found by its number, or (when the number is blank or its column absent) by its reference."""

    order_number: str = Field("Order Number", min_length=1)
    reference: str = Field("Reference", min_length=1)
    status: str = Field("Status", min_length=1)
    carrier: str = Field("Carrier", min_length=1)
    service: str = Field("Service", min_length=1)
    tracking_number: str = Field("Tracking Number", min_length=1)
    message: str = Field("Message", min_length=1)


class StockColumns(BaseModel):
    """The columns of a stock file, as the warehouse names them (matched in any case)."""

    sku: str = Field("SKU", min_length=1)
    quantity: str = Field("Quantity", min_length=1)


class CsvFormat(BaseModel):
    """How the warehouse writes its files."""

    delimiter: str = Field(",", description="One of , ; tab |")
    encoding: str = Field("utf-8", min_length=1, description="The files' encoding")
    fallback_encoding: str | None = Field(None, description="Tried when a file is not in encoding (e.g. cp1252)")

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if value not in DELIMITERS:
            raise ValueError(f"must be one of {DELIMITERS!r}")
        return value

    @field_validator("encoding", "fallback_encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        if value:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"{value!r} is not an encoding Python knows (utf-8, cp1252, latin-1...)") from None
        return value or None


def fulfilment_status(value: str) -> FulfilmentStatus:
    """A status cell as a FulfilmentStatus (see STATUS_WORDS); ValueError names the known words."""
    try:
        return STATUS_WORDS[value.upper()]
    except KeyError:
        raise ValueError(f"{value!r} is not a status: one of {', '.join(STATUS_WORDS)}") from None


def order_number(value: str) -> int:
    """An order number: a whole number above zero."""
    number = integer(value)
    if number < 1:
        raise ValueError(f"{value!r} is not an order number")
    return number


def imported(name: str, data: bytes) -> ImportedFile:
    """The report's name and the SHA-256 of its content."""
    return ImportedFile(name, hashlib.sha256(data).hexdigest())


def _problem(error: CsvError) -> RowProblem:
    """A csvfiles error as a report's problem (row 0: the whole file)."""
    return RowProblem(error.row or 0, error.column or "", error.reason)


def _read(data: bytes, fields: list[CsvField], columns: BaseModel, format: CsvFormat) -> CsvReadResult | RowProblem:
    try:
        return read_csv(data, fields, columns.model_dump(), delimiter=format.delimiter, encoding=format.encoding,
                        fallback_encoding=format.fallback_encoding)  # fmt: skip
    except CsvFileError as exc:
        return _problem(exc.error)


STATUS_FIELDS = [
    CsvField("order_number", order_number, required=False), CsvField("reference", required=False, default=""),
    CsvField("status", fulfilment_status), CsvField("carrier", required=False, default=""),
    CsvField("service", required=False, default=""), CsvField("tracking_number", required=False, default=""),
    CsvField("message", required=False, default=""),
]  # fmt: skip


def status_report(name: str, data: bytes, columns: StatusColumns, format: CsvFormat) -> StatusReport:
    """The statuses of a status file named ``name``, and its rows that cannot be read."""
    file = imported(name, data)
    result = _read(data, STATUS_FIELDS, columns, format)
    if isinstance(result, RowProblem):
        return StatusReport(file, [], [result])
    has = {c.casefold() for c in result.columns}
    if columns.order_number.casefold() not in has and columns.reference.casefold() not in has:
        listed = ", ".join(repr(c) for c in result.columns if c) or "none"
        reason = f"missing column {columns.order_number!r} or {columns.reference!r} (the file has: {listed})"
        return StatusReport(file, [], [RowProblem(1, "", reason)])
    statuses: list[StatusLine] = []
    problems = [_problem(error) for error in result.errors]
    for row in result.rows:
        if row["order_number"] is None and not row["reference"]:
            problems.append(RowProblem(row.number, columns.order_number, "is blank, and so is the reference: which order?"))
            continue
        statuses.append(StatusLine(row=row.number, status=row["status"], order_number=row["order_number"] or 0,
                                   reference=row["reference"], carrier=row["carrier"], service=row["service"],
                                   tracking_number=row["tracking_number"], message=row["message"]))  # fmt: skip
    return StatusReport(file, statuses, sorted(problems, key=lambda p: p.row))


STOCK_FIELDS = [CsvField("sku"), CsvField("quantity", integer, default=None)]


def stock_report(name: str, data: bytes, columns: StockColumns, format: CsvFormat) -> StockReport:
    """The stock levels of a stock file named ``name`` (a blank quantity is no level; a negative
    one is reported as given), and its rows that cannot be read."""
    file = imported(name, data)
    result = _read(data, STOCK_FIELDS, columns, format)
    if isinstance(result, RowProblem):
        return StockReport(file, [], [result])
    levels = [StockLine(row.number, row["sku"], row["quantity"]) for row in result.rows if row["quantity"] is not None]
    return StockReport(file, levels, [_problem(error) for error in result.errors])
