"""A fulfilment centre's status and stock reports read into orderdeck's DTOs, whichever way they
come (a CSV file by FTP, a CSV or JSON answer by URL), one problem per bad row.

    report = read_status_report("status-0042.csv", data,
                                lambda data: settings.file_format.read(data, STATUS_FIELDS, columns),
                                columns)                                # columns: settings.status_columns.model_dump()
    # JSON records: read_status_report(report_id, body, lambda data: read_records(..., STATUS_FIELDS))

``read_status_report`` / ``read_stock_report`` name the report (``imported_file``: its name and the
SHA-256 of its content) and read its rows; a report whose rows cannot be read at all (the reader
raises a PartnerError, e.g. CsvFileError) is a report with no lines and one problem, never an
exception (``unreadable_status_report`` / ``unreadable_stock_report`` make one for a report that
could not even be fetched whole, e.g. a download over its size limit). ``status_report`` and
``stock_report`` turn rows already read into a report.

Statuses are read case-insensitively in the words centres use (``STATUS_WORDS``: SHIPPED or
DISPATCHED, COMPLETE(D), CANCELLED or CANCELED, ERROR or FAILED; a connector whose centre uses more
reads with ``status_fields(words)``). A status row is keyed by order number (a whole number above
zero) or, without one, by reference; a row with neither is a problem, and a file with neither
column one problem of row 1. A stock row with a blank quantity is ignored (not a problem); negative
quantities are kept (orderdeck takes them as 0). A problem of the whole report has row 0.

Settings pieces for connectors that read files: ``StatusColumns`` and ``StockColumns`` (the file's
column of each field, matched in any case) and ``CsvFormat`` (delimiter, encoding, fallback
encoding; its ``read`` reads a file with them).
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TypeVar

from pydantic import BaseModel, Field, field_validator

from orderdeck.plugins.csvfiles import DELIMITERS, CsvError, CsvField, CsvReadResult, integer, read_csv, text
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

R = TypeVar("R", StatusReport, StockReport)

STATUS_WORDS: dict[str, FulfilmentStatus] = {
    "shipped": FulfilmentStatus.SHIPPED, "dispatched": FulfilmentStatus.SHIPPED,
    "complete": FulfilmentStatus.COMPLETE, "completed": FulfilmentStatus.COMPLETE,
    "cancelled": FulfilmentStatus.CANCELLED, "canceled": FulfilmentStatus.CANCELLED,
    "error": FulfilmentStatus.ERROR, "failed": FulfilmentStatus.ERROR,
}  # fmt: skip
"""A centre's status words (case-folded) and what they mean."""


def fulfilment_status(value: str, words: Mapping[str, FulfilmentStatus] = STATUS_WORDS) -> FulfilmentStatus:
    """A centre's status word (one of ``words``, case-folded keys) as a FulfilmentStatus (a
    csvfiles converter: ValueError naming the known words if unknown)."""
    try:
        return words[value.strip().casefold()]
    except KeyError:
        known = sorted(words, key=lambda word: list(FulfilmentStatus).index(words[word]))
        raise ValueError(f"{value!r} is not a status: one of {', '.join(w.upper() for w in known)}") from None


def order_number(value: str) -> int:
    """An order number: a whole number above zero (a csvfiles converter)."""
    number = integer(value)
    if number < 1:
        raise ValueError(f"{value!r} is not an order number")
    return number


def status_fields(words: Mapping[str, FulfilmentStatus] = STATUS_WORDS) -> tuple[CsvField, ...]:
    """The fields of a status report whose statuses are ``words`` (a mapping may name the file's
    column of each)."""
    return (
        CsvField("order_number", order_number, required=False),
        CsvField("reference", text, required=False, default=""),
        CsvField("status", partial(fulfilment_status, words=words)),
        CsvField("carrier", text, required=False, default=""),
        CsvField("service", text, required=False, default=""),
        CsvField("tracking_number", text, required=False, default=""),
        CsvField("message", text, required=False, default=""),
    )


STATUS_FIELDS = status_fields()
"""The fields of a status report in ``STATUS_WORDS``."""

STOCK_FIELDS = (CsvField("sku", text), CsvField("quantity", integer, default=None))
"""The fields of a stock report (a blank quantity reads as None: the row is ignored)."""


# --- settings pieces of a connector that reads files


class StatusColumns(BaseModel):
    """The columns of a status file, as the centre names them (matched in any case). An order
    is found by its number, or (when the number is blank or its column absent) by its reference."""

    order_number: str = Field("Order Number", min_length=1)
    reference: str = Field("Reference", min_length=1)
    status: str = Field("Status", min_length=1)
    carrier: str = Field("Carrier", min_length=1)
    service: str = Field("Service", min_length=1)
    tracking_number: str = Field("Tracking Number", min_length=1)
    message: str = Field("Message", min_length=1)


class StockColumns(BaseModel):
    """The columns of a stock file, as the centre names them (matched in any case)."""

    sku: str = Field("SKU", min_length=1)
    quantity: str = Field("Quantity", min_length=1)


class CsvFormat(BaseModel):
    """How the centre writes its files."""

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

    def read(self, data: bytes, fields: Sequence[CsvField], columns: Mapping[str, str] | None = None) -> CsvReadResult:
        """``read_csv`` in this format, ``columns`` naming the file's column of a field (e.g.
        ``StatusColumns().model_dump()``). Raises CsvFileError for a file that cannot be read."""
        return read_csv(data, fields, columns, delimiter=self.delimiter, encoding=self.encoding,
                        fallback_encoding=self.fallback_encoding)  # fmt: skip


# --- reports


def imported_file(name: str, data: bytes) -> ImportedFile:
    """The record of a report read: its name and the SHA-256 (hex) of its content."""
    return ImportedFile(name, hashlib.sha256(data).hexdigest())


def _problem(error: CsvError) -> RowProblem:
    return RowProblem(error.row or 0, error.column or "", error.reason)


def status_report(file: ImportedFile, result: CsvReadResult, columns: Mapping[str, str] | None = None) -> StatusReport:
    """The status lines of rows read with STATUS_FIELDS (``columns`` as they were read with), and
    a problem for each bad row; one problem when the file has neither the order number's column
    nor the reference's."""
    number_column = (columns or {}).get("order_number", "order_number")
    reference_column = (columns or {}).get("reference", "reference")
    has = {column.strip().casefold() for column in result.columns}
    if number_column.strip().casefold() not in has and reference_column.strip().casefold() not in has:
        listed = ", ".join(repr(c) for c in result.columns if c) or "none"
        reason = f"missing column {number_column!r} or {reference_column!r} (the file has: {listed})"
        return StatusReport(file, [], [RowProblem(1, "", reason)])
    statuses: list[StatusLine] = []
    problems = [_problem(error) for error in result.errors]
    for row in result.rows:
        number, reference = row["order_number"] or 0, row["reference"]
        if not number and not reference:
            problems.append(RowProblem(row.number, number_column, "has neither an order number nor a reference"))
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


Rows = Callable[[bytes], CsvReadResult]
"""Reads a report's content into rows; raises a PartnerError (CsvFileError, PartnerUnreadable...)
for content that cannot be read at all."""


def _read(name: str, data: bytes, rows: Rows, report: Callable[[ImportedFile, CsvReadResult], R],
          unreadable: Callable[[ImportedFile, PartnerError], R]) -> R:  # fmt: skip
    file = imported_file(name, data)
    try:
        return report(file, rows(data))
    except PartnerError as exc:
        return unreadable(file, exc)


def read_status_report(name: str, data: bytes, rows: Rows, columns: Mapping[str, str] | None = None) -> StatusReport:
    """The status report named ``name`` of content ``data``, its rows read by ``rows`` (with
    STATUS_FIELDS or ``status_fields(words)``, under ``columns``); unreadable content is a report
    with one problem."""
    return _read(name, data, rows, lambda file, result: status_report(file, result, columns), unreadable_status_report)


def read_stock_report(name: str, data: bytes, rows: Rows) -> StockReport:
    """The stock report named ``name`` of content ``data``, its rows read by ``rows`` (with
    STOCK_FIELDS); unreadable content is a report with one problem."""
    return _read(name, data, rows, stock_report, unreadable_stock_report)
