"""File transports (orderdeck.plugins.transports) against real servers on loopback: pyftpdlib for
FTP, plain and with explicit TLS, and a Starlette app under uvicorn for URL."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from OpenSSL import SSL
from pyftpdlib.handlers import FTPHandler, TLS_DTPHandler, TLS_FTPHandler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orderdeck.plugins.errors import (
    PartnerAuthError,
    PartnerDataError,
    PartnerError,
    PartnerUnavailable,
    PartnerUnreadable,
)
from orderdeck.plugins.transports import FtpSettings, FtpTransport, PartnerFile, UrlSettings, UrlTransport
from tests.plugins.ftp_server import PASSWORD, USER, RunningFtp, self_signed_certificate, serve_ftp
from tests.plugins.support import serve
from tests.support import free_port

FOLDERS = ("in", "out", "archive")


def ftp_settings(server: RunningFtp, **changes: Any) -> FtpSettings:
    """Settings of a transport for ``server``: upload to in/, download from out/, archive to archive/."""
    values: dict[str, Any] = {"host": "127.0.0.1", "port": server.port, "username": USER, "password": PASSWORD,
                              "tls": False, "timeout_seconds": 5, "upload_folder": "in", "download_folder": "out",
                              "archive_folder": "archive"}  # fmt: skip
    return FtpSettings(**(values | changes))


@pytest.fixture
def ftp(tmp_path: Path) -> Iterator[RunningFtp]:
    """A plain FTP server with in/, out/ and archive/ folders."""
    with serve_ftp(tmp_path / "home", folders=FOLDERS) as server:
        yield server


# --- FTP: the operations


async def test_upload_stores_a_temporary_name_then_renames(tmp_path: Path) -> None:
    seen_on_arrival: list[tuple[str, list[str]]] = []

    class Recording(FTPHandler):
        def on_file_received(self, file: str) -> None:
            seen_on_arrival.append((os.path.basename(file), sorted(os.listdir(os.path.dirname(file)))))

    with serve_ftp(tmp_path / "home", folders=FOLDERS, handler=Recording) as server:
        async with FtpTransport(ftp_settings(server)) as transport:
            path = await transport.upload("orders-0042.csv", b"order,sku\r\n1001,MUG-RED\r\n")

    assert path == "in/orders-0042.csv"
    assert seen_on_arrival == [(".orders-0042.csv.part", [".orders-0042.csv.part"])], "complete before it has its name"
    assert server.commands("STOR", "RNFR", "RNTO") == [
        ("STOR", "in/.orders-0042.csv.part"), ("RNFR", "in/.orders-0042.csv.part"), ("RNTO", "in/orders-0042.csv"),
    ]  # fmt: skip
    assert os.listdir(server.root / "in") == ["orders-0042.csv"]
    assert (server.root / "in" / "orders-0042.csv").read_bytes() == b"order,sku\r\n1001,MUG-RED\r\n"


async def test_list_download_move_delete(ftp: RunningFtp) -> None:
    out = ftp.root / "out"
    (out / "status-2.csv").write_bytes(b"b" * 20)
    (out / "status-1.csv").write_bytes(b"a" * 10)
    (out / "stock.CSV").write_bytes(b"sku,qty\r\n")
    (out / "old").mkdir()
    os.utime(out / "status-1.csv", (1_767_225_600, 1_767_225_600))  # 2026-01-01 00:00:00 UTC

    async with FtpTransport(ftp_settings(ftp)) as transport:
        files = await transport.list()
        statuses = await transport.list("out", pattern="STATUS-*.csv")
        stock = await transport.list(pattern="*.csv")
        data = await transport.download("out/status-1.csv")
        moved = await transport.move("out/status-1.csv", "archive")
        await transport.delete("out/status-2.csv")
        after = await transport.list()

    assert [(f.path, f.name, f.size) for f in files] == [
        ("out/status-1.csv", "status-1.csv", 10), ("out/status-2.csv", "status-2.csv", 20),
        ("out/stock.CSV", "stock.CSV", 9),
    ], "files only, by name"  # fmt: skip
    assert files[0].modified == datetime(2026, 1, 1, tzinfo=UTC)
    assert [f.name for f in statuses] == ["status-1.csv", "status-2.csv"]
    assert [f.name for f in stock] == ["status-1.csv", "status-2.csv", "stock.CSV"], "patterns ignore case"
    assert data == b"a" * 10
    assert moved == "archive/status-1.csv"
    assert (ftp.root / "archive" / "status-1.csv").read_bytes() == b"a" * 10
    assert [f.name for f in after] == ["stock.CSV"]
    assert len(ftp.commands("USER")) == 1, "one connection for all the calls"


async def test_receive_then_acknowledge_consumes_each_file_once(ftp: RunningFtp) -> None:
    (ftp.root / "out" / "status.csv").write_bytes(b"order,status\r\n1001,SHIPPED\r\n")
    (ftp.root / "out" / ".status.csv.part").write_bytes(b"order,sta")

    async with FtpTransport(ftp_settings(ftp)) as transport:
        received = await transport.receive()
        for file in received:
            await transport.acknowledge(file)
        again = await transport.receive()

    assert received == [PartnerFile("status.csv", b"order,status\r\n1001,SHIPPED\r\n", source="out/status.csv")]
    assert again == [], "an acknowledged file is not received again; a hidden (partial) one never is"
    [archived] = os.listdir(ftp.root / "archive")
    assert archived.endswith("Z-status.csv") and archived[:8] == datetime.now(UTC).strftime("%Y%m%d")


async def test_acknowledge_without_an_archive_folder_deletes(ftp: RunningFtp) -> None:
    (ftp.root / "out" / "stock.csv").write_bytes(b"sku,qty\r\n")
    async with FtpTransport(ftp_settings(ftp, archive_folder=None)) as transport:
        [file] = await transport.receive()
        await transport.acknowledge(file)
    assert os.listdir(ftp.root / "out") == [] and os.listdir(ftp.root / "archive") == []


async def test_list_on_a_server_without_mlsd_uses_nlst_size_and_mdtm(tmp_path: Path) -> None:
    class NoMlsd(FTPHandler):
        proto_cmds = {cmd: spec for cmd, spec in FTPHandler.proto_cmds.items() if cmd not in ("MLSD", "MLST")}

    with serve_ftp(tmp_path / "home", folders=(*FOLDERS, "out/old"), handler=NoMlsd) as server:
        (server.root / "out" / "status.csv").write_bytes(b"x" * 7)
        os.utime(server.root / "out" / "status.csv", (1_767_225_600, 1_767_225_600))
        async with FtpTransport(ftp_settings(server)) as transport:
            files = await transport.list()
    assert [(f.path, f.size, f.modified) for f in files] == [("out/status.csv", 7, datetime(2026, 1, 1, tzinfo=UTC))]
    assert server.commands("NLST") and not server.commands("MLSD"), "MLSD was refused, then NLST used"


async def test_active_mode_transfers(ftp: RunningFtp) -> None:
    (ftp.root / "out" / "status.csv").write_bytes(b"order,status\r\n")
    async with FtpTransport(ftp_settings(ftp, passive=False)) as transport:
        await transport.upload("orders.csv", b"order\r\n")
        assert await transport.download("out/status.csv") == b"order,status\r\n"
    assert ftp.commands("PORT", "EPRT") and not ftp.commands("PASV", "EPSV")
    assert (ftp.root / "in" / "orders.csv").read_bytes() == b"order\r\n"


async def test_download_larger_than_the_cap_is_refused_and_the_next_call_reconnects(ftp: RunningFtp) -> None:
    (ftp.root / "out" / "huge.csv").write_bytes(b"x" * 200_000)
    async with FtpTransport(ftp_settings(ftp, max_file_bytes=100_000)) as transport:
        with pytest.raises(PartnerDataError, match="larger than 100000 bytes"):
            await transport.download("out/huge.csv")
        assert [f.name for f in await transport.list()] == ["huge.csv"]
    assert len(ftp.commands("USER")) == 2


# --- FTP: failures, each a typed error


async def test_wrong_password_is_an_auth_error(ftp: RunningFtp) -> None:
    with pytest.raises(PartnerAuthError, match="login refused: 530"):
        async with FtpTransport(ftp_settings(ftp, password="wrong")):
            pass


async def test_nothing_listening_is_unavailable() -> None:
    settings = FtpSettings(host="127.0.0.1", port=free_port(), username=USER, password=PASSWORD, tls=False)
    with pytest.raises(PartnerUnavailable, match="connection refused"):
        await FtpTransport(settings).connect()


async def test_a_missing_file_is_a_data_error_with_the_servers_message(ftp: RunningFtp) -> None:
    async with FtpTransport(ftp_settings(ftp)) as transport:
        with pytest.raises(PartnerDataError, match="download out/nope.csv: 550 No such file"):
            await transport.download("out/nope.csv")
        with pytest.raises(PartnerDataError, match="550"):
            await transport.move("out/nope.csv", "archive")
        with pytest.raises(PartnerDataError, match="upload no-such-folder/orders.csv: 550"):
            await FtpTransport(ftp_settings(ftp, upload_folder="no-such-folder")).upload("orders.csv", b"x")
        assert await transport.list() == [], "the connection is still good after a refusal"
    assert len(ftp.commands("USER")) == 2, "the refusals reused their connection (one each)"


async def test_a_server_that_never_greets_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        settings = FtpSettings(host="127.0.0.1", port=silent.getsockname()[1], username=USER, password=PASSWORD,
                               tls=False, timeout_seconds=0.5)  # fmt: skip
        started = time.monotonic()
        with pytest.raises(PartnerUnavailable, match=r"no answer within 0.5 s"):
            await FtpTransport(settings).connect()
    assert time.monotonic() - started < 3


async def test_a_server_that_stalls_mid_download_times_out_then_a_new_connection_works(tmp_path: Path) -> None:
    class Stalling(FTPHandler):
        def ftp_RETR(self, file: str) -> None:  # never answers
            return None

    with serve_ftp(tmp_path / "home", folders=FOLDERS, handler=Stalling) as server:
        (server.root / "out" / "status.csv").write_bytes(b"x")
        async with FtpTransport(ftp_settings(server, timeout_seconds=0.5)) as transport:
            with pytest.raises(PartnerUnavailable, match="download out/status.csv: no answer within 0.5 s"):
                await transport.download("out/status.csv")
            assert [f.name for f in await transport.list()] == ["status.csv"]
    assert len(server.commands("USER")) == 2, "the stalled connection was dropped and a new one opened"


async def test_421_service_not_available_is_unavailable(tmp_path: Path) -> None:
    class Busy(FTPHandler):
        def handle(self) -> None:
            self.respond("421 Too many connections, try later.")
            self.close_when_done()

    with serve_ftp(tmp_path / "home", handler=Busy) as server:
        with pytest.raises(PartnerUnavailable, match="421 Too many connections"):
            await FtpTransport(ftp_settings(server)).connect()


# --- FTP with explicit TLS


class RecordingDtp(TLS_DTPHandler):
    """A data connection that notes whether it was encrypted and resumed the control's TLS session."""

    seen: list[tuple[bool, bool]] = []

    def close(self) -> None:
        encrypted = isinstance(self.socket, SSL.Connection)
        resumed = encrypted and bool(SSL._lib.SSL_session_reused(self.socket._ssl))  # pyOpenSSL has no wrapper
        RecordingDtp.seen.append((encrypted, resumed))
        super().close()


@pytest.fixture
def ftps(tmp_path: Path) -> Iterator[tuple[RunningFtp, str]]:
    """An FTP server that requires TLS on the control and data connections (self-signed), and the
    certificate to trust."""
    certfile, pem = self_signed_certificate(tmp_path)
    RecordingDtp.seen = []
    with serve_ftp(tmp_path / "home", folders=FOLDERS, handler=TLS_FTPHandler, certfile=str(certfile),
                   ssl_context=None, tls_control_required=True, tls_data_required=True,
                   dtp_handler=RecordingDtp) as server:  # fmt: skip
        yield server, pem


async def test_explicit_tls_encrypts_commands_and_data(ftps: tuple[RunningFtp, str]) -> None:
    server, pem = ftps
    (server.root / "out" / "status.csv").write_bytes(b"order,status\r\n1001,SHIPPED\r\n")
    async with FtpTransport(ftp_settings(server, tls=True, trusted_certificate=pem)) as transport:
        await transport.upload("orders.csv", b"order\r\n1001\r\n")
        [file] = await transport.receive()
        await transport.acknowledge(file)

    assert file.data == b"order,status\r\n1001,SHIPPED\r\n"
    assert (server.root / "in" / "orders.csv").read_bytes() == b"order\r\n1001\r\n"
    assert [cmd for cmd, _ in server.commands("AUTH", "USER", "PBSZ", "PROT")] == ["AUTH", "USER", "PBSZ", "PROT"]
    assert server.commands("PROT") == [("PROT", "P")]
    assert RecordingDtp.seen == [(True, True)] * 3, "upload, list and download: encrypted, the TLS session resumed"


async def test_the_tls_server_refuses_a_plain_client(ftps: tuple[RunningFtp, str]) -> None:
    server, _ = ftps
    with pytest.raises(PartnerError, match="SSL/TLS required"):
        await FtpTransport(ftp_settings(server, tls=False)).connect()


async def test_an_untrusted_certificate_is_an_auth_error(ftps: tuple[RunningFtp, str]) -> None:
    server, _ = ftps
    with pytest.raises(PartnerAuthError, match="certificate is not trusted"):
        await FtpTransport(ftp_settings(server, tls=True)).connect()


def test_a_trusted_certificate_must_be_pem() -> None:
    with pytest.raises(ValueError, match="PEM"):
        FtpSettings(host="127.0.0.1", username=USER, password=PASSWORD, trusted_certificate="not a certificate")


async def test_tls_asked_of_a_server_without_it_is_an_auth_error(ftp: RunningFtp) -> None:
    with pytest.raises(PartnerAuthError, match="refuses explicit TLS"):
        await FtpTransport(ftp_settings(ftp, tls=True)).connect()


# --- URL


TOKEN = "fc-token-123"


def partner_app(received: list[dict[str, Any]]) -> Starlette:
    """A fulfilment centre's API: takes order files, answers statuses (CSV) and stock (JSON)."""

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}" or request.headers.get("x-api-key") == TOKEN

    async def orders(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"message": "invalid token"}, status_code=401)
        body = await request.body()
        received.append({"body": body, "type": request.headers.get("content-type"),
                         "disposition": request.headers.get("content-disposition")})  # fmt: skip
        return JSONResponse({"accepted": body.count(b"\n")})

    async def statuses(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"message": "invalid token"}, status_code=401)
        since = request.query_params.get("since", "")
        return Response(f"order,status,since\r\n1001,SHIPPED,{since}\r\n", media_type="text/csv")

    async def stock(request: Request) -> Response:
        return JSONResponse([{"sku": "MUG-RED", "quantity": 4}])

    async def broken(request: Request) -> Response:
        return Response("upstream exploded", status_code=500)

    async def proxy_page(request: Request) -> Response:
        return Response("<html>Gateway login</html>", media_type="text/html")

    async def empty(request: Request) -> Response:
        return Response(b"", media_type="text/csv")

    return Starlette(routes=[
        Route("/api/orders", orders, methods=["POST"]), Route("/api/statuses", statuses),
        Route("/api/stock", stock), Route("/api/broken", broken), Route("/api/proxy", proxy_page),
        Route("/api/empty", empty),
    ])  # fmt: skip


@pytest.fixture
def partner() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    with serve(partner_app(received)) as running:
        yield f"{running.url}/api", received


def url_settings(url: str, **changes: Any) -> UrlSettings:
    values: dict[str, Any] = {"url": url, "token": TOKEN, "send_path": "/orders", "receive_path": "/statuses"}
    return UrlSettings(**(values | changes))


async def test_url_send_posts_the_file_with_the_token(partner: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = partner
    async with UrlTransport(url_settings(url)) as transport:
        await transport.send("orders-0042.csv", b"order\r\n1001\r\n")
        answer = await transport.post("/orders", {"orders": [1001, 1002]})
    assert received[0] == {"body": b"order\r\n1001\r\n", "type": "text/csv",
                           "disposition": 'attachment; filename="orders-0042.csv"'}  # fmt: skip
    assert received[1]["type"] == "application/json" and received[1]["body"] == b'{"orders": [1001, 1002]}'
    assert answer.content_type == "application/json" and answer.data == b'{"accepted":0}'


async def test_url_get_csv_and_json_with_params(partner: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = partner
    async with UrlTransport(url_settings(url, auth_header="X-Api-Key", auth_prefix="")) as transport:
        statuses = await transport.get("/statuses", {"since": "2026-01-01"}, expect="text/csv")
        stock = await transport.get("/stock")
        received = await transport.receive()
        nothing = await transport.receive("/empty")
    assert statuses.data == b"order,status,since\r\n1001,SHIPPED,2026-01-01\r\n"
    assert statuses.content_type.startswith("text/csv")
    assert (stock.data, stock.content_type) == (b'[{"sku":"MUG-RED","quantity":4}]', "application/json")
    assert [(f.name, f.source) for f in received] == [("statuses", "/statuses")]
    assert nothing == []


async def test_url_wrong_token_is_an_auth_error(partner: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = partner
    async with UrlTransport(url_settings(url, token="wrong")) as transport:
        with pytest.raises(PartnerAuthError, match="401: invalid token"):
            await transport.send("orders.csv", b"order\r\n")
    assert received == []


async def test_url_server_error_is_unavailable(partner: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = partner
    async with UrlTransport(url_settings(url), retries=0) as transport:
        with pytest.raises(PartnerUnavailable, match="500: upstream exploded"):
            await transport.get("/broken")


async def test_url_answer_of_the_wrong_type_is_unreadable(partner: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = partner
    async with UrlTransport(url_settings(url)) as transport:
        with pytest.raises(PartnerUnreadable, match="expected text/csv, got text/html.*Gateway login"):
            await transport.get("/proxy", expect="text/csv")


async def test_url_nothing_listening_is_unavailable() -> None:
    async with UrlTransport(url_settings(f"http://127.0.0.1:{free_port()}"), retries=0) as transport:
        with pytest.raises(PartnerUnavailable, match="ConnectError"):
            await transport.receive()
