"""An emulated FTP fulfilment warehouse, with a real FTP server on loopback
(``orderdeck.plugins.sandbox.ftp``): ``orderdeck sandbox ftp_warehouse``, the tests, the demo.

The warehouse looks at its orders folder after every FTP command and ten times a second: it takes
each order file there (CSV under the default export columns: Order Number, Reference, SKU,
Quantity...; files whose names start with a dot are uploads in progress and left alone), records
each order once (a file name it has taken already is ignored and deleted; an order number taken
already is not taken again) and moves the file into ``taken/``. It writes status files (one row per
order, the connector's default status columns) into the statuses folder and stock files (every
SKU it holds) into the stock folder, each under a temporary name first, named
``status-0001.csv``, ``stock-0002.csv``...

Control API (besides the shared ``/__sandbox/faults``, ``requests`` and ``state``; JSON in and out):

| route | what it does |
|---|---|
| ``POST /__sandbox/ship`` ``{"orders"?, "carrier"?, "service"?, "tracking"?}`` | a status file: the orders (numbers; default: every open one) SHIPPED, with a made-up carrier and tracking number unless given |
| ``POST /__sandbox/cancel`` ``{"orders"?, "message"?}`` | the same, CANCELLED |
| ``POST /__sandbox/error`` ``{"orders"?, "message"?}`` | the same, ERROR with the message |
| ``POST /__sandbox/stock`` ``{"levels": {"SKU": quantity}}`` | sets the levels, then writes a stock file of every SKU held |
| ``POST /__sandbox/unreadable`` ``{"kind"?: "status" or "stock"}`` | writes a file that is not CSV |

Faults (``POST /__sandbox/faults``) apply to the FTP server, each FTP command being one request:
``server_error`` and ``rate_limit`` answer 421 and close the connection, ``disconnect`` drops it,
``delay`` stalls the command ``seconds``, ``auth`` (this sandbox's own) answers 530; ``malformed``
makes the next ``count`` status or stock files written garbage. ``GET /__sandbox/requests`` lists
the FTP commands (method: the command, path: its argument, status: the reply code).

With ``ship_after_seconds``, the warehouse ships every order that long after taking it by itself.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orderdeck.plugins.csvfiles import Column, CsvField, CsvFileError, integer, read_csv, write_csv
from orderdeck.plugins.dto import DEFAULT_EXPORT_COLUMNS
from orderdeck.plugins.reports import StatusColumns, StockColumns, order_number
from orderdeck.plugins.sandbox import FAULT_KINDS, Emulator, Fault, Sandbox, control_error, control_json, sandbox_app
from orderdeck.plugins.sandbox.ftp import FTP_FAULT_KINDS, FtpServer, self_signed_certificate
from orderdeck_ftp_fulfilment import FOLDERS

_EXPORTED = {column.source: column.header for column in DEFAULT_EXPORT_COLUMNS}
ORDER_FIELDS = [
    CsvField("number", order_number, column=_EXPORTED["number"]),
    CsvField("reference", column=_EXPORTED["reference"], required=False, default=""),
    CsvField("sku", column=_EXPORTED["fulfilment_sku"]),
    CsvField("quantity", integer, column=_EXPORTED["quantity"]),
]
"""What the warehouse reads of an order file (the default export columns)."""
STATUS_COLUMNS = [Column(name, header) for name, header in StatusColumns().model_dump().items()]
STOCK_COLUMNS = [Column(name, header) for name, header in StockColumns().model_dump().items()]
GARBAGE = b"\xff\xfe<html><body>502 Bad Gateway</body></html>\x00\x00"
"""A file that cannot be read: not UTF-8, not CSV (a proxy's error page, saved as UTF-16)."""
TAKEN = "taken"


@dataclass
class TakenOrder:
    """An order the warehouse has taken: its lines (its SKU, quantity), the file it came in, and
    what it last reported of it (None: nothing yet)."""

    number: int
    reference: str
    lines: list[tuple[str, int]]
    file: str
    taken_at: float = field(default_factory=time.monotonic)
    status: str | None = None


class Warehouse(Emulator):
    """The warehouse's state: the orders it took, the files it took, ignored and wrote, its stock.
    Changed from the FTP server's thread and the control API's, under ``lock``."""

    def __init__(self, home: Path, folders: dict[str, str], ship_after_seconds: float | None = None) -> None:
        super().__init__()
        self.home = home
        self.folders = folders
        self.ship_after_seconds = ship_after_seconds or None
        self.lock = threading.RLock()
        self.orders: dict[int, TakenOrder] = {}
        self.files: list[dict[str, Any]] = []
        """Each order file seen: name, outcome (taken, repeat, unreadable), orders taken, reason."""
        self.written: list[str] = []
        self.stock: dict[str, int] = {}
        self.garbage = 0
        """How many of the next status or stock files are written as garbage (``malformed``)."""
        self.ftp: FtpServer | None = None
        self.login: dict[str, Any] = {}
        """What a connection needs: username, password, tls, certificate (PEM, to trust)."""

    # The warehouse at work (the FTP server's watch)

    def work(self) -> None:
        """Take the order files waiting, then ship what is due."""
        with self.lock:
            self.take_orders()
            if self.ship_after_seconds is not None:
                due = [o.number for o in self.orders.values()
                       if o.status is None and time.monotonic() - o.taken_at >= self.ship_after_seconds]  # fmt: skip
                if due:
                    self.report(due, "SHIPPED")

    def take_orders(self) -> None:
        """Take every complete order file in the orders folder (see the module docstring)."""
        folder = self.home / self.folders["orders"]
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            if any(f["name"] == path.name and f["outcome"] == "taken" for f in self.files):
                self.files.append({"name": path.name, "outcome": "repeat", "orders": [], "reason": "taken before"})
                path.unlink()
                continue
            seen = {"name": path.name, "outcome": "taken", "orders": [], "reason": ""}
            try:
                result = read_csv(path.read_bytes(), ORDER_FIELDS)
                if result.errors:
                    raise CsvFileError(result.errors[0])
            except CsvFileError as exc:
                seen |= {"outcome": "unreadable", "reason": str(exc)}
            else:
                for row in result.rows:
                    number = row["number"]
                    if number not in self.orders:
                        self.orders[number] = TakenOrder(number, row["reference"], [], path.name)
                        seen["orders"].append(number)
                    if self.orders[number].file == path.name:
                        self.orders[number].lines.append((row["sku"], row["quantity"]))
            self.files.append(seen)
            (self.home / TAKEN).mkdir(exist_ok=True)
            path.replace(self.home / TAKEN / path.name)

    def report(self, numbers: list[int], status: str, *, carrier: str = "", service: str = "", tracking: str = "",
               message: str = "") -> str:  # fmt: skip
        """Write a status file reporting the orders ``numbers`` as ``status``; its name. A shipment
        without a carrier or tracking number gets made-up ones."""
        with self.lock:
            rows = []
            for number in numbers:
                order = self.orders[number]
                order.status = status
                shipped = status == "SHIPPED"
                rows.append({"order_number": number, "reference": order.reference, "status": status,
                             "carrier": carrier or ("Sandbox Parcels" if shipped else ""),
                             "service": service or ("Standard" if shipped else ""),
                             "tracking_number": tracking or (f"SP{number:08d}GB" if shipped else ""),
                             "message": message})  # fmt: skip
            return self.write("statuses", "status", write_csv(rows, STATUS_COLUMNS))

    def set_stock(self, levels: dict[str, int]) -> str:
        """Set stock levels, then write a stock file of every SKU held; its name."""
        with self.lock:
            self.stock |= levels
            rows = [{"sku": sku, "quantity": quantity} for sku, quantity in self.stock.items()]
            return self.write("stock", "stock", write_csv(rows, STOCK_COLUMNS))

    def write(self, folder: str, prefix: str, data: bytes) -> str:
        """Leave a file for the connector in ``folder`` (complete before it has its name); garbage
        instead while ``malformed`` faults wait."""
        with self.lock:
            if self.garbage > 0:
                self.garbage -= 1
                data = GARBAGE
            name = f"{prefix}-{len(self.written) + 1:04d}.csv"
            target = self.home / self.folders[folder] / name
            partial = target.with_name(f".{name}.part")
            partial.write_bytes(data)
            partial.replace(target)
            self.written.append(f"{self.folders[folder]}/{name}")
            return name

    # The emulator's own

    async def own_fault(self, request: Request, body: dict[str, Any]) -> Response | None:
        """``malformed``: the next status or stock files are garbage; ``auth``: refused logins."""
        if body.get("kind") == "malformed":
            fault = Fault.from_json(body)
            with self.lock:
                self.garbage += fault.count
            return JSONResponse({"faults": self.faults.as_json(), "garbage_files": self.garbage})
        if body.get("kind") in FTP_FAULT_KINDS:
            self.faults.append(Fault.from_json(body, kinds=FAULT_KINDS + FTP_FAULT_KINDS))
            return JSONResponse({"faults": self.faults.as_json()})
        return None

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "ftp": {"host": self.ftp.host, "port": self.ftp.port, **self.login} if self.ftp else {},
                "folders": self.folders,
                "orders": [asdict(o) | {"taken_at": None} for o in self.orders.values()],
                "files": {"orders": self.files, "written": self.written},
                "stock": self.stock,
                "garbage_files": self.garbage,
                "ship_after_seconds": self.ship_after_seconds,
            }  # fmt: skip


def _orders(warehouse: Warehouse, body: dict[str, Any]) -> list[int]:
    """The orders a control request names (``orders``: numbers), by default every one not yet
    reported; ValueError for an order the warehouse has not taken."""
    if "orders" not in body:
        return [o.number for o in warehouse.orders.values() if o.status is None]
    numbers = [int(n) for n in body["orders"]]
    unknown = [n for n in numbers if n not in warehouse.orders]
    if unknown:
        raise ValueError(f"the warehouse has not taken orders {unknown}")
    return numbers


def _control(warehouse: Warehouse) -> list[Route]:
    """The warehouse's own control routes."""

    def route(path: str, action: Callable[[dict[str, Any]], dict[str, Any]]) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                body = await control_json(request)
                with warehouse.lock:
                    return JSONResponse(action(body), status_code=201)
            except (ValueError, TypeError, KeyError) as exc:
                return control_error(str(exc))

        return Route(f"/__sandbox/{path}", endpoint, methods=["POST"])

    def reporter(status: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def report(body: dict[str, Any]) -> dict[str, Any]:
            numbers = _orders(warehouse, body)
            if not numbers:
                raise ValueError("no orders to report")
            options = {k: str(body[k]) for k in ("carrier", "service", "tracking", "message") if k in body}
            return {"file": warehouse.report(numbers, status, **options), "orders": numbers}

        return report

    def stock(body: dict[str, Any]) -> dict[str, Any]:
        levels = {str(sku): int(quantity) for sku, quantity in dict(body["levels"]).items()}
        return {"file": warehouse.set_stock(levels)}

    def unreadable(body: dict[str, Any]) -> dict[str, Any]:
        kind = body.get("kind", "status")
        if kind not in ("status", "stock"):
            raise ValueError("kind must be status or stock")
        return {"file": warehouse.write("statuses" if kind == "status" else "stock", kind, GARBAGE)}

    return [route("ship", reporter("SHIPPED")), route("cancel", reporter("CANCELLED")),
            route("error", reporter("ERROR")), route("stock", stock), route("unreadable", unreadable)]  # fmt: skip


def create_app(
    username: str = "warehouse",
    password: str = "warehouse-ftp",
    ftp_port: int = 0,
    tls: bool = False,
    ship_after_seconds: float | None = None,
    folders: dict[str, str] | None = None,
) -> Starlette:
    """A new emulated warehouse: its FTP server is bound at once on loopback (``ftp_port``, 0: a
    free port) and serves while the app runs (its lifespan); with ``tls``, explicit TLS is
    required (a self-signed certificate, shown in the state and the banner). ``folders``: the
    orders, statuses, stock and archive folders (default as the connector's settings)."""
    folders = FOLDERS | (folders or {})
    scratch = Path(tempfile.mkdtemp(prefix="orderdeck-ftp-warehouse-"))
    warehouse = Warehouse(scratch / "home", folders, ship_after_seconds)
    certificate, pem = self_signed_certificate(scratch / "tls") if tls else (None, "")
    warehouse.ftp = FtpServer(warehouse.home, username=username, password=password, folders=tuple(folders.values()),
                              certificate=certificate, emulator=warehouse, watch=warehouse.work, port=ftp_port)  # fmt: skip
    warehouse.login = {"username": username, "password": password, "tls": tls, "certificate": pem}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        assert warehouse.ftp is not None
        warehouse.ftp.start()
        try:
            yield
        finally:
            warehouse.ftp.stop()
            shutil.rmtree(scratch, ignore_errors=True)

    banner = (f"FTP fulfilment warehouse sandbox: FTP on 127.0.0.1:{warehouse.ftp.port}, user {username!r}, "
              f"password {password!r}, {'explicit TLS (certificate in GET /__sandbox/state)' if tls else 'no TLS'}; "
              f"folders: orders {folders['orders']!r}, statuses {folders['statuses']!r}, "
              f"stock {folders['stock']!r}, archive {folders['archive']!r}")  # fmt: skip
    return sandbox_app(warehouse, [], control=_control(warehouse),
                       banner=banner, lifespan=lifespan)  # fmt: skip


SANDBOX = Sandbox("ftp_warehouse", "FTP fulfilment warehouse", create_app,
                  "A warehouse taking order files and writing status and stock files on a real FTP server")  # fmt: skip
