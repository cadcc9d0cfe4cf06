"""A real FTP server (pyftpdlib) on loopback, plain or with explicit TLS, for a sandbox of a partner
that works by FTP (a fulfilment warehouse, a drop shipper) and for tests of the file transports.

    server = FtpServer(root, username="shop", password="s3cret", folders=("orders", "statuses"))
    server.port                    # bound at once (0 = a free port), so a banner can name it
    with server:                   # serving in a background thread until the block ends
        ...                        # server.log: the commands received, in order

    with serve_ftp(tmp_path, username="shop", password="s3cret", folders=("in", "out")) as server:
        ...                        # the same, made and started in one step (tests)

Explicit TLS: ``certificate`` (a PEM file with the certificate and its key, e.g. from
``self_signed_certificate``) makes the server require AUTH TLS on the control connection and PROT P
on the data connections.

With an ``emulator`` (``orderdeck.plugins.sandbox.Emulator``), every FTP command is one API
request: it is logged in ``emulator.requests`` (method: the command, path: its argument, status:
the reply code) and takes the next fault of ``emulator.faults``, as FTP lets it fail:

- ``server_error`` and ``rate_limit``: ``421 Service not available`` and the connection is closed;
- ``disconnect``: the connection is dropped without a reply;
- ``delay``: the command is answered ``seconds`` later (a stalled server: a client with a shorter
  timeout gives up);
- ``malformed``: a reply line that is not FTP;
- ``auth``: ``530`` (the login, or whatever command it meets, refused).

``watch`` is called after every command and every ``watch_seconds`` in between, on the server's
thread: a sandbox looks at its folders there (a warehouse picks up order files). ``handler`` (a
pyftpdlib handler class) is subclassed with the account and ``options``, so a test can change a
server's behaviour (stall, leave out a command) by passing its own subclass.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer

from orderdeck.plugins.sandbox.emulator import Emulator
from orderdeck.plugins.sandbox.log import LoggedRequest

logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
logger = logging.getLogger(__name__)

FTP_FAULT_KINDS = ("auth",)
"""Fault kinds an FTP sandbox takes besides the shared ones (``FAULT_KINDS``)."""


class _SandboxCommands:
    """Mixed into the server's handler class: logs each command, applies the emulator's faults,
    then calls the server's watch."""

    server_: FtpServer

    def pre_process_command(self, line: str, cmd: str, arg: str) -> None:
        server = self.server_
        server.log.append((cmd, "***" if cmd == "PASS" else arg.replace(str(server.root), "").lstrip("/")))
        emulator = server.emulator
        self._entry: LoggedRequest | None = None
        if emulator is not None:
            self._entry = emulator.requests.add(cmd, "***" if cmd == "PASS" else arg)
            fault = emulator.faults.take()
            if fault is not None:
                if fault.kind == "delay":
                    self.ioloop.call_later(fault.seconds, self._process, line, cmd, arg)  # type: ignore[attr-defined]
                    return
                if self._fail(fault.kind):
                    return
        self._process(line, cmd, arg)

    def _process(self, line: str, cmd: str, arg: str) -> None:
        if getattr(self, "_closed", False):
            return
        super().pre_process_command(line, cmd, arg)  # type: ignore[misc]
        self.server_.watched()

    def _fail(self, kind: str) -> bool:
        """Answer the command as fault ``kind`` makes the server fail; False: answer normally."""
        if kind in ("server_error", "rate_limit"):
            self.respond("421 Service not available, closing control connection.")  # type: ignore[attr-defined]
            self.close_when_done()  # type: ignore[attr-defined]
        elif kind == "disconnect":
            self.close()  # type: ignore[attr-defined]
        elif kind == "malformed":
            self.respond("<html><body>Bad gateway</body></html>")  # type: ignore[attr-defined]
        elif kind == "auth":
            self.respond("530 Login incorrect.")  # type: ignore[attr-defined]
        else:
            return False
        return True

    def respond(self, resp: str, *args: Any, **kwargs: Any) -> None:
        entry = getattr(self, "_entry", None)
        if entry is not None:
            entry["status"] = int(resp[:3]) if resp[:3].isdigit() else 0
        super().respond(resp, *args, **kwargs)  # type: ignore[misc]


class FtpServer:
    """An FTP server for one account on loopback (see the module docstring): bound when made,
    serving in a background thread between ``start`` and ``stop`` (or in a ``with`` block)."""

    def __init__(
        self,
        root: Path,
        *,
        username: str,
        password: str,
        folders: tuple[str, ...] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        certificate: Path | None = None,
        emulator: Emulator | None = None,
        watch: Callable[[], None] | None = None,
        watch_seconds: float = 0.1,
        handler: type[FTPHandler] = FTPHandler,
        **options: Any,
    ) -> None:
        for folder in ("", *folders):
            (root / folder).mkdir(parents=True, exist_ok=True)
        self.root = root
        self.emulator = emulator
        self.log: list[tuple[str, str]] = []
        """The commands received: (command, argument relative to the home folder; PASS hidden)."""
        self._watch = watch
        self._watch_seconds = watch_seconds
        authorizer = DummyAuthorizer()
        authorizer.add_user(username, password, str(root), perm="elradfmwMT")
        attributes: dict[str, Any] = {"authorizer": authorizer, "server_": self, "timeout": 30,
                                      "auth_failed_timeout": 0.1, "banner": "orderdeck sandbox FTP server ready."}  # fmt: skip
        if certificate is not None:
            if not issubclass(handler, TLS_FTPHandler):
                handler = TLS_FTPHandler
            attributes |= {"certfile": str(certificate), "ssl_context": None, "tls_control_required": True,
                           "tls_data_required": True}  # fmt: skip
        serving = type("SandboxFtpHandler", (_SandboxCommands, handler), attributes | options)
        self._server = FTPServer((host, port), serving, ioloop=IOLoop())
        self.host = host
        self.port: int = self._server.socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def commands(self, *names: str) -> list[tuple[str, str]]:
        """The received commands named ``names`` (all when none are named), with their arguments."""
        return [(cmd, arg) for cmd, arg in self.log if not names or cmd in names]

    def start(self) -> None:
        """Serve in a background thread (until ``stop``)."""
        self._thread = threading.Thread(target=self._run, name=f"ftp-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving: close the listening socket and every connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        else:
            self._server.close_all()

    def watched(self) -> None:
        """Call the watch now (after a command; on the server's thread)."""
        if self._watch is not None:
            try:
                self._watch()
            except Exception:  # a sandbox's bug must not stop the server
                logger.exception("FTP sandbox watch failed")

    def _run(self) -> None:
        next_watch = 0.0
        try:
            while not self._stop.is_set():
                self._server.ioloop.loop(0.02, blocking=False)
                if time.monotonic() >= next_watch:
                    self.watched()
                    next_watch = time.monotonic() + self._watch_seconds
        finally:
            self._server.close_all()

    def __enter__(self) -> FtpServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


@contextmanager
def serve_ftp(root: Path, *, username: str, password: str, **options: Any) -> Iterator[FtpServer]:
    """An ``FtpServer`` of ``root`` (made, with its folders), serving until the block ends."""
    with FtpServer(root, username=username, password=password, **options) as server:
        yield server


def self_signed_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, str]:
    """A certificate for ``host`` (an IP address) and its key, in one PEM file (for the server's
    ``certificate``), and the certificate alone as PEM text (for the client to trust)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orderdeck sandbox FTP server")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ftp-server.pem"
    path.write_text(pem + private.decode())
    return path, pem
