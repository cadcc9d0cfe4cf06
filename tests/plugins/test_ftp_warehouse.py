"""The FTP warehouse connector beyond the contract: explicit TLS, the files it reads (and the
problems it names), the sandbox's own behaviour (temporary names, automatic shipping, faults) and
``orderdeck sandbox ftp_warehouse``. Everything over the sandbox's real FTP server on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.csvfiles import Column
from orderdeck.plugins.dto import ExportBatch, FulfilmentStatus, RowProblem, StatusLine, StockLine
from orderdeck.plugins.errors import PartnerAuthError, PartnerUnavailable
from orderdeck.plugins.manager import fulfilment_connector
from orderdeck.plugins.testing import fulfilment_order
from orderdeck_ftp_fulfilment import FtpWarehouse, FtpWarehouseSettings
from orderdeck_ftp_fulfilment.sandbox import Warehouse, create_app
from tests.plugins.support import RunningApp, sandbox_command, serve


class Sandbox:
    """A served warehouse sandbox: its control API, its folders on disk and connections to it."""

    def __init__(self, running: RunningApp) -> None:
        self.running = running
        self.http = httpx.Client(base_url=f"{running.url}/__sandbox", timeout=10)
        self.warehouse: Warehouse = running.app.state.sandbox

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def state(self) -> dict[str, Any]:
        return self.call("GET", "/state")

    def folder(self, name: str) -> Path:
        return self.warehouse.home / self.warehouse.folders[name]

    def connection(self, **changes: Any) -> Connection[FtpWarehouseSettings]:
        ftp = self.state()["ftp"]
        values = {"host": ftp["host"], "port": ftp["port"], "username": ftp["username"], "password": ftp["password"],
                  "tls": ftp["tls"], "trusted_certificate": ftp["certificate"] or None, "timeout_seconds": 5}  # fmt: skip
        return Connection("fc-1", "Warehouse", FtpWarehouseSettings(**(values | changes)))

    def leave(self, folder: str, name: str, data: bytes) -> None:
        """A file the warehouse leaves in one of its folders."""
        (self.folder(folder) / name).write_bytes(data)


def served(**options: Any) -> Iterator[Sandbox]:
    with serve(create_app(**options)) as running:
        sandbox = Sandbox(running)
        yield sandbox
        sandbox.http.close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    yield from served()


@pytest.fixture
def connector() -> FtpWarehouse:
    return fulfilment_connector("ftp_warehouse")  # type: ignore[return-value]


def batch(name: str, *numbers: int) -> ExportBatch:
    return ExportBatch(name, [fulfilment_order(n, [("MUG-RED", 2)]) for n in numbers])


# --- transfer


async def test_explicit_tls_export_and_import(connector: FtpWarehouse) -> None:
    for sandbox in served(tls=True):
        connection = sandbox.connection()
        assert connection.settings.tls and connection.settings.trusted_certificate
        assert (await connector.test_connection(connection)).ok
        await connector.export_orders(connection, batch("orders-tls.csv", 11))
        sandbox.call("POST", "/ship", json={"orders": [11], "carrier": "DPD", "tracking": "DPD11"})
        [report] = await connector.import_statuses(connection)
        assert [(s.order_number, s.status, s.tracking_number) for s in report.statuses] == [
            (11, FulfilmentStatus.SHIPPED, "DPD11")]  # fmt: skip
        commands = [r["method"] for r in sandbox.call("GET", "/requests")]
        assert commands[:4] == ["AUTH", "USER", "PASS", "PBSZ"] and "PROT" in commands
        plain = await connector.test_connection(sandbox.connection(tls=False))
        assert not plain.ok and "TLS" in plain.message


async def test_the_upload_is_complete_before_it_has_its_name(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    sandbox.leave("orders", ".orders-9.csv.part", b"Order Number,SKU,Quantity\r\n9,MUG")  # a broken upload
    result = await connector.export_orders(sandbox.connection(), batch("orders-0042.csv", 42, 43))
    assert result.reference == "orders-0042.csv"
    assert [(r["method"], r["path"]) for r in sandbox.call("GET", "/requests") if r["method"] in ("STOR", "RNFR", "RNTO")] == [
        ("STOR", "orders/.orders-0042.csv.part"), ("RNFR", "orders/.orders-0042.csv.part"),
        ("RNTO", "orders/orders-0042.csv")]  # fmt: skip
    await asyncio.sleep(0.3)  # the warehouse looks at its folder ten times a second
    state = sandbox.state()
    assert [(f["name"], f["outcome"], f["orders"]) for f in state["files"]["orders"]] == [
        ("orders-0042.csv", "taken", [42, 43])]  # fmt: skip
    assert [(o["number"], o["lines"]) for o in state["orders"]] == [(42, [["MUG-RED", 2]]), (43, [["MUG-RED", 2]])]


async def test_the_export_is_written_under_the_locations_columns(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    columns = (Column("number", "Order Number"), Column("fulfilment_sku", "SKU"), Column("quantity", "Quantity"),
               Column("address.postcode", "Postcode"), Column("reference", "Reference"))  # fmt: skip
    seen: list[bytes] = []
    original = sandbox.warehouse.take_orders

    def take() -> None:  # keep what arrived before the warehouse moves it
        seen.extend(p.read_bytes() for p in sandbox.folder("orders").glob("orders-*.csv"))
        original()

    sandbox.warehouse.take_orders = take  # type: ignore[method-assign]
    await connector.export_orders(sandbox.connection(), ExportBatch("orders-7.csv", [fulfilment_order(7, [("CUP", 1)])],
                                                                    columns))  # fmt: skip
    assert seen[0] == b"Order Number,SKU,Quantity,Postcode,Reference\r\n7,CUP,1,N1 1AA,FC-7\r\n"


async def test_consume_archives_with_a_time_stamp_or_deletes(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    for name in ("status-a.csv", "status-b.csv"):
        sandbox.leave("statuses", name, b"Order Number,Status\r\n1,SHIPPED\r\n")
    first, second = await connector.import_statuses(sandbox.connection())
    await connector.consume(sandbox.connection(), first.file)
    await connector.consume(sandbox.connection(), first.file)  # again: already gone, nothing to do
    [archived] = [p.name for p in sandbox.folder("archive").iterdir()]
    assert archived.endswith("Z-status-a.csv") and first.file.name == "statuses/status-a.csv"
    await connector.consume(sandbox.connection(archive_folder=None), second.file)
    assert list(sandbox.folder("statuses").iterdir()) == [] and len(list(sandbox.folder("archive").iterdir())) == 1


async def test_a_missing_folder_fails_the_connection_test(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    result = await connector.test_connection(sandbox.connection(stock_folder="nowhere"))
    assert not result.ok and "nowhere" in result.message


# --- status and stock files


async def statuses(connector: FtpWarehouse, sandbox: Sandbox, data: bytes, **changes: Any) -> tuple[list[StatusLine], list[RowProblem]]:
    sandbox.leave("statuses", "status-test.csv", data)
    [report] = await connector.import_statuses(sandbox.connection(**changes))
    assert report.file.name == "statuses/status-test.csv" and len(report.file.content_hash) == 64
    return report.statuses, report.problems


async def test_bad_rows_are_problems_by_row_and_column_and_the_rest_comes(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    data = ("order number,STATUS,Carrier,Tracking Number,Reference,Message\r\n"
            "1001,dispatched,DPD,T1,,\r\n"
            "1002,LOST,DPD,T2,,\r\n"
            "abc,SHIPPED,,,,\r\n"
            ",Canceled,,,FC-1004,\r\n"
            "-5,ERROR,,,,\r\n"
            ",SHIPPED,,,,\r\n"
            "1007,failed,,,,No postcode\r\n"
            "1008,,,,,\r\n").encode()  # fmt: skip
    lines, problems = await statuses(connector, sandbox, data)
    assert [(s.row, s.order_number, s.reference, s.status, s.tracking_number, s.message) for s in lines] == [
        (2, 1001, "", FulfilmentStatus.SHIPPED, "T1", ""), (5, 0, "FC-1004", FulfilmentStatus.CANCELLED, "", ""),
        (8, 1007, "", FulfilmentStatus.ERROR, "", "No postcode")]  # fmt: skip
    assert [(p.row, p.column) for p in problems] == [(3, "STATUS"), (4, "order number"), (6, "order number"),
                                                    (7, "Order Number"), (9, "STATUS")]  # fmt: skip
    assert "'LOST' is not a status" in problems[0].reason and "is blank" in problems[4].reason


@pytest.mark.parametrize(("data", "row", "says"), [
    pytest.param(b"Order Number,Carrier\r\n1,DPD\r\n", 1, "missing column 'Status'", id="no-status-column"),
    pytest.param(b"Status,Carrier\r\nSHIPPED,DPD\r\n", 1, "missing column 'Order Number' or 'Reference'", id="no-key-column"),
    pytest.param("Order Number,Status,Carrier\r\n1,SHIPPED,Café\r\n".encode("cp1252"), 2, "is not utf-8", id="windows-1252"),
    pytest.param(b"", 0, "empty", id="empty"),
    pytest.param(b"\xff\xfe<\x00h\x00t\x00m\x00l\x00>\x00", 1, "is not utf-8", id="garbage"),
    pytest.param(b'Order Number,Status\r\n1,"SHIPPED\r\n', 2, "cannot be read as CSV", id="open-quote"),
])  # fmt: skip
async def test_a_file_that_cannot_be_read_is_one_problem(connector: FtpWarehouse, sandbox: Sandbox, data: bytes,
                                                        row: int, says: str) -> None:  # fmt: skip
    lines, problems = await statuses(connector, sandbox, data)
    assert lines == [] and len(problems) == 1 and problems[0].row == row and says in problems[0].reason, problems


async def test_a_windows_1252_file_is_read_with_the_fallback_encoding(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    data = "Order Number;Status;Carrier\r\n1;SHIPPED;Café Express\r\n".encode("cp1252")
    lines, problems = await statuses(connector, sandbox, data,
                                     file_format={"delimiter": ";", "fallback_encoding": "cp1252"})  # fmt: skip
    assert problems == [] and [line.carrier for line in lines] == ["Café Express"]


async def test_the_status_columns_are_mapped(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    data = b"Ref,State,Shipper,Consignment\r\nFC-9,Complete,Evri,H00A\r\n"
    columns = {"reference": "Ref", "status": "State", "carrier": "Shipper", "tracking_number": "Consignment"}
    lines, problems = await statuses(connector, sandbox, data, status_columns=columns)
    assert problems == [] and lines == [StatusLine(2, FulfilmentStatus.COMPLETE, 0, "FC-9", "Evri", "", "H00A")]


async def test_stock_files_blank_is_ignored_negative_as_given_bad_numbers_are_problems(
        connector: FtpWarehouse, sandbox: Sandbox) -> None:  # fmt: skip
    sandbox.leave("stock", "stock-test.csv", b"sku,QUANTITY\r\nMUG,12\r\nCUP,\r\nTEE,-3\r\nHAT,lots\r\n,4\r\nBAG,2.5\r\n")
    [report] = await connector.import_stock(sandbox.connection())
    assert report.levels == [StockLine(2, "MUG", 12), StockLine(4, "TEE", -3)]
    assert [(p.row, p.column) for p in report.problems] == [(5, "QUANTITY"), (6, "sku"), (7, "QUANTITY")]


async def test_a_file_over_max_file_bytes_is_a_report_with_one_problem(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    big = b"Order Number,Status\r\n" + b"".join(b"%d,SHIPPED\r\n" % n for n in range(1, 40))
    sandbox.leave("statuses", "status-big.csv", big)
    sandbox.leave("statuses", "status-small.csv", b"Order Number,Status\r\n7,SHIPPED\r\n")
    sandbox.leave("stock", "stock-big.csv", b"SKU,Quantity\r\n" + b"MUG,1\r\n" * 40)
    connection = sandbox.connection(max_file_bytes=100)
    first, second = await connector.import_statuses(connection)
    assert first.file.name == "statuses/status-big.csv" and first.statuses == [] and len(first.problems) == 1
    assert "larger than 100 bytes" in first.problems[0].reason and "max_file_bytes" in first.problems[0].reason
    assert [line.order_number for line in second.statuses] == [7] and second.problems == []
    [again, _] = await connector.import_statuses(connection)
    assert again.file == first.file, "the same file is the same report until consumed"
    [stock] = await connector.import_stock(connection)
    assert stock.levels == [] and [p.row for p in stock.problems] == [0] and "100 bytes" in stock.problems[0].reason
    await connector.consume(connection, first.file)
    await connector.consume(connection, stock.file)
    assert [p.name for p in sandbox.folder("statuses").iterdir()] == ["status-small.csv"]
    assert list(sandbox.folder("stock").iterdir()) == []


async def test_hidden_files_are_not_read(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    sandbox.leave("statuses", ".status-1.csv.part", b"Order Number,Status\r\n1,SHI")
    sandbox.leave("statuses", "notes.txt", b"not a status file")
    assert await connector.import_statuses(sandbox.connection()) == []


# --- the sandbox warehouse


async def test_the_warehouse_ships_by_itself_after_ship_after_seconds(connector: FtpWarehouse) -> None:
    for sandbox in served(ship_after_seconds=0.3):
        connection = sandbox.connection()
        await connector.export_orders(connection, batch("orders-1.csv", 1, 2))
        assert await connector.import_statuses(connection) == [], "nothing shipped yet"
        deadline = time.monotonic() + 5
        while not (reports := await connector.import_statuses(connection)):
            assert time.monotonic() < deadline, sandbox.state()
            await asyncio.sleep(0.1)
        lines = [line for report in reports for line in report.statuses]
        assert [(s.order_number, s.reference, s.status) for s in lines] == [
            (1, "FC-1", FulfilmentStatus.SHIPPED), (2, "FC-2", FulfilmentStatus.SHIPPED)]  # fmt: skip
        assert all(s.carrier and s.tracking_number for s in lines)
        await asyncio.sleep(0.4)
        assert len(await connector.import_statuses(connection)) == len(reports), "shipped once"


async def test_an_order_number_taken_before_is_not_taken_again(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    await connector.export_orders(sandbox.connection(), batch("orders-a.csv", 1, 2))
    await connector.export_orders(sandbox.connection(), batch("orders-b.csv", 2, 3))
    await connector.export_orders(sandbox.connection(), batch("orders-a.csv", 1, 2))
    state = sandbox.state()
    assert [o["number"] for o in state["orders"]] == [1, 2, 3]
    assert [(f["name"], f["outcome"], f["orders"]) for f in state["files"]["orders"]] == [
        ("orders-a.csv", "taken", [1, 2]), ("orders-b.csv", "taken", [3]), ("orders-a.csv", "repeat", [])]  # fmt: skip


def test_the_control_api_refuses_orders_it_has_not_taken(sandbox: Sandbox) -> None:
    response = sandbox.http.post("/ship", json={"orders": [404]})
    assert response.status_code == 400 and "404" in response.json()["error"]


# --- faults


async def test_a_stopped_server_is_unavailable(connector: FtpWarehouse) -> None:
    for sandbox in served():
        connection = sandbox.connection()
    with pytest.raises(PartnerUnavailable, match="connection refused"):
        await connector.import_statuses(connection)
    assert not (await connector.test_connection(connection)).ok


async def test_a_refused_login_is_an_auth_error(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    sandbox.call("POST", "/faults", json={"kind": "auth", "count": 5})
    with pytest.raises(PartnerAuthError):
        await connector.export_orders(sandbox.connection(), batch("orders-1.csv", 1))
    result = await connector.test_connection(sandbox.connection())
    assert not result.ok and "refused the login" in result.message
    sandbox.call("DELETE", "/faults")
    await connector.export_orders(sandbox.connection(), batch("orders-1.csv", 1))


async def test_a_stalled_server_times_out(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    sandbox.call("POST", "/faults", json={"kind": "delay", "seconds": 3, "after": 3})  # after USER, PASS, TYPE
    started = time.monotonic()
    with pytest.raises(PartnerUnavailable, match="no answer within 0.5 s"):
        await connector.import_stock(sandbox.connection(timeout_seconds=0.5))
    assert time.monotonic() - started < 2.5


async def test_server_error_and_disconnect_are_unavailable(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    for kind, message in (("server_error", "421"), ("disconnect", "connection lost")):
        sandbox.call("POST", "/faults", json={"kind": kind})
        with pytest.raises(PartnerUnavailable, match=message):
            await connector.import_statuses(sandbox.connection())
    assert [r["status"] for r in sandbox.call("GET", "/requests")][:2] == [421, 0]


async def test_malformed_makes_the_next_status_file_garbage(connector: FtpWarehouse, sandbox: Sandbox) -> None:
    await connector.export_orders(sandbox.connection(), batch("orders-1.csv", 1, 2))
    sandbox.call("POST", "/faults", json={"kind": "malformed"})
    sandbox.call("POST", "/ship", json={"orders": [1]})
    sandbox.call("POST", "/ship", json={"orders": [2]})
    garbage, good = await connector.import_statuses(sandbox.connection())
    assert garbage.statuses == [] and len(garbage.problems) == 1
    assert [line.order_number for line in good.statuses] == [2]


# --- orderdeck sandbox ftp_warehouse


async def test_orderdeck_sandbox_serves_the_warehouse(connector: FtpWarehouse, tmp_path: Path) -> None:
    with sandbox_command("ftp_warehouse", log=tmp_path / "sandbox.log") as running:
        ftp = running.state["ftp"]
        settings = FtpWarehouseSettings(host=ftp["host"], port=ftp["port"], username=ftp["username"],
                                        password=ftp["password"], tls=False, timeout_seconds=5)  # fmt: skip
        result = await connector.test_connection(Connection("fc-1", "Warehouse", settings))
        assert result.ok, result.message
        banner = running.log.read_text()
        assert f"FTP on 127.0.0.1:{ftp['port']}" in banner and "user 'warehouse'" in banner
