"""orderdeck's FTP fulfilment warehouse: a warehouse (or drop shipper) that takes order files and
leaves status and stock files on its FTP server. A plugin package like any third-party one,
registered in pyproject.toml as ``[project.entry-points.orderdeck] ftp_fulfilment =
"orderdeck_ftp_fulfilment"``; this module holds the connector and the hooks, ``sandbox`` an
emulated warehouse with a real FTP server.

Everything goes through the toolkit: ``FtpTransport`` (explicit TLS, uploads under a temporary
name, list, download, move, delete, typed errors), ``csvfiles`` (``write_csv``) and ``reports``
(the status and stock files read into reports, with the columns and file format of the settings:
``StatusColumns``, ``StockColumns``, ``CsvFormat``), as the URL drop shipper reads its reports.
Folders are paths as the server names them, relative to the login folder unless they start with /.

Order files (export, into ``upload_folder``, default ``orders``)
    CSV in UTF-8, a header row, one row per order line, under the location's export columns
    (``ExportBatch.columns``; by default Order Number, Reference, Received, Name, Company,
    Address 1, Address 2, Town, Region, Postcode, Country, Phone, Email, Service, SKU (the item's
    fulfilment SKU when it has one), Quantity, Title, Unit Price, Currency). The file is stored as
    ``.<name>.part`` and renamed to ``ExportBatch.file_name`` once complete, so the warehouse never
    picks up half a file. The name is deterministic: a repeat upload after a crash between the
    upload and orderdeck's commit carries the same name (it replaces the file if the warehouse has
    not taken it yet), and the warehouse recognises a name it has taken already and ignores it.

Status files (import, from ``download_folder``, default ``statuses``, names matching ``status_pattern``)
    CSV (``file_format``: delimiter, encoding), a header row, one row per order; columns as
    ``status_columns`` names them (any case, any order; defaults in brackets): the order number
    (Order Number) or, when that is blank or absent, the order's reference (Reference) - one of the
    two columns must be there; Status (Status), required; the optional Carrier (Carrier), Service
    (Service), Tracking Number (Tracking Number) and Message (Message: an error's text). Status
    words, in any case: SHIPPED, DISPATCHED, DESPATCHED, SENT -> SHIPPED; COMPLETE, COMPLETED,
    DELIVERED -> COMPLETE; CANCELLED, CANCELED -> CANCELLED; ERROR, FAILED, REJECTED -> ERROR.

Stock files (import, from ``stock_folder``, default ``stock``, names matching ``stock_pattern``)
    CSV, a header row, columns SKU and Quantity (``stock_columns``): the warehouse's SKU (its own
    fulfilment SKU or orderdeck's) and the quantity on hand, a whole number. A blank quantity is
    no level (the SKU is left as it is); a negative one is reported as given, and orderdeck counts
    it as 0.

Problems: a row that cannot be read is a ``RowProblem(row, column, reason)`` (the header is row 1)
and the other rows come through; a file that cannot be read at all (not in its encoding, a
required column missing, empty, not CSV, larger than ``max_file_bytes``) is a report with no lines
and one problem (row 0 for the whole file, or the row where reading stopped), consumed like any
other. Files whose names start with a dot (uploads in progress) are never read.

Archive: ``consume`` moves a file orderdeck has applied into ``archive_folder`` (default
``archive``), its name prefixed with the time (``20260102T030405Z-status-1.csv``, so a warehouse
reusing a name keeps every copy), or deletes it when the archive folder is empty (None). A report
is read the same (same name, same content hash) until it is consumed. ``ImportedFile.name`` is the
file's path on the server (``statuses/status-1.csv``), which is what ``consume`` moves.

Errors: as the transport raises them - refused connection, timeouts, a dropped connection, FTP 4xx
-> PartnerUnavailable; a refused login (530), an untrusted certificate, a server refusing AUTH TLS
-> PartnerAuthError; a refused command (550: no such folder) -> PartnerDataError.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import Field

from orderdeck.plugins.connectors import Connection, FulfilmentConnector
from orderdeck.plugins.csvfiles import write_csv
from orderdeck.plugins.dto import (
    ConnectionResult,
    ExportBatch,
    ExportResult,
    FulfilmentStatus,
    ImportedFile,
    StatusReport,
    StockReport,
)
from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError, PartnerError
from orderdeck.plugins.hookspecs import hookimpl
from orderdeck.plugins.reports import (
    STATUS_WORDS,
    STOCK_FIELDS,
    CsvFormat,
    StatusColumns,
    StockColumns,
    imported_file,
    read_status_report,
    read_stock_report,
    status_fields,
    unreadable_status_report,
    unreadable_stock_report,
)
from orderdeck.plugins.sandbox import Sandbox
from orderdeck.plugins.transports import FileTooLarge, FtpSettings, FtpTransport, PartnerFile

__version__ = "0.1.0"
R = TypeVar("R", StatusReport, StockReport)

WAREHOUSE_STATUS_WORDS = STATUS_WORDS | {
    "despatched": FulfilmentStatus.SHIPPED, "sent": FulfilmentStatus.SHIPPED,
    "delivered": FulfilmentStatus.COMPLETE, "rejected": FulfilmentStatus.ERROR,
}  # fmt: skip
"""A warehouse's status words: the shared ones and a few more warehouses write."""

STATUS_FIELDS = status_fields(WAREHOUSE_STATUS_WORDS)

FOLDERS = {"orders": "orders", "statuses": "statuses", "stock": "stock", "archive": "archive"}
"""The warehouse's folders unless the settings name others (the sandbox's too)."""


class FtpWarehouseSettings(FtpSettings):
    """A warehouse's FTP server (host, port, login, explicit TLS...), its folders and the columns
    of its files."""

    upload_folder: str = Field(FOLDERS["orders"], description="Where order files go")
    download_folder: str = Field(FOLDERS["statuses"], description="Where the warehouse leaves status files")
    status_pattern: str = Field("*.csv", min_length=1, description="Which files there are status files")
    stock_folder: str = Field(FOLDERS["stock"], description="Where the warehouse leaves stock files")
    stock_pattern: str = Field("*.csv", min_length=1, description="Which files there are stock files")
    archive_folder: str | None = Field(FOLDERS["archive"], description="Where read files are moved; none = delete them")
    status_columns: StatusColumns = Field(default_factory=StatusColumns)
    stock_columns: StockColumns = Field(default_factory=StockColumns)
    file_format: CsvFormat = Field(default_factory=CsvFormat)

    def folders(self) -> list[str]:
        """Every folder the connector uses (each once)."""
        named = [self.upload_folder, self.download_folder, self.stock_folder, self.archive_folder]
        return list(dict.fromkeys(folder for folder in named if folder is not None))


async def _reports(settings: FtpWarehouseSettings, folder: str, pattern: str, read: Callable[[str, bytes], R],
                   unreadable: Callable[[ImportedFile, PartnerError], R]) -> list[R]:  # fmt: skip
    """Every file waiting in ``folder`` whose name matches ``pattern`` (not hidden ones, which are
    uploads in progress), downloaded and read; one larger than ``max_file_bytes`` is a report with
    one problem (named and hashed by its first bytes), to be consumed like any other."""
    found: list[R] = []
    async with FtpTransport(settings) as ftp:
        for waiting in [f for f in await ftp.list(folder, pattern) if not f.name.startswith(".")]:
            try:
                data = await ftp.download(waiting.path)
            except FileTooLarge as exc:
                found.append(unreadable(imported_file(waiting.path, exc.head), exc))
            else:
                found.append(read(waiting.path, data))
    return found


class FtpWarehouse(FulfilmentConnector):
    """A fulfilment warehouse that works by FTP (see the module docstring)."""

    name = "ftp_warehouse"
    title = "FTP fulfilment warehouse"
    settings = FtpWarehouseSettings
    version = __version__
    description = "Order files up, status and stock files down, on the warehouse's FTP server"

    async def test_connection(self, connection: Connection[FtpWarehouseSettings]) -> ConnectionResult:
        s = connection.settings
        try:
            async with FtpTransport(s) as ftp:
                for folder in s.folders():
                    await ftp.list(folder)
        except PartnerAuthError as exc:
            return ConnectionResult(False, f"The warehouse's FTP server refused the login: {exc}")
        except PartnerDataError as exc:
            return ConnectionResult(False, f"A folder cannot be read: {exc}")
        except PartnerError as exc:
            return ConnectionResult(False, f"Could not reach the warehouse's FTP server: {exc}")
        return ConnectionResult(True, f"Logged in to {s.host}:{s.port}; folders {', '.join(s.folders())} found")

    async def export_orders(self, connection: Connection[FtpWarehouseSettings], batch: ExportBatch) -> ExportResult:
        s = connection.settings
        try:
            data = write_csv(batch.rows(), batch.columns, delimiter=s.file_format.delimiter)
        except ValueError as exc:  # a column naming a field the rows lack
            raise PartnerDataError(f"the export columns cannot be written: {exc}") from exc
        async with FtpTransport(s) as ftp:
            await ftp.upload(batch.file_name, data)
        return ExportResult(reference=batch.file_name)

    async def import_statuses(self, connection: Connection[FtpWarehouseSettings]) -> list[StatusReport]:
        s = connection.settings
        columns = s.status_columns.model_dump()

        def read(path: str, data: bytes) -> StatusReport:
            return read_status_report(path, data, lambda data: s.file_format.read(data, STATUS_FIELDS, columns),
                                      columns)

        return await _reports(s, s.download_folder, s.status_pattern, read, unreadable_status_report)

    async def import_stock(self, connection: Connection[FtpWarehouseSettings]) -> list[StockReport]:
        s = connection.settings
        columns = s.stock_columns.model_dump()

        def read(path: str, data: bytes) -> StockReport:
            return read_stock_report(path, data, lambda data: s.file_format.read(data, STOCK_FIELDS, columns))

        return await _reports(s, s.stock_folder, s.stock_pattern, read, unreadable_stock_report)

    async def consume(self, connection: Connection[FtpWarehouseSettings], imported: ImportedFile) -> None:
        """Archive (or delete) the file; one already gone (consumed before) is left at that."""
        path = imported.name
        async with FtpTransport(connection.settings) as ftp:
            try:
                await ftp.acknowledge(PartnerFile(posixpath.basename(path), b"", source=path))
            except PartnerDataError:
                folder = posixpath.dirname(path)
                if any(f.path == path for f in await ftp.list(folder)):
                    raise


@hookimpl
def orderdeck_register_connectors() -> list[Any]:
    """The FTP fulfilment warehouse."""
    return [FtpWarehouse()]


@hookimpl
def orderdeck_register_sandboxes() -> list[Sandbox]:
    """The emulated warehouse, with a real FTP server (``orderdeck sandbox ftp_warehouse``)."""
    from orderdeck_ftp_fulfilment.sandbox import (
        SANDBOX,  # pyftpdlib is loaded only for the sandbox
    )

    return [SANDBOX]
