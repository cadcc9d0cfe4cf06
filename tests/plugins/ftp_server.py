"""The transport tests' FTP server: the toolkit's (``orderdeck.plugins.sandbox.ftp``) for one
account, USER/PASSWORD.

    with serve_ftp(tmp_path, folders=("in", "out")) as ftp:
        ...  # ftp.port, ftp.root / "in", ftp.log (the commands the server received)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orderdeck.plugins.sandbox import ftp
from orderdeck.plugins.sandbox.ftp import FtpServer, self_signed_certificate

__all__ = ["PASSWORD", "USER", "RunningFtp", "self_signed_certificate", "serve_ftp"]

USER, PASSWORD = "shop", "s3cret-ftp"
RunningFtp = FtpServer


@contextmanager
def serve_ftp(root: Path, **options: Any) -> Iterator[FtpServer]:
    """Serve ``root`` (made, with ``folders`` in it) to USER/PASSWORD on a free loopback port until
    the block ends; ``options`` as ``FtpServer`` takes them (``handler``, its attributes...)."""
    with ftp.serve_ftp(root, username=USER, password=PASSWORD, **options) as server:
        yield server
