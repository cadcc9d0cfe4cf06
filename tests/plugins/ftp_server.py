"""A real FTP server (pyftpdlib) on loopback for a test, plain or with explicit TLS, and a
self-signed certificate to secure it.

    with serve_ftp(tmp_path, folders=("in", "out")) as ftp:
        ...  # ftp.port, ftp.root / "in", ftp.log (the commands the server received)

The server runs in a background thread with its own IO loop, on a free loopback port; ``handler``
(a pyftpdlib handler class) is subclassed with the user and options, so tests can change a
server's behaviour (stall, leave out a command) by passing their own subclass.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer

logging.getLogger("pyftpdlib").setLevel(logging.WARNING)

USER, PASSWORD = "shop", "s3cret-ftp"


@dataclass
class RunningFtp:
    """A server being served: its port, home folder and the commands it received, in order."""

    port: int
    root: Path
    log: list[tuple[str, str]] = field(default_factory=list)

    def commands(self, *names: str) -> list[tuple[str, str]]:
        """The received commands named ``names`` (all when none are named), with their arguments
        relative to the home folder."""
        return [(cmd, arg) for cmd, arg in self.log if not names or cmd in names]


@contextmanager
def serve_ftp(
    root: Path, *, folders: tuple[str, ...] = (), handler: type[FTPHandler] = FTPHandler, **options: Any
) -> Iterator[RunningFtp]:
    """Serve ``root`` (made, with ``folders`` in it) to USER/PASSWORD on a free loopback port until
    the block ends; ``options`` become attributes of the handler (e.g. ``certfile``)."""
    for folder in ("", *folders):
        (root / folder).mkdir(parents=True, exist_ok=True)
    authorizer = DummyAuthorizer()
    authorizer.add_user(USER, PASSWORD, str(root), perm="elradfmwMT")
    running = RunningFtp(0, root)

    def record(self: FTPHandler, line: str, cmd: str, arg: str) -> None:
        running.log.append((cmd, arg.replace(str(root), "").lstrip("/") if cmd != "PASS" else "***"))
        handler.pre_process_command(self, line, cmd, arg)

    attributes = {"authorizer": authorizer, "pre_process_command": record, "timeout": 30, "auth_failed_timeout": 0.1}
    serving = type("SandboxFtpHandler", (handler,), attributes | options)
    server = FTPServer(("127.0.0.1", 0), serving, ioloop=IOLoop())
    running.port = server.socket.getsockname()[1]
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.is_set():
                server.ioloop.loop(0.02, blocking=False)
        finally:
            server.close_all()

    thread = threading.Thread(target=run, name=f"ftp-{running.port}", daemon=True)
    thread.start()
    try:
        yield running
    finally:
        stop.set()
        thread.join(timeout=10)


def self_signed_certificate(folder: Path) -> tuple[Path, str]:
    """A certificate for 127.0.0.1 and its key, in one PEM file (for pyftpdlib's ``certfile``),
    and the certificate alone as PEM text (for the client to trust)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orderdeck test FTP server")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = folder / "ftp-server.pem"
    path.write_text(pem + private.decode())
    return path, pem
